"""Subsidy tests: the API harness of tests/api (re-exported here); factories in subsidies_factories.

Scores are arranged as stored leaderboard entries (``store_scores``): eligibility reads the stored
scores, so the tests say exactly which numbers a reporter has. One test in
test_subsidies_eligibility.py goes the whole way from ingested posts instead.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any


def _load_api_harness() -> Any:
    name = "subsidies_api_harness"
    if name in sys.modules:
        return sys.modules[name]
    path = Path(__file__).resolve().parent.parent / "api" / "conftest.py"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


_harness = _load_api_harness()
# The API fixtures, exactly as tests/api defines them (pytest collects fixtures by attribute).
fast_password_hashing = _harness.fast_password_hashing
api_settings = _harness.api_settings
api_connection = _harness.api_connection
db = _harness.db
api_app = _harness.api_app
client_factory = _harness.client_factory
api_client = _harness.api_client
make_user = _harness.make_user
login_as = _harness.login_as
assert_problem = _harness.assert_problem
