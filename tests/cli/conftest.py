"""Shared CLI fixtures: run the real `bie` entry point in-process and capture its output."""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest

from app.cli.main import main

Bie = Callable[..., tuple[int, str, str]]


@pytest.fixture
def bie(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Bie:
    """Run the real entry point (as the `bie` script does); return (exit code, stdout, stderr)."""

    def run(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
        capsys.readouterr()
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin or ""))
        try:
            main(list(args))
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        out, err = capsys.readouterr()
        return code, out, err

    return run
