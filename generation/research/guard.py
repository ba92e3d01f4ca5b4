"""The SSRF guard: every connection goes to a public address that was checked, on port 80
or 443, or to an allow-listed host:port. It lives in the HTTP transport, so provider API calls, page
fetches and every redirect hop are checked alike, and it connects to the exact address
it checked (no second DNS lookup an attacker could rebind)."""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import re
import socket
import ssl
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any, cast

import httpx

from generation.exceptions import FetchRefused
from generation.research.base import MAX_URL, FetchFailed

Resolver = Callable[[str, int], list[str]]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

ALLOWED_SCHEMES = ("http", "https")
PUBLIC_PORTS = (80, 443)  # others only as an allow-listed host:port
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_GLOBAL_UNICAST_V6 = ipaddress.ip_network("2000::/3")
# The standard library's answers vary between Python releases (fec0::/10 passes as
# global on 3.11): the IANA special-purpose ranges that are not globally reachable are
# named here as well, so no release of Python lets one through.
_SPECIAL = [
    (ipaddress.ip_network(network), kind)
    for network, kind in (
        ("0.0.0.0/8", "this-network"),
        ("192.0.0.0/24", "protocol-assignment"),
        ("192.0.2.0/24", "documentation"),
        ("192.88.99.0/24", "6to4-relay"),
        ("198.18.0.0/15", "benchmarking"),
        ("198.51.100.0/24", "documentation"),
        ("203.0.113.0/24", "documentation"),
        ("64:ff9b:1::/48", "local NAT64"),
        ("100::/64", "discard-only"),
        ("2001::/23", "protocol-assignment"),  # Teredo, benchmarking, ORCHID
        ("2001:db8::/32", "documentation"),
        ("3fff::/20", "documentation"),
        ("5f00::/16", "segment-routing"),
    )
]
# Names that never lead to the public web (RFC 6761 "localhost", mDNS ".local", cloud
# metadata names such as metadata.google.internal): refused before any DNS lookup.
_PRIVATE_NAME_SUFFIXES = ("localhost", "local", "internal", "home.arpa", "onion")
_HOST_PORT = re.compile(r"^(\[[0-9a-f:.]+\]|[a-z0-9._-]+):(\d{1,5})$")


def system_resolve(host: str, port: int) -> list[str]:
    """All addresses the system resolver gives for host (blocking: run it in a thread)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]).split("%", 1)[0] for info in infos))


def address_refusal(address: IPAddress) -> str | None:
    """Why an address is not globally routable ("private address 10.0.0.1"), or None."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            inner = address_refusal(embedded)
            return f"{inner} (inside {address})" if inner else None
    for kind, test in _KINDS:
        if test(address):
            return f"{kind} address {address}"
    named = next((kind for network, kind in _SPECIAL if address in network), None)
    if named:
        return f"{named} address {address}"
    if isinstance(address, ipaddress.IPv6Address) and address not in _GLOBAL_UNICAST_V6:
        return f"non-global address {address}"  # only 2000::/3 is global unicast today
    return None


_KINDS = (
    ("unspecified", lambda a: a.is_unspecified),
    ("loopback", lambda a: a.is_loopback),
    ("link-local", lambda a: a.is_link_local),
    ("site-local", lambda a: getattr(a, "is_site_local", False)),
    ("multicast", lambda a: a.is_multicast),
    ("shared (CGNAT)", lambda a: a in _CGNAT),
    ("reserved", lambda a: a.is_reserved),
    ("private", lambda a: a.is_private),
    ("non-public", lambda a: not a.is_global),
)


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one stands for (mapped, 6to4, NAT64), if any."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def parse_allow_hosts(entries: Iterable[str]) -> frozenset[str]:
    """Normalize "host:port" entries; a malformed one raises ValueError naming it."""
    allowed = set()
    for entry in entries:
        value = entry.strip().lower()
        if not value:
            continue
        if not _HOST_PORT.match(value):
            raise ValueError(f"{entry!r} is not host:port (e.g. 127.0.0.1:8899 or [::1]:8899)")
        allowed.add(value)
    return frozenset(allowed)


