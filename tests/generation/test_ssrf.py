"""The SSRF guard: nothing private is fetched unless its exact host:port is allow-listed."""

from __future__ import annotations

import asyncio
import ipaddress
import re
from collections.abc import Iterator

import httpx
import pytest

from generation.exceptions import FetchRefused, ProviderError
from generation.research import fetch_page, make_http_client
from generation.research.base import FetchFailed
from generation.research.guard import address_refusal, system_resolve
from generation.research.providers import SearxngProvider
from standins.web import WebStandin


@pytest.fixture
def web() -> Iterator[WebStandin]:
    with WebStandin(big_bytes=300_000) as standin:
        yield standin


@pytest.fixture
def other_listener() -> Iterator[WebStandin]:
    """A second private server that must never be reached."""
    with WebStandin() as standin:
        yield standin


def fetch(url: str, *, allow=(), resolve=system_resolve, max_bytes=100_000, timeout=5.0):
    async def go():
        async with make_http_client(
            allow_hosts=allow,
            user_agent="test",
            timeout=timeout,
            max_bytes=max_bytes,
            resolve=resolve,
        ) as http:
            return await fetch_page(http, url, max_bytes=max_bytes)

    return asyncio.run(go())


def refusal(url: str, **kwargs) -> str:
    with pytest.raises(FetchRefused) as caught:
        fetch(url, **kwargs)
    return str(caught.value)


def test_loopback_not_allow_listed_is_refused_and_never_reached(web):
    assert refusal(web.page_url("security-ssrf")) == "refused: loopback address 127.0.0.1"
    assert sum(web.requests.values()) == 0


def test_allow_listed_host_port_is_fetched(web):
    page = fetch(web.page_url("security-ssrf"), allow=[web.host_port])
    assert page.content_type == "text/html"
    assert b"Server-Side Request Forgery" in page.body
    assert web.requests["page"] == 1


def test_allow_list_is_exact_host_and_port(web, other_listener):
    assert refusal(other_listener.page_url("security-xss"), allow=[web.host_port]).startswith(
        "refused: loopback address"
    )
    assert sum(other_listener.requests.values()) == 0


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://10.0.0.1/", "refused: private address 10.0.0.1"),
        ("http://169.254.169.254/latest/meta-data/", "refused: link-local address 169.254.169.254"),
        ("http://[::1]:8080/", "refused: loopback address ::1"),
        ("http://100.64.0.7/", "refused: shared (CGNAT) address 100.64.0.7"),
        ("http://0.0.0.0:80/", "refused: unspecified address 0.0.0.0"),
        ("http://[::ffff:10.0.0.1]/", "refused: private address 10.0.0.1 (inside ::ffff:a00:1)"),
    ],
)
def test_private_address_literals_are_refused(url, reason):
    assert refusal(url) == reason


def test_public_name_resolving_to_private_address_is_refused():
    asked = []

    def resolve(host: str, port: int) -> list[str]:
        asked.append((host, port))
        return {"public.example": ["93.184.215.14", "10.0.0.5"]}[host]

    reason = refusal("https://public.example/article", resolve=resolve)
    assert reason == "refused: public.example resolves to private address 10.0.0.5"
    assert asked == [("public.example", 443)]


def test_unresolvable_name_fails_with_reason():
    def resolve(host: str, port: int) -> list[str]:
        raise OSError("no such host")

    with pytest.raises(FetchFailed, match=r"DNS lookup failed for nowhere\.example"):
        fetch("http://nowhere.example/", resolve=resolve)


def test_redirect_from_allowed_host_to_private_listener_is_refused(web, other_listener):
    target = other_listener.page_url("security-xss")
    reason = refusal(f"{web.base_url}/redirect?to={target}", allow=[web.host_port])
    assert reason == "refused: loopback address 127.0.0.1"
    assert web.requests["redirect"] == 1
    assert sum(other_listener.requests.values()) == 0


