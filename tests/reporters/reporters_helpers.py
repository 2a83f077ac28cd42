"""Shared helpers of the reporter tests: the API harness of tests/api as a module, the simulator."""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from simulator.mastodon import MastodonSim


def _load_api_harness() -> ModuleType:
    name = "bie_tests_api_harness"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, Path(__file__).parents[1] / "api" / "conftest.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


api_harness = _load_api_harness()
PASSWORD: str = api_harness.PASSWORD


@dataclass
class Mastodon:
    """One simulated Mastodon server (``social1``) on loopback; person 0 lives there."""

    server: MastodonSim
    base_url: str  # what a source points at
    author: int = 0

    @property
    def account_key(self) -> str:
        person = self.server.pool.people[self.author]
        return f"mastodon:{person.username}@{self.server.pool.domains[person.home]}"

    def post(self, text: str, *, author: int | None = None, visibility: str = "public") -> str:
        """Publish a status; return its public web URL."""
        uri = self.server.add_post(
            author=self.author if author is None else author, text=text, visibility=visibility
        )
        url = self.server.status_url(uri)
        assert url is not None
        return url
