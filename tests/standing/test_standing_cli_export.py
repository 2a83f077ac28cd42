"""`bie export leaderboard` and `bie export posts` (shared export code) against both databases."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime

import pytest
from sqlmodel import Session, select

from app.audit.models import AuditEntry
from app.cli.main import main
from app.core.db import make_engine
from app.events import service as events_service
from app.ingest import repository as repo
from app.reporters import service as reporters_service
from app.scoring import service as scoring
from tests.standing.standing_seed import LONG, NOW, collected


def _bie(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_export_leaderboard_cli(app_env: str, capsys: pytest.CaptureFixture[str]) -> None:
    engine = make_engine(app_env)
    with Session(engine) as session:
        spec = events_service.parse_event(
            {
                "slug": "wcc2025",
                "name": "WCC",
                "start": "2025-10-09",
                "end": "2025-10-15",
                "timezone": "Asia/Dubai",
            }
        )
        event = events_service.create_event(session=session, spec=spec)
        for name, handle in (("-1+1 Cell", "ana"), ("Bo", "bo")):
            reporter = reporters_service.add_reporter(
                session=session,
                name=name,
                email=None,
                accounts=[f"mastodon:{handle}@social.example"],
                verified=True,
            )
            events_service.register(
                session=session,
                reporter=reporter,
                event=event,
                at=datetime(2025, 9, 1, tzinfo=UTC),
                channel="staff",
            )
        posts = [collected("a1", "ana", text=LONG[0]), collected("a2", "ana", day=11, text=LONG[1])]
        repo.upsert_posts(
            session, source_id=None, posts=[*posts, collected("b1", "bo", text=LONG[2])], now=NOW
        )
        scoring.rescore_event(session, event)
        session.commit()

    code, out, err = _bie(capsys, "export", "leaderboard", "--event", "wcc2025", "--format", "csv")
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [(r["rank"], r["name"], r["posts_counted"]) for r in rows] == [
        ("1", "'-1+1 Cell", "2"),
        ("2", "Bo", "1"),
    ]

    code, out, err = _bie(capsys, "export", "leaderboard", "--event", "wcc2025")
    assert code == 0, err
    assert [json.loads(line)["name"] for line in out.splitlines()] == ["-1+1 Cell", "Bo"]

    code, out, err = _bie(capsys, "export", "posts", "--event", "wcc2025", "--format", "csv")
    assert code == 0, err
    assert len(list(csv.DictReader(io.StringIO(out)))) == 3

    code, _, err = _bie(capsys, "export", "leaderboard", "--event", "nope2031")
    assert code == 2
    assert "event nope2031 not found" in err
    with Session(engine) as session:
        audited = session.exec(select(AuditEntry).where(AuditEntry.action == "export.leaderboard")).all()
        assert len(audited) == 2
        assert all(str(a.actor_role).startswith("cli:") for a in audited)
    engine.dispose()
