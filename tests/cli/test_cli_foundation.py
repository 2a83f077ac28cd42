"""`bie db upgrade && bie events create …` against both databases; bad input → one line, exit 2."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlmodel import Session, select

from app.audit.models import AuditEntry
from app.core.db import make_engine
from app.events.models import Event, Registration
from app.reporters.models import Account
from app.users.models import User
from tests.cli.conftest import Bie

WCC_OPTIONS = {
    "--slug": "wcc2025",
    "--name": "World Conservation Congress",
    "--start": "2025-10-09",
    "--end": "2025-10-15",
    "--timezone": "Asia/Dubai",
    "--tag": "WCC2025",
    "--fee": "500",
    "--currency": "CHF",
    "--subsidy-cap": "300",
    "--budget": "5000",
}
WCC = ["events", "create", *[x for pair in WCC_OPTIONS.items() for x in pair], "--require-tag"]


@pytest.fixture
def db(app_env: str) -> Iterator[Callable[[], Session]]:
    """Open sessions on the test's database to check what the CLI wrote."""
    engine = make_engine(app_env)
    yield lambda: Session(engine)
    engine.dispose()


def one_line_error(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    assert lines[0].startswith("error:")
    return lines[0]


def test_upgrade_then_create_and_list_events(bie: Bie, app_env: str, db: Callable[[], Session]) -> None:
    assert bie("db", "upgrade")[0] == 0
    code, out, err = bie(*WCC)
    assert code == 0, err
    event_id = int(out.strip())
    code, out, _ = bie("events", "list")
    assert code == 0
    assert "wcc2025" in out
    assert "Asia/Dubai" in out

    with db() as session:
        event = session.get(Event, event_id)
        assert event is not None
        assert str(event.fee) == "500.0000"
        assert event.currency == "CHF"
        assert event.require_tag
        # coverage window: 2025-10-07 00:00 Dubai (UTC+4) to the end of 2025-10-29 Dubai
        assert event.window_start_at.isoformat() == "2025-10-06T20:00:00+00:00"
        assert event.window_end_at.isoformat() == "2025-10-29T20:00:00+00:00"
        assert session.exec(select(AuditEntry).where(AuditEntry.action == "event.create")).one()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--timezone", "Mars/Base"], "unknown time zone"),
        (["--end", "2025-10-01"], "before start date"),
        (["--start", "2025-13-40"], "start"),
        (["--budget", "lots"], "budget"),
        (["--slug", "No Spaces!"], "slug"),
        (["--fee", "-5"], "fee"),
        (["--rules", "1999.9"], "unknown rule set"),
        (["--fee", "10", "--currency", "C1F"], "currency"),
    ],
)
def test_invalid_event_input_is_one_line_exit_2(
    bie: Bie, app_env: str, args: list[str], expected: str
) -> None:
    options = {**WCC_OPTIONS, **dict(zip(args[::2], args[1::2], strict=True))}
    code, _, err = bie("events", "create", *[x for pair in options.items() for x in pair])
    assert code == 2
    assert expected in one_line_error(err)


