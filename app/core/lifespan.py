"""What a server process does once, after start-up and before the first request, and at shutdown."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Freeze the start-up heap out of the cyclic GC while serving.

    What is alive once the app is built (modules, routes, schemas, the engine) lives as long as the
    process, yet every full collection scanned all of it: under load that paused the event loop for
    126–192 ms now and then (the p99 of every endpoint). Frozen, a full collection scans only what
    requests made since (17–30 ms in the same measurement, docs/PERFORMANCE.md). Forked workers also
    keep those pages shared, since the collector no longer writes to them.
    """
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()  # a process that builds many apps (the tests) must not pile them up frozen
