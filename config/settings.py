"""Typed configuration, read once from the environment (and an optional `.env`)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from jobs.schedule import cron_schedules


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    # Services. Leave both unset to get the embedded PostgreSQL and Redis under `data_dir`.
    database_url: str | None = None
    redis_url: str | None = None
    data_dir: Path = Path(".data")

    # HTTP
    host: str = "127.0.0.1"
    port: int = 8000
    public_base_url: str = Field(
        default="http://127.0.0.1:8000",
        description="Base of the tracked redirect URLs handed out, e.g. https://go.example.com",
    )
    trust_forwarded_for: bool = Field(
        default=False,
        description="Take the client IP from X-Forwarded-For (only behind a trusted proxy)",
    )
    forwarded_allow_ips: str = Field(
        default="127.0.0.1",
        description="With TRUST_FORWARDED_FOR: the proxies (comma-separated addresses or "
        "networks, * for any) whose X-Forwarded-For is believed",
    )
    session_cookie_name: str = "li_sid"
    dashboard_hosts: list[str] = Field(default_factory=list)
    log_level: str = "INFO"
    demo_api_key: str | None = Field(
        default=None,
        description="Set by `serve --demo` only: the key GraphiQL and /dashboard open with",
    )
    api_workers: int = Field(
        default=0, ge=0, description="Processes serving the API; 0 = one per CPU (at most 2)"
    )
    # Strawberry resolves sibling fields concurrently and each loader batch takes its own
    # connection. The API's one pool (no overflow; graph.app says why), per process: reads and
    # mutations alike.
    db_pool_size: int = 20
    graphql_concurrency: int = Field(
        default=4, ge=0, description="GraphQL requests run at once per API process; 0 = no limit"
    )
    graphql_queue_timeout: float = Field(
        default=10.0, gt=0, description="Seconds a request waits for its turn, then RATE_LIMITED"
    )

    # The click pipeline (SPEC §3.1)
    click_stream: str = Field(
        default="linkinsights:clicks", description="Redis Stream the redirects append clicks to"
    )
    click_stream_group: str = "flushers"
    click_append_timeout: float = Field(
        default=0.05,
        gt=0,
        description="Seconds a redirect waits for Redis before its click goes to the spool",
    )
    click_spool_dir: Path | None = Field(
        default=None, description="Folder of the local click spool; default DATA_DIR/spool"
    )
    click_claim_idle_seconds: float = Field(
        default=30.0, gt=0, description="A click pending this long with a dead flusher is claimed"
    )
    run_flusher: bool = Field(
        default=True, description="Workers also write the click stream to PostgreSQL"
    )
    link_cache_size: int = Field(default=100_000, ge=1, description="Links held per API process")
    link_cache_ttl: float = Field(
        default=30.0, gt=0, description="Seconds before a cached link is read again"
    )
    link_cache_negative_ttl: float = Field(
        default=5.0, ge=0, description="Seconds an unknown tracking id is remembered as unknown"
    )

    # GraphQL limits
    max_query_depth: int = 10
    max_aliases: int = 15
    max_tokens: int = 2000
    max_body_bytes: int = 100_000
    max_page_size: int = 200

    # Rate limits (seed 002 defaults: 100 analytics queries per minute per key,
    # 1000 requests per minute per IP). 0 disables a limit.
    rate_limit_per_key_per_minute: int = 100
    # seed 002: click recording, 1000 per minute per key (recordClick)
    rate_limit_record_click_per_minute: int = 1000
    rate_limit_per_ip_per_minute: int = 1000

    # The aggregate cache (seed 003 TTLs, upper bounds): dashboard figures 5 min, trends 15.
    aggregate_cache_enabled: bool = True
    aggregate_cache_ttl_seconds: int = Field(default=300, ge=0, le=300)
    aggregate_trends_ttl_seconds: int = Field(default=900, ge=0, le=900)
    aggregate_cache_timeout: float = Field(
        default=1.0, gt=0, description="Seconds a cache read or write may take, then live"
    )

    # REST paths of seed 000: requests per hour per API key and endpoint (0 disables).
    rest_rate_limit_summary_per_hour: int = 100
    rest_rate_limit_effectiveness_per_hour: int = 100
    rest_rate_limit_health_per_hour: int = 200
    rest_rate_limit_default_per_hour: int = 100

    # Jobs
    queue_name: str = "linkinsights:queue"
    nightly_cron: str = "0 2 * * *"
    # 10,000: a 100k run is 10 chunks, so two workers finish together; with 5 chunks of 20,000
    # one worker ran the last chunk alone (bench/batch.py at 100k: full run 6.0-6.3 -> 5.3-5.6 s,
    # nightly 0.64-0.75 -> 0.53-0.62 s), and a chunk's backend peaks at 35 MB instead of 51.
    analytics_chunk_size: int = 10_000
    worker_health_check_interval: int = 30
    worker_max_jobs: int = 4
    job_timeout_seconds: int = 600
    ip_retention_days: int = 90
    # The nightly run's Redis lock expires after this, should its workers all die.
    nightly_lock_seconds: int = 6 * 3600

    # Predictions
    high_priority_threshold: int = 70
    outcome_age_days: int = 21
    calibration_prior_strength: float = 10.0
    webhook_timeout_seconds: float = 5.0
    webhook_max_attempts: int = 5
    webhook_allow_private_targets: bool = Field(
        default=False,
        description="Send webhooks to loopback and private addresses (a self-hosted receiver)",
    )
    webhook_backoff_seconds: float = Field(
        default=10.0, description="Delay before the 2nd webhook attempt; doubles each retry"
    )

    @field_validator("nightly_cron")
    @classmethod
    def _a_schedule_arq_can_run(cls, value: str) -> str:
        cron_schedules(value)  # ValueError: what cron or arq cannot take, said at startup
        return value

    @property
    def spool_dir(self) -> Path:
        return self.click_spool_dir or self.data_dir / "spool"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
