"""SSRF table: addresses and tricks that must never be fetched, through the real fetch path.

Every case runs with the stand-in web allow-listed (RESEARCH_ALLOW_HOSTS in effect, as in
the demo and the tests), and points at a loopback listener on a port that is NOT allowed
(or, for credentials and endless URLs, at the allowed stand-in itself). The guard must
refuse, and the listener standing in for the internal service must see no connection.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from generation.exceptions import FetchRefused
from generation.research import fetch_page, make_http_client
from generation.research.base import FetchFailed
from generation.research.guard import system_resolve
from standins.listener import Listener
from standins.web import WebStandin

PUBLIC = "93.184.215.14"  # example.com's address: public, and never reached from CI
# A stand-in DNS: names an attacker controls, answering with internal addresses.
DNS = {
    "intranet.example": ["10.0.0.5"],
    "db.example": ["127.0.0.1"],
    "metadata.example": ["169.254.169.254"],
    "mixed.example": [PUBLIC, "127.0.0.1"],
    "v6.example": ["::1"],
    "cgnat.example": ["100.64.1.1"],
}


def resolve(host: str, port: int) -> list[str]:
    return DNS[host] if host in DNS else system_resolve(host, port)


@dataclass(frozen=True)
class Case:
    name: str
    url: str  # {port}: the internal listener's; {web}: the allowed stand-in's base URL
    internal: bool = True  # points at the listener (else at the allowed stand-in)


REDIRECT = "{web}/redirect?code={code}&to={to}"
CASES = [
    Case("decimal IPv4", "http://2130706433:{port}/"),
    Case("octal IPv4", "http://0177.0.0.1:{port}/"),
    Case("hex dotted IPv4", "http://0x7f.0.0.1:{port}/"),
    Case("hex IPv4", "http://0x7f000001:{port}/"),
    Case("short IPv4 127.1", "http://127.1:{port}/"),
    Case("IPv4 loopback, other port", "http://127.0.0.1:{port}/"),
    Case("IPv6 loopback", "http://[::1]:{port}/"),
    Case("IPv6-mapped IPv4 dotted", "http://[::ffff:127.0.0.1]:{port}/"),
    Case("IPv6-mapped IPv4 hex", "http://[::ffff:7f00:1]:{port}/"),
    Case("IPv6 site-local fec0::/10", "http://[fec0::1]:{port}/"),
    Case("IPv6 unique-local fc00::/7", "http://[fd12:3456::1]:{port}/"),
    Case("metadata 169.254.169.254", "http://169.254.169.254/latest/meta-data/"),
    Case("0.0.0.0", "http://0.0.0.0:{port}/"),  # noqa: S104 (a URL, not a bind)
    Case("0 (this host)", "http://0:{port}/"),
    Case("10/8", "http://10.1.2.3:{port}/"),
    Case("172.16/12", "http://172.31.255.1:{port}/"),
    Case("192.168/16", "http://192.168.0.1:{port}/"),
    Case("100.64/10 CGNAT", "http://100.100.100.100:{port}/"),
    Case("multicast", "http://224.0.0.251:{port}/"),
    Case("broadcast", "http://255.255.255.255:{port}/"),
    Case("localhost", "http://localhost:{port}/"),
    Case("*.localhost", "http://admin.localhost:{port}/"),
    Case("metadata.google.internal", "http://metadata.google.internal/computeMetadata/v1/"),
    Case("name -> 127.0.0.1", "http://db.example:{port}/"),
    Case("name -> 10.0.0.5", "http://intranet.example:{port}/"),
    Case("name -> 169.254.169.254", "http://metadata.example/latest/meta-data/"),
    Case("name -> public + loopback", "http://mixed.example:{port}/"),
    Case("name -> ::1", "http://v6.example:{port}/"),
    Case("name -> CGNAT", "http://cgnat.example:{port}/"),
    Case("IDN ideographic dots", "http://127\u30020\u30020\u30021:{port}/"),
    Case("IDN fullwidth dots", "http://127\uff0e0\uff0e0\uff0e1:{port}/"),
    Case(
        "IDN circled letters",
        "http://\u24c1\u24de\u24d2\u24d0\u24db\u24d7\u24de\u24e2\u24e3:{port}/",
    ),
    *(
        Case(f"{code} redirect to loopback", REDIRECT.format(code=code, web="{web}", to=to))
        for code, to in (
            (301, "http://127.0.0.1:{port}/admin"),
            (302, "http://localhost:{port}/"),
            (307, "http://[::1]:{port}/"),
            (308, "http://2130706433:{port}/"),
        )
    ),
    Case(
        "302 redirect to metadata",
        REDIRECT.format(code=302, web="{web}", to="http://169.254.169.254/latest/meta-data/"),
    ),
    Case("redirect to file://", REDIRECT.format(code=301, web="{web}", to="file:///etc/passwd")),
    Case("file://", "file:///etc/passwd"),
    Case("gopher://", "gopher://127.0.0.1:{port}/_INFO"),
    Case("ftp://", "ftp://127.0.0.1:{port}/"),
    Case("dict://", "dict://127.0.0.1:{port}/info"),
    Case("credentials, allowed host", "http://user:pass@{hostport}/pages/x", internal=False),
    Case("user only, allowed host", "http://admin@{hostport}/pages/x", internal=False),
    Case("over-long URL, allowed host", "{web}/pages/" + "a" * 2100, internal=False),
]


@pytest.fixture(scope="module")
def web() -> Iterator[WebStandin]:
    with WebStandin() as standin:
        yield standin


@pytest.fixture(scope="module")
def internal() -> Iterator[Listener]:
    with Listener(["127.0.0.1", "::1"]) as listener:
        yield listener


def fetch(url: str, *, allow: list[str], timeout: float = 3.0, resolver=resolve):
    async def go():
        async with make_http_client(
            allow_hosts=allow,
            user_agent="test",
            timeout=timeout,
            max_bytes=100_000,
            resolve=resolver,
        ) as http:
            return await fetch_page(http, url)

    return asyncio.run(go())


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_trick_is_refused_and_the_internal_listener_sees_nothing(
    case, web, internal, reliability_report
):
    url = case.url.format(port=internal.port, web=web.base_url, hostport=web.host_port)
    before, pages_before = internal.connections, web.requests["page"]

    with pytest.raises(FetchRefused) as caught:
        fetch(url, allow=[web.host_port])

    reason = str(caught.value)
    assert reason.startswith("refused:"), reason
    assert internal.connections == before
    assert web.requests["page"] == pages_before  # not even the allowed stand-in's pages
    shown = url if len(url) < 80 else f"{url[:60]}… ({len(url)} chars)"
    reliability_report.row("SSRF", case=case.name, url=shown, refused=True, reason=reason)


def test_the_table_is_tested_with_the_allowance_in_effect(web):
    """The allowed stand-in itself is fetched: the refusals above are not a broken client."""
    page = fetch(web.page_url("security-ssrf"), allow=[web.host_port])
    assert b"Server-Side Request Forgery" in page.body


def test_dns_rebinding_never_uses_the_second_answer(reliability_report):
    """First answer public, then loopback: the connection goes to the checked address
    (which is unreachable from here), never to the loopback listener; DNS asked once."""
    with Listener(["127.0.0.1"]) as internal:
        answers = iter([[PUBLIC], ["127.0.0.1"], ["127.0.0.1"]])
        asked: list[str] = []

        def rebinding(host: str, port: int) -> list[str]:
            asked.append(host)
            return next(answers)

        with pytest.raises((FetchFailed, FetchRefused)) as caught:
            fetch(
                f"http://rebind.example:{internal.port}/", allow=[], timeout=1.0, resolver=rebinding
            )
        assert internal.connections == 0
        assert asked == ["rebind.example"]
    reliability_report.row(
        "SSRF",
        case="DNS rebinding (public, then loopback)",
        url=f"http://rebind.example:{internal.port}/",
        refused=True,
        reason=f"connected only to the checked {PUBLIC}: {caught.value}",
    )


def test_rebinding_between_two_loopback_addresses_connects_to_the_first(reliability_report):
    """With real sockets on both: an allow-listed name answers 127.0.0.1 (the stand-in),
    then 127.0.0.2 (an internal listener on the same port). Only the first is reached."""
    with Listener(["127.0.0.2"]) as internal:
        if internal.bound != ["127.0.0.2"]:
            pytest.fail("this host cannot bind 127.0.0.2: the proof needs it")
        with WebStandin(port=internal.port) as web:
            answers = iter([["127.0.0.1"], ["127.0.0.2"], ["127.0.0.2"]])
            asked: list[str] = []

            def rebinding(host: str, port: int) -> list[str]:
                asked.append(host)
                return next(answers)

            name = f"news.example:{web.port}"
            page = fetch(f"http://{name}/pages/security-ssrf", allow=[name], resolver=rebinding)
            assert b"Server-Side Request Forgery" in page.body
            assert web.requests["page"] == 1
            assert internal.connections == 0
            assert asked == ["news.example"]
    reliability_report.row(
        "SSRF",
        case="DNS rebinding (127.0.0.1, then 127.0.0.2)",
        url=f"http://{name}/pages/security-ssrf",
        refused=True,
        reason="second answer never used: 127.0.0.2 saw no connection",
    )


def test_refused_hits_never_take_a_fetch_slot(web, internal):
    """The research pool drops refused addresses before fetching (precheck)."""
    from generation.research.base import SearchHit
    from generation.research.pool import Candidate, precheck

    async def go():
        async with make_http_client(
            allow_hosts=[web.host_port], user_agent="t", timeout=3, max_bytes=1000, resolve=resolve
        ) as http:
            urls = [
                c.url.format(port=internal.port, web=web.base_url, hostport=web.host_port)
                for c in CASES
                if "redirect" not in c.name
            ]
            hits = [Candidate(SearchHit(u, "t", "", "searxng"), None) for u in urls]
            return urls, await precheck(hits, http.guard)

    urls, verdicts = asyncio.run(go())
    passed = [url for url, verdict in zip(urls, verdicts, strict=True) if verdict is None]
    assert passed == []
    assert internal.connections == 0
