"""The authorisation matrix: every route of the app, called by six callers, against an expected table.

Every route the app serves must be classified in ``EXPECTED`` (the test fails on a new, unclassified
route, and on a classified route that no longer exists). Each (route, caller) call runs inside its own
SAVEPOINT that is rolled back afterwards, so one caller's success (deleting, approving, logging out)
never changes what the next caller meets. For each call the test checks:

- the outcome: ``ok`` (2xx/3xx, or a business refusal listed for the route such as 409) or the exact
  refusal status (401 not signed in, 403 wrong role, 404 hidden);
- existence does not leak: a refused caller gets the same status for a real id/slug as for one that
  does not exist, and every caller but staff gets the same status for an unpublished event's slug as
  for a missing one;
- private fields do not leak (``assert_no_leaks``): other users' emails, verification codes, password
  and token hashes, raw tokens, raw payloads (staff only), other reporters' subsidy amounts, and a
  judge's comments before publication.

Expected access comes from DESIGN §8 and docs/api.md, identity.md, standing.md, judging.md and the
subsidies module docstring.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from sqlalchemy import Connection

from tests.security.conftest import JUDGE2_COMMENT, RAW_SENTINEL, ROLES, SecurityWorld

OK = "ok"

# Access profiles: the expected outcome per caller, in ROLES order
# (anonymous, reporter, other, judge, staff, admin).
PUBLIC = dict.fromkeys(ROLES, OK)
USER = PUBLIC | {"anonymous": 401}
REPORTER = USER | {"judge": 403, "staff": 403, "admin": 403}
OWN_REPORTER = REPORTER | {"other": 404}  # the reporter's own thing; another reporter sees nothing
OWN_USER = USER | {"other": 404, "judge": 404, "staff": 404, "admin": 404}  # the user's own token
OWN_OR_STAFF = USER | {"other": 404, "judge": 404}
STAFF = {"anonymous": 401, "reporter": 403, "other": 403, "judge": 403, "staff": OK, "admin": OK}
JUDGE = STAFF | {"judge": OK}
JUDGE_ONLY = STAFF | {"judge": OK, "staff": 403, "admin": 403}
ADMIN = STAFF | {"staff": 403}
# server-rendered pages: an anonymous visitor is sent to /login (counted as 401)
WEB_REPORTER = REPORTER
WEB_OWN_REPORTER = OWN_REPORTER
# the staff console and the judge workspace hide themselves (404) from the wrong roles
WEB_STAFF = {"anonymous": 401, "reporter": 404, "other": 404, "judge": 404, "staff": OK, "admin": OK}
WEB_JUDGE = WEB_STAFF | {"judge": OK}
# staff see every shortlist entry anyway, so their 403 on scoring one reveals nothing (no ghost check)
WEB_JUDGE_ONLY = WEB_STAFF | {"judge": OK, "staff": 403, "admin": 403}
FORM_REFUSALS = frozenset({409, 422})  # a form shown again with its errors: the caller was let in
# the freeze before any publication: staff and judges only, hidden from everyone else
FREEZE_PRIVATE = dict.fromkeys(ROLES, 404) | {"judge": OK, "staff": OK, "admin": OK}


@dataclass
class Case:
    path: str
    profile: dict[str, Any]
    json: Any = None
    form: dict[str, str] | None = None  # web forms: the caller's CSRF token is added
    also_ok: frozenset[int] = frozenset()  # business answers that still mean "let in"
    ghost: str | None = None  # the same route for an id or slug that does not exist
    hidden: str | None = None  # the same route for the unpublished event
    headers: dict[str, str] = field(default_factory=dict)


def cases(w: SecurityWorld) -> dict[tuple[str, str], Case]:
    """Every route of the app: a concrete call and who may make it."""
    e = w.event.slug
    h = w.hidden.slug
    c = w.category
    a = w.reporter_ids["reporter"]
    sub = w.subsidy_ids["reporter"]
    post = w.post_ids["reporter"]
    acct = w.verified_accounts["reporter"]
    pend = w.pending_accounts["reporter"]
    entry = w.entry_id
    src = w.source_id
    tok = w.token_ids["reporter"]
    crit = w.criterion_ids
    ghost_slug = "no-such-event"
    ghost_id = 987654
    v1 = "/api/v1"
    reason = {"reason": "checked by hand"}
    event_body = {
        "slug": "newevent",
        "name": "New event",
        "start": "2026-05-01",
        "end": "2026-05-03",
        "timezone": "UTC",
    }
    category_body = {"slug": "visual", "name": "Visual", "kind": "visual", "criteria": [{"name": "Eye"}]}

    def slugged(template: str, profile: dict[str, Any], **kw: Any) -> Case:
        return Case(
            template.format(slug=e),
            profile,
            ghost=template.format(slug=ghost_slug),
            hidden=template.format(slug=h),
            **kw,
        )

    def idd(template: str, value: int, profile: dict[str, Any], **kw: Any) -> Case:
        return Case(template.format(id=value), profile, ghost=template.format(id=ghost_id), **kw)

    return {
        # --- ops and docs
        ("GET", "/openapi.json"): Case("/openapi.json", PUBLIC),
        ("GET", "/docs"): Case("/docs", PUBLIC),
        ("GET", "/docs/assets/{name}"): Case("/docs/assets/swagger-ui.css", PUBLIC),
        ("GET", "/healthz"): Case("/healthz", PUBLIC),
        ("GET", "/readyz"): Case("/readyz", PUBLIC),
        ("GET", "/metrics"): Case("/metrics", PUBLIC),
        # --- auth and me
        ("POST", f"{v1}/auth/signup"): Case(
            f"{v1}/auth/signup",
            PUBLIC,
            json={"email": "newcomer@mail.example", "password": "a long enough password", "name": "New"},
        ),
        ("POST", f"{v1}/auth/login"): Case(
            f"{v1}/auth/login",
            PUBLIC,
            json={"email": "nobody@mail.example", "password": "wrong password"},
            also_ok=frozenset({401}),
        ),
        ("POST", f"{v1}/auth/logout"): Case(f"{v1}/auth/logout", USER),
        ("GET", f"{v1}/auth/csrf"): Case(f"{v1}/auth/csrf", USER),
        ("GET", f"{v1}/me"): Case(f"{v1}/me", USER),
        ("POST", f"{v1}/me/tokens"): Case(f"{v1}/me/tokens", USER, json={"name": "script"}),
        ("GET", f"{v1}/me/tokens"): Case(f"{v1}/me/tokens", USER),
        ("DELETE", f"{v1}/me/tokens/{{token_id}}"): idd(f"{v1}/me/tokens/{{id}}", tok, OWN_USER),
        ("POST", f"{v1}/users"): Case(
            f"{v1}/users",
            ADMIN,
            json={"email": "new.staff@cec.example", "password": "a long enough password", "role": "staff"},
        ),
        ("GET", f"{v1}/users"): Case(f"{v1}/users", ADMIN),
        ("PATCH", f"{v1}/users/{{user_id}}"): idd(
            f"{v1}/users/{{id}}", w.judge2.id or 0, ADMIN, json={"is_active": False}
        ),
        # --- events
        ("GET", f"{v1}/events"): Case(f"{v1}/events", PUBLIC),
        ("GET", f"{v1}/events/{{slug}}"): slugged(f"{v1}/events/{{slug}}", PUBLIC),
        ("POST", f"{v1}/events"): Case(f"{v1}/events", STAFF, json=event_body),
        ("PUT", f"{v1}/events/{{slug}}"): slugged(
            f"{v1}/events/{{slug}}", STAFF, json=event_body | {"slug": e, "name": "Renamed"}
        ),
        ("PATCH", f"{v1}/events/{{slug}}"): slugged(f"{v1}/events/{{slug}}", STAFF, json={"name": "Renamed"}),
        ("POST", f"{v1}/events/{{slug}}/registrations"): slugged(
            f"{v1}/events/{{slug}}/registrations", REPORTER, also_ok=frozenset({409})
        ),
        ("DELETE", f"{v1}/events/{{slug}}/registrations"): slugged(
            f"{v1}/events/{{slug}}/registrations", REPORTER, also_ok=frozenset({409})
        ),
        ("GET", f"{v1}/events/{{slug}}/registrations"): slugged(f"{v1}/events/{{slug}}/registrations", STAFF),
        ("GET", "/calendar.ics"): Case("/calendar.ics", PUBLIC),
        # --- judging
        ("POST", f"{v1}/events/{{slug}}/freeze"): slugged(
            f"{v1}/events/{{slug}}/freeze", STAFF, also_ok=frozenset({409})
        ),
        ("GET", f"{v1}/events/{{slug}}/freeze"): slugged(f"{v1}/events/{{slug}}/freeze", FREEZE_PRIVATE),
        ("GET", f"{v1}/events/{{slug}}/freeze/verify"): slugged(f"{v1}/events/{{slug}}/freeze/verify", STAFF),
        ("GET", f"{v1}/events/{{slug}}/freeze/snapshot"): slugged(
            f"{v1}/events/{{slug}}/freeze/snapshot", STAFF
        ),
        ("POST", f"{v1}/events/{{slug}}/categories"): slugged(
            f"{v1}/events/{{slug}}/categories", STAFF, json=category_body
        ),
        ("GET", f"{v1}/events/{{slug}}/categories"): slugged(f"{v1}/events/{{slug}}/categories", JUDGE),
        ("GET", f"{v1}/events/{{slug}}/categories/{{category}}"): slugged(
            f"{v1}/events/{{slug}}/categories/{c}", JUDGE
        ),
        ("PATCH", f"{v1}/events/{{slug}}/categories/{{category}}"): slugged(
            f"{v1}/events/{{slug}}/categories/{c}", STAFF, json={"name": "Renamed"}
        ),
        ("DELETE", f"{v1}/events/{{slug}}/categories/{{category}}"): slugged(
            f"{v1}/events/{{slug}}/categories/{c}", STAFF, also_ok=frozenset({409})
        ),
        ("GET", f"{v1}/events/{{slug}}/categories/{{category}}/shortlist"): slugged(
            f"{v1}/events/{{slug}}/categories/{c}/shortlist", JUDGE
        ),
        ("POST", f"{v1}/events/{{slug}}/categories/{{category}}/shortlist"): slugged(
            f"{v1}/events/{{slug}}/categories/{c}/shortlist",
            STAFF,
            json={"reporter_id": a, "reason": "strong coverage"},
            also_ok=frozenset({409}),
        ),
        ("POST", f"{v1}/events/{{slug}}/categories/{{category}}/shortlist/generate"): slugged(
            f"{v1}/events/{{slug}}/categories/{c}/shortlist/generate", STAFF
        ),
        ("DELETE", f"{v1}/events/{{slug}}/categories/{{category}}/shortlist/{{entry_id}}"): slugged(
            f"{v1}/events/{{slug}}/categories/{c}/shortlist/{entry}?reason=withdrawn", STAFF
        ),
        ("GET", f"{v1}/judging/workspace"): Case(f"{v1}/judging/workspace", JUDGE),
        ("PUT", f"{v1}/judging/entries/{{entry_id}}/scores"): idd(
            f"{v1}/judging/entries/{{id}}/scores",
            entry,
            JUDGE_ONLY,
            json={"scores": [{"criterion_id": crit[0], "score": 3, "comment": "fine"}]},
        ),
        ("GET", f"{v1}/judging/entries/{{entry_id}}/scores"): idd(
            f"{v1}/judging/entries/{{id}}/scores", entry, JUDGE_ONLY
        ),
        ("POST", f"{v1}/judging/entries/{{entry_id}}/conflict"): idd(
            f"{v1}/judging/entries/{{id}}/conflict", entry, JUDGE_ONLY, json={"reason": "a friend"}
        ),
        ("GET", f"{v1}/events/{{slug}}/categories/{{category}}/results"): slugged(
            f"{v1}/events/{{slug}}/categories/{c}/results", STAFF
        ),
        ("POST", f"{v1}/events/{{slug}}/categories/{{category}}/results"): slugged(
            f"{v1}/events/{{slug}}/categories/{c}/results", STAFF
        ),
        ("GET", f"{v1}/events/{{slug}}/results"): slugged(f"{v1}/events/{{slug}}/results", PUBLIC),
        # --- reporters, accounts, claims, data
        ("GET", f"{v1}/me/profile"): Case(f"{v1}/me/profile", REPORTER),
        ("PATCH", f"{v1}/me/profile"): Case(f"{v1}/me/profile", REPORTER, json={"bio": "I cover wetlands"}),
        ("GET", f"{v1}/reporters/{{reporter_id}}"): idd(f"{v1}/reporters/{{id}}", a, PUBLIC),
        ("GET", f"{v1}/me/accounts"): Case(f"{v1}/me/accounts", REPORTER),
        ("POST", f"{v1}/me/accounts"): Case(
            f"{v1}/me/accounts", REPORTER, json={"account": "bluesky:someone.bsky.social"}
        ),
        ("DELETE", f"{v1}/me/accounts/{{account_id}}"): idd(f"{v1}/me/accounts/{{id}}", acct, OWN_REPORTER),
        ("POST", f"{v1}/me/accounts/{{account_id}}/verify"): idd(
            f"{v1}/me/accounts/{{id}}/verify",
            pend,
            OWN_REPORTER,
            json={"url": "https://x.com/ana_pending/status/1"},
            also_ok=frozenset({409, 422}),
        ),
        ("POST", f"{v1}/me/accounts/{{account_id}}/code"): idd(
            f"{v1}/me/accounts/{{id}}/code", pend, OWN_REPORTER
        ),
        ("GET", f"{v1}/accounts"): Case(f"{v1}/accounts", STAFF),
        ("POST", f"{v1}/accounts/{{account_id}}/verify"): idd(
            f"{v1}/accounts/{{id}}/verify", pend, STAFF, json=reason
        ),
        ("POST", f"{v1}/accounts/{{account_id}}/reject"): idd(
            f"{v1}/accounts/{{id}}/reject", pend, STAFF, json=reason
        ),
        ("DELETE", f"{v1}/reporters/{{reporter_id}}"): idd(f"{v1}/reporters/{{id}}", a, STAFF),
        ("POST", f"{v1}/me/claims"): Case(
            f"{v1}/me/claims",
            REPORTER,
            json={"url": "https://x.com/ana/status/12345"},
            also_ok=frozenset({422}),
        ),
        ("GET", f"{v1}/me/claims"): Case(f"{v1}/me/claims", REPORTER),
        ("GET", f"{v1}/me/export"): Case(f"{v1}/me/export", REPORTER),
        ("DELETE", f"{v1}/me"): Case(f"{v1}/me", REPORTER, json={"password": "correct horse battery staple"}),
        # --- subsidies
        ("GET", f"{v1}/events/{{slug}}/eligibility"): slugged(f"{v1}/events/{{slug}}/eligibility", STAFF),
        ("GET", f"{v1}/events/{{slug}}/eligibility/me"): slugged(
            f"{v1}/events/{{slug}}/eligibility/me", REPORTER
        ),
        ("POST", f"{v1}/events/{{slug}}/subsidies/propose"): slugged(
            f"{v1}/events/{{slug}}/subsidies/propose", STAFF
        ),
        ("GET", f"{v1}/events/{{slug}}/subsidies"): slugged(f"{v1}/events/{{slug}}/subsidies", STAFF),
        ("GET", f"{v1}/events/{{slug}}/budget"): slugged(f"{v1}/events/{{slug}}/budget", STAFF),
        ("GET", f"{v1}/events/{{slug}}/subsidies.csv"): slugged(f"{v1}/events/{{slug}}/subsidies.csv", STAFF),
        ("GET", f"{v1}/subsidies/{{subsidy_id}}"): idd(f"{v1}/subsidies/{{id}}", sub, OWN_OR_STAFF),
        ("POST", f"{v1}/subsidies/{{subsidy_id}}/approve"): idd(f"{v1}/subsidies/{{id}}/approve", sub, STAFF),
        ("POST", f"{v1}/subsidies/{{subsidy_id}}/reject"): idd(
            f"{v1}/subsidies/{{id}}/reject", sub, STAFF, json=reason
        ),
        ("POST", f"{v1}/subsidies/{{subsidy_id}}/revoke"): idd(
            f"{v1}/subsidies/{{id}}/revoke", sub, STAFF, json=reason, also_ok=frozenset({409})
        ),
        ("POST", f"{v1}/subsidies/{{subsidy_id}}/pay"): idd(
            f"{v1}/subsidies/{{id}}/pay", sub, STAFF, also_ok=frozenset({409})
        ),
        ("GET", f"{v1}/me/subsidies"): Case(f"{v1}/me/subsidies", REPORTER),
        # --- leaderboards, standing, exports
        ("GET", f"{v1}/events/{{slug}}/leaderboard"): slugged(f"{v1}/events/{{slug}}/leaderboard", PUBLIC),
        ("GET", f"{v1}/leaderboards/season"): Case(f"{v1}/leaderboards/season?year=2025", PUBLIC),
        ("GET", f"{v1}/me/standing"): Case(f"{v1}/me/standing", REPORTER),
        ("GET", f"{v1}/me/standing/{{slug}}"): slugged(f"{v1}/me/standing/{{slug}}", REPORTER),
        ("GET", f"{v1}/reporters/{{reporter_id}}/standing/{{slug}}"): Case(
            f"{v1}/reporters/{a}/standing/{e}",
            OWN_OR_STAFF,
            ghost=f"{v1}/reporters/{ghost_id}/standing/{e}",
        ),
        ("GET", f"{v1}/events/{{slug}}/posts.{{fmt}}"): slugged(f"{v1}/events/{{slug}}/posts.csv", STAFF),
        ("GET", f"{v1}/events/{{slug}}/leaderboard.{{fmt}}"): slugged(
            f"{v1}/events/{{slug}}/leaderboard.jsonl", STAFF
        ),
        # --- posts, moderation, sources, runs, audit
        ("GET", f"{v1}/posts/{{post_id}}"): idd(f"{v1}/posts/{{id}}", post, PUBLIC),
        ("POST", f"{v1}/posts/{{post_id}}/exclude"): idd(
            f"{v1}/posts/{{id}}/exclude", post, STAFF, json=reason
        ),
        ("POST", f"{v1}/posts/{{post_id}}/restore"): idd(
            f"{v1}/posts/{{id}}/restore", post, STAFF, json=reason, also_ok=frozenset({409})
        ),
        ("GET", f"{v1}/moderation/queue"): Case(f"{v1}/moderation/queue", STAFF),
        ("GET", f"{v1}/sources"): Case(f"{v1}/sources", STAFF),
        ("POST", f"{v1}/sources"): Case(
            f"{v1}/sources", STAFF, json={"platform": "rss", "url": "https://blog.example/feed.xml"}
        ),
        ("GET", f"{v1}/sources/{{source_id}}"): idd(f"{v1}/sources/{{id}}", src, STAFF),
        ("PATCH", f"{v1}/sources/{{source_id}}"): idd(
            f"{v1}/sources/{{id}}", src, STAFF, json={"enabled": False}
        ),
        ("POST", f"{v1}/sources/{{source_id}}/collect"): idd(f"{v1}/sources/{{id}}/collect", src, STAFF),
        ("GET", f"{v1}/sources/{{source_id}}/runs"): idd(f"{v1}/sources/{{id}}/runs", src, STAFF),
        ("GET", f"{v1}/runs"): Case(f"{v1}/runs", STAFF),
        ("GET", f"{v1}/audit"): Case(f"{v1}/audit", STAFF),
        # --- web pages (server-rendered; forms carry the CSRF token)
        ("GET", "/"): Case("/", PUBLIC),
        ("GET", "/events"): Case("/events", PUBLIC),
        ("GET", "/events/{slug}"): slugged("/events/{slug}", PUBLIC),
        ("GET", "/events/{slug}/leaderboard"): slugged("/events/{slug}/leaderboard", PUBLIC),
        ("GET", "/events/{slug}/wall"): slugged("/events/{slug}/wall", PUBLIC),
        ("GET", "/events/{slug}/wall/live"): slugged("/events/{slug}/wall/live", PUBLIC),
        ("GET", "/login"): Case("/login", PUBLIC),
        ("POST", "/login"): Case(
            "/login",
            PUBLIC,
            form={"email": "nobody@mail.example", "password": "wrong"},
            also_ok=frozenset({401}),
        ),
        ("GET", "/signup"): Case("/signup", PUBLIC),
        ("POST", "/signup"): Case(
            "/signup",
            PUBLIC,
            form={"name": "New", "email": "new.web@mail.example", "password": "a long enough password"},
        ),
        ("POST", "/logout"): Case("/logout", PUBLIC, form={}),
        ("GET", "/static/{name:path}"): Case("/static/site.css", PUBLIC),
        ("GET", "/events/{slug}/results"): slugged("/events/{slug}/results", PUBLIC),
        # --- reporter pages
        ("GET", "/events/{slug}/registration"): slugged("/events/{slug}/registration", PUBLIC),
        ("POST", "/events/{slug}/registration"): slugged(
            "/events/{slug}/registration", WEB_REPORTER, form={}, also_ok=FORM_REFUSALS
        ),
        ("POST", "/events/{slug}/withdrawal"): slugged(
            "/events/{slug}/withdrawal", WEB_REPORTER, form={}, also_ok=FORM_REFUSALS
        ),
        ("GET", "/me"): Case("/me", WEB_REPORTER),
        ("GET", "/me/accounts"): Case("/me/accounts", WEB_REPORTER),
        ("POST", "/me/accounts"): Case(
            "/me/accounts", WEB_REPORTER, form={"account": "bluesky:web.bsky.social"}, also_ok=FORM_REFUSALS
        ),
        ("POST", "/me/accounts/{account_id}/verify"): idd(
            "/me/accounts/{id}/verify",
            pend,
            WEB_OWN_REPORTER,
            form={"url": "https://x.com/ana_pending/status/1"},
            also_ok=FORM_REFUSALS,
        ),
        ("POST", "/me/accounts/{account_id}/code"): idd(
            "/me/accounts/{id}/code", pend, WEB_OWN_REPORTER, form={}, also_ok=FORM_REFUSALS
        ),
        ("POST", "/me/accounts/{account_id}/remove"): idd(
            "/me/accounts/{id}/remove", acct, WEB_OWN_REPORTER, form={}, also_ok=FORM_REFUSALS
        ),
        ("GET", "/me/events/{slug}"): slugged("/me/events/{slug}", WEB_REPORTER),
        ("GET", "/me/claims"): Case("/me/claims", WEB_REPORTER),
        ("POST", "/me/claims"): Case(
            "/me/claims", WEB_REPORTER, form={"url": "https://x.com/ana/status/1"}, also_ok=FORM_REFUSALS
        ),
        ("GET", "/me/profile"): Case("/me/profile", WEB_REPORTER),
        ("POST", "/me/profile"): Case(
            "/me/profile", WEB_REPORTER, form={"name": "Ana", "bio": "wetlands"}, also_ok=FORM_REFUSALS
        ),
        ("GET", "/me/export"): Case("/me/export", WEB_REPORTER),
        ("POST", "/me/delete"): Case(
            "/me/delete",
            WEB_REPORTER,
            form={"password": "correct horse battery staple"},
            also_ok=FORM_REFUSALS,
        ),
        # --- staff console
        ("GET", "/staff"): Case("/staff", WEB_STAFF),
        ("GET", "/staff/sources"): Case("/staff/sources", WEB_STAFF),
        ("POST", "/staff/sources/{source_id}/collect"): idd(
            "/staff/sources/{id}/collect", src, WEB_STAFF, form={}, also_ok=FORM_REFUSALS
        ),
        ("GET", "/staff/runs"): Case("/staff/runs", WEB_STAFF),
        ("GET", "/staff/moderation"): Case("/staff/moderation", WEB_STAFF),
        ("POST", "/staff/posts/{post_id}/exclude"): idd(
            "/staff/posts/{id}/exclude", post, WEB_STAFF, form=reason, also_ok=FORM_REFUSALS
        ),
        ("POST", "/staff/posts/{post_id}/restore"): idd(
            "/staff/posts/{id}/restore", post, WEB_STAFF, form=reason, also_ok=FORM_REFUSALS
        ),
        ("GET", "/staff/accounts"): Case("/staff/accounts", WEB_STAFF),
        ("POST", "/staff/accounts/{account_id}/verify"): idd(
            "/staff/accounts/{id}/verify", pend, WEB_STAFF, form=reason, also_ok=FORM_REFUSALS
        ),
        ("POST", "/staff/accounts/{account_id}/reject"): idd(
            "/staff/accounts/{id}/reject", pend, WEB_STAFF, form=reason, also_ok=FORM_REFUSALS
        ),
        ("GET", "/staff/audit"): Case("/staff/audit", WEB_STAFF),
        ("GET", "/staff/events/{slug}"): slugged("/staff/events/{slug}", WEB_STAFF),
        ("GET", "/staff/events/{slug}/subsidies"): slugged("/staff/events/{slug}/subsidies", WEB_STAFF),
        ("POST", "/staff/events/{slug}/subsidies/propose"): slugged(
            "/staff/events/{slug}/subsidies/propose", WEB_STAFF, form={}, also_ok=FORM_REFUSALS
        ),
        ("POST", "/staff/events/{slug}/subsidies/{subsidy_id}/{action}"): slugged(
            f"/staff/events/{{slug}}/subsidies/{sub}/approve", WEB_STAFF, form={}, also_ok=FORM_REFUSALS
        ),
        ("GET", "/staff/events/{slug}/judging"): slugged("/staff/events/{slug}/judging", WEB_STAFF),
        ("POST", "/staff/events/{slug}/freeze"): slugged(
            "/staff/events/{slug}/freeze", WEB_STAFF, form={}, also_ok=FORM_REFUSALS
        ),
        ("POST", "/staff/events/{slug}/categories"): slugged(
            "/staff/events/{slug}/categories",
            WEB_STAFF,
            form={"slug": "web", "name": "Web"},
            also_ok=FORM_REFUSALS,
        ),
        ("POST", "/staff/events/{slug}/categories/{category_slug}/shortlist/generate"): slugged(
            f"/staff/events/{{slug}}/categories/{c}/shortlist/generate",
            WEB_STAFF,
            form={},
            also_ok=FORM_REFUSALS,
        ),
        ("POST", "/staff/events/{slug}/categories/{category_slug}/shortlist"): slugged(
            f"/staff/events/{{slug}}/categories/{c}/shortlist",
            WEB_STAFF,
            form={"reporter_id": str(a), "reason": "strong"},
            also_ok=FORM_REFUSALS,
        ),
        ("POST", "/staff/events/{slug}/categories/{category_slug}/shortlist/{entry_id}/remove"): slugged(
            f"/staff/events/{{slug}}/categories/{c}/shortlist/{entry}/remove",
            WEB_STAFF,
            form=reason,
            also_ok=FORM_REFUSALS,
        ),
        ("GET", "/staff/events/{slug}/categories/{category_slug}/results"): slugged(
            f"/staff/events/{{slug}}/categories/{c}/results", WEB_STAFF
        ),
        ("POST", "/staff/events/{slug}/categories/{category_slug}/publish"): slugged(
            f"/staff/events/{{slug}}/categories/{c}/publish", WEB_STAFF, form={}, also_ok=FORM_REFUSALS
        ),
        # --- judge workspace
        ("GET", "/judging"): Case("/judging", WEB_JUDGE),
        ("GET", "/judging/entries/{entry_id}"): idd("/judging/entries/{id}", entry, WEB_JUDGE),
        ("POST", "/judging/entries/{entry_id}/scores"): Case(
            f"/judging/entries/{entry}/scores",
            WEB_JUDGE_ONLY,
            form={f"score_{crit[0]}": "3"},
            also_ok=FORM_REFUSALS,
        ),
        ("POST", "/judging/entries/{entry_id}/conflict"): Case(
            f"/judging/entries/{entry}/conflict",
            WEB_JUDGE_ONLY,
            form={"reason": "friend"},
            also_ok=FORM_REFUSALS,
        ),
    }


def app_routes(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path template) of every route the app serves (HEAD is GET's shadow)."""
    found: set[tuple[str, str]] = set()
    for route in iter_route_contexts(app.routes):
        path = route.path
        assert path is not None
        for method in route.methods or {"GET"}:
            if method != "HEAD":
                found.add((method, path))
    return found