def _port(url: httpx.URL) -> int:
    return url.port or (443 if url.scheme == "https" else 80)


def host_port(url: httpx.URL) -> str:
    host, port = url.host.lower(), _port(url)
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class Guard:
    """Decides where a URL may connect. `resolve` is the DNS seam (default: getaddrinfo)."""

    def __init__(self, *, allow_hosts: Iterable[str] = (), resolve: Resolver = system_resolve):
        self.allow_hosts = parse_allow_hosts(allow_hosts)
        self.resolve = resolve

    async def check(self, url: httpx.URL) -> str:
        """The checked IP address to connect to; FetchRefused when it is not public.

        An allow-listed host:port is resolved the same way but not judged, so even a
        private stand-in is reached at an address looked up once.
        """
        _check_form(url)
        allowed = host_port(url) in self.allow_hosts
        if not allowed and _is_private_name(url.host):
            raise FetchRefused(f"refused: {url.host} is a local-only name")
        addresses = await self._addresses(url)
        if allowed:
            return str(addresses[0])
        for address in addresses:
            reason = address_refusal(address)
            if reason:
                named = "" if _is_address(url.host) else f"{url.host} resolves to "
                raise FetchRefused(f"refused: {named}{reason}")
        port = _port(url)
        if port not in PUBLIC_PORTS:
            # A public host's SSH, SMTP or Redis is no web page (and a cross-protocol
            # attack's target): only the web's ports, or an allow-listed host:port.
            raise FetchRefused(
                f"refused: port {port} of {url.host} (public hosts on 80 and 443 only; "
                "RESEARCH_ALLOW_HOSTS lists host:port exceptions)"
            )
        return str(addresses[0])

    async def _addresses(self, url: httpx.URL) -> list[IPAddress]:
        if _is_address(url.host):
            return [ipaddress.ip_address(url.host)]
        try:
            found = await asyncio.to_thread(self.resolve, url.host, _port(url))
        except (OSError, UnicodeError) as exc:
            raise FetchFailed(f"DNS lookup failed for {url.host}", unreachable=True) from exc
        try:
            addresses = [ipaddress.ip_address(value) for value in found]
        except ValueError as exc:
            raise FetchFailed(f"DNS lookup for {url.host} gave a bad address") from exc
        if not addresses:
            raise FetchFailed(f"DNS lookup failed for {url.host}", unreachable=True)
        return addresses


def _check_form(url: httpx.URL) -> None:
    """Refuse what no page needs: other schemes, no host, credentials, endless URLs."""
    if url.scheme not in ALLOWED_SCHEMES:
        raise FetchRefused(f"refused: scheme {url.scheme!r} is not allowed")
    if not url.host:
        raise FetchRefused("refused: URL has no host")
    if url.userinfo:
        # httpx would send them as Basic auth: a page must not choose our credentials.
        raise FetchRefused("refused: URL carries credentials")
    length = len(str(url))
    if length > MAX_URL:
        raise FetchRefused(f"refused: URL is {length} characters (limit {MAX_URL})")


def _is_private_name(host: str) -> bool:
    name = host.lower().rstrip(".")
    return any(name == s or name.endswith(f".{s}") for s in _PRIVATE_NAME_SUFFIXES)


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


