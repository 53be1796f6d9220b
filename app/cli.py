"""The ``openline`` command."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import sqlalchemy as sa
import typer

from app.core.settings import DEFAULT_DATABASE_URL, Settings, SettingsError, development_settings

cli = typer.Typer(help="Openline: call handling and warm transfers for a support line.", no_args_is_help=True)
db_cli = typer.Typer(help="Database schema.", no_args_is_help=True)
directory_cli = typer.Typer(help="The partner directory.", no_args_is_help=True)
user_cli = typer.Typer(help="Accounts.", no_args_is_help=True)
apikey_cli = typer.Typer(help="Partner API keys.", no_args_is_help=True)
keys_cli = typer.Typer(help="Data keys (personal data at rest).", no_args_is_help=True)
cli.add_typer(db_cli, name="db")
cli.add_typer(directory_cli, name="directory")
cli.add_typer(user_cli, name="user")
cli.add_typer(apikey_cli, name="apikey")
cli.add_typer(keys_cli, name="keys")


def _settings() -> Settings:
    try:
        return Settings()
    except (SettingsError, ValueError) as exc:
        typer.secho(f"configuration refused: {exc}", fg="red", err=True)
        raise typer.Exit(2) from None


# ``openline demo``'s own database: the default SQLite file under var/.
DEMO_DATABASE_URL = DEFAULT_DATABASE_URL


def _database_settings() -> Settings:
    """Settings for commands that only change the database (accounts, keys, the directory).

    Against the demo's database, with no OPENLINE_ENVIRONMENT given, they use the demo's
    development settings, so ``openline apikey create citizens-advice`` works beside ``make run``
    as the README says: adding a key needs none of the server's secrets. Anything else (another
    database, or an environment said out loud) is checked exactly as the server checks it."""
    if not os.environ.get("OPENLINE_ENVIRONMENT"):
        try:
            demo = development_settings()
        except (SettingsError, ValueError):
            demo = None
        if demo is not None and demo.database_url == DEMO_DATABASE_URL:
            typer.secho("using the demo database (development settings)", fg="yellow", err=True)
            return demo
    return _settings()


def _run(coro_factory: Any) -> Any:
    """Run an async unit of work against the configured database, committing on success."""
    from app.core.clock import Clock
    from app.core.db import session_scope
    from app.core.runtime import Runtime

    async def main() -> Any:
        runtime = Runtime(settings=_database_settings(), clock=Clock())
        try:
            async with session_scope(runtime) as session:
                return await coro_factory(session)
        finally:
            await runtime.close()

    return asyncio.run(main())


def _run_runtime(work: Any) -> Any:
    """Run work that opens its own short transactions (a batch at a time) against the configured database."""
    from app.core.clock import Clock
    from app.core.runtime import Runtime

    async def main() -> Any:
        runtime = Runtime(settings=_settings(), clock=Clock())
        try:
            return await work(runtime)
        finally:
            await runtime.close()

    return asyncio.run(main())


def _fail(message: str) -> None:
    typer.secho(message, fg="red", err=True)
    raise typer.Exit(1)


@db_cli.command("upgrade")
def db_upgrade() -> None:
    """Migrate the database to the newest schema."""
    from app.db_admin import upgrade_database

    upgrade_database(_database_settings().database_url)
    typer.echo("database is at the newest migration")


@directory_cli.command("import")
def directory_import(path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)]) -> None:
    """Load or update a whole directory from YAML (all or nothing)."""
    from transfers.directory.importer import DirectoryFileError, import_directory, parse_directory

    try:
        directory = parse_directory(path.read_text())
    except DirectoryFileError as exc:
        _fail(
            f"{path}: nothing imported, {len(exc.problems)} problem(s):\n" + "\n".join(f"  {p}" for p in exc.problems)
        )
    summary = _run(lambda session: import_directory(session, directory))
    typer.echo(f"imported {path}: {summary}")


@directory_cli.command("export-hsds")
def directory_export_hsds(path: Annotated[Path, typer.Argument(dir_okay=False, writable=True)]) -> None:
    """Write the directory as Open Referral HSDS 3 JSON."""
    import json

    from transfers.directory.service import export_directory_hsds

    document = _run(export_directory_hsds)
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    typer.echo(f"wrote {path}: {len(document['organizations'])} organizations, {len(document['services'])} services")


@directory_cli.command("import-hsds")
def directory_import_hsds(path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)]) -> None:
    """Load or update a whole directory from Open Referral HSDS 3 JSON (all or nothing)."""
    import json

    from transfers.directory.hsds import hsds_to_directory
    from transfers.directory.importer import DirectoryFileError, import_directory

    try:
        directory = hsds_to_directory(json.loads(path.read_text()))
    except json.JSONDecodeError as exc:
        _fail(f"{path}: nothing imported: not valid JSON: {exc}")
    except DirectoryFileError as exc:
        _fail(
            f"{path}: nothing imported, {len(exc.problems)} problem(s):\n" + "\n".join(f"  {p}" for p in exc.problems)
        )
    summary = _run(lambda session: import_directory(session, directory))
    typer.echo(f"imported {path}: {summary}")


@user_cli.command("add")
def user_add(
    username: str,
    role: Annotated[str, typer.Option(help="listener, partner, supervisor, admin or commissioner")],
    organisation: Annotated[str | None, typer.Option(help="the partner organisation's slug (partners only)")] = None,
    display_name: Annotated[str | None, typer.Option()] = None,
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)] = "",
    dial_address: Annotated[
        str | None,
        typer.Option(help="ring this desk phone (+44…) or SIP address (sip:name@host) instead of the browser headset"),
    ] = None,
) -> None:
    """Create an account."""
    from app.core.errors import AppError
    from app.core.security import create_user
    from transfers.directory.models import Organisation

    async def add(session: Any) -> Any:
        org_id = None
        if organisation:
            org_id = await session.scalar(sa.select(Organisation.id).where(Organisation.slug == organisation))
            if org_id is None:
                raise AppError(f"no organisation {organisation!r}")
        return await create_user(
            session,
            username=username,
            password=password,
            role=role,
            display_name=display_name,
            organisation_id=org_id,
            dial_address=dial_address,
        )

    try:
        user = _run(add)
    except AppError as exc:
        _fail(f"user not added: {_plain(exc.detail)}")
    typer.echo(f"added {user.role} {user.username} (id {user.id})")


def _plain(detail: Any) -> str:
    if isinstance(detail, list):
        return "; ".join(f"{item['field']}: {item['message']}" for item in detail)
    return str(detail)


@user_cli.command("dial-address")
def user_dial_address(
    username: str,
    address: Annotated[str | None, typer.Argument(help="+44… or sip:name@host")] = None,
    clear: Annotated[bool, typer.Option("--clear", help="ring the browser headset again")] = False,
) -> None:
    """Ring a listener's desk phone or SIP address instead of the browser headset (or --clear)."""
    from app.core.errors import AppError
    from app.core.security import User, change_dial_address

    if (address is None) != clear:
        _fail("give an address, or --clear to go back to the browser headset")

    async def change(session: Any) -> Any:
        user_id = await session.scalar(sa.select(User.id).where(User.username == username.strip().lower()))
        if user_id is None:
            raise AppError(f"no user {username!r}")
        return await change_dial_address(session, user_id=user_id, dial_address=address, actor="cli")

    try:
        user = _run(change)
    except AppError as exc:
        _fail(f"not changed: {_plain(exc.detail)}")
    where = user.dial_address or "the browser headset"
    typer.echo(f"{user.username}'s calls now ring {where}")


