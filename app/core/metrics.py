"""Prometheus metrics: one registry for the HTTP layer and for collectors, exposed at ``/metrics``.

Everything registers on ``REGISTRY`` (not prometheus_client's global default) so that several apps
built in one process (tests) share the series instead of clashing, and so that only our series are
exported. Other code imports the metric objects from here and updates them, e.g.
``metrics.COLLECTOR_RUNS.labels(platform="mastodon", status="ok").inc()``.

With ``bie api --workers N`` each worker process keeps its own counters; scrape each process or run
one worker per container (prometheus_client's multiprocess mode is not enabled).
"""

from __future__ import annotations

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

REGISTRY = CollectorRegistry(auto_describe=True)

# --- HTTP (filled by app.core.middleware.MetricsMiddleware) ---------------------------------------
HTTP_REQUESTS = Counter(
    "http_requests",
    "HTTP requests by method, route template and status code.",
    ("method", "route", "status"),
    registry=REGISTRY,
)
HTTP_LATENCY = Histogram(
    "http_request_duration_seconds",
    "Time from the request's arrival to the end of its response, by route template.",
    ("method", "route"),
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=REGISTRY,
)
BOARD_PAGES_EARLY = Counter(
    "leaderboard_pages_answered_early",
    "Anonymous leaderboard pages answered from the board cache before routing "
    "(app.scoring.routes.EarlyBoardPages).",
    registry=REGISTRY,
)

# --- Collection (filled by app.ingest / the scheduler) ------------------------------------------
COLLECTOR_RUNS = Counter(
    "collector_runs",
    "Collector runs by platform and outcome (ok, failed, rate_limited, blocked).",
    ("platform", "status"),
    registry=REGISTRY,
)
POSTS_INGESTED = Counter(
    "posts_ingested",
    "Posts written (new or updated) by the ingest pipeline, by platform.",
    ("platform",),
    registry=REGISTRY,
)
RATE_LIMIT_WAITS = Counter(
    "rate_limit_waits",
    "Times a collector waited for a platform's rate limit to reset, by platform.",
    ("platform",),
    registry=REGISTRY,
)
SOURCE_HEALTH = Gauge(
    "source_health",
    "1 when a source's last run succeeded, 0 when it is failing or blocked.",
    ("source_id", "platform"),
    registry=REGISTRY,
)

UNMATCHED_ROUTE = "<unmatched>"


def render() -> tuple[bytes, str]:
    """The text exposition of every metric in ``REGISTRY`` and its content type."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