def test_every_route_is_classified(api_app: FastAPI, security_world: SecurityWorld) -> None:
    served = app_routes(api_app)
    table = set(cases(security_world))
    assert not served - table, f"routes without an expected access profile: {sorted(served - table)}"
    assert not table - served, f"classified routes the app no longer serves: {sorted(table - served)}"
    openapi = api_app.openapi()
    documented = {(m.upper(), p) for p, item in openapi["paths"].items() for m in item}
    assert documented <= table, sorted(documented - table)


# --- leak detection ---------------------------------------------------------------------------------


def forbidden_strings(w: SecurityWorld, role: str, method: str, path: str) -> dict[str, str]:
    """What ``role`` must never read in any answer: label -> secret text."""
    secrets: dict[str, str] = {
        "argon2 password hash": "$argon2",
        f"{JUDGE2_COMMENT} (another judge's comment, unpublished)": JUDGE2_COMMENT,
    }
    for index, digest in enumerate(w.token_hashes()):
        secrets[f"token hash #{index}"] = digest
    for owner, raw in w.raw_tokens.items():
        secrets[f"{owner}'s raw API token"] = raw
    staff_like = role in ("staff", "admin")
    for owner, email in w.emails.items():
        if owner != role and not staff_like:
            secrets[f"{owner}'s email"] = email
    for owner, code in w.codes.items():
        if owner != role:  # nobody but the owner, staff included (they could post it themselves)
            secrets[f"{owner}'s verification code"] = code
    for owner, amount in w.subsidy_amounts.items():
        if owner != role and not staff_like:
            secrets[f"{owner}'s subsidy amount"] = amount
    if not staff_like:
        secrets["raw payload"] = RAW_SENTINEL
    if method == "POST" and path == "/api/v1/me/tokens":
        secrets = {k: v for k, v in secrets.items() if "raw API token" not in k}
    return secrets