@apikey_cli.command("create")
def apikey_create(
    organisation: Annotated[str, typer.Argument(help="the partner organisation's slug")],
    name: Annotated[str, typer.Option(help="what the key is for, e.g. 'case system'")] = "partner system",
) -> None:
    """Issue an API key for a partner organisation. It is shown once."""
    from app.core.security import create_api_key
    from transfers.directory.models import Organisation

    async def issue(session: Any) -> Any:
        org_id = await session.scalar(sa.select(Organisation.id).where(Organisation.slug == organisation))
        if org_id is None:
            return None
        return await create_api_key(session, organisation_id=org_id, name=name)

    issued = _run(issue)
    if issued is None:
        _fail(f"no organisation {organisation!r}")
    typer.echo(f"API key for {organisation} (shown once, store it now):\n{issued.plaintext}")


@cli.command()
def retention(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="only say what is due, per kind; change nothing")] = False,
) -> None:
    """Delete or anonymise what is past its retention (never what is held); audited."""
    from app.privacy.retention import run_retention

    counts = _run_runtime(lambda runtime: run_retention(runtime, dry_run=dry_run))
    verb = "due" if dry_run else "purged"
    for kind, count in counts.items():
        typer.echo(f"{kind}: {count} {verb}")


@keys_cli.command("rotate")
def keys_rotate(
    batch_size: Annotated[int, typer.Option(min=1, max=5000, help="rows per transaction")] = 200,
) -> None:
    """Re-encrypt personal data under the newest of OPENLINE_DATA_KEYS, a batch per transaction;
    safe to stop and run again while the line stays up."""
    from app.privacy.keys import rotate_keys

    counts = _run_runtime(lambda runtime: rotate_keys(runtime, batch_size=batch_size))
    for table, count in counts.items():
        typer.echo(f"{table}: {count} re-encrypted")


