"""Subsidy tests: the API harness of tests/api (re-exported here); factories in subsidies_factories.

Scores are arranged as stored leaderboard entries (``store_scores``): eligibility reads the stored
scores, so the tests say exactly which numbers a reporter has. One test in
test_subsidies_eligibility.py goes the whole way from ingested posts instead.
"""

from __future__ import annotations

from tests.api.conftest import (  # noqa: F401  (fixtures re-exported for tests/subsidies)
    api_app,
    api_client,
    api_connection,
    api_settings,
    assert_problem,
    client_factory,
    db,
    fast_password_hashing,
    login_as,
    make_user,
)
