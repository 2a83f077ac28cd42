"""Fixtures for the Mastodon collector: a fast clock, federated simulated servers on loopback."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from collectors.base import Platform, SourceConfig
from collectors.mastodon.client import MastodonCollector, RetryPolicy
from simulator.app import Simulator
from simulator.core import Faults
from simulator.mastodon import MastodonFederation, MastodonSim

TAGS = ("iucncec", "NatureForAll")


class FastClock:
    """Time that only moves when someone sleeps: no real waiting in tests."""

    def __init__(self) -> None:
        self.moment = datetime.now(UTC)
        self.slept: list[float] = []

    def now(self) -> datetime:
        return self.moment

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.moment += timedelta(seconds=max(seconds, 0.0))


@dataclass
class Federation:
    """Three servers sharing one pool (social3 with string ids), served on loopback."""

    pool: MastodonFederation
    servers: dict[str, MastodonSim]
    sim: Simulator
    url: str
    extra_faults: dict[str, Faults] = field(default_factory=dict)

    def config(self, name: str, **changes: Any) -> SourceConfig:
        options: dict[str, Any] = {"tags": TAGS, "trusted": True, "timeout_s": 5.0}
        options.update(changes)
        return SourceConfig(Platform.MASTODON, f"{self.url}/mastodon/{name}", **options)

    def requests(self, name: str) -> int:
        return int(self.sim.stats()[f"/mastodon/{name}"]["requests"])

    def stats(self, name: str) -> dict[str, Any]:
        return self.sim.stats()[f"/mastodon/{name}"]

    def faults(self, name: str) -> Faults:
        return self.sim.faults(f"/mastodon/{name}")


@pytest.fixture
def clock() -> FastClock:
    return FastClock()


@pytest.fixture
def collector(clock: FastClock) -> MastodonCollector:
    return MastodonCollector(clock=clock, policy=RetryPolicy(base_delay_s=0.05))


ServeFn = Callable[..., Federation]


@pytest.fixture
def serve() -> Iterator[ServeFn]:
    """Build and serve a federation: ``serve(posts=300, string_ids=("social3",), ...)``."""
    handles = []

    def start(
        posts: int = 300,
        seed: int = 7,
        string_ids: tuple[str, ...] = ("social3",),
        names: tuple[str, ...] = ("social1", "social2", "social3"),
        faults: dict[str, Faults] | None = None,
        **server_options: Any,
    ) -> Federation:
        pool = MastodonFederation(seed=seed, posts=posts, servers={n: f"{n}.example" for n in names})
        servers = {
            n: MastodonSim(n, shared_pool=pool, string_ids=n in string_ids, **server_options.get(n, {}))
            for n in names
        }
        sim = Simulator()
        for name, server in servers.items():
            sim.add(f"/mastodon/{name}", server, (faults or {}).get(name))
        handle = sim.serve().start()
        handles.append(handle)
        return Federation(pool, servers, sim, handle.url)

    yield start
    for handle in handles:
        handle.stop()


@pytest.fixture
def federation(serve: ServeFn) -> Federation:
    return serve()
