"""Fetch bounds that hold: decoded size, one deadline per API call, TLS per host name."""

from __future__ import annotations

import asyncio
import ipaddress
import ssl
import time
import tracemalloc
from collections.abc import Iterator

import pytest
import trustme

from generation.exceptions import FetchRefused, ProviderError
from generation.research import fetch_page, make_http_client
from generation.research.base import FetchFailed
from generation.research.guard import address_refusal
from generation.research.providers import SearxngProvider
from standins.messy import gzip_bomb
from standins.web import WebStandin

CAP = 2_000_000


@pytest.fixture
def web() -> Iterator[WebStandin]:
    with WebStandin() as standin:
        yield standin


def fetch(url: str, web: WebStandin, *, max_bytes: int = CAP, **client) -> bytes:
    async def go() -> bytes:
        async with make_http_client(
            allow_hosts=[web.host_port], user_agent="test", timeout=5, max_bytes=max_bytes, **client
        ) as http:
            return (await fetch_page(http, url, max_bytes=max_bytes)).body

    return asyncio.run(go())


def peak_memory(work) -> tuple[object, int]:
    """What `work()` returned or raised, and the peak of Python allocations while it ran."""
    tracemalloc.start()
    try:
        try:
            outcome = work()
        except Exception as exc:
            outcome = exc
        return outcome, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_stacked_gzip_bomb_is_refused_with_bounded_memory(web):
    body = gzip_bomb(256, 2)
    assert len(body) < 2000  # a few hundred bytes that would inflate to 256 MiB

    outcome, peak = peak_memory(lambda: fetch(f"{web.base_url}/bomb?layers=2&mib=256", web))

    assert isinstance(outcome, FetchRefused)
    assert str(outcome) == "refused: stacked content encodings (gzip, gzip)"
    assert peak < 8 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB"


def test_single_gzip_bomb_is_cut_at_the_cap_while_decoding(web):
    gzip_bomb(64, 1)  # built before measuring: the stand-in's own work is not the client's

    outcome, peak = peak_memory(lambda: fetch(f"{web.base_url}/bomb?layers=1&mib=64", web))

    assert isinstance(outcome, FetchRefused)
    assert str(outcome) == f"too large: more than {CAP} bytes once decoded"
    # The whole body would be 64 MiB; the client never holds much more than the cap.
    assert peak < 3 * CAP, f"peak {peak / 1e6:.1f} MB"


def test_gzip_within_the_cap_is_decoded(web):
    body = fetch(f"{web.base_url}/bomb?layers=1&mib=1", web, max_bytes=2 * 1024 * 1024)
    assert body == bytes(1024 * 1024)


def test_a_trickling_api_is_cut_at_one_overall_deadline(web):
    """One byte a second never trips a 1.5 s read timeout; the call's deadline does."""
    trickle = SearxngProvider(f"{web.base_url}/trickle")

    async def go() -> None:
        async with make_http_client(
            allow_hosts=[web.host_port], user_agent="t", timeout=1.5, max_bytes=CAP
        ) as http:
            await trickle.search("redis queues", http=http, limit=5)

    started = time.monotonic()
    with pytest.raises(ProviderError, match=r"searxng: no complete answer within 1\.5s"):
        asyncio.run(go())
    assert time.monotonic() - started < 3.0
    assert web.requests["trickle"] == 1


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://[fec0::1]/", "refused: site-local address fec0::1"),
        ("http://[fec0:1234::5]:8080/x", "refused: site-local address fec0:1234::5"),
        ("http://[3fff::1]/", "refused: documentation address 3fff::1"),
        ("http://[4000::1]/", "refused: reserved address 4000::1"),
        ("http://192.0.0.8/", "refused: protocol-assignment address 192.0.0.8"),
        ("http://192.88.99.1/", "refused: 6to4-relay address 192.88.99.1"),
    ],
)
def test_every_non_global_address_is_refused(url, reason, web):
    with pytest.raises(FetchRefused) as caught:
        fetch(url, web)
    assert str(caught.value) == reason


@pytest.mark.parametrize(
    "address", ["fec0::1", "64:ff9b:1::1", "100::1", "2001::1", "2001:db8::1", "5f00::1"]
)
def test_special_purpose_ipv6_ranges_are_not_public(address):
    assert address_refusal(ipaddress.ip_address(address)) is not None


# --- TLS: a connection serves only the name its certificate was checked for ---------------


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def tls_web(ca) -> Iterator[WebStandin]:
    """One TLS server on loopback whose certificate names only a.test (keep-alive on)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("a.test").configure_cert(context)
    with WebStandin(ssl_context=context, keep_alive=True) as standin:
        yield standin


def test_tls_connection_is_not_reused_for_another_name_on_the_same_address(ca, tls_web):
    """a.test and b.test resolve to one address; only a.test's certificate is valid there."""
    port = tls_web.port
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    outcomes: list[object] = []

    async def go() -> None:
        async with make_http_client(
            allow_hosts=[f"a.test:{port}", f"b.test:{port}"],
            user_agent="test",
            timeout=5,
            max_bytes=CAP,
            resolve=lambda host, _port: ["127.0.0.1"],
            verify=client_context,
        ) as http:
            for host in ("a.test", "b.test", "a.test"):
                try:
                    page = await fetch_page(http, f"https://{host}:{port}/pages/security-ssrf")
                    outcomes.append(page.url)
                except FetchFailed as exc:
                    outcomes.append(exc)

    asyncio.run(go())

    assert outcomes[0] == f"https://a.test:{port}/pages/security-ssrf"
    assert isinstance(outcomes[1], FetchFailed)  # b.test: its own handshake, which fails
    assert str(outcomes[1]) == "connection failed (ConnectError)"
    assert outcomes[2] == outcomes[0]
    assert tls_web.requests["page"] == 2  # b.test's request never reached the server