def assert_no_leaks(w: SecurityWorld, role: str, method: str, path: str, body: str) -> list[str]:
    return [
        f"{method} {path} as {role} shows {label}"
        for label, secret in forbidden_strings(w, role, method, path).items()
        if secret in body
    ]


# --- the matrix ---------------------------------------------------------------------------------------


def _call(w: SecurityWorld, role: str, method: str, path: str, case: Case) -> Any:
    caller = w.callers[role]
    caller.reset()
    kwargs: dict[str, Any] = {"headers": dict(case.headers), "follow_redirects": False}
    if case.form is not None:
        kwargs["data"] = case.form | {"csrf_token": caller.csrf_token or ""}
    elif case.json is not None:
        kwargs["json"] = case.json
    return caller.client.request(method, path, **kwargs)


def _outcome(status: int, case: Case, location: str = "") -> Any:
    if status in (302, 303, 307) and location.startswith("/login?next="):
        return 401  # a page that needs a signed-in user
    if status < 400 or status in case.also_ok:
        return OK
    return status


def run_isolated(connection: Connection, action: Callable[..., Any], *args: Any) -> Any:
    """Run ``action(*args)`` inside a SAVEPOINT that is rolled back afterwards."""
    savepoint = connection.begin_nested()
    try:
        return action(*args)
    finally:
        savepoint.rollback()


