"""Each provider parses its API's real response shape, served by a tiny loopback stand-in."""

from __future__ import annotations

import asyncio
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from generation.exceptions import ConfigurationError, ProviderError
from generation.research import http_client_from_settings, make_http_client, providers_from_settings
from generation.research.providers import (
    ArxivProvider,
    BraveProvider,
    HackerNewsProvider,
    LocalProvider,
    SearxngProvider,
    TavilyProvider,
    WikipediaProvider,
)


class ApiStandin:
    """Answers every request with one canned (status, content type, body); records requests."""

    def __init__(
        self, body: str | bytes, *, status: int = 200, content_type: str = "application/json"
    ):
        self.answer = (status, content_type, body.encode() if isinstance(body, str) else body)
        self.requests: list[dict] = []
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                return

            def do_GET(self) -> None:
                self._answer(b"")

            def do_POST(self) -> None:
                self._answer(self.rfile.read(int(self.headers.get("content-length", 0))))

            def _answer(self, body: bytes) -> None:
                parts = urlsplit(self.path)
                standin.requests.append(
                    {
                        "method": self.command,
                        "path": parts.path,
                        "query": parse_qs(parts.query),
                        "headers": dict(self.headers),
                        "body": body,
                    }
                )
                status, content_type, payload = standin.answer
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.host_port = f"127.0.0.1:{self.server.server_address[1]}"
        self.base_url = f"http://{self.host_port}"

    def __enter__(self) -> ApiStandin:
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.server.shutdown()
        self.server.server_close()


def search(provider, api: ApiStandin, query: str = "speculative decoding", limit: int = 5):
    async def go():
        async with make_http_client(
            allow_hosts=[api.host_port], user_agent="test-agent/1", timeout=5, max_bytes=100_000
        ) as http:
            return await provider.search(query, http=http, limit=limit)

    return asyncio.run(go())


WIKIPEDIA = {
    "batchcomplete": True,
    "query": {
        "searchinfo": {"totalhits": 2},
        "search": [
            {
                "ns": 0,
                "title": "Speculative execution",
                "pageid": 1,
                "snippet": '<span class="searchmatch">Speculative</span> execution &amp; more',
                "timestamp": "2024-05-01T10:00:00Z",
            },
            {
                "ns": 0,
                "title": "Large language model",
                "pageid": 2,
                "snippet": "An LLM",
                "timestamp": "2024-06-01T10:00:00Z",
            },
        ],
    },
}


def test_wikipedia_parses_search_results_into_article_urls():
    with ApiStandin(json.dumps(WIKIPEDIA)) as api:
        hits = search(WikipediaProvider(f"{api.base_url}/w/api.php"), api)
    assert [h.url for h in hits] == [
        f"{api.base_url}/wiki/Speculative_execution",
        f"{api.base_url}/wiki/Large_language_model",
    ]
    assert hits[0].snippet == "Speculative execution & more"
    assert (hits[0].title, hits[0].provider, hits[0].published) == (
        "Speculative execution",
        "wikipedia",
        "2024-05-01T10:00:00Z",
    )
    request = api.requests[0]
    assert request["path"] == "/w/api.php"
    assert request["query"]["srsearch"] == ["speculative decoding"]
    assert request["query"]["list"] == ["search"]
    assert request["headers"]["User-Agent"] == "test-agent/1"


ARXIV = """<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>ArXiv Query</title>
  <entry>
    <id>http://arxiv.org/abs/2211.17192v2</id>
    <published>2022-11-30T18:58:53Z</published>
    <title>Fast Inference from Transformers via
      Speculative Decoding</title>
    <summary>  Inference from large autoregressive models is slow.  </summary>
    <link href="http://arxiv.org/abs/2211.17192v2" rel="alternate" type="text/html"/>
  </entry>
  <entry>
    <id>http://arxiv.org/abs/2302.01318v1</id>
    <published>2023-02-02T00:00:00Z</published>
    <title>Accelerating LLM Decoding with Speculative Sampling</title>
    <summary>We present speculative sampling.</summary>
  </entry>
</feed>"""


