"""Fetch user-supplied URLs safely: public addresses only, bounded size and time, conditional GET.

Feed and article URLs come from reporters, so a fetch must not become a way to reach the
machine's own network (SSRF). ``fetch_guarded`` enforces, for every untrusted URL:

* http or https only;
* every address the host resolves to is public (no loopback, RFC 1918 / ULA private, link-local
  including the 169.254.169.254 metadata service, multicast, unspecified, reserved, CGNAT
  100.64.0.0/10, nor any of those embedded in IPv6: IPv4-mapped, 6to4, Teredo, NAT64);
* the check happens after DNS resolution *and* the TCP connection is pinned to the checked address
  (``GuardedTransport`` for httpx and ``GuardedHTTPAdapter`` for ``requests`` resolve, check and
  connect in one step, so DNS rebinding between the check and the connect cannot smuggle in a
  private address);
* redirects are followed by hand, at most ``max_redirects`` hops, each hop checked again;
* the body is streamed and capped at ``max_bytes`` (after decompression: gzip bombs count), and
  the whole fetch, redirects included, must finish within ``timeout_s``.

Staff-trusted sources (the simulator) skip the address checks but keep every other cap.

Errors: ``UnsafeAddress`` (an ``InvalidSource``) for a refused URL or hop; ``BadPayload`` for a
body over the cap or too many redirects; httpx transport errors and ``httpx.TimeoutException``
propagate so that ``collectors.http.RequestRunner`` can retry them. A refusal is never transient:
every collector raises it at once, without a second attempt or a back-off (``refusal_in`` finds it
under the network error a library such as mastodon.py wraps it in).
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urljoin, urlsplit

import httpcore
import httpx
import requests
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from collectors.base import BadPayload, InvalidSource

Resolver = Callable[..., list[tuple[Any, ...]]]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class UnsafeAddress(InvalidSource):
    """The URL (or one of its redirect hops) is not http(s) or does not lead to a public address."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"refused {url}: {reason}")
        self.url = url
        self.why = reason  # without the URL (``reason`` holds the whole message)


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def is_public_address(address: IPAddress | str) -> bool:
    """Say whether ``address`` is a globally routable unicast address."""
    ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.scope_id:
            return False
        if ip.ipv4_mapped is not None:  # judged by the IPv4 address it carries
            return is_public_address(ip.ipv4_mapped)
        embedded = _embedded_ipv4(ip)
        if embedded is not None and not is_public_address(embedded):
            return False
    if isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT:
        return False
    return not (
        ip.is_loopback
        or ip.is_private
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_unspecified
        or ip.is_reserved
        or not ip.is_global
    )


