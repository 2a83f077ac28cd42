"""SSRF drills: URLs from reporters (claims, "verify now") and untrusted feed URLs never reach inside.

A *canary* HTTP server listens on 127.0.0.1 and counts every request it gets. Each drill sends a URL
that points at it (or at a private, link-local or metadata address) in one of the usual disguises —
a loopback literal, decimal/hex/short IPv4 forms, IPv6 and IPv4-mapped IPv6, a DNS name that
resolves there (``socket.getaddrinfo`` is monkeypatched), and a redirect from a "public" host (a
second server on 127.0.0.5 that the guard is told to treat as public) — through the real API. The
request must be refused in words and the canary must count zero requests.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from collectors import net
from collectors.base import InvalidSource, Platform, SourceConfig, SystemClock
from collectors.registry import collector_for
from tests.security.conftest import SecurityWorld

STAND_IN_PUBLIC = "127.0.0.5"  # plays a public host in these drills (see ``public_stand_in``)


class Canary:
    def __init__(self, host: str, redirect_to: str | None = None) -> None:
        self.hits: list[str] = []
        self.redirect_to = redirect_to  # read per request: a drill may point it elsewhere
        canary = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802  (http.server's naming)
                canary.hits.append(self.path)
                if canary.redirect_to is not None:
                    self.send_response(302)
                    self.send_header("Location", canary.redirect_to)
                    self.end_headers()
                    return
                body = b"<html><body><article>BIE-AAAA-BBBB #iucncec secret inside</article></body></html>"
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def backoff_waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Every back-off or rate-limit wait a collector asks for (recorded, not slept): a refused
    address is final, so a drill that only meets refusals must record none."""
    waits: list[float] = []
    monkeypatch.setattr(SystemClock, "sleep", lambda self, seconds: waits.append(seconds))
    return waits


@pytest.fixture
def canary() -> Iterator[Canary]:
    server = Canary("127.0.0.1")
    yield server
    server.close()


@pytest.fixture
def public_stand_in(monkeypatch: pytest.MonkeyPatch) -> Iterator[Canary]:
    """127.0.0.5 counts as public; it redirects to whatever the drill needs (set ``redirect``)."""
    real = net.is_public_address

    def patched(address: Any) -> bool:
        return str(address) == STAND_IN_PUBLIC or real(address)

    monkeypatch.setattr(net, "is_public_address", patched)
    server = Canary(STAND_IN_PUBLIC, redirect_to="http://127.0.0.1:1/")
    yield server
    server.close()


def hostile_urls(port: int, redirector: Canary | None = None) -> dict[str, str]:
    urls = {
        "loopback": f"http://127.0.0.1:{port}/post/1",
        "loopback, https scheme on the plain port": f"https://127.0.0.1:{port}/post/1",
        "localhost": f"http://localhost:{port}/post/1",
        "decimal IPv4": f"http://2130706433:{port}/post/1",
        "hex IPv4": f"http://0x7f000001:{port}/post/1",
        "short IPv4": f"http://127.1:{port}/post/1",
        "unspecified": f"http://0.0.0.0:{port}/post/1",
        "IPv6 loopback": f"http://[::1]:{port}/post/1",
        "IPv4-mapped IPv6": f"http://[::ffff:127.0.0.1]:{port}/post/1",
        "metadata": "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
        "metadata, IPv6 form": "http://[fd00:ec2::254]/latest/meta-data/",
        "private 10/8": "http://10.0.0.1/post/1",
        "private 192.168/16": "http://192.168.1.1/post/1",
        "CGNAT": "http://100.64.0.1/post/1",
        "DNS name to loopback": f"http://canary.example:{port}/post/1",
        "DNS name to metadata": "http://metadata.example/latest/meta-data/",
        "DNS name to private": "http://intranet.example/post/1",
        "credentials in the URL": f"http://user:pass@127.0.0.1:{port}/post/1",
        "file scheme": "file:///etc/passwd",
        "gopher scheme": f"gopher://127.0.0.1:{port}/_x",
    }
    if redirector is not None:
        urls["redirect from a public host to loopback"] = f"http://public.example:{redirector.port}/r"
    return urls


@pytest.fixture
def drills(canary: Canary, fake_dns: dict[str, str], public_stand_in: Canary) -> dict[str, str]:
    fake_dns.update(
        {
            "canary.example": "127.0.0.1",
            "metadata.example": "169.254.169.254",
            "intranet.example": "10.1.2.3",
            "public.example": STAND_IN_PUBLIC,
        }
    )
    return hostile_urls(canary.port, public_stand_in)


@pytest.fixture
def redirect_to_canary(canary: Canary, public_stand_in: Canary) -> None:
    """Make the stand-in public host redirect to the canary."""
    public_stand_in.redirect_to = f"http://127.0.0.1:{canary.port}/post/1"


