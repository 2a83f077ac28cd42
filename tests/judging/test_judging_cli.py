"""``bie freeze EVENT`` freezes once, prints the hash, and refuses a second freeze."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select
from typer.testing import CliRunner

from app.cli.main import app
from app.core.db import make_engine
from app.judging.models import Freeze
from tests.judging.conftest import build_world


def test_bie_freeze_prints_the_hash_once(app_env: str) -> None:
    engine = make_engine(app_env)
    with Session(engine) as session:
        build_world(session)
        session.commit()
    runner = CliRunner()
    first = runner.invoke(app, ["freeze", "wcc2025"])
    assert first.exit_code == 0, first.output
    printed = first.stdout.strip().splitlines()[-1]
    with Session(engine) as session:
        stored = session.exec(select(Freeze)).one()
        assert stored.content_hash == printed
    second = runner.invoke(app, ["freeze", "wcc2025", "--reason", "again"])
    assert second.exit_code == 2
    assert "already frozen" in second.output
    missing = runner.invoke(app, ["freeze", "no-such-event"])
    assert missing.exit_code == 2
    engine.dispose()


@pytest.mark.parametrize("argv", [["freeze"], ["freeze", "--reason"]])
def test_bie_freeze_usage_errors(argv: list[str]) -> None:
    assert CliRunner().invoke(app, argv).exit_code == 2
