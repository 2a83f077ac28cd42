"""No client input gives a 500: random JSON bodies and query strings against a few endpoints.

The TestClient re-raises any exception that reaches the last-resort handler, so a crash fails the
test outright; every 4xx must also be a well-formed problem.
"""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

SPECIAL_TEXT = [
    "",
    "\x00",
    "\ud800",
    "a" * 400,
    "é",
    "wcc2025",
    "ana@example.org",
    "Asia/Dubai",
    "2025-10-09",
]
FIELDS = [
    "email", "password", "name", "role", "is_active", "expires_in_days", "slug", "start", "end",
    "timezone", "tag", "require_tag", "fee", "currency", "subsidy_cap", "budget", "rules",
    "registration_deadline", "min_posts", "csrf_token",
]  # fmt: skip

text = st.one_of(st.text(max_size=40), st.sampled_from(SPECIAL_TEXT))
url_text = text.filter(lambda t: "\ud800" not in t)  # a URL or form cannot even carry one
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    text,
)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(text, children, max_size=4),
    max_leaves=12,
)
bodies = st.one_of(
    st.dictionaries(st.one_of(st.sampled_from(FIELDS), text), json_values, max_size=8),
    json_values,
)
queries = st.dictionaries(
    st.sampled_from(["offset", "limit", "x", "slug", ""]),
    st.one_of(st.integers(min_value=-(2**70), max_value=2**70).map(str), url_text),
    max_size=3,
)

FUZZ = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

WCC = {"slug": "wcc2025", "name": "WCC", "start": "2025-10-09", "end": "2025-10-15", "timezone": "Asia/Dubai"}


def _check(response) -> None:
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert response.headers["content-type"].startswith("application/problem+json")
        body = response.json()
        assert body["status"] == response.status_code
        assert body["detail"]


def _send(client, method: str, url: str, body) -> None:
    raw = json.dumps(body, ensure_ascii=True).encode()  # lone surrogates travel as \\ud800 escapes
    _check(client.request(method, url, content=raw, headers={"content-type": "application/json"}))


@pytest.fixture
def staff(login_as):
    actor = login_as("staff", via="token")
    assert actor.client.post("/api/v1/events", json=WCC).status_code == 201
    return actor


@FUZZ
@given(body=bodies)
def test_signup_and_login(api_client, body):
    _send(api_client, "POST", "/api/v1/auth/signup", body)
    _send(api_client, "POST", "/api/v1/auth/login", body)


@FUZZ
@given(form=st.dictionaries(st.sampled_from(["email", "password", "csrf_token", "x"]), url_text, max_size=4))
def test_login_form(api_client, form):
    _check(api_client.post("/api/v1/auth/login", data=form))


@FUZZ
@given(body=bodies)
def test_event_writes(staff, body):
    _send(staff.client, "POST", "/api/v1/events", body)
    _send(staff.client, "PATCH", "/api/v1/events/wcc2025", body)
    _send(staff.client, "PUT", "/api/v1/events/wcc2025", body)


@FUZZ
@given(body=bodies, user_id=st.integers(min_value=-(2**40), max_value=2**40))
def test_user_admin_and_tokens(login_as, body, user_id):
    admin = login_as("admin", via="token")
    _send(admin.client, "POST", "/api/v1/users", body)
    _send(admin.client, "PATCH", f"/api/v1/users/{user_id}", body)
    _send(admin.client, "POST", "/api/v1/me/tokens", body)


@FUZZ
@given(params=queries, slug=url_text)
def test_query_strings_and_paths(staff, api_client, params, slug):
    _check(api_client.get("/api/v1/events", params=params))
    _check(staff.client.get("/api/v1/users", params=params))
    _check(staff.client.get("/api/v1/events/wcc2025/registrations", params=params))
    _check(api_client.get("/api/v1/events/" + quote(slug, safe="")))