def test_redirect_to_private_network_is_refused(web):
    reason = refusal(f"{web.base_url}/redirect?to=http://10.0.0.1/admin", allow=[web.host_port])
    assert reason == "refused: private address 10.0.0.1"


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.com/x", "gopher://a/"])
def test_non_http_schemes_are_refused(url):
    assert "scheme" in refusal(url)


def test_redirect_to_file_scheme_is_refused(web):
    reason = refusal(f"{web.base_url}/redirect?to=file:///etc/passwd", allow=[web.host_port])
    assert reason == "refused: scheme 'file' is not allowed"


@pytest.mark.parametrize("declared", ["yes", "no"])
def test_body_over_the_cap_is_refused(web, declared):
    reason = refusal(f"{web.base_url}/big?length={declared}", allow=[web.host_port])
    assert reason.startswith("too large")


def test_content_type_outside_html_and_text_is_refused(web):
    reason = refusal(f"{web.base_url}/image.png", allow=[web.host_port])
    assert reason == "content type image/png"


def test_five_redirects_are_followed_and_six_are_not(web):
    page = fetch(f"{web.base_url}/chain/5", allow=[web.host_port])
    assert page.url.endswith("/chain/0")
    with pytest.raises(FetchFailed, match=r"too many redirects \(more than 5\)"):
        fetch(f"{web.base_url}/chain/6", allow=[web.host_port])


def test_http_errors_and_timeouts_fail_with_reason(web):
    with pytest.raises(FetchFailed, match="HTTP 404"):
        fetch(f"{web.base_url}/status/404", allow=[web.host_port])
    with pytest.raises(FetchFailed, match="timeout"):
        fetch(f"{web.base_url}/slow/1.5", allow=[web.host_port], timeout=0.3)


def test_connection_goes_to_the_checked_address_not_a_second_lookup():
    """DNS rebinding: the first answer is public, later ones private; only the first is used."""
    answers = iter([["93.184.215.14"], ["127.0.0.1"], ["127.0.0.1"]])
    sent: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, headers={"content-type": "text/plain"}, text="hello")

    async def go():
        async with make_http_client(
            user_agent="test",
            timeout=5,
            max_bytes=1000,
            resolve=lambda host, port: next(answers),
            inner=httpx.MockTransport(record),
        ) as http:
            return await fetch_page(http, "https://rebind.example/page")

    page = asyncio.run(go())
    assert page.body == b"hello"
    assert [str(r.url) for r in sent] == ["https://93.184.215.14/page"]
    assert sent[0].headers["host"] == "rebind.example"
    assert sent[0].extensions["sni_hostname"] == "rebind.example"


def test_provider_api_calls_go_through_the_guard(web):
    async def go():
        async with make_http_client(user_agent="t", timeout=5, max_bytes=10_000) as http:
            await SearxngProvider(web.base_url).search("ssrf", http=http, limit=3)

    with pytest.raises(ProviderError, match=r"searxng: refused: loopback address 127\.0\.0\.1"):
        asyncio.run(go())
    assert sum(web.requests.values()) == 0


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.8.9.10", "loopback"),
        ("192.168.1.1", "private"),
        ("172.16.0.1", "private"),
        ("224.0.0.1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("fe80::1", "link-local"),
        ("fc00::1", "private"),
        ("ff02::1", "multicast"),
        ("::", "unspecified"),
        ("::ffff:127.0.0.1", "loopback"),
        ("2002:a00:1::1", "private"),  # 6to4 wrapping 10.0.0.1
        ("64:ff9b::a9fe:a9fe", "link-local"),  # NAT64 wrapping 169.254.169.254
    ],
)
def test_address_matrix_refuses_every_non_public_kind(address, kind):
    assert address_refusal(ipaddress.ip_address(address)).startswith(kind)


