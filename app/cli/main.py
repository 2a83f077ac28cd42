"""The ``bie`` command line (DESIGN §8)."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from typer.exceptions import TyperException

from app.cli import boards as board_commands
from app.cli import collect as collect_commands
from app.cli import judging as judging_commands
from app.cli import scores as score_commands
from app.cli import serve as serve_commands
from app.cli import server as server_commands
from app.cli import subsidies as subsidy_commands  # noqa: F401  (defines `bie export subsidies`)
from app.cli.common import (
    cli_actor,
    console,
    err_console,
    fail,
    handle_errors,
    read_stdin_secret,
    unit_of_work,
)
from app.core import migrate
from app.core.db import get_engine
from app.events import service as events_service
from app.reporters import service as reporters_service
from app.users import service as users_service
from app.users.models import Role

app = typer.Typer(
    help="BlogItEarnIt: collect, score and reward conservation-event coverage.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
db_app = typer.Typer(help="Database schema (Alembic).", no_args_is_help=True)
users_app = typer.Typer(help="Users and roles.", no_args_is_help=True)
events_app = typer.Typer(help="The calendar of events.", no_args_is_help=True)
reporters_app = typer.Typer(help="Reporters, their accounts and registrations.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
app.add_typer(events_app, name="events")
app.add_typer(reporters_app, name="reporters")
collect_commands.register(app)
board_commands.register(app)
score_commands.register(app)
serve_commands.register(app)
judging_commands.register(app)
server_commands.register(app)


# --- db -----------------------------------------------------------------------------------------


@db_app.command("upgrade")
@handle_errors
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head") -> None:
    """Create or upgrade the schema to the latest migration."""
    engine = get_engine()
    migrate.upgrade(engine, revision)
    console.print(
        f"database at revision {migrate.current_revision(engine)} ({engine.url.get_backend_name()})"
    )


@db_app.command("current")
@handle_errors
def db_current() -> None:
    """Show the schema's revision and whether it is the latest."""
    engine = get_engine()
    current = migrate.current_revision(engine)
    state = "at head" if current == migrate.head_revision() else f"head is {migrate.head_revision()}"
    console.print(f"{current or 'empty'} ({state})")


# --- users --------------------------------------------------------------------------------------


@users_app.command("create")
@handle_errors
def users_create(
    email: Annotated[str, typer.Option(help="Login email.")],
    role: Annotated[Role, typer.Option(help="reporter, staff, judge or admin.")] = Role.REPORTER,
    name: Annotated[str, typer.Option(help="Display name.")] = "",
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
) -> None:
    """Create a user (staff, judges and admins are created this way or by an admin)."""
    if not password_stdin:
        raise fail("give the password on standard input with --password-stdin")
    password = read_stdin_secret()
    with unit_of_work() as session:
        user = users_service.create_user(
            session=session, email=email, password=password, role=role, name=name, **cli_actor()
        )
        console.print(user.id)


# --- events -------------------------------------------------------------------------------------


@events_app.command("create")
@handle_errors
def events_create(
    slug: Annotated[str, typer.Option(help="Short id used in URLs, e.g. wcc2025.")],
    name: Annotated[str, typer.Option(help="Full name.")],
    start: Annotated[str, typer.Option(help="First day, YYYY-MM-DD.")],
    end: Annotated[str, typer.Option(help="Last day, YYYY-MM-DD.")],
    timezone: Annotated[str, typer.Option(help="IANA time zone, e.g. Asia/Dubai.")],
    tag: Annotated[str | None, typer.Option(help="The event's own hashtag, e.g. WCC2025.")] = None,
    require_tag: Annotated[
        bool, typer.Option("--require-tag", help="Posts must carry the event tag.")
    ] = False,
    fee: Annotated[str | None, typer.Option(help="Event fee.")] = None,
    currency: Annotated[str | None, typer.Option(help="ISO 4217 code, e.g. CHF.")] = None,
    subsidy_cap: Annotated[str | None, typer.Option(help="Most a reporter can receive.")] = None,
    budget: Annotated[str | None, typer.Option(help="Total subsidy budget.")] = None,
    rules: Annotated[str, typer.Option(help="Scoring rule-set version.")] = "2026.1",
    description: Annotated[str, typer.Option(help="Description.")] = "",
    location: Annotated[str, typer.Option(help="Where it takes place.")] = "",
) -> None:
    """Create an event and print its id."""
    spec = events_service.parse_event(
        {
            "slug": slug,
            "name": name,
            "start": start,
            "end": end,
            "timezone": timezone,
            "tag": tag,
            "require_tag": require_tag,
            "fee": fee,
            "currency": currency,
            "subsidy_cap": subsidy_cap,
            "budget": budget,
            "rules": rules,
            "description": description,
            "location": location,
        }
    )
    with unit_of_work() as session:
        event = events_service.create_event(session=session, spec=spec, **cli_actor())
        console.print(event.id)


