"""Fixtures for the Bluesky collector: a fast fake clock and the simulator over loopback."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from collectors.base import Platform, SourceConfig
from collectors.bluesky.client import BlueskyCollector
from simulator.app import Simulator
from simulator.bluesky import BlueskySim
from simulator.core import Faults

APP_PASSWORD = "app-pass-1234"


class FakeClock:
    """Wall time plus everything slept so far; sleeping only advances the counter."""

    def __init__(self) -> None:
        self.slept: list[float] = []

    def now(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=sum(self.slept))

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)

    def advance(self, seconds: float) -> None:
        """Move the collector's time on (the test's own doing, not a collector's wait)."""
        self.slept.append(seconds)


@dataclass
class BlueskyWorld:
    sim: BlueskySim
    simulator: Simulator
    url: str
    clock: FakeClock = field(default_factory=FakeClock)

    def config(self, **changes: Any) -> SourceConfig:
        extra = {"settle_s": 0, **changes.pop("extra", {})}
        values: dict[str, Any] = {
            "platform": Platform.BLUESKY,
            "url": self.url,
            "tags": ("iucncec", "NatureForAll"),
            "handle": self.sim.people[0].bluesky_handle,
            "token": APP_PASSWORD,
            "trusted": True,
            "timeout_s": 5.0,
            "extra": extra,
        }
        values.update(changes)
        return SourceConfig(**values)

    def collector(self, **options: Any) -> BlueskyCollector:
        options.setdefault("clock", self.clock)
        options.setdefault("seed", 1)
        return BlueskyCollector(**options)

    def stats(self) -> dict[str, Any]:
        return self.simulator.stats()["/bluesky"]

    def searches(self) -> int:
        return int(self.stats()["paths"].get("/bluesky/xrpc/app.bsky.feed.searchPosts", 0))


WorldFactory = Callable[..., BlueskyWorld]


@pytest.fixture
def bluesky_world() -> Iterator[WorldFactory]:
    """Build and serve a simulator: ``bluesky_world(posts=300, faults=Faults(...), ...)``."""
    handles = []

    def build(*, faults: Faults | None = None, **sim_options: Any) -> BlueskyWorld:
        sim = BlueskySim(**sim_options)
        simulator = Simulator()
        simulator.add("/bluesky", sim, faults)
        handle = simulator.serve().start()
        handles.append(handle)
        return BlueskyWorld(sim=sim, simulator=simulator, url=f"{handle.url}/bluesky")

    yield build
    for handle in handles:
        handle.stop()
