"""Assemble simulated platforms into one ASGI app, with a control API under ``/_sim``.

URL layout (one loopback server for everything):

    /mastodon/{server}/api/...     one Mastodon-API server per name (mastodon.py api_base_url)
    /bluesky/xrpc/...              the Bluesky PDS/AppView (atproto Client base_url)
    /blogs/{name}/...              blog sites with RSS 2.0 and Atom feeds
    /x/2/...                       the X v2 API
    /_sim/...                      control: faults, stats, ground truth, ticks (tests and the demo)
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, Protocol

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

from simulator.core import ASGIApp, FaultMiddleware, Faults, RateLimitStyle, ServerHandle, stats_dict


class PlatformSim(Protocol):
    """What each platform module's simulator object offers."""

    style: RateLimitStyle

    def asgi(self) -> ASGIApp:
        """The ASGI app serving this server's API (mounted under its prefix)."""

    def truth(self) -> set[str]:
        """Global keys of the live, tagged, public posts a correct collector ends up with."""

    def tick(self, seconds: float) -> None:
        """Let time pass: new posts appear, engagement grows (the demo and growth tests)."""


class Simulator:
    """A set of simulated servers, each behind its own fault knobs and rate limiter."""

    def __init__(self) -> None:
        self.platforms: dict[str, PlatformSim] = {}
        self.servers: dict[str, FaultMiddleware] = {}

    def add(self, prefix: str, sim: PlatformSim, faults: Faults | None = None) -> None:
        prefix = "/" + prefix.strip("/")
        self.platforms[prefix] = sim
        self.servers[prefix] = FaultMiddleware(
            sim.asgi(), name=prefix, style=sim.style, faults=faults or Faults()
        )

    def faults(self, prefix: str) -> Faults:
        return self.servers["/" + prefix.strip("/")].faults

    def stats(self) -> dict[str, dict[str, Any]]:
        return {prefix: stats_dict(server.stats) for prefix, server in self.servers.items()}

    def truth(self) -> set[str]:
        keys: set[str] = set()
        for sim in self.platforms.values():
            keys |= sim.truth()
        return keys

    def tick(self, seconds: float) -> None:
        for sim in self.platforms.values():
            sim.tick(seconds)

    def build_app(self) -> Starlette:
        async def get_faults(request: Request) -> JSONResponse:
            return JSONResponse({p: asdict(s.faults) for p, s in self.servers.items()})

        async def put_faults(request: Request) -> JSONResponse:
            prefix = "/" + request.path_params["prefix"].strip("/")
            if prefix not in self.servers:
                return JSONResponse({"error": "unknown server"}, status_code=404)
            try:
                self.servers[prefix].faults.update(await request.json())
            except (KeyError, TypeError, ValueError) as exc:
                return JSONResponse({"error": f"bad knob: {exc}"}, status_code=400)
            return JSONResponse(asdict(self.servers[prefix].faults))

        async def get_stats(request: Request) -> JSONResponse:
            return JSONResponse(self.stats())

        async def get_truth(request: Request) -> JSONResponse:
            return JSONResponse(sorted(self.truth()))

        async def post_tick(request: Request) -> JSONResponse:
            seconds = float(request.query_params.get("seconds", "60"))
            self.tick(seconds)
            return JSONResponse({"ok": True})

        routes: list[Any] = [
            Route("/_sim/faults", get_faults),
            Route("/_sim/faults/{prefix:path}", put_faults, methods=["PUT"]),
            Route("/_sim/stats", get_stats),
            Route("/_sim/truth", get_truth),
            Route("/_sim/tick", post_tick, methods=["POST"]),
        ]
        routes += [Mount(prefix, app=server) for prefix, server in self.servers.items()]
        return Starlette(routes=routes)

    def serve(self, port: int = 0) -> ServerHandle:
        """Start on loopback in a background thread (tests); ``with sim.serve() as h: h.url``."""
        return ServerHandle(self.build_app(), port=port)