@events_app.command("import")
@handle_errors
def events_import(path: Annotated[Path, typer.Argument(help="A TOML file with [[events]] tables.")]) -> None:
    """Create every event of a TOML file (all or nothing)."""
    with unit_of_work() as session:
        created = events_service.import_events(session=session, path=path, **cli_actor())
        for event in created:
            console.print(f"{event.id}\t{event.slug}")


@events_app.command("list")
@handle_errors
def events_list() -> None:
    """List events by start date."""
    with unit_of_work() as session:
        rows, total = events_service.list_events(session=session, limit=10_000)
        table = Table(title=f"{total} events")
        for column in ("id", "slug", "name", "dates", "time zone", "tag", "rules"):
            table.add_column(column)
        for e in rows:
            tag = (f"#{e.event_tag}" + (" (required)" if e.require_tag else "")) if e.event_tag else ""
            table.add_row(
                str(e.id), e.slug, e.name, f"{e.start_date} → {e.end_date}", e.timezone, tag, e.rules_version
            )
        console.print(table)


# --- reporters ----------------------------------------------------------------------------------


@reporters_app.command("add")
@handle_errors
def reporters_add(
    name: Annotated[str, typer.Option(help="The reporter's name.")],
    email: Annotated[str | None, typer.Option(help="Contact email.")] = None,
    account: Annotated[
        list[str] | None,
        typer.Option(
            help="PLATFORM:HANDLE, repeatable: mastodon:user@server, bluesky:handle, blog:FEED_URL, x:username."
        ),
    ] = None,
    verified: Annotated[
        bool, typer.Option("--verified", help="Staff decision: accounts count at once (audited).")
    ] = False,
    anonymous: Annotated[
        bool, typer.Option("--anonymous", help="List with rank and score but no name.")
    ] = False,
) -> None:
    """Add a reporter with linked accounts and print the id."""
    with unit_of_work() as session:
        reporter = reporters_service.add_reporter(
            session=session,
            name=name,
            email=email,
            accounts=account or [],
            verified=verified,
            public_listing=not anonymous,
            **cli_actor(),
        )
        console.print(reporter.id)


@reporters_app.command("register")
@handle_errors
def reporters_register(
    reporter_id: Annotated[int, typer.Argument(help="Reporter id.")],
    event_slug: Annotated[str, typer.Argument(help="Event slug.")],
    at: Annotated[
        str | None, typer.Option(help="ISO-8601 time of a registration received earlier (audited).")
    ] = None,
) -> None:
    """Register a reporter for an event."""
    when = None
    if at is not None:
        try:
            when = datetime.fromisoformat(at)
        except ValueError:
            raise fail(f"--at is not an ISO-8601 time: {at!r}") from None
    with unit_of_work() as session:
        reporter = reporters_service.get_reporter(session=session, reporter_id=reporter_id)
        event = events_service.require_event(session=session, slug=event_slug)
        registration = events_service.register(
            session=session,
            reporter=reporter,
            event=event,
            at=when,
            channel="staff" if when else "self",
            **cli_actor(),
        )
        console.print(
            f"registered reporter {reporter_id} for {event.slug} at {registration.registered_at.isoformat()}"
        )


@reporters_app.command("verify")
@handle_errors
def reporters_verify(
    account: Annotated[str, typer.Argument(help="PLATFORM:HANDLE of a linked account.")],
) -> None:
    """Verify an account by staff decision (audited)."""
    with unit_of_work() as session:
        found = reporters_service.get_account(session=session, account_key=account)
        reporters_service.verify_account(session=session, account=found, method="staff", **cli_actor())
        console.print(f"verified {found.account_key}")


def main(argv: list[str] | None = None) -> None:
    """Entry point: usage errors become one ``error:`` line and exit code 2, as domain errors do."""
    try:
        result = app(args=argv, standalone_mode=False)
    except TyperException as exc:  # usage errors (typer vendors click; they all derive from this)
        message = " ".join(exc.format_message().split())
        raise SystemExit(_usage_error(message)) from None
    except typer.Abort:
        raise SystemExit(130) from None
    raise SystemExit(result if isinstance(result, int) else 0)


def _usage_error(message: str) -> int:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True, markup=True)
    return 2


_ = date  # dates arrive as text and are validated by the event schema