class GuardedTransport(httpx.AsyncBaseTransport):
    """An httpx transport that checks every request with a Guard and caps raw bodies.

    Connections are pooled per scheme, host name and port, never per address: two names
    on one address (a shared CDN IP) would otherwise share a TLS connection whose
    certificate was checked for the first name only.
    """

    def __init__(
        self,
        guard: Guard,
        *,
        max_bytes: int,
        new_pool: Callable[[], httpx.AsyncBaseTransport] | None = None,
        inner: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.guard = guard
        self.max_bytes = max_bytes
        self.new_pool = new_pool or (lambda: httpx.AsyncHTTPTransport(trust_env=False, retries=0))
        self.inner = inner  # one transport for every host: a test seam (MockTransport)
        self.pools: dict[str, httpx.AsyncBaseTransport] = {}

    def pool_for(self, url: httpx.URL) -> httpx.AsyncBaseTransport:
        if self.inner is not None:
            return self.inner
        key = f"{url.scheme}://{host_port(url)}"
        if key not in self.pools:
            self.pools[key] = self.new_pool()
        return self.pools[key]

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        address = await self.guard.check(request.url)
        pool = self.pool_for(request.url)
        response = await pool.handle_async_request(_pinned(request, address))
        length = response.headers.get("content-length", "")
        if length.isdigit() and int(length) > self.max_bytes:
            await response.aclose()
            raise FetchRefused(f"too large: {length} bytes (limit {self.max_bytes})")
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            # An async transport answers with an async stream.
            stream=_CappedStream(cast(httpx.AsyncByteStream, response.stream), self.max_bytes),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        pools = [*self.pools.values(), *([self.inner] if self.inner else [])]
        self.pools = {}
        for pool in pools:
            await pool.aclose()


def _pinned(request: httpx.Request, address: str) -> httpx.Request:
    """The same request sent to the checked address; Host header and TLS name unchanged,
    so the certificate is still checked for the name."""
    extensions = dict(request.extensions)
    if request.url.scheme == "https":
        extensions["sni_hostname"] = request.url.host
    return httpx.Request(
        request.method,
        request.url.copy_with(host=address),
        headers=request.headers,  # already carries Host: <name>
        stream=request.stream,
        extensions=extensions,
    )


class _CappedStream(httpx.AsyncByteStream):
    """Stops reading a body once it passes the cap, whatever Content-Length claimed."""

    def __init__(self, stream: httpx.AsyncByteStream, max_bytes: int) -> None:
        self.stream = stream
        self.max_bytes = max_bytes

    async def __aiter__(self) -> AsyncIterator[bytes]:
        seen = 0
        async for chunk in self.stream:
            seen += len(chunk)
            if seen > self.max_bytes:
                raise FetchRefused(f"too large: more than {self.max_bytes} bytes")
            yield chunk

    async def aclose(self) -> None:
        await self.stream.aclose()


def make_http_client(
    *,
    allow_hosts: Iterable[str] = (),
    user_agent: str,
    timeout: float,
    max_bytes: int,
    resolve: Resolver = system_resolve,
    max_connections: int = 32,
    verify: ssl.SSLContext | None = None,
    inner: httpx.AsyncBaseTransport | None = None,
) -> GuardedClient:
    """The one guarded client for provider APIs and page fetches. Redirects are not
    followed here: fetch_page follows them itself so each hop is checked.

    `verify` is the TLS context (default: the CA bundle httpx uses); `inner` replaces
    every connection pool with one transport (tests).
    """
    context = verify or _default_ssl_context()
    limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=8)
    guard = Guard(allow_hosts=allow_hosts, resolve=resolve)
    transport = GuardedTransport(
        guard,
        max_bytes=max_bytes,
        new_pool=lambda: httpx.AsyncHTTPTransport(
            verify=context, trust_env=False, retries=0, limits=limits
        ),
        inner=inner,
    )
    return GuardedClient(
        guard=guard,
        transport=transport,
        timeout=httpx.Timeout(timeout),
        headers={"User-Agent": user_agent, "Accept-Encoding": "gzip, deflate"},
        follow_redirects=False,
        trust_env=False,
    )


@functools.cache
def _default_ssl_context() -> ssl.SSLContext:
    """Loading the CA bundle costs ~20 ms: one context serves every pool."""
    return httpx.create_ssl_context()


class GuardedClient(httpx.AsyncClient):
    """An httpx client whose every connection goes through `guard`; research asks the
    same guard about search hits before they take a fetch slot."""

    def __init__(self, *, guard: Guard, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.guard = guard
