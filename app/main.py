"""The HTTP service: ``create_app()`` builds it (uvicorn: ``app.main:create_app``, factory=True).

To add a domain's routes: write ``app/<domain>/routes.py`` with ``router = APIRouter(prefix=…,
tags=[…])`` and add one line to ``API_ROUTERS`` below. Routes there sit under ``/api/v1``.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import Engine, text
from sqlmodel import Session

from app.audit import routes as audit_routes
from app.core import docs as docs_routes
from app.core import metrics, migrate
from app.core.api import install_error_handlers, problem
from app.core.db import get_engine, writing
from app.core.lifespan import lifespan
from app.core.middleware import (
    BodySizeLimitMiddleware,
    MetricsMiddleware,
    RequestIdMiddleware,
    SecurityHeadersMiddleware,
)
from app.core.settings import Settings, get_settings
from app.events import routes as events_routes
from app.ingest import routes as ingest_routes
from app.judging import routes as judging_routes
from app.reporters import routes as reporters_routes
from app.scoring import routes as scoring_routes
from app.subsidies import routes as subsidies_routes
from app.users import routes as users_routes
from app.web import judge as web_judge
from app.web import reporter as web_reporter
from app.web import routes as web_routes
from app.web import staff as web_staff

API_PREFIX = "/api/v1"

# Every domain router mounted under /api/v1 — one line per router.
# FastAPI tries routes in order, router by router: the busiest (leaderboards, standing) come first.
# No two routers can take the same request (tests/api/test_api_routing_order.py), so the order is
# only a matter of speed.
API_ROUTERS: list[APIRouter] = [
    scoring_routes.router,
    scoring_routes.standing_router,
    users_routes.router,
    users_routes.admin_router,
    events_routes.router,
    judging_routes.router,
    reporters_routes.router,
    subsidies_routes.router,
    scoring_routes.export_router,
    ingest_routes.router,
    ingest_routes.sources_router,
    audit_routes.router,
]

# Routers at the site root (feeds that calendar clients expect at a short URL).
ROOT_ROUTERS: list[APIRouter] = [
    events_routes.calendar_router,
    web_routes.router,
    web_staff.router,
    web_judge.router,
    web_reporter.router,
]

ops_router = APIRouter(tags=["ops"])


@ops_router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is alive (touches nothing else)."""
    return {"status": "ok"}


@ops_router.get("/readyz", response_model=None)
def readyz(request: Request) -> dict[str, str] | JSONResponse:
    """The database answers and its schema is at the latest migration (503 otherwise)."""
    engine: Engine = request.app.state.engine
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        current = migrate.current_revision(engine)
    except Exception:  # noqa: BLE001  (any failure to reach the database means "not ready")
        return problem(503, "the database is unreachable", code="unavailable", headers={"Retry-After": "5"})
    head = migrate.head_revision()
    if current != head:
        detail = f"the database schema is at {current or 'nothing'}, not {head}: run `bie db upgrade`"
        return problem(503, detail, code="unavailable", headers={"Retry-After": "5"})
    return {"status": "ready", "revision": str(current)}


@ops_router.get("/metrics", response_class=Response)
def metrics_endpoint() -> Response:
    """Prometheus metrics (text exposition format)."""
    body, content_type = metrics.render()
    return Response(content=body, media_type=content_type)


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> FastAPI:
    """Build the API; tests pass their own settings and engine."""
    settings = settings or get_settings()
    engine = engine or get_engine()
    app = FastAPI(
        title="BlogItEarnIt",
        version="1",
        summary="Conservation-event coverage by CEC Social Media Reporters: events, reporters, scores.",
        docs_url=None,  # served by app.core.docs from local files (no CDN)
        redoc_url=None,
        openapi_url="/openapi.json",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine
    # Tests replace this to run every request inside their own rolled-back transaction.
    # requests that change things take SQLite's write lock at BEGIN (see app.core.db.writing)
    app.state.session_factory = lambda write=False: Session(
        writing(engine) if write else engine, expire_on_commit=False
    )

    # add_middleware puts each new one outside the previous: the last added runs first.
    app.add_middleware(scoring_routes.EarlyBoardPages, prefix=API_PREFIX)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_request_bytes)
    app.add_middleware(MetricsMiddleware)
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(RequestIdMiddleware)
    install_error_handlers(app)

    app.include_router(ops_router)
    app.include_router(docs_routes.router)
    for router in API_ROUTERS:
        app.include_router(router, prefix=API_PREFIX)
    for router in ROOT_ROUTERS:
        app.include_router(router)
    return app