def test_authorisation_matrix(
    api_app: FastAPI, api_connection: Connection, security_world: SecurityWorld
) -> None:
    w = security_world
    table = cases(w)
    problems: list[str] = []
    calls = 0
    for (method, template), case in sorted(table.items()):
        for role in ROLES:
            expected = case.profile[role]
            response = run_isolated(api_connection, _call, w, role, method, case.path, case)
            calls += 1
            got = _outcome(response.status_code, case, response.headers.get("location", ""))
            if response.status_code >= 500:
                problems.append(
                    f"{method} {case.path} as {role}: {response.status_code} {response.text[:200]}"
                )
            elif got != expected:
                problems.append(
                    f"{method} {template} as {role}: expected {expected}, got {response.status_code} "
                    f"{response.text[:160]}".splitlines()[0]
                )
            problems += assert_no_leaks(w, role, method, case.path, response.text)
            if expected != OK and case.ghost is not None:
                ghost = run_isolated(api_connection, _call, w, role, method, case.ghost or "", case)
                calls += 1
                if ghost.status_code != response.status_code:
                    problems.append(
                        f"{method} {template} as {role}: existence leaks "
                        f"({response.status_code} for a real one, {ghost.status_code} for none)"
                    )
            if case.hidden is not None and role not in ("staff", "admin"):
                pair = [
                    run_isolated(api_connection, _call, w, role, method, p, case).status_code
                    for p in (case.hidden, case.ghost or "")
                ]
                calls += 2
                if pair[0] != pair[1]:
                    problems.append(
                        f"{method} {template} as {role}: an unpublished event answers {pair[0]}, "
                        f"a missing one {pair[1]}"
                    )
    assert calls >= len(table) * len(ROLES)
    assert not problems, f"{len(problems)} problems in {calls} calls:\n" + "\n".join(problems)


def test_planted_secrets_are_visible_to_their_owners(security_world: SecurityWorld) -> None:
    """Controls for the leak checks: each sentinel really is in the data, readable by whom it belongs to."""
    w = security_world
    reporter = w.callers["reporter"].client
    accounts = reporter.get("/api/v1/me/accounts")
    assert w.codes["reporter"] in accounts.text
    mine = reporter.get(f"/api/v1/subsidies/{w.subsidy_ids['reporter']}")
    assert mine.status_code == 200
    assert w.subsidy_amounts["reporter"] in mine.text
    staff = w.callers["staff"].client
    listed = staff.get(f"/api/v1/events/{w.event.slug}/subsidies")
    assert w.subsidy_amounts["other"] in listed.text
    assert w.emails["other"] in w.callers["other"].client.get("/api/v1/me/profile").text
