"""The SSRF guard: every connection goes to a public address that was checked, or to an
allow-listed host:port. It lives in the HTTP transport, so provider API calls, page
fetches and every redirect hop are checked alike, and it connects to the exact address
it checked (no second DNS lookup an attacker could rebind)."""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import AsyncIterator, Callable, Iterable

import httpx

from generation.exceptions import FetchRefused
from generation.research.base import FetchFailed

Resolver = Callable[[str, int], list[str]]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

ALLOWED_SCHEMES = ("http", "https")
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_HOST_PORT = re.compile(r"^(\[[0-9a-f:.]+\]|[a-z0-9._-]+):(\d{1,5})$")


def system_resolve(host: str, port: int) -> list[str]:
    """All addresses the system resolver gives for host (blocking: run it in a thread)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]).split("%", 1)[0] for info in infos))


def address_refusal(address: IPAddress) -> str | None:
    """Why an address is not public ("private address 10.0.0.1"), or None if it is."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            inner = address_refusal(embedded)
            return f"{inner} (inside {address})" if inner else None
    for kind, test in (
        ("unspecified", lambda a: a.is_unspecified),
        ("loopback", lambda a: a.is_loopback),
        ("link-local", lambda a: a.is_link_local),
        ("multicast", lambda a: a.is_multicast),
        ("shared (CGNAT)", lambda a: a in _CGNAT),
        ("reserved", lambda a: a.is_reserved),
        ("private", lambda a: a.is_private),
        ("non-public", lambda a: not a.is_global),
    ):
        if test(address):
            return f"{kind} address {address}"
    return None


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


def host_port(url: httpx.URL) -> str:
    host = url.host.lower()
    port = url.port or (443 if url.scheme == "https" else 80)
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class Guard:
    """Decides where a URL may connect. `resolve` is the DNS seam (default: getaddrinfo)."""

    def __init__(self, *, allow_hosts: Iterable[str] = (), resolve: Resolver = system_resolve):
        self.allow_hosts = parse_allow_hosts(allow_hosts)
        self.resolve = resolve

    async def check(self, url: httpx.URL) -> str | None:
        """The checked IP to connect to, or None for an allow-listed host:port (used as is)."""
        if url.scheme not in ALLOWED_SCHEMES:
            raise FetchRefused(f"refused: scheme {url.scheme!r} is not allowed")
        if not url.host:
            raise FetchRefused("refused: URL has no host")
        if host_port(url) in self.allow_hosts:
            return None
        addresses = await self._addresses(url)
        for address in addresses:
            reason = address_refusal(address)
            if reason:
                named = "" if _is_address(url.host) else f"{url.host} resolves to "
                raise FetchRefused(f"refused: {named}{reason}")
        return str(addresses[0])

    async def _addresses(self, url: httpx.URL) -> list[IPAddress]:
        if _is_address(url.host):
            return [ipaddress.ip_address(url.host)]
        port = url.port or (443 if url.scheme == "https" else 80)
        try:
            found = await asyncio.to_thread(self.resolve, url.host, port)
        except (OSError, UnicodeError) as exc:
            raise FetchFailed(f"DNS lookup failed for {url.host}") from exc
        try:
            addresses = [ipaddress.ip_address(value) for value in found]
        except ValueError as exc:
            raise FetchFailed(f"DNS lookup for {url.host} gave a bad address") from exc
        if not addresses:
            raise FetchFailed(f"DNS lookup failed for {url.host}")
        return addresses


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


class GuardedTransport(httpx.AsyncBaseTransport):
    """An httpx transport that checks every request with a Guard and caps response bodies."""

    def __init__(
        self, guard: Guard, *, max_bytes: int, inner: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.guard = guard
        self.max_bytes = max_bytes
        self.inner = inner or httpx.AsyncHTTPTransport(trust_env=False, retries=0)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        address = await self.guard.check(request.url)
        outgoing = request if address is None else _pinned(request, address)
        response = await self.inner.handle_async_request(outgoing)
        length = response.headers.get("content-length", "")
        if length.isdigit() and int(length) > self.max_bytes:
            await response.aclose()
            raise FetchRefused(f"too large: {length} bytes (limit {self.max_bytes})")
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=_CappedStream(response.stream, self.max_bytes),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self.inner.aclose()


def _pinned(request: httpx.Request, address: str) -> httpx.Request:
    """The same request sent to the checked address; Host header and TLS name unchanged."""
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
    inner: httpx.AsyncBaseTransport | None = None,
) -> httpx.AsyncClient:
    """The one guarded client for provider APIs and page fetches. Redirects are not
    followed here: fetch_page follows them itself so each hop is checked."""
    inner = inner or httpx.AsyncHTTPTransport(
        trust_env=False,
        retries=0,
        limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=8),
    )
    transport = GuardedTransport(
        Guard(allow_hosts=allow_hosts, resolve=resolve), max_bytes=max_bytes, inner=inner
    )
    return httpx.AsyncClient(
        transport=transport,
        timeout=httpx.Timeout(timeout),
        headers={"User-Agent": user_agent, "Accept-Encoding": "gzip, deflate"},
        follow_redirects=False,
        trust_env=False,
    )