def test_duplicate_slug_and_missing_schema(
    bie: Bie, app_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert bie(*WCC)[0] == 0
    code, _, err = bie(*WCC)
    assert code == 2
    assert "already exists" in one_line_error(err)


def test_events_import_is_all_or_nothing(
    bie: Bie, app_env: str, db: Callable[[], Session], tmp_path: Path
) -> None:
    good = tmp_path / "events.toml"
    good.write_text(
        '[[events]]\nslug = "cop17"\nname = "CBD COP17"\nstart = 2026-10-19\nend = 2026-10-30\n'
        'timezone = "Asia/Yerevan"\ntag = "CBDCOP17"\nfee = "200"\ncurrency = "USD"\n'
        '[[events]]\nslug = "youth-summit"\nname = "Youth Nature Summit"\nstart = 2026-06-01\n'
        'end = 2026-06-01\ntimezone = "Africa/Nairobi"\n'
    )
    code, out, err = bie("events", "import", str(good))
    assert code == 0, err
    assert "cop17" in out
    assert "youth-summit" in out

    bad = tmp_path / "bad.toml"
    bad.write_text(
        '[[events]]\nslug = "ok-one"\nname = "Fine"\nstart = 2026-01-01\nend = 2026-01-02\n'
        'timezone = "UTC"\n[[events]]\nslug = "broken"\nname = "B"\nstart = 2026-01-05\n'
        'end = 2026-01-01\ntimezone = "UTC"\n'
    )
    code, _, err = bie("events", "import", str(bad))
    assert code == 2
    assert "event 2" in one_line_error(err)
    with db() as session:
        assert session.exec(select(Event).where(Event.slug == "ok-one")).first() is None

    code, _, err = bie("events", "import", str(tmp_path / "missing.toml"))
    assert code == 2
    assert "no such file" in one_line_error(err)
    (tmp_path / "junk.toml").write_text("this is [not toml")
    code, _, err = bie("events", "import", str(tmp_path / "junk.toml"))
    assert code == 2
    assert "not valid TOML" in one_line_error(err)


def test_reporters_add_register_verify(bie: Bie, app_env: str, db: Callable[[], Session]) -> None:
    assert bie(*WCC)[0] == 0
    code, out, err = bie(
        "reporters",
        "add",
        "--name",
        "Ana Okafor",
        "--email",
        "ana@example.org",
        "--account",
        "mastodon:@Ana@Social.Example",
        "--account",
        "bluesky:ana.bsky.social",
        "--account",
        "blog:https://ana.example/feed/",
        "--account",
        "x:@AnaO",
    )
    assert code == 0, err
    reporter_id = int(out.strip())
    code, out, err = bie("reporters", "register", str(reporter_id), "wcc2025")
    assert code == 0, err
    code, _, err = bie("reporters", "register", str(reporter_id), "wcc2025")
    assert code == 2
    assert "already registered" in one_line_error(err)
    code, _, err = bie("reporters", "register", "999", "wcc2025")
    assert code == 2
    assert "reporter 999 not found" in one_line_error(err)
    code, _, err = bie("reporters", "verify", "mastodon:ana@social.example")
    assert code == 0, err

    with db() as session:
        keys = {a.account_key: a.state for a in session.exec(select(Account)).all()}
        assert keys == {
            "mastodon:ana@social.example": "verified",
            "bluesky:ana.bsky.social": "pending",
            "blog:https://ana.example/feed/": "pending",
            "x:anao": "pending",
        }
        assert session.exec(select(Registration)).one().reporter_id == reporter_id
        verify = session.exec(select(AuditEntry).where(AuditEntry.action == "account.verify")).one()
        assert verify.actor_role is not None
        assert verify.actor_role.startswith("cli:")

    code, _, err = bie("reporters", "add", "--name", "Bo", "--account", "myspace:bo")
    assert code == 2
    assert "unknown platform" in one_line_error(err)
    code, _, err = bie("reporters", "add", "--name", "Cy", "--account", "mastodon:ana@social.example")
    assert code == 2
    assert "already linked" in one_line_error(err)


def test_backdated_registration_is_audited(bie: Bie, app_env: str, db: Callable[[], Session]) -> None:
    assert bie(*WCC)[0] == 0
    rid = bie("reporters", "add", "--name", "Dee")[1].strip()
    code, _, err = bie("reporters", "register", rid, "wcc2025", "--at", "2025-09-01T10:00:00+02:00")
    assert code == 0, err
    code, _, err = bie("reporters", "register", rid, "wcc2025", "--at", "yesterday")
    assert code == 2
    assert "ISO-8601" in one_line_error(err)
    with db() as session:
        registration = session.exec(select(Registration)).one()
        assert registration.registered_at.isoformat() == "2025-09-01T08:00:00+00:00"
        entry = session.exec(select(AuditEntry).where(AuditEntry.action == "registration.create")).one()
        assert entry.detail["backdated_to"] == "2025-09-01T10:00:00+02:00"


def test_users_create_reads_password_from_stdin(bie: Bie, app_env: str, db: Callable[[], Session]) -> None:
    code, out, err = bie(
        "users",
        "create",
        "--email",
        "Staff@Example.org",
        "--role",
        "staff",
        "--password-stdin",
        stdin="correct horse battery\n",
    )
    assert code == 0, err
    with db() as session:
        user = session.exec(select(User)).one()
        assert user.email == "staff@example.org"
        assert user.role == "staff"
        assert user.password_hash.startswith("$argon2")
        assert "correct horse" not in user.password_hash
    code, _, err = bie("users", "create", "--email", "x@example.org", "--password-stdin", stdin="short\n")
    assert code == 2
    assert "at least" in one_line_error(err)
    code, _, err = bie("users", "create", "--email", "x@example.org", "--role", "boss", "--password-stdin")
    assert code == 2
    assert "--role" in one_line_error(err)
    code, _, err = bie("events", "create", "--slug", "x")
    assert code == 2
    assert "Missing option" in one_line_error(err)


def test_commands_before_upgrade_say_what_to_do(
    bie: Bie, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.core.db import set_engine
    from app.core.settings import get_settings

    monkeypatch.setenv("BIE_DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    get_settings.cache_clear()
    set_engine(None)
    try:
        code, _, err = bie("events", "list")
        assert code == 2
        assert "bie db upgrade" in one_line_error(err)
    finally:
        set_engine(None)
        get_settings.cache_clear()
