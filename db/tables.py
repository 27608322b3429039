"""Table metadata (SQLAlchemy Core). The migrations own the DDL; this mirrors it for queries.

tests/test_migrations.py compares it with the migrated database (tables, columns, types,
nullability, keys), so the two cannot drift. Indexes and column defaults live only in the
migrations: queries never name an index, and inserts leave defaults to PostgreSQL.
"""

from __future__ import annotations

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Identity,
    Integer,
    Interval,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
)
from sqlalchemy.dialects.postgresql import INET, JSONB, UUID

metadata = MetaData()

TZ = DateTime(timezone=True)

accounts = Table(
    "accounts",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("name", Text, nullable=False),
    Column("timezone", Text, nullable=False),
    Column("profile_links", JSONB, nullable=False),
    Column("webhook_url", Text),
    Column("webhook_secret", Text),
    Column("created_at", TZ, nullable=False),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column(
        "account_id",
        UUID(as_uuid=True),
        ForeignKey("accounts.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("name", Text, nullable=False),
    Column("prefix", Text, nullable=False),
    Column("key_hash", Text, nullable=False, unique=True),
    Column("scopes", ARRAY(Text), nullable=False),
    Column("created_at", TZ, nullable=False),
    Column("last_used_at", TZ),
    Column("revoked_at", TZ),
)

jobs = Table(
    "jobs",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column(
        "account_id",
        UUID(as_uuid=True),
        ForeignKey("accounts.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("title", Text, nullable=False),
    Column("company", Text),
    Column("url", Text),
    Column("location", Text),
    Column("created_at", TZ, nullable=False),
)

job_applications = Table(
    "job_applications",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column(
        "account_id",
        UUID(as_uuid=True),
        ForeignKey("accounts.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("job_id", UUID(as_uuid=True), ForeignKey("jobs.id", ondelete="SET NULL")),
    Column("status", Text, nullable=False),
    Column("created_at", TZ, nullable=False),
    Column("updated_at", TZ, nullable=False),
    Column("first_click_timestamp", TZ),
    Column("last_click_timestamp", TZ),
    Column("total_clicks", Integer, nullable=False),
    Column("unique_click_sessions", Integer, nullable=False),
    Column("most_clicked_link_function", String(100)),
    Column("engagement_score", Integer, nullable=False),
    Column("is_high_priority", Boolean, nullable=False),
)

application_status_history = Table(
    "application_status_history",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column(
        "application_id",
        UUID(as_uuid=True),
        ForeignKey("job_applications.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("status", Text, nullable=False),
    Column("changed_at", TZ, nullable=False),
)

link_tracking = Table(
    "link_tracking",
    metadata,
    Column("tracking_id", String(100), primary_key=True),
    Column(
        "account_id",
        UUID(as_uuid=True),
        ForeignKey("accounts.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("job_id", UUID(as_uuid=True), ForeignKey("jobs.id", ondelete="SET NULL")),
    Column(
        "application_id", UUID(as_uuid=True), ForeignKey("job_applications.id", ondelete="CASCADE")
    ),
    Column("link_function", String(50), nullable=False),
    Column("link_type", String(50), nullable=False),
    Column("original_url", String(1000), nullable=False),
    Column("redirect_url", String(1000), nullable=False),
    Column("created_at", TZ, nullable=False),
    Column("created_by", String(100)),
    Column("is_active", Boolean, nullable=False),
    Column("description", Text),
)

link_clicks = Table(
    "link_clicks",
    metadata,
    Column("click_id", UUID(as_uuid=True), primary_key=True),
    Column(
        "tracking_id",
        String(100),
        ForeignKey("link_tracking.tracking_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("clicked_at", TZ, nullable=False),
    Column("ip_address", INET),
    Column("user_agent", Text),
    Column("referrer_url", String(1000)),
    Column("session_id", String(100)),
    Column("click_source", String(50)),
    Column("metadata", JSONB, nullable=False),
    Column("is_bot", Boolean, nullable=False),
    Column("bot_reason", Text),
    Column("request_method", String(10), nullable=False),
)

link_click_analytics = Table(
    "link_click_analytics",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column(
        "application_id", UUID(as_uuid=True), ForeignKey("job_applications.id", ondelete="CASCADE")
    ),
    Column("job_id", UUID(as_uuid=True), ForeignKey("jobs.id", ondelete="SET NULL")),
    Column("time_to_first_click", Interval),
    Column("hours_to_first_click", Numeric(10, 2)),
    Column("time_between_first_last_click", Interval),
    Column("hours_between_first_last_click", Numeric(10, 2)),
    Column("click_sequence", ARRAY(Text)),
    Column("unique_functions_clicked", Integer),
    Column("total_click_events", Integer),
    Column("peak_click_hour", Integer),
    Column("click_days_of_week", ARRAY(Integer)),
    Column("engagement_velocity", Numeric(10, 4)),
    Column("engagement_score", Integer),
    Column("intent_score", Integer),
    Column("calculated_at", TZ),
    Column("created_at", TZ),
    Column("updated_at", TZ),
    comment="Pre-calculated behavioral metrics for link click analysis",
)

application_contacts = Table(
    "application_contacts",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column(
        "application_id",
        UUID(as_uuid=True),
        ForeignKey("job_applications.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("email", Text, nullable=False),
    Column("name", Text),
    Column("role", Text),
    Column("created_at", TZ, nullable=False),
    Column("email_tracking_id", Text),
)

engagement_tracking = Table(
    "engagement_tracking",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column(
        "campaign_contact_id",
        UUID(as_uuid=True),
        ForeignKey("application_contacts.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("event_type", Text, nullable=False),
    Column("event_data", JSONB),
    Column("event_timestamp", TZ, nullable=False),
    Column("tracking_id", Text),
    Column("user_agent", Text),
    Column("ip_address", INET),
    Column("clicked_url", Text),
    Column("created_at", TZ, nullable=False),
    Column("is_machine", Boolean, nullable=False),
    Column("machine_reason", Text),
    Column("provider_event_id", Text),
)

analytics_runs = Table(
    "analytics_runs",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("account_id", UUID(as_uuid=True), ForeignKey("accounts.id", ondelete="CASCADE")),
    Column(
        "application_id", UUID(as_uuid=True), ForeignKey("job_applications.id", ondelete="CASCADE")
    ),
    Column("as_of", TZ),
    Column("kind", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("enqueued_at", TZ, nullable=False),
    Column("started_at", TZ),
    Column("finished_at", TZ),
    Column("chunks_total", Integer, nullable=False),
    Column("chunks_done", Integer, nullable=False),
    Column("applications_processed", Integer, nullable=False),
    Column("error", Text),
    Column("incremental", Boolean, nullable=False),
)

# Applications whose link_click_analytics row may be stale (migration 0008): an append-only log
# written by triggers, read and trimmed by the batch (db/batch.py).
analytics_dirty = Table(
    "analytics_dirty",
    metadata,
    Column("application_id", UUID(as_uuid=True), primary_key=True),
    Column("seq", BigInteger, Identity(always=True), primary_key=True),
    Column("clicks_until", TZ),
    comment="Applications whose link_click_analytics row may be stale (append-only, written by"
    " triggers)",
)

# Per account, the asOf interval over which the clean applications keep their stored velocity
# and intent (migration 0011), trusted once basis_run is complete (db/batch.py).
analytics_clock = Table(
    "analytics_clock",
    metadata,
    Column(
        "account_id",
        UUID(as_uuid=True),
        ForeignKey("accounts.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("valid_from", TZ, nullable=False),
    Column("valid_until", TZ, nullable=False),
    Column("basis_run", UUID(as_uuid=True), nullable=False),
    comment="Per account: asOf values over which the clean applications keep their stored"
    " velocity and intent",
)

analytics_run_chunks = Table(
    "analytics_run_chunks",
    metadata,
    Column(
        "run_id",
        UUID(as_uuid=True),
        ForeignKey("analytics_runs.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("chunk_no", Integer, primary_key=True),
    Column("applications", Integer, nullable=False),
    Column("finished_at", TZ),
    # The applications with id_from <= id <= id_to (of the run's account, if any).
    Column("id_from", UUID(as_uuid=True)),
    Column("id_to", UUID(as_uuid=True)),
    Column("started_at", TZ),
    Column("attempts", Integer, nullable=False),
)

follow_ups = Table(
    "follow_ups",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column(
        "account_id",
        UUID(as_uuid=True),
        ForeignKey("accounts.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column(
        "application_id",
        UUID(as_uuid=True),
        ForeignKey("job_applications.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("reason", Text, nullable=False),
    Column("recommended_action", Text),
    Column("engagement_score", Integer),
    Column("created_at", TZ, nullable=False),
    Column("due_at", TZ, nullable=False),
    Column("completed_at", TZ),
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column(
        "account_id",
        UUID(as_uuid=True),
        ForeignKey("accounts.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("follow_up_id", UUID(as_uuid=True), ForeignKey("follow_ups.id", ondelete="CASCADE")),
    Column("url", Text, nullable=False),
    Column("event", Text, nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("status_code", Integer),
    Column("error", Text),
    Column("succeeded", Boolean, nullable=False),
    Column("created_at", TZ, nullable=False),
)