@pytest.mark.parametrize("address", ["93.184.215.14", "1.1.1.1", "2606:4700:4700::1111"])
def test_public_addresses_pass(address):
    assert address_refusal(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://user:pass@{host}/pages/security-ssrf", r"refused: URL carries credentials"),
        ("http://admin@{host}/pages/security-ssrf", r"refused: URL carries credentials"),
        ("http://{host}/pages/" + "a" * 2000, r"refused: URL is 20\d\d characters \(limit 2000\)"),
    ],
)
def test_credentials_and_endless_urls_are_refused_even_for_allowed_hosts(web, url, reason):
    assert re.fullmatch(reason, refusal(url.format(host=web.host_port), allow=[web.host_port]))
    assert sum(web.requests.values()) == 0


@pytest.mark.parametrize(
    "host", ["localhost", "admin.localhost", "printer.local", "metadata.google.internal"]
)
def test_local_only_names_are_refused_before_any_lookup(host):
    def resolve(name: str, port: int) -> list[str]:
        raise AssertionError(f"{name} was looked up")

    assert refusal(f"http://{host}/", resolve=resolve) == f"refused: {host} is a local-only name"


# --- Ports: public hosts on 80 and 443 only ------------------------------------------------


def _fetch_public(url: str, *, allow=()) -> list[str]:
    """Fetch `url` with its name resolving to a public address; the URLs sent."""
    sent: list[str] = []

    def record(request: httpx.Request) -> httpx.Response:
        sent.append(str(request.url))
        return httpx.Response(200, headers={"content-type": "text/plain"}, text="hello")

    async def go():
        async with make_http_client(
            allow_hosts=allow,
            user_agent="test",
            timeout=5,
            max_bytes=1000,
            resolve=lambda host, port: ["93.184.215.14"],
            inner=httpx.MockTransport(record),
        ) as http:
            return await fetch_page(http, url)

    asyncio.run(go())
    return sent


@pytest.mark.parametrize("port", [22, 25, 6379, 8080, 8443])
def test_public_hosts_are_refused_on_other_ports(port):
    with pytest.raises(FetchRefused) as caught:
        _fetch_public(f"http://public.example:{port}/")
    assert str(caught.value).startswith(f"refused: port {port} of public.example")
    assert "RESEARCH_ALLOW_HOSTS" in str(caught.value)
    with pytest.raises(FetchRefused, match=f"refused: port {port} of 93.184.215.14"):
        _fetch_public(f"http://93.184.215.14:{port}/")


@pytest.mark.parametrize(
    ("url", "sent"),
    [
        ("http://public.example/", "http://93.184.215.14/"),
        ("https://public.example/", "https://93.184.215.14/"),
        ("http://public.example:443/", "http://93.184.215.14:443/"),
    ],
)
def test_public_hosts_are_fetched_on_80_and_443(url, sent):
    assert _fetch_public(url) == [sent]


def test_an_allow_listed_host_port_opens_that_port_only():
    allow = ["public.example:8443"]
    assert _fetch_public("https://public.example:8443/", allow=allow) == [
        "https://93.184.215.14:8443/"
    ]
    with pytest.raises(FetchRefused, match="refused: port 8444"):
        _fetch_public("https://public.example:8444/", allow=allow)


def test_refused_ports_are_named_in_the_source_report(web):
    from tests import standins_web_fixtures

    failing = {
        "http://93.184.215.14:22/": "refused: port 22 of 93.184.215.14",
        "http://93.184.215.14:6379/": "refused: port 6379 of 93.184.215.14",
        f"{web.base_url}/redirect?to=http://93.184.215.14:25/": "refused: port 25 of",
    }
    for url in failing:
        web.pin_result(url, "Looks relevant: speculative decoding")
    findings = standins_web_fixtures.research_on(
        web,
        ["speculative decoding draft model"],
        results_per_query=20,
        max_sources=20,
        fetch_concurrency=4,
    )
    reasons = {doc.url: doc.reason for doc in findings.docs}
    for url, reason in failing.items():
        assert reasons[url].startswith(reason), (url, reasons.get(url))