@keys_cli.command("status")
def keys_status() -> None:
    """Rows per table still holding a ciphertext under an older key."""
    from app.privacy.keys import count_stale

    for table, count in _run(count_stale).items():
        typer.echo(f"{table}: {count} under an older key")


@cli.command()
def serve(host: str = "127.0.0.1", port: int = 8000, workers: int = 1) -> None:
    """Serve the web app, webhooks and (unless OPENLINE_RUN_JOBS=false) the job loop."""
    import uvicorn

    from app.core.observability import configure_logging

    settings = _settings()
    configure_logging(settings.log_level)
    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_config=None,
        access_log=False,
        proxy_headers=True,
    )


@cli.command()
def worker() -> None:
    """Run only the job loop (timers, SLA breaches, partner notifications), as its own process."""
    from app.core.observability import configure_logging
    from app.main import run_worker

    settings = _settings()
    configure_logging(settings.log_level)
    asyncio.run(run_worker(settings))


@cli.command()
def demo(
    host: str = "127.0.0.1",
    port: int = 8000,
    callers: Annotated[bool, typer.Option(help="simulated callers ring now and then")] = True,
) -> None:
    """Migrate, load the demo directory and accounts, and serve with simulated telephony."""
    from app.db_admin import upgrade_database
    from app.demo import DEMO_PASSWORD, DEMO_USERS, load_demo

    os.environ.setdefault("OPENLINE_ENVIRONMENT", "development")
    os.environ.setdefault("OPENLINE_TELEPHONY", "simulated")
    os.environ.setdefault("OPENLINE_PUBLIC_URL", f"http://{host}:{port}")
    os.environ.setdefault("OPENLINE_SIMULATE_CALLERS", "true" if callers else "false")
    if "OPENLINE_TWILIO_API_BASE" not in os.environ:
        from app.demo import choose_simulator_port

        simulator_port, moved = choose_simulator_port(int(os.environ.get("OPENLINE_SIMULATOR_PORT", "8010")))
        if moved:
            typer.secho(moved, fg="yellow", bold=True)
        os.environ["OPENLINE_SIMULATOR_PORT"] = str(simulator_port)
        # telephony: the app's Twilio REST calls go to the simulator.
        os.environ["OPENLINE_TWILIO_API_BASE"] = f"http://127.0.0.1:{simulator_port}"
    settings = _settings()
    upgrade_database(settings.database_url)
    summary = _run(load_demo)
    typer.echo(f"demo directory loaded ({summary})")
    typer.secho(
        f"\nOpenline demo on http://{host}:{port}/login   (password for every account: {DEMO_PASSWORD})",
        fg="green",
        bold=True,
    )
    for user in DEMO_USERS:
        typer.echo(f"  {user.username:<12} {user.role:<11} {user.display_name}")
    typer.echo("")
    sys.stdout.flush()
    # telephony: practice callers come from the Twilio simulator, run beside the server.
    simulator = _start_simulator(settings, app_url=f"http://{host}:{port}") if settings.simulate_callers else None
    try:
        serve(host=host, port=port, workers=1)
    finally:
        _stop_simulator(simulator)


