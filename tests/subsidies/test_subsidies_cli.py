"""`bie export subsidies --event SLUG --format csv|jsonl [--output FILE]` on a committed database."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from sqlmodel import Session, select

from app.audit.models import AuditEntry
from app.cli.main import main
from app.core.db import make_engine, session_scope
from app.subsidies import service
from tests.subsidies.subsidies_factories import make_event, make_reporter, make_staff_user, make_subsidy


def bie(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def seeded(app_env: str) -> str:
    engine = make_engine(app_env)
    with session_scope(engine) as session:
        event = make_event(session, slug="wcc2025", currency="JPY", fee="50001", cap=None, budget="100000")
        staff = make_staff_user(session, name="Finance Lead")
        first = make_subsidy(
            session, event, make_reporter(session, event, name="+Plus Reporter"), amount="25000"
        )
        make_subsidy(session, event, make_reporter(session, event, name="Ana"), amount="12345")
        assert first.id is not None
        service.approve_subsidy(session=session, subsidy_id=first.id, staff=staff)
    engine.dispose()
    return app_env


def test_csv_to_stdout_is_finance_ready_and_formula_safe(
    seeded: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = bie(capsys, "export", "subsidies", "--event", "wcc2025", "--format", "csv")
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [(r["reporter"], r["amount"], r["currency"], r["state"], r["decided_by"]) for r in rows] == [
        ("'+Plus Reporter", "25000", "JPY", "approved", "Finance Lead"),
        ("Ana", "12345", "JPY", "proposed", ""),
    ]
    assert rows[0]["decided_at"]
    assert rows[1]["decided_at"] == ""


def test_jsonl_to_a_file_keeps_values_exact_and_is_audited(
    seeded: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "subsidies.jsonl"
    code, out, err = bie(
        capsys, "export", "subsidies", "--event", "wcc2025", "--format", "jsonl", "--output", str(target)
    )
    assert code == 0, err
    assert out == ""
    assert "wrote 2 subsidies" in err
    lines = [json.loads(line) for line in target.read_text(encoding="utf-8").splitlines()]
    assert [(line["reporter"], line["amount"], line["event"]) for line in lines] == [
        ("+Plus Reporter", "25000", "wcc2025"),
        ("Ana", "12345", "wcc2025"),
    ]
    engine = make_engine(seeded)
    with Session(engine) as session:
        entry = session.exec(select(AuditEntry).where(AuditEntry.action == "subsidy.export")).one()
        assert entry.detail == {"event": "wcc2025", "rows": 2, "format": "jsonl"}
        assert (entry.actor_role or "").startswith("cli:")
    engine.dispose()


def test_unknown_event_or_format_is_one_line_and_exit_2(
    seeded: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = bie(capsys, "export", "subsidies", "--event", "nope")
    assert code == 2
    assert "event nope not found" in err
    assert "Traceback" not in err
    code, _, err = bie(capsys, "export", "subsidies", "--event", "wcc2025", "--format", "xlsx")
    assert code == 2
