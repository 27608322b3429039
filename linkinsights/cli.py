"""The `linkinsights` command line: serve, api, worker, migrate, seed, accounts, keys, jobs."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from config import Settings, get_settings
from linkinsights.embedded import EmbeddedError

T = TypeVar("T")

app = typer.Typer(
    help="linkinsights: link-engagement analytics for job applications (GraphQL API).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
account_app = typer.Typer(help="Accounts.", no_args_is_help=True)
apikey_app = typer.Typer(help="API keys (the key is shown once).", no_args_is_help=True)
app.add_typer(account_app, name="account")
app.add_typer(apikey_app, name="apikey")

DEMO_ACCOUNT = "Demo job seeker"


def fail(message: str, code: int = 2) -> typer.Exit:
    typer.secho(f"error: {message}", err=True, fg=typer.colors.RED)
    return typer.Exit(code)


def run_async(make: Callable[[Settings], Awaitable[T]], *, migrate: bool = True) -> T:
    """Resolve services (embedded if unset), migrate, run one coroutine, stop what we started."""
    from db.migrate import upgrade
    from linkinsights.runtime import services

    try:
        with services(get_settings()) as (settings, _svc):
            assert settings.database_url is not None

            async def main() -> T:
                if migrate:
                    await upgrade(settings.database_url or "")
                return await make(settings)

            return asyncio.run(main())
    except EmbeddedError as exc:
        raise fail(f"could not start the embedded services: {exc}") from exc
    except OSError as exc:
        raise fail(f"could not reach PostgreSQL or Redis: {exc}") from exc


async def _with_session(settings: Settings, work: Callable[[Any], Awaitable[T]]) -> T:
    from db.engine import make_engine, make_sessionmaker

    assert settings.database_url is not None
    engine = make_engine(settings.database_url, pool_size=2)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            return await work(session)
    finally:
        await engine.dispose()


@app.command()
def migrate(
    downgrade: Annotated[bool, typer.Option(help="Downgrade to an empty database instead")] = False,
) -> None:
    """Apply the database migrations (or remove everything with --downgrade)."""

    async def go(settings: Settings) -> None:
        from db import migrate as m

        assert settings.database_url is not None
        if downgrade:
            await m.downgrade(settings.database_url)
            typer.echo("downgraded to an empty database")
        else:
            await m.upgrade(settings.database_url)
            typer.echo("database is at the latest revision")

    run_async(go, migrate=False)


@account_app.command("create")
def account_create(
    name: str,
    timezone: Annotated[str, typer.Option(help="IANA time zone, e.g. Europe/Berlin")] = "UTC",
) -> None:
    """Create an account; prints its id as the last word."""
    from domain.validation import ValidationError, validate_text, validate_timezone

    try:
        tz = validate_timezone(timezone)
        clean = validate_text(name, field="name", max_length=200, required=True)
    except ValidationError as exc:
        raise fail(exc.message) from exc

    async def go(settings: Settings) -> uuid.UUID:
        from db import accounts

        async def work(session: Any) -> uuid.UUID:
            return (await accounts.create_account(session, name=clean, timezone=tz)).id

        return await _with_session(settings, work)

    account_id = run_async(go)
    typer.echo(f"created account {account_id}")


@apikey_app.command("create")
def apikey_create(
    account_id: str,
    scopes: Annotated[str, typer.Option(help="Comma-separated: read, write, admin")] = "read",
    name: Annotated[str, typer.Option(help="A label for people")] = "default",
) -> None:
    """Create an API key for an account; prints the key (shown once) as the last word."""
    from domain.apikeys import generate_key, parse_scopes

    try:
        parsed = parse_scopes(scopes)
        account = uuid.UUID(account_id)
    except ValueError as exc:
        raise fail(
            str(exc) if "scope" in str(exc) else f"{account_id!r} is not an account id"
        ) from exc

    async def go(settings: Settings) -> str | None:
        from db import accounts

        async def work(session: Any) -> str | None:
            if await accounts.get_account(session, account_id=account) is None:
                return None
            new = generate_key()
            await accounts.create_api_key(
                session,
                account_id=account,
                name=name,
                prefix=new.prefix,
                key_hash=new.key_hash,
                scopes=parsed,
            )
            return new.key

        return await _with_session(settings, work)

    key = run_async(go)
    if key is None:
        raise fail(f"no account {account_id}")
    typer.echo(f"created API key with scopes {','.join(parsed)} (shown once): {key}")


@apikey_app.command("revoke")
def apikey_revoke(key: str) -> None:
    """Revoke an API key, given the key itself or its id."""
    from domain.apikeys import hash_key

    async def go(settings: Settings) -> tuple[int, bool]:
        from redis.asyncio import Redis

        from db import accounts
        from graph.key_cache import publish_key_changes

        async def work(session: Any) -> int:
            try:
                return await accounts.revoke_key(session, key_id=uuid.UUID(key))
            except ValueError:
                return await accounts.revoke_key(session, key_hash=hash_key(key))

        revoked = await _with_session(settings, work)
        if not revoked or not settings.redis_url:
            return revoked, True
        # The API processes keep the keys they have seen: tell them all to read them again.
        redis = Redis.from_url(settings.redis_url, socket_connect_timeout=1)
        try:
            return revoked, await publish_key_changes(redis, None)
        finally:
            await redis.aclose()

    revoked, told = run_async(go)
    if revoked == 0:
        raise fail("no active key matches")
    typer.echo("revoked")
    if not told:
        typer.echo(
            "warning: Redis could not be told; running API processes may accept the key "
            "for up to a minute",
            err=True,
        )


@app.command()
def seed(
    applications: Annotated[int, typer.Option(min=1, max=2_000_000)] = 400,
    seed: Annotated[int, typer.Option("--seed")] = 42,
    account: Annotated[str | None, typer.Option(help="Load into this account id")] = None,
    timezone: Annotated[str, typer.Option()] = "America/New_York",
) -> None:
    """Load deterministic demo data (a new demo account unless --account is given)."""
    from domain.validation import ValidationError, validate_timezone

    try:
        tz = validate_timezone(timezone)
        account_id = uuid.UUID(account) if account else None
    except (ValidationError, ValueError) as exc:
        raise fail(str(exc)) from exc

    async def go(settings: Settings) -> str:
        summary = await load_demo(
            settings, applications=applications, seed=seed, account_id=account_id, timezone=tz
        )
        return summary

    typer.echo(run_async(go))


async def load_demo(
    settings: Settings,
    *,
    applications: int,
    seed: int,
    account_id: uuid.UUID | None,
    timezone: str,
) -> str:
    from db import accounts
    from db.demo import seed_account

    async def work(session: Any) -> str:
        nonlocal account_id
        if account_id is None:
            acct = await accounts.create_account(
                session,
                name=DEMO_ACCOUNT,
                timezone=timezone,
                profile_links={
                    "LinkedIn": "https://www.linkedin.com/in/alex-demo",
                    "Calendly": "https://calendly.com/alex-demo/30min",
                    "Portfolio": "https://alexdemo.dev",
                },
            )
            account_id = acct.id
        elif await accounts.get_account(session, account_id=account_id) is None:
            raise fail(f"no account {account_id}")
        summary = await seed_account(
            session,
            account_id=account_id,
            applications=applications,
            seed=seed,
            now=datetime.now(UTC),
            timezone=timezone,
            public_base_url=settings.public_base_url,
        )
        return (
            f"seeded account {account_id}: {summary.applications} applications, "
            f"{summary.links} links, {summary.clicks} clicks ({summary.bot_clicks} bots)"
        )

    return await _with_session(settings, work)


@app.command()
def api(
    host: Annotated[str | None, typer.Option()] = None,
    port: Annotated[int | None, typer.Option()] = None,
) -> None:
    """Run the HTTP API (uvicorn) alone; API_WORKERS processes (0 = one per CPU core)."""
    from linkinsights.runtime import services
    from linkinsights.server import run_api

    base = get_settings()
    try:
        with services(base) as (settings, _svc):
            run_api(settings, host=host or settings.host, port=port or settings.port)
    except EmbeddedError as exc:
        raise fail(f"could not start the embedded services: {exc}") from exc


@app.command()
def worker() -> None:
    """Run one arq worker (nightly analytics, on-demand jobs, retention)."""
    from graph.observability import configure_logging
    from jobs.worker import run_worker
    from linkinsights.runtime import services

    try:
        with services(get_settings()) as (settings, _svc):
            configure_logging(settings.log_level)
            run_worker(settings)
    except EmbeddedError as exc:
        raise fail(f"could not start the embedded services: {exc}") from exc


@app.command()
def serve(
    host: Annotated[str | None, typer.Option()] = None,
    port: Annotated[int | None, typer.Option()] = None,
    demo: Annotated[
        bool, typer.Option(help="Load demo data into an empty database and print a key")
    ] = False,
) -> None:
    """Run the API and one worker together (local use); Ctrl-C stops everything.

    Either child that exits on its own is started again (linkinsights.supervisor).
    """
    from db.migrate import upgrade
    from linkinsights.runtime import services
    from linkinsights.supervisor import Child, Supervisor

    base = get_settings()
    host = host or base.host
    port = port or base.port
    stop = False

    def on_signal(signum: int, frame: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        with (
            services(base) as (settings, svc),
            tempfile.TemporaryDirectory(prefix="linkinsights-metrics-") as metrics_dir,
        ):
            assert settings.database_url is not None
            asyncio.run(upgrade(settings.database_url))
            key = asyncio.run(prepare_demo(settings)) if demo else None
            env = {
                **os.environ,
                "DATABASE_URL": settings.database_url,
                "REDIS_URL": settings.redis_url or "",
                # Only here does a page get a key (graph/pages.py): GraphiQL and /dashboard.
                "DEMO_API_KEY": key or "",
                # One metrics directory for the API and the worker: /metrics shows the
                # click flusher's batches too.
                "PROMETHEUS_MULTIPROC_DIR": metrics_dir,
            }
            exe = [sys.executable, "-m", "linkinsights"]
            supervisor = Supervisor(
                [
                    Child("api", [*exe, "api", "--host", host, "--port", str(port)], env),
                    Child("worker", [*exe, "worker"], env),
                ],
                log=lambda line: typer.secho(line, err=True, fg=typer.colors.YELLOW),
            )
            supervisor.start()
            try:
                shown = "localhost" if host in ("0.0.0.0", "127.0.0.1") else host
                shown = "127.0.0.1" if shown == "localhost" else shown
                healthz = f"http://{shown}:{port}/healthz"
                if _wait_healthy(healthz, lambda: stop, supervisor.tick):
                    typer.echo(f"GraphiQL: http://{shown}:{port}/graphql")
                    typer.echo(f"Dashboard: http://{shown}:{port}/dashboard")
                    if key is not None:
                        typer.echo(f"API key: {key}")
                    typer.echo("Ctrl-C stops the API, the worker and the embedded services.")
                supervisor.watch(lambda: stop)
            finally:
                supervisor.stop()
            if svc.embedded:
                typer.echo("stopping embedded services")
    except EmbeddedError as exc:
        raise fail(f"could not start the embedded services: {exc}") from exc


async def prepare_demo(settings: Settings) -> str:
    """Load demo data when the database has no account yet; return a fresh demo API key."""
    from sqlalchemy import func, select

    from db import accounts
    from db.tables import accounts as accounts_table
    from domain.apikeys import generate_key

    async def count(session: Any) -> int:
        return int(
            (await session.execute(select(func.count()).select_from(accounts_table))).scalar_one()
        )

    if await _with_session(settings, count) == 0:
        typer.echo("empty database: loading demo data ...")
        typer.echo(
            await load_demo(
                settings, applications=400, seed=42, account_id=None, timezone="America/New_York"
            )
        )
        await _calculate_demo(settings)

    async def make_key(session: Any) -> str | None:
        acct = await accounts.first_account_named(session, name=DEMO_ACCOUNT)
        if acct is None:
            return None
        new = generate_key()
        await accounts.create_api_key(
            session,
            account_id=acct.id,
            name="demo (make run)",
            prefix=new.prefix,
            key_hash=new.key_hash,
            scopes=("read", "write"),
        )
        return new.key

    key = await _with_session(settings, make_key)
    if key is None:
        raise fail(f"no account named {DEMO_ACCOUNT!r}; run `linkinsights seed` first")
    return key


async def _calculate_demo(settings: Settings) -> None:
    """Compute the metrics once so the demo shows scores straight away."""
    from jobs.calculate import calculate_all

    await calculate_all(settings)


def _wait_healthy(url: str, stopped: Callable[[], bool], tick: Callable[[], None]) -> bool:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not stopped():
        tick()
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(0.2)
    return False


@app.command()
def reclassify(
    chunk: Annotated[int, typer.Option(min=1, help="Applications per transaction")] = 500,
) -> None:
    """Re-apply the current bot rules (agents, HEAD, referrers, bursts) to stored clicks, and
    the machine-open rules to stored email events."""

    async def go(settings: Settings) -> tuple[int, int, int, int]:
        from db.engine import make_engine, make_sessionmaker
        from jobs.reclassify import reclassify_all, reclassify_email_events

        assert settings.database_url is not None
        engine = make_engine(settings.database_url, pool_size=2)
        try:
            sessionmaker = make_sessionmaker(engine)
            found = await reclassify_all(sessionmaker, chunk=chunk)
            emails = await reclassify_email_events(sessionmaker, chunk=chunk)
        finally:
            await engine.dispose()
        if found[1] and settings.redis_url:
            # Verdicts changed: every account's cached aggregates may be off.
            from redis.asyncio import Redis

            from graph.aggregate_cache import invalidate_quietly

            redis = Redis.from_url(settings.redis_url)
            try:
                await invalidate_quietly(redis, None)
            finally:
                await redis.aclose()
        return (*found, *emails)

    examined, changed, contacts, email_changed = run_async(go)
    typer.echo(f"reclassified {examined} clicks: {changed} verdicts changed")
    typer.echo(
        f"reclassified the email events of {contacts} contacts: {email_changed} verdicts changed"
    )


@app.command()
def calculate(
    account: Annotated[str | None, typer.Option(help="Only this account id")] = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="ISO-8601 instant with offset (default: now)")
    ] = None,
    full: Annotated[
        bool,
        typer.Option(
            "--full",
            help="Recompute every application from its clicks (default: the dirty ones, and a "
            "clock refresh of the others, as the nightly run); --as-of implies it",
        ),
    ] = False,
) -> None:
    """Compute the behavioural metrics now, in this process, with a progress bar."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from jobs.calculate import calculate_in_process

    try:
        account_id = uuid.UUID(account) if account else None
        when = datetime.fromisoformat(as_of) if as_of else None
    except ValueError as exc:
        raise fail(f"bad --account or --as-of: {exc}") from exc
    if when is not None and when.utcoffset() is None:
        raise fail("--as-of needs a UTC offset, e.g. 2024-05-01T00:00:00+00:00")

    async def go(settings: Settings) -> Any:
        with Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
        ) as progress:
            task = progress.add_task("applications", total=None)
            return await calculate_in_process(
                settings,
                account_id=account_id,
                as_of=when,
                incremental=not full and when is None,
                on_start=lambda chunks, apps: progress.update(task, total=apps),
                on_chunk=lambda apps: progress.advance(task, apps),
            )

    summary = run_async(go)
    typer.echo(
        f"calculated {summary.applications} applications in {summary.chunks} chunks, "
        f"{summary.seconds:.1f} s ({summary.rate:,.0f} applications/s); run {summary.run_id}"
    )


@app.command("export-schema")
def export_schema(
    check: Annotated[
        Path | None, typer.Option(help="Compare with this file instead of printing")
    ] = None,
) -> None:
    """Print the GraphQL SDL built from the code (or check a file is up to date)."""
    from graph.schema import schema

    sdl = str(schema).rstrip() + "\n"
    if check is None:
        sys.stdout.write(sdl)
        return
    if not check.exists() or check.read_text() != sdl:
        raise fail(f"{check} is stale: run `make schema` and commit it", code=1)
    typer.echo(f"{check} is up to date")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
