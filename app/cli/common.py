"""What every CLI command shares: the console, the error boundary, the unit of work."""

from __future__ import annotations

import functools
import getpass
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, ParamSpec, TypeVar

import typer
from rich.console import Console
from sqlalchemy.exc import OperationalError, ProgrammingError, SQLAlchemyError
from sqlmodel import Session

from app.core.db import session_scope
from app.core.errors import DomainError

console = Console()
err_console = Console(stderr=True)

P = ParamSpec("P")
R = TypeVar("R")

CLI_ROLE = "cli"  # the actor role audited for operator commands run on the server


def cli_actor() -> dict[str, Any]:
    """Audit fields for an operator at the server's shell."""
    try:
        who = getpass.getuser()
    except (KeyError, OSError):
        who = "unknown"
    return {"actor_id": None, "actor_role": f"{CLI_ROLE}:{who}"}


def fail(message: str, code: int = 2) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def handle_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Turn domain and database errors into one line on stderr and exit code 2, never a traceback."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except DomainError as exc:
            raise fail(exc.detail) from None
        except (OperationalError, ProgrammingError) as exc:
            text = str(exc.orig) if exc.orig is not None else str(exc)
            if "no such table" in text or "does not exist" in text:
                raise fail("the database is not set up: run `bie db upgrade` first") from None
            raise fail(f"database error: {text.splitlines()[0]}", 1) from None
        except SQLAlchemyError as exc:
            raise fail(f"database error: {str(exc).splitlines()[0]}", 1) from None
        except KeyboardInterrupt:
            raise fail("interrupted", 130) from None

    return wrapper


@contextmanager
def unit_of_work() -> Iterator[Session]:
    with session_scope() as session:
        yield session


def read_stdin_secret() -> str:
    data = sys.stdin.readline()
    return data.rstrip("\r\n")