class PublicAddressGuard:
    """Resolve a host and refuse it unless every address it resolves to is public."""

    def __init__(self, resolver: Resolver | None = None) -> None:
        # Looked up at call time (not bound at import) so tests can monkeypatch socket.getaddrinfo.
        self._resolver = resolver

    def resolve(self, host: str, port: int) -> list[str]:
        """Return the host's addresses, all public, or raise ``UnsafeAddress``."""
        host = host.strip("[]")
        resolver = self._resolver or socket.getaddrinfo
        try:
            infos = resolver(host, port, 0, socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            raise UnsafeAddress(host, f"cannot resolve host ({exc})") from exc
        addresses: list[str] = []
        for info in infos:
            raw = str(info[4][0])
            try:
                ip = ipaddress.ip_address(raw)
            except ValueError as exc:
                raise UnsafeAddress(host, f"unparseable address {raw!r}") from exc
            if not is_public_address(ip):
                raise UnsafeAddress(host, f"resolves to non-public address {ip}")
            if str(ip) not in addresses:
                addresses.append(str(ip))
        if not addresses:
            raise UnsafeAddress(host, "resolves to no address")
        return addresses

    def check_url(self, url: str) -> list[str]:
        """Refuse non-http(s) URLs and URLs whose host is not public; return the addresses."""
        parts = urlsplit(url)
        if parts.scheme.lower() not in ("http", "https"):
            raise UnsafeAddress(url, "only http and https URLs are fetched")
        if not parts.hostname:
            raise UnsafeAddress(url, "no host")
        try:
            port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
        except ValueError as exc:
            raise UnsafeAddress(url, "bad port") from exc
        return self.resolve(parts.hostname, port)


class _GuardedBackend(httpcore.SyncBackend):
    """A network backend that resolves, checks and connects to the checked address itself."""

    def __init__(self, guard: PublicAddressGuard) -> None:
        self._guard = guard

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        addresses = self._guard.resolve(host, port)
        # Pin: connect to the address we checked, never let the OS resolve the name again.
        return super().connect_tcp(addresses[0], port, timeout, local_address, socket_options)


class GuardedTransport(httpx.HTTPTransport):
    """``httpx.HTTPTransport`` whose every TCP connection goes to a checked public address."""

    def __init__(self, guard: PublicAddressGuard | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.guard = guard or PublicAddressGuard()
        # httpx offers no public hook for the network backend, so we rebuild its pool with ours;
        # TLS still verifies against the URL's host name (httpcore uses the origin for SNI).
        self._pool = httpcore.ConnectionPool(
            ssl_context=self._pool._ssl_context,
            network_backend=_GuardedBackend(self.guard),
        )


_Conn = TypeVar("_Conn", bound=HTTPConnection)


def _pinned_connection(base: type[_Conn], guard: PublicAddressGuard) -> type[_Conn]:
    def _new_conn(self: _Conn) -> socket.socket:
        # urllib3 connects to ``_dns_host`` (set with ``host``); TLS (SNI, certificate) uses ``host``.
        host: str = self._dns_host
        addresses = guard.resolve(host, self.port)
        self._dns_host = addresses[0]  # pin: connect to the address we checked
        try:
            return base._new_conn(self)
        finally:
            self._dns_host = host

    return type(f"Pinned{base.__name__}", (base,), {"_new_conn": _new_conn})


class GuardedHTTPAdapter(requests.adapters.HTTPAdapter):
    """A ``requests`` adapter whose every connection (redirects too) goes to a checked public address."""

    def __init__(self, guard: PublicAddressGuard | None = None, **kwargs: Any) -> None:
        self.guard = guard or PublicAddressGuard()  # before super(): it builds the pool manager
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        pinned_http = _pinned_connection(HTTPConnection, self.guard)
        pinned_https = _pinned_connection(HTTPSConnection, self.guard)

        class GuardedPool(HTTPConnectionPool):
            ConnectionCls = pinned_http

        class GuardedTLSPool(HTTPSConnectionPool):
            ConnectionCls = pinned_https

        self.poolmanager.pool_classes_by_scheme = {"http": GuardedPool, "https": GuardedTLSPool}


def guard_session(session: requests.Session, guard: PublicAddressGuard | None = None) -> requests.Session:
    """Make ``session`` reach public addresses only (no proxies from the environment either)."""
    adapter = GuardedHTTPAdapter(guard)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.trust_env = False
    return session


def refusal_in(exc: BaseException) -> UnsafeAddress | None:
    """The address refusal behind ``exc``, when a library wrapped it in an error of its own."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, UnsafeAddress):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def guarded_client(*, trusted: bool, guard: PublicAddressGuard | None = None) -> httpx.Client:
    """An httpx client for user-supplied URLs (no redirects, no proxies from the environment)."""
    transport = None if trusted else GuardedTransport(guard)
    return httpx.Client(transport=transport, follow_redirects=False, trust_env=False)


@dataclass(frozen=True, slots=True)
class FetchResult:
    """A fully read response: what ``fetch_guarded`` returns after redirects."""

    status_code: int
    headers: httpx.Headers
    content: bytes
    url: str  # the final URL after redirects
    redirects: int = 0


def conditional_headers(etag: str | None, last_modified: str | None) -> dict[str, str]:
    """Headers for a conditional GET from the validators saved with the last full response."""
    headers: dict[str, str] = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    return headers


def validators(headers: Mapping[str, str]) -> tuple[str | None, str | None]:
    """The (ETag, Last-Modified) of a response, for the next conditional GET."""
    return headers.get("etag") or None, headers.get("last-modified") or None


def fetch_guarded(
    client: httpx.Client,
    url: str,
    *,
    trusted: bool,
    max_bytes: int,
    timeout_s: float,
    headers: Mapping[str, str] | None = None,
    guard: PublicAddressGuard | None = None,
    max_redirects: int = 5,
) -> FetchResult:
    """GET ``url`` within the caps, following redirects by hand and checking every hop."""
    guard = guard or PublicAddressGuard()
    deadline = time.monotonic() + timeout_s
    current = url
    for hop in range(max_redirects + 1):
        if trusted:
            if urlsplit(current).scheme.lower() not in ("http", "https"):
                raise UnsafeAddress(current, "only http and https URLs are fetched")
        else:
            guard.check_url(current)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise httpx.TimeoutException(f"total time cap of {timeout_s}s exceeded")
        request = client.build_request(
            "GET", current, headers=dict(headers or {}), timeout=httpx.Timeout(remaining)
        )
        response = client.send(request, stream=True)
        try:
            location = response.headers.get("location")
            if response.status_code in REDIRECT_STATUSES and location:
                target = urljoin(current, location.strip())
                if _origin(target) != _origin(current) and headers:
                    # Credentials are for the origin they were given for, never for a redirect.
                    headers = {
                        k: v for k, v in headers.items() if k.lower() not in ("authorization", "cookie")
                    }
                current = target
                continue
            content = _read_capped(response, max_bytes=max_bytes, deadline=deadline)
            return FetchResult(
                status_code=response.status_code,
                headers=response.headers,
                content=content,
                url=current,
                redirects=hop,
            )
        finally:
            response.close()
    raise BadPayload(f"too many redirects (more than {max_redirects}) from {url}")


def _origin(url: str) -> tuple[str, str, int | None]:
    try:
        parts = urlsplit(url)
        return parts.scheme.lower(), (parts.hostname or "").lower(), parts.port
    except ValueError:
        return "", "", None


def _read_capped(response: httpx.Response, *, max_bytes: int, deadline: float) -> bytes:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes and not response.headers.get("content-encoding"):
        raise BadPayload(f"body too large: {declared} bytes declared, cap {max_bytes}")
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > max_bytes:
            raise BadPayload(f"body too large: more than {max_bytes} bytes")
        if time.monotonic() > deadline:
            raise httpx.ReadTimeout("total time cap exceeded while reading the body")
        chunks.append(chunk)
    return b"".join(chunks)
