"""``bie api``: the stateless HTTP API process (DESIGN §2 "Scaled out": N of these behind a balancer)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
import uvicorn

from app.core.logging import configure_logging
from app.core.settings import get_settings

APP_FACTORY = "app.main:create_app"


def uvicorn_options(
    host: str | None = None,
    port: int | None = None,
    workers: int = 1,
    forwarded_allow_ips: str | None = None,
) -> dict[str, Any]:
    """The keyword arguments ``bie api`` gives ``uvicorn.run`` (tests start a real server from them)."""
    settings = get_settings()
    return {
        "app": APP_FACTORY,
        "factory": True,
        "host": host or settings.host,
        "port": settings.port if port is None else port,
        "workers": workers,
        "log_config": None,  # configure_logging owns the handlers: JSON lines, redaction, request id
        "proxy_headers": forwarded_allow_ips is not None,
        "forwarded_allow_ips": forwarded_allow_ips,
        "server_header": False,
    }


def api(
    host: Annotated[str | None, typer.Option(help="Address to bind (default BIE_HOST).")] = None,
    port: Annotated[
        int | None, typer.Option(help="Port to bind (default BIE_PORT).", min=0, max=65535)
    ] = None,
    workers: Annotated[int, typer.Option(help="Worker processes.", min=1, max=64)] = 1,
    forwarded_allow_ips: Annotated[
        str | None,
        typer.Option(help="Trust X-Forwarded-For/-Proto from these proxy addresses (comma-separated, or *)."),
    ] = None,
) -> None:
    """Serve the HTTP API (no scheduler: run `bie worker` for collection)."""
    configure_logging(get_settings())
    uvicorn.run(**uvicorn_options(host, port, workers, forwarded_allow_ips))


def register(cli: typer.Typer) -> None:
    """Add ``bie api`` to the command line."""
    cli.command("api")(api)
