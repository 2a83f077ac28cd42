"""Fixtures for the X collector: a fast fake clock and the X simulator over loopback."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from collectors.base import Platform, SourceConfig
from collectors.http import RetryPolicy
from collectors.x.client import XCollector
from simulator.app import Simulator
from simulator.core import Faults
from simulator.x import XSim


class FakeClock:
    """Wall time plus everything slept so far; sleeping only advances the counter."""

    def __init__(self) -> None:
        self.slept: list[float] = []

    def now(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=sum(self.slept))

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)


@dataclass
class XWorld:
    sim: XSim
    simulator: Simulator
    url: str  # http://127.0.0.1:PORT/x
    clock: FakeClock = field(default_factory=FakeClock)

    def config(self, **changes: Any) -> SourceConfig:
        values: dict[str, Any] = {
            "platform": Platform.X,
            "url": self.url,
            "token": "sim-x-token",
            "trusted": True,
            "timeout_s": 5.0,
        }
        values.update(changes)
        return SourceConfig(**values)

    def collector(self, **options: Any) -> XCollector:
        options.setdefault("clock", self.clock)
        options.setdefault("retry", RetryPolicy(attempts=6, base_delay_s=0.01))
        return XCollector(**options)

    def stats(self) -> dict[str, Any]:
        return self.simulator.stats()["/x"]


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def x_world() -> Iterator[Callable[..., XWorld]]:
    """Build and serve the X simulator: ``x_world(posts=300, faults=Faults(...), ...)``."""
    handles = []

    def build(*, faults: Faults | None = None, **sim_options: Any) -> XWorld:
        sim = XSim(**sim_options)
        simulator = Simulator()
        simulator.add("/x", sim, faults)
        handle = simulator.serve().start()
        handles.append(handle)
        return XWorld(sim=sim, simulator=simulator, url=f"{handle.url}/x")

    yield build
    for handle in handles:
        handle.stop()
