"""Fixtures for reporter identity tests: the API harness of tests/api, and a served Mastodon simulator.

The API fixtures live in ``tests/api/conftest.py``; pytest only offers a conftest's fixtures to the
tests below it, so ``reporters_helpers`` loads that file as a module and this one re-exports them
(nothing copied, nothing to keep in sync).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from simulator.app import Simulator
from simulator.mastodon import MastodonSim
from tests.reporters.reporters_helpers import Mastodon, api_harness

fast_password_hashing = api_harness.fast_password_hashing
api_settings = api_harness.api_settings
api_connection = api_harness.api_connection
db = api_harness.db
api_app = api_harness.api_app
client_factory = api_harness.client_factory
api_client = api_harness.api_client
make_user = api_harness.make_user
login_as = api_harness.login_as
assert_problem = api_harness.assert_problem


@pytest.fixture(scope="module")
def mastodon_server() -> Iterator[Mastodon]:
    server = MastodonSim("social1", posts=5, seed=3)
    sim = Simulator()
    sim.add("/mastodon/social1", server)
    handle = sim.serve().start()
    try:
        yield Mastodon(server, f"{handle.url}/mastodon/social1")
    finally:
        handle.stop()
