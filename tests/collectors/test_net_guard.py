"""The public-address guard, the capped fetch and the shared retry runner (collectors/net, http)."""

from __future__ import annotations

import random
import socket
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import requests
import respx

from collectors.base import BadPayload, RateLimited, TransientError
from collectors.http import MalformedBody, RequestRunner, RetryPolicy, parse_rate_limit
from collectors.net import (
    GuardedTransport,
    PublicAddressGuard,
    UnsafeAddress,
    conditional_headers,
    fetch_guarded,
    guard_session,
    guarded_client,
    is_public_address,
    refusal_in,
    validators,
)
from simulator.app import Simulator
from simulator.blogs import BlogSim

PUBLIC_IP = "93.184.216.34"
_real_getaddrinfo = socket.getaddrinfo


class FakeClock:
    def __init__(self) -> None:
        self.slept: list[float] = []

    def now(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=sum(self.slept))

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)


@pytest.fixture
def fake_dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Resolve names from a table (no real DNS); unknown names fail like NXDOMAIN."""
    table: dict[str, str] = {}

    def getaddrinfo(host: str, port: int, *args: object, **kwargs: object) -> list[tuple]:
        host = host.strip("[]")
        address = table.get(host, host)
        try:
            family = socket.AF_INET6 if ":" in address else socket.AF_INET
            socket.inet_pton(family, address.split("%")[0])
        except OSError:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known") from None
        return [(family, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return table


class TestIsPublicAddress:
    @pytest.mark.parametrize(
        "address",
        [
            "127.0.0.1",
            "127.8.9.10",
            "10.0.0.1",
            "10.255.255.254",
            "172.16.0.1",
            "172.31.255.1",
            "192.168.0.1",
            "169.254.169.254",
            "169.254.0.1",
            "100.64.0.1",
            "100.127.255.254",
            "0.0.0.0",
            "224.0.0.251",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fc00::1",
            "fd00:ec2::254",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "2002:7f00:1::",
            "64:ff9b::a00:1",
            "192.0.2.1",
            "198.18.0.1",
        ],
    )
    def test_refused(self, address: str) -> None:
        assert not is_public_address(address)

    @pytest.mark.parametrize(
        "address",
        [
            PUBLIC_IP,
            "8.8.8.8",
            "1.1.1.1",
            "2606:4700:4700::1111",
            "::ffff:8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
        ],
    )
    def test_allowed(self, address: str) -> None:
        assert is_public_address(address)


class TestGuard:
    @pytest.mark.parametrize(
        "url",
        [
            "http://127.0.0.1/feed",
            "http://10.1.2.3/feed",
            "http://172.16.5.4/",
            "http://192.168.1.1/",
            "http://169.254.169.254/latest/meta-data/",
            "http://[::1]/",
            "http://[fc00::1]/",
            "http://[fd12:3456::1]:8080/",
            "http://[::ffff:127.0.0.1]/",
            "http://100.64.0.1/",
            "http://0.0.0.0/",
        ],
    )
    def test_literal_private_addresses_are_refused(self, url: str) -> None:
        with pytest.raises(UnsafeAddress):
            PublicAddressGuard().check_url(url)

    def test_localhost_is_refused_after_resolution(self) -> None:
        with pytest.raises(UnsafeAddress, match="non-public"):
            PublicAddressGuard().check_url("http://localhost:8080/feed")

    def test_a_name_resolving_to_a_private_address_is_refused(self, fake_dns: dict[str, str]) -> None:
        fake_dns["blog.example.org"] = "10.0.0.5"
        with pytest.raises(UnsafeAddress, match="10.0.0.5"):
            PublicAddressGuard().check_url("https://blog.example.org/feed/")

    def test_any_private_answer_refuses_the_name(self, monkeypatch: pytest.MonkeyPatch) -> None:
        def getaddrinfo(host, port, *args, **kwargs):
            return [
                (socket.AF_INET, socket.SOCK_STREAM, 6, "", (PUBLIC_IP, port)),
                (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port)),
            ]

        monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
        with pytest.raises(UnsafeAddress):
            PublicAddressGuard().check_url("https://mixed.example.org/")

    def test_public_name_passes(self, fake_dns: dict[str, str]) -> None:
        fake_dns["blog.example.org"] = PUBLIC_IP
        assert PublicAddressGuard().check_url("https://blog.example.org/feed/") == [PUBLIC_IP]

    @pytest.mark.parametrize(
        "url", ["file:///etc/passwd", "ftp://example.org/x", "gopher://x/", "http:///nohost"]
    )
    def test_only_http_and_https(self, url: str) -> None:
        with pytest.raises(UnsafeAddress):
            PublicAddressGuard().check_url(url)

    def test_unresolvable_name_is_refused(self, fake_dns: dict[str, str]) -> None:
        with pytest.raises(UnsafeAddress, match="cannot resolve"):
            PublicAddressGuard().check_url("https://nowhere.invalid/")


class TestFetchGuarded:
    @respx.mock
    def test_redirect_to_a_private_address_is_refused(self, fake_dns: dict[str, str]) -> None:
        fake_dns["blog.example.org"] = PUBLIC_IP
        fake_dns["intranet.example.org"] = "192.168.10.10"
        respx.get("https://blog.example.org/feed/").respond(
            301, headers={"Location": "http://intranet.example.org/admin"}
        )
        internal = respx.get("http://intranet.example.org/admin").respond(200, text="secret")
        with guarded_client(trusted=False) as client, pytest.raises(UnsafeAddress, match="192.168"):
            fetch_guarded(
                client, "https://blog.example.org/feed/", trusted=False, max_bytes=1000, timeout_s=5
            )
        assert not internal.called

    @respx.mock
    def test_redirect_to_the_metadata_service_is_refused(self, fake_dns: dict[str, str]) -> None:
        fake_dns["blog.example.org"] = PUBLIC_IP
        respx.get("https://blog.example.org/a").respond(
            302, headers={"Location": "http://169.254.169.254/latest/meta-data/"}
        )
        with guarded_client(trusted=False) as client, pytest.raises(UnsafeAddress):
            fetch_guarded(client, "https://blog.example.org/a", trusted=False, max_bytes=1000, timeout_s=5)

    @respx.mock
    def test_redirects_are_followed_and_counted(self, fake_dns: dict[str, str]) -> None:
        fake_dns["a.example.org"] = PUBLIC_IP
        fake_dns["b.example.org"] = "93.184.216.35"
        respx.get("http://a.example.org/feed").respond(
            301, headers={"Location": "https://b.example.org/feed"}
        )
        respx.get("https://b.example.org/feed").respond(200, text="<rss/>", headers={"ETag": '"x"'})
        with guarded_client(trusted=False) as client:
            result = fetch_guarded(
                client, "http://a.example.org/feed", trusted=False, max_bytes=1000, timeout_s=5
            )
        assert (result.status_code, result.url, result.redirects) == (200, "https://b.example.org/feed", 1)
        assert validators(result.headers) == ('"x"', None)

    @respx.mock
    def test_too_many_redirects(self, fake_dns: dict[str, str]) -> None:
        fake_dns["loop.example.org"] = PUBLIC_IP
        for i in range(7):
            respx.get(f"https://loop.example.org/{i}").respond(302, headers={"Location": f"/{i + 1}"})
        with guarded_client(trusted=False) as client, pytest.raises(BadPayload, match="redirects"):
            fetch_guarded(client, "https://loop.example.org/0", trusted=False, max_bytes=100, timeout_s=5)

    @respx.mock
    def test_authorization_is_not_sent_to_another_origin(self, fake_dns: dict[str, str]) -> None:
        fake_dns["api.example.org"] = PUBLIC_IP
        fake_dns["cdn.example.net"] = PUBLIC_IP
        respx.get("https://api.example.org/x").respond(307, headers={"Location": "https://cdn.example.net/x"})
        target = respx.get("https://cdn.example.net/x").respond(200, json={})
        with guarded_client(trusted=False) as client:
            fetch_guarded(
                client,
                "https://api.example.org/x",
                trusted=False,
                max_bytes=100,
                timeout_s=5,
                headers={"Authorization": "Bearer secret"},
            )
        assert "authorization" not in target.calls.last.request.headers

    @respx.mock
    def test_body_over_the_cap_while_streaming(self, fake_dns: dict[str, str]) -> None:
        fake_dns["big.example.org"] = PUBLIC_IP

        def stream():
            for _ in range(100):
                yield b"x" * 1000

        respx.get("https://big.example.org/feed").respond(200, stream=httpx.ByteStream(b"".join(stream())))
        with guarded_client(trusted=False) as client, pytest.raises(BadPayload, match="too large"):
            fetch_guarded(
                client, "https://big.example.org/feed", trusted=False, max_bytes=50_000, timeout_s=5
            )

    @respx.mock
    def test_declared_length_over_the_cap(self, fake_dns: dict[str, str]) -> None:
        fake_dns["big.example.org"] = PUBLIC_IP
        respx.get("https://big.example.org/feed").respond(200, content=b"y" * 2000)
        with guarded_client(trusted=False) as client, pytest.raises(BadPayload, match="declared"):
            fetch_guarded(client, "https://big.example.org/feed", trusted=False, max_bytes=1000, timeout_s=5)

    def test_conditional_headers(self) -> None:
        assert conditional_headers('"e"', "Mon, 06 Oct 2025 10:00:00 GMT") == {
            "If-None-Match": '"e"',
            "If-Modified-Since": "Mon, 06 Oct 2025 10:00:00 GMT",
        }
        assert conditional_headers(None, None) == {}


@pytest.fixture
def server():
    """A blog feed on loopback, for the guarded transports to reach (or refuse)."""
    simulator = Simulator()
    simulator.add("/blogs", BlogSim(seed=3, sites=1, articles=3))
    with simulator.serve() as handle:
        yield handle


class LoopbackAllowedGuard(PublicAddressGuard):
    """A guard that lets loopback through, to watch where the transport really connects."""

    def resolve(self, host: str, port: int) -> list[str]:
        return [str(info[4][0]) for info in socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)]


class TestGuardedTransport:
    def test_connection_is_refused_at_connect_time(self, server, fake_dns: dict[str, str]) -> None:
        # The URL-level check is skipped (client.get directly): the transport still refuses.
        fake_dns["rebind.example.org"] = "127.0.0.1"
        with httpx.Client(transport=GuardedTransport()) as client, pytest.raises(UnsafeAddress):
            client.get(f"http://rebind.example.org:{server.port}/blogs/mangrove-notes/feed/")

    def test_connection_goes_to_the_checked_address(self, server, fake_dns: dict[str, str]) -> None:
        # "pinned.test" exists only in our table: reaching the server proves the transport
        # connected to the address the guard resolved, not to a fresh OS lookup.
        fake_dns["pinned.test"] = "127.0.0.1"
        transport = GuardedTransport(LoopbackAllowedGuard())
        with httpx.Client(transport=transport) as client:
            response = client.get(f"http://pinned.test:{server.port}/blogs/mangrove-notes/feed/")
        assert response.status_code == 200
        assert b"<rss" in response.content


class LoopbackOnlyGuard(PublicAddressGuard):
    """Resolves every name to loopback by itself (the OS could not resolve these names)."""

    def resolve(self, host: str, port: int) -> list[str]:
        return ["127.0.0.1"]


class TestGuardedHTTPAdapter:
    """The same guard for ``requests`` (mastodon.py's HTTP library)."""

    def test_connection_is_refused_at_connect_time(self, server, fake_dns: dict[str, str]) -> None:
        fake_dns["rebind.example.org"] = "127.0.0.1"
        with requests.Session() as session, pytest.raises(UnsafeAddress, match="127.0.0.1"):
            guard_session(session).get(f"http://rebind.example.org:{server.port}/blogs/mangrove-notes/feed/")

    def test_connection_goes_to_the_checked_address(self, server) -> None:
        # "pinned.invalid" cannot resolve through the OS: reaching the server proves the
        # connection went to the address the guard returned.
        with requests.Session() as session:
            response = guard_session(session, LoopbackOnlyGuard()).get(
                f"http://pinned.invalid:{server.port}/blogs/mangrove-notes/feed/", timeout=5
            )
        assert response.status_code == 200
        assert b"<rss" in response.content

    def test_the_refusal_is_found_under_a_wrapping_error(self) -> None:
        refused = UnsafeAddress("http://10.0.0.1/", "resolves to non-public address 10.0.0.1")
        wrapped = RuntimeError("Could not complete request")  # as mastodon.py wraps it
        wrapped.__context__ = refused
        outer = ValueError("outer")
        outer.__cause__ = wrapped
        assert refusal_in(outer) is refused
        assert refusal_in(httpx.ConnectError("refused")) is None


class Resp:
    def __init__(self, status: int, headers: dict[str, str] | None = None, body: str = "ok"):
        self.status_code = status
        self.headers = httpx.Headers(headers or {})
        self.body = body


def sequence(*items):
    queue = list(items)

    def send():
        item = queue.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    return send


class TestRequestRunner:
    def runner(self, clock: FakeClock, **kwargs) -> RequestRunner:
        return RequestRunner(clock=clock, rng=random.Random(1), **kwargs)

    def test_retries_5xx_and_resets_with_growing_jittered_delays(self) -> None:
        clock = FakeClock()
        runner = self.runner(clock, policy=RetryPolicy(attempts=4, base_delay_s=1.0))
        send = sequence(Resp(502), httpx.ReadError("reset"), Resp(503), Resp(200))
        assert runner.call(send, lambda r: r.body) == "ok"
        assert len(clock.slept) == 3
        for attempt, delay in enumerate(clock.slept):
            assert 2**attempt / 2 <= delay <= 2**attempt
        assert runner.take_stats() == (4, 0.0)

    def test_gives_up_with_transient_error(self) -> None:
        clock = FakeClock()
        runner = self.runner(clock, policy=RetryPolicy(attempts=3, base_delay_s=0.1))
        send = sequence(Resp(500), httpx.ConnectTimeout("t"), Resp(500))
        with pytest.raises(TransientError, match="3 attempts"):
            runner.call(send, lambda r: r.body)

    def test_429_waits_for_the_announced_reset(self) -> None:
        clock = FakeClock()
        runner = self.runner(clock, max_wait_s=30)
        reset = str(int(clock.now().timestamp()) + 10)
        send = sequence(Resp(429, {"x-rate-limit-reset": reset, "x-rate-limit-remaining": "0"}), Resp(200))
        assert runner.call(send, lambda r: r.body) == "ok"
        assert 8 < clock.slept[0] <= 11.5
        assert runner.take_stats()[1] == pytest.approx(clock.slept[0])

    def test_429_with_a_far_reset_raises_rate_limited(self) -> None:
        clock = FakeClock()
        runner = self.runner(clock, max_wait_s=30)
        reset = int(clock.now().timestamp()) + 900
        send = sequence(Resp(429, {"x-rate-limit-reset": str(reset)}))
        with pytest.raises(RateLimited) as info:
            runner.call(send, lambda r: r.body)
        assert int(info.value.reset_at.timestamp()) == reset
        assert clock.slept == []

    def test_spent_budget_waits_before_the_next_request(self) -> None:
        clock = FakeClock()
        runner = self.runner(clock, max_wait_s=30)
        reset = str(int(clock.now().timestamp()) + 5)
        sent: list[int] = []

        def send():
            sent.append(len(clock.slept))
            return Resp(200, {"x-rate-limit-remaining": "0", "x-rate-limit-reset": reset})

        runner.call(send, lambda r: r.body)
        runner.call(send, lambda r: r.body)
        assert sent == [0, 1]  # the second request went out only after one sleep
        assert 3 < clock.slept[0] <= 6.5

    def test_spent_budget_with_a_far_reset_raises_before_sending(self) -> None:
        clock = FakeClock()
        runner = self.runner(clock, max_wait_s=30)
        reset = str(int(clock.now().timestamp()) + 600)
        calls: list[int] = []

        def send():
            calls.append(1)
            return Resp(200, {"x-rate-limit-remaining": "0", "x-rate-limit-reset": reset})

        runner.call(send, lambda r: r.body)
        with pytest.raises(RateLimited):
            runner.call(send, lambda r: r.body)
        assert len(calls) == 1

    def test_malformed_bodies_are_retried_then_fall_back_or_fail(self) -> None:
        clock = FakeClock()
        runner = self.runner(clock, policy=RetryPolicy(attempts=2, base_delay_s=0.1))

        def parse_with_fallback(response):
            raise MalformedBody("cut short", fallback="partial")

        assert runner.call(sequence(Resp(200), Resp(200)), parse_with_fallback) == "partial"

        def parse(response):
            raise MalformedBody("cut short")

        with pytest.raises(TransientError, match="malformed"):
            runner.call(sequence(Resp(200), Resp(200)), parse)

    def test_a_refused_address_is_raised_at_once(self) -> None:
        # A refusal (the URL or a redirect hop, checked before or at connect time) is not
        # transient: no second attempt, no back-off.
        clock = FakeClock()
        runner = self.runner(clock)
        send = sequence(UnsafeAddress("http://10.0.0.1/", "resolves to non-public address 10.0.0.1"))
        with pytest.raises(UnsafeAddress):
            runner.call(send, lambda r: r.body)
        assert runner.take_stats() == (1, 0.0)
        assert clock.slept == []

    def test_header_styles(self) -> None:
        now = datetime(2025, 10, 10, tzinfo=UTC)
        mastodon = parse_rate_limit(
            httpx.Headers({"X-RateLimit-Remaining": "3", "X-RateLimit-Reset": "2025-10-10T00:05:00.000Z"}),
            now,
        )
        assert mastodon.remaining == 3
        assert mastodon.reset_at == now + timedelta(minutes=5)
        retry_after = parse_rate_limit(httpx.Headers({"Retry-After": "120"}), now)
        assert retry_after.reset_at == now + timedelta(seconds=120)
        garbage = parse_rate_limit(
            httpx.Headers({"x-rate-limit-remaining": "lots", "x-rate-limit-reset": "soon"}), now
        )
        assert garbage.remaining is None
        assert garbage.reset_at is None


def test_real_getaddrinfo_still_available() -> None:
    # Guard against a fixture leaking its fake resolver into other tests.
    assert socket.getaddrinfo is _real_getaddrinfo