def test_claims_never_fetch_inside(
    security_world: SecurityWorld,
    canary: Canary,
    public_stand_in: Canary,
    drills: dict[str, str],
    redirect_to_canary: None,
    backoff_waits: list[float],
) -> None:
    reporter = security_world.callers["reporter"]
    reporter.reset()
    answers = {}
    for name, url in drills.items():
        response = reporter.client.post("/api/v1/me/claims", json={"url": url, "platform": "blog"})
        answers[name] = response.status_code
        assert response.status_code in (201, 422), (name, response.text)
        if response.status_code == 201:
            body = response.json()
            assert body["state"] == "rejected", (name, body)
            assert body["reason"]
            assert "secret inside" not in response.text
    assert canary.hits == [], f"the canary was reached: {canary.hits}"
    assert public_stand_in.hits == ["/r"]  # the redirect drill did get its redirect
    assert len(answers) >= 20
    assert backoff_waits == []


def test_claims_as_mastodon_urls_never_fetch_inside(
    security_world: SecurityWorld, canary: Canary, fake_dns: dict[str, str], backoff_waits: list[float]
) -> None:
    """The URL is looked up through the configured Mastodon source (here a server that does not
    resolve: refused at once, like a private one); with none, the post's own server must be public."""
    fake_dns["canary.example"] = "127.0.0.1"
    reporter = security_world.callers["reporter"]
    reporter.reset()
    for url in (
        f"http://canary.example:{canary.port}/@ana/113456789",
        f"http://127.0.0.1:{canary.port}/@ana/113456789",
        "http://169.254.169.254/@ana/113456789",
    ):
        response = reporter.client.post("/api/v1/me/claims", json={"url": url, "platform": "mastodon"})
        assert response.status_code in (201, 422), response.text
        if response.status_code == 201:
            assert response.json()["state"] == "rejected"
    assert canary.hits == []
    assert backoff_waits == []


def test_verify_now_never_fetches_inside(
    security_world: SecurityWorld,
    canary: Canary,
    drills: dict[str, str],
    redirect_to_canary: None,
    backoff_waits: list[float],
) -> None:
    reporter = security_world.callers["reporter"]
    reporter.reset()
    linked = reporter.client.post("/api/v1/me/accounts", json={"account": "blog:https://ana.example/feed/"})
    assert linked.status_code == 201, linked.text
    account_id = linked.json()["id"]
    for name, url in drills.items():
        response = reporter.client.post(f"/api/v1/me/accounts/{account_id}/verify", json={"url": url})
        assert response.status_code in (409, 422), (name, response.status_code, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
    assert canary.hits == [], f"the canary was reached: {canary.hits}"
    after = reporter.client.get("/api/v1/me/accounts").json()["data"]
    assert [a["state"] for a in after if a["id"] == account_id] == ["pending"]
    assert backoff_waits == []


def test_untrusted_feed_sources_never_fetch_inside(
    canary: Canary, drills: dict[str, str], redirect_to_canary: None, backoff_waits: list[float]
) -> None:
    collector = collector_for(Platform.BLOG)
    refused = 0
    for name, url in drills.items():
        config = SourceConfig(platform=Platform.BLOG, url=url, trusted=False, timeout_s=5)
        try:
            collector.validate(config)
            pages = list(collector.fetch(config, None))
        except InvalidSource:
            refused += 1
            continue
        except Exception:  # noqa: BLE001  (any other refusal is fine: the canary tells if anything was fetched)
            refused += 1
            continue
        assert not any(page.posts for page in pages), name
        refused += 1
    assert refused == len(drills)
    assert canary.hits == [], f"the canary was reached: {canary.hits}"
    assert backoff_waits == []


def test_a_trusted_source_may_reach_the_simulator_on_loopback(canary: Canary) -> None:
    """Control: the canary is reachable at all, so the drills above prove something."""
    collector = collector_for(Platform.BLOG)
    config = SourceConfig(platform=Platform.BLOG, url=f"http://127.0.0.1:{canary.port}/", trusted=True)
    try:
        collector.fetch_url(config, f"http://127.0.0.1:{canary.port}/post/1")
    except Exception:  # noqa: BLE001, S110  (the page has no date; only the request matters here)
        pass
    assert canary.hits == ["/post/1"]


def test_api_sources_refuse_a_token_env_naming_the_apps_secrets(
    security_world: SecurityWorld, assert_problem: Callable[..., Any]
) -> None:
    staff = security_world.callers["staff"]
    staff.reset()
    for name in ("BIE_SECRET_KEY", "BIE_DATABASE_URL", "PATH", "HOME"):
        response = staff.client.post(
            "/api/v1/sources",
            json={
                "platform": "mastodon",
                "url": "https://social.example",
                "tags": ["iucncec"],
                "token_env": name,
            },
        )
        assert_problem(response, 422)