def test_arxiv_parses_atom_into_abstract_pages():
    with ApiStandin(ARXIV, content_type="application/atom+xml") as api:
        hits = search(ArxivProvider(f"{api.base_url}/api/query"), api, limit=2)
    assert [h.url for h in hits] == [
        "https://arxiv.org/abs/2211.17192v2",
        "https://arxiv.org/abs/2302.01318v1",
    ]
    assert hits[0].title == "Fast Inference from Transformers via Speculative Decoding"
    assert hits[0].snippet == "Inference from large autoregressive models is slow."
    assert hits[0].published == "2022-11-30T18:58:53Z"
    assert api.requests[0]["query"]["search_query"] == ["all:speculative AND all:decoding"]
    assert api.requests[0]["query"]["max_results"] == ["2"]


def test_arxiv_reports_malformed_xml():
    with (
        ApiStandin("<feed><entry>", content_type="application/atom+xml") as api,
        pytest.raises(ProviderError, match="arxiv: response is not valid Atom XML"),
    ):
        search(ArxivProvider(api.base_url), api)


HACKER_NEWS = {
    "hits": [
        {
            "objectID": "101",
            "title": "Speculative decoding in practice",
            "url": "https://blog.example.com/spec",
            "created_at": "2024-02-03T04:05:06Z",
        },
        {
            "objectID": "102",
            "title": "Ask HN: Is speculative decoding worth it?",
            "url": None,
            "story_text": "<p>We tried it &amp; saw gains</p>",
            "created_at": "2024-03-01T00:00:00Z",
        },
        {"objectID": "103", "title": None, "url": None},
    ],
    "nbHits": 3,
}


def test_hackernews_parses_story_links_and_ask_hn_items():
    with ApiStandin(json.dumps(HACKER_NEWS)) as api:
        hits = search(HackerNewsProvider(f"{api.base_url}/api/v1"), api)
    assert [h.url for h in hits] == [
        "https://blog.example.com/spec",
        "https://news.ycombinator.com/item?id=102",
    ]
    assert hits[1].snippet == "We tried it & saw gains"
    assert api.requests[0]["path"] == "/api/v1/search"
    assert api.requests[0]["query"]["tags"] == ["story"]


def test_searxng_parses_results():
    body = {
        "query": "q",
        "results": [
            {
                "url": "https://a.example/x",
                "title": "A",
                "content": "about a",
                "publishedDate": None,
            },
            {"url": "https://b.example/y", "title": "B", "content": "about b"},
        ],
    }
    with ApiStandin(json.dumps(body)) as api:
        hits = search(SearxngProvider(api.base_url), api, limit=1)
    # Every result in the answer is a candidate, however many were asked for.
    assert [(h.url, h.title, h.snippet, h.published) for h in hits] == [
        ("https://a.example/x", "A", "about a", ""),
        ("https://b.example/y", "B", "about b", ""),
    ]
    assert api.requests[0]["query"]["format"] == ["json"]


def test_tavily_posts_the_query_with_its_key_in_a_header():
    body = {
        "query": "q",
        "results": [
            {
                "title": "Spec",
                "url": "https://t.example/spec",
                "content": "Drafts tokens",
                "score": 0.9,
                "published_date": "2024-01-01",
            },
        ],
    }
    with ApiStandin(json.dumps(body)) as api:
        hits = search(TavilyProvider("tvly-secret", api.base_url), api, limit=3)
    assert [(h.url, h.snippet, h.published, h.provider) for h in hits] == [
        ("https://t.example/spec", "Drafts tokens", "2024-01-01", "tavily"),
    ]
    request = api.requests[0]
    assert (request["method"], request["path"]) == ("POST", "/search")
    assert request["headers"]["Authorization"] == "Bearer tvly-secret"
    assert json.loads(request["body"]) == {
        "query": "speculative decoding",
        "max_results": 3,
        "search_depth": "basic",
    }
    assert "tvly-secret" not in repr(TavilyProvider("tvly-secret"))