def _start_simulator(settings: Settings, *, app_url: str) -> Any:
    """The simulator as its own process, so it can neither block nor slow the server."""
    import subprocess

    typer.echo(f"simulated callers will ring now and then (Twilio simulator on port {settings.simulator_port})")
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "telephony.simulator",
            "--port",
            str(settings.simulator_port),
            "--app-url",
            app_url,
            "--callers",
            "--parent-pid",
            str(os.getpid()),
        ],
        env=os.environ.copy(),
    )


def _stop_simulator(process: Any) -> None:
    import subprocess

    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


simulate_cli = typer.Typer(help="The Twilio simulator, and a simulated week of calls.")
cli.add_typer(simulate_cli, name="simulate")


@simulate_cli.callback(invoke_without_command=True)
def simulate(
    ctx: typer.Context,
    port: Annotated[int | None, typer.Option(help="default: OPENLINE_SIMULATOR_PORT (8010)")] = None,
    host: str = "127.0.0.1",
    app_url: Annotated[str | None, typer.Option(help="where to send webhooks (default: OPENLINE_PUBLIC_URL)")] = None,
    callers: Annotated[bool, typer.Option(help="practice callers ring now and then")] = True,
    min_gap: Annotated[float, typer.Option(help="seconds between callers, at least")] = 20.0,
    max_gap: Annotated[float, typer.Option(help="seconds between callers, at most")] = 60.0,
) -> None:
    """Run the Twilio simulator: Twilio's REST API for OPENLINE_TWILIO_API_BASE, and callers."""
    if ctx.invoked_subcommand is not None:
        return
    from app.core.observability import configure_logging
    from telephony.simulator.practice import run_simulator

    settings = _settings()
    configure_logging(settings.log_level)
    asyncio.run(
        run_simulator(
            settings, host=host, port=port, app_url=app_url, callers=callers, min_gap=min_gap, max_gap=max_gap
        )
    )


@simulate_cli.command("week")
def simulate_week(
    calls_per_week: Annotated[float, typer.Option(min=0, max=100_000, help="Somerset's line: about 650")] = 650,
    handle_minutes: Annotated[float, typer.Option(min=0.5, max=240, help="handle plus wrap-up")] = 20,
    patience_minutes: Annotated[float, typer.Option(min=0.1, max=120, help="mean time before a caller gives up")] = 3,
    weeks: Annotated[int, typer.Option(min=1, max=52, help="weeks played and folded into one")] = 1,
    seed: Annotated[int, typer.Option(help="the same seed gives the same week")] = 1,
    from_records: Annotated[bool, typer.Option(help="calls, handle time and patience from the database")] = False,
) -> None:
    """Play a week of calls against the capacity model's rota and print each hour's service levels."""
    from app.capacity.simulate import describe_simulated_week, recorded_demand, rota_for, weekly_profile

    if from_records:
        rates, handle, patience = _run(recorded_demand)
        if handle is None or patience is None:
            _fail("too little recorded to simulate: no finished sessions or nobody has given up waiting")
    else:
        rates, handle, patience = weekly_profile(calls_per_week), handle_minutes * 60, patience_minutes * 60
    rota = rota_for(rates, handle, patience)
    for line in describe_simulated_week(
        rates, rota, handle_seconds=handle, patience_seconds=patience, weeks=weeks, seed=seed
    ):
        typer.echo(line)


def main() -> None:
    cli()
