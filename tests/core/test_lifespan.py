"""The app's lifespan: the start-up heap is frozen out of the cyclic GC while serving."""

from __future__ import annotations

import gc

from app.core.db import make_engine
from app.main import create_app
from tests.api.conftest import TestClient  # imported there with Starlette's httpx warning silenced


def test_the_startup_heap_is_frozen_while_serving_and_released_after() -> None:
    engine = make_engine("sqlite://")
    app = create_app(engine=engine)
    gc.unfreeze()
    try:
        with TestClient(app) as client:
            assert gc.get_freeze_count() > 10_000  # the app, its routes and every module loaded
            assert client.get("/healthz").status_code == 200
        assert gc.get_freeze_count() == 0
    finally:
        gc.unfreeze()
        engine.dispose()