def test_brave_sends_its_subscription_token_and_parses_web_results():
    body = {
        "type": "search",
        "web": {
            "type": "search",
            "results": [
                {
                    "title": "Spec decoding",
                    "url": "https://b.example/s",
                    "description": "<strong>Fast</strong>",
                    "page_age": "2024-04-01T00:00:00",
                },
            ],
        },
    }
    with ApiStandin(json.dumps(body)) as api:
        hits = search(BraveProvider("brave-secret", api.base_url), api, limit=50)
    assert [(h.url, h.snippet, h.published) for h in hits] == [
        ("https://b.example/s", "Fast", "2024-04-01T00:00:00"),
    ]
    request = api.requests[0]
    assert request["path"] == "/res/v1/web/search"
    assert request["headers"]["X-Subscription-Token"] == "brave-secret"
    assert request["query"]["count"] == ["20"]


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (500, "oops", "brave: HTTP 500"),
        (401, "{}", "brave: HTTP 401"),
        (200, "not json", "brave: response is not valid JSON"),
    ],
)
def test_api_failures_become_provider_errors_without_the_key(status, body, message):
    with ApiStandin(body, status=status) as api, pytest.raises(ProviderError) as caught:
        search(BraveProvider("brave-secret", api.base_url), api)
    assert str(caught.value) == message
    assert caught.value.permanent == (status == 401)


def test_unexpected_shapes_give_no_hits_rather_than_crashing():
    with ApiStandin(json.dumps({"web": ["not", "a", "dict"]})) as api:
        assert search(BraveProvider("k", api.base_url), api) == []
    with ApiStandin(json.dumps([1, 2, 3])) as api:
        assert search(WikipediaProvider(api.base_url), api) == []


# --- configuration -----------------------------------------------------------------------


def test_providers_from_settings_builds_each_named_provider(settings, tmp_path):
    settings.RESEARCH_PROVIDERS = [
        "wikipedia",
        "ArXiv",
        "hackernews",
        "searxng",
        "tavily",
        "brave",
        "local",
    ]
    settings.SEARXNG_URL = "http://127.0.0.1:8888"
    settings.TAVILY_API_KEY = "tk"
    settings.BRAVE_API_KEY = "bk"
    settings.RESEARCH_LOCAL_DIR = str(tmp_path)
    settings.RESEARCH_WIKIPEDIA_API = "http://127.0.0.1:1/w/api.php"
    providers = providers_from_settings()
    assert [p.name for p in providers] == [
        "wikipedia",
        "arxiv",
        "hackernews",
        "searxng",
        "tavily",
        "brave",
        "local",
    ]
    assert providers[0].api_url == "http://127.0.0.1:1/w/api.php"
    assert isinstance(providers[-1], LocalProvider)


@pytest.mark.parametrize(
    ("names", "variable"),
    [
        (["wikipedia", "bing"], "RESEARCH_PROVIDERS has unknown provider 'bing'"),
        ([], "RESEARCH_PROVIDERS is empty"),
        (["searxng"], "SEARXNG_URL is empty"),
        (["tavily"], "TAVILY_API_KEY is empty"),
        (["brave"], "BRAVE_API_KEY is empty"),
        (["local"], "RESEARCH_LOCAL_DIR is empty"),
    ],
)
def test_misconfigured_providers_name_the_variable(settings, names, variable):
    settings.RESEARCH_PROVIDERS = names
    settings.SEARXNG_URL = settings.TAVILY_API_KEY = settings.BRAVE_API_KEY = ""
    settings.RESEARCH_LOCAL_DIR = ""
    with pytest.raises(ConfigurationError, match=variable):
        providers_from_settings()


def test_local_dir_must_exist(settings, tmp_path):
    settings.RESEARCH_PROVIDERS = ["local"]
    settings.RESEARCH_LOCAL_DIR = str(tmp_path / "missing")
    with pytest.raises(ConfigurationError, match=r"RESEARCH_LOCAL_DIR=.* is not a directory"):
        providers_from_settings()


def test_malformed_allow_list_is_a_configuration_error(settings):
    settings.RESEARCH_ALLOW_HOSTS = ["127.0.0.1"]
    with pytest.raises(
        ConfigurationError, match=re.escape("RESEARCH_ALLOW_HOSTS: '127.0.0.1' is not host:port")
    ):
        http_client_from_settings()
