"""Fixtures for the blog collector: a fast fake clock and blog sites served over loopback."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from collectors.base import Platform, SourceConfig
from collectors.blog.client import BlogCollector
from collectors.http import RetryPolicy
from simulator.app import Simulator
from simulator.blogs import BlogSim
from simulator.core import Faults


class FakeClock:
    """Wall time plus everything slept so far; sleeping only advances the counter."""

    def __init__(self) -> None:
        self.slept: list[float] = []

    def now(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=sum(self.slept))

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)


@dataclass
class BlogWorld:
    sim: BlogSim
    simulator: Simulator
    url: str  # http://127.0.0.1:PORT/blogs
    clock: FakeClock = field(default_factory=FakeClock)

    def config(self, path: str, **changes: Any) -> SourceConfig:
        values: dict[str, Any] = {
            "platform": Platform.BLOG,
            "url": self.url + path,
            "trusted": True,
            "timeout_s": 5.0,
        }
        values.update(changes)
        return SourceConfig(**values)

    def collector(self, **options: Any) -> BlogCollector:
        options.setdefault("clock", self.clock)
        options.setdefault("retry", RetryPolicy(attempts=6, base_delay_s=0.01))
        return BlogCollector(**options)

    def stats(self) -> dict[str, Any]:
        return self.simulator.stats()["/blogs"]


WorldFactory = Callable[..., BlogWorld]


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def blog_world() -> Iterator[WorldFactory]:
    """Build and serve blog sites: ``blog_world(articles=40, faults=Faults(...), ...)``."""
    handles = []

    def build(*, faults: Faults | None = None, **sim_options: Any) -> BlogWorld:
        sim = BlogSim(**sim_options)
        simulator = Simulator()
        simulator.add("/blogs", sim, faults)
        handle = simulator.serve().start()
        handles.append(handle)
        return BlogWorld(sim=sim, simulator=simulator, url=f"{handle.url}/blogs")

    yield build
    for handle in handles:
        handle.stop()
