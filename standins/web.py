"""A loopback stand-in for "the web": a SearXNG-style search API and article pages.

    with WebStandin(page_delay=0.0) as web:
        web.base_url        # http://127.0.0.1:<port>
        web.host_port       # 127.0.0.1:<port>, for RESEARCH_ALLOW_HOSTS
        web.requests        # Counter by kind: "search", "page", "redirect", "big", ...
        web.max_in_flight   # most requests handled at the same time
        web.max_per_host    # most page requests (not searches) at once, by Host header
        web.robots = "User-agent: *\nDisallow: /pages/private"   # served at /robots.txt
        web.fixed_results = [...]   # the search's answer on page 1 (later pages: none)
        web.gone["slug"] = 410      # /pages/slug answers that status (404, 410, 503) from now on
        web.moved["slug"] = url     # /pages/slug redirects there permanently (301)
        web.validators = False      # pages stop sending ETag / Last-Modified

Routes: GET /search?q=…&format=json[&pageno=2], /pages/<slug>, /redirect?to=<url>[&code=308],
/chain/<n> (n redirects, then a page), /big (larger than any sane cap), /image.png,
/status/<code>, /slow/<seconds>, and the hostile ones of standins/messy.py: /bomb,
/bomb/stream, /hang, /trickle/search, /slowloris, /silent, /binary/<kind>, /empty,
/misencoded/<kind>, /robots.txt (404 until `robots` is set). Pages carry an ETag and
Last-Modified and answer a matching conditional request with 304 (counted as
"not-modified"), unless `validators` is off; `cache_control` adds that header to them; a
slug in `gone` answers its status (404/410) and one in `moved` a 301 to its URL.
`messy=True` makes every other search result unusable, as real result lists are.
Standalone: `python -m standins.web --port 8899 [--messy]`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import ssl
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

from markdown_it import MarkdownIt

from standins.messy import HostileRoutes, messy_results

CORPUS_DIR = Path(__file__).resolve().parent / "corpus"
_WORD = re.compile(r"[a-z0-9]+")
_STOP_TEXT = "a an and are as at be by for from how in is it of on or the to what when why with"
_STOP = frozenset(_STOP_TEXT.split())
_PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000")
_MARKDOWN = MarkdownIt()


def _terms(text: str) -> set[str]:
    return {word.rstrip("s") for word in _WORD.findall(text.lower()) if word not in _STOP}


@dataclass
class Page:
    """One article of the stand-in web."""

    slug: str
    title: str
    text: str  # Markdown body
    date: str = ""
    tags: list[str] = field(default_factory=list)

    def terms(self) -> set[str]:
        return _terms(" ".join([self.title, self.text, *self.tags]))

    def snippet(self) -> str:
        return " ".join(re.sub(r"[#*`>\-]", " ", self.text).split())[:200]


def load_corpus(folder: Path = CORPUS_DIR) -> list[Page]:
    """The Markdown files of a folder, with `title:`, `date:` and `tags:` front matter."""
    pages = []
    for path in sorted(folder.glob("*.md")):
        meta, body = _front_matter(path.read_text(encoding="utf-8"))
        tags = [tag.strip() for tag in meta.get("tags", "").split(",") if tag.strip()]
        title = meta.get("title", path.stem)
        pages.append(Page(path.stem, title, body.strip(), meta.get("date", ""), tags))
    return pages


def _front_matter(text: str) -> tuple[dict[str, str], str]:
    if not text.startswith("---"):
        return {}, text
    head, _, body = text[3:].partition("\n---")
    meta = {}
    for line in head.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            meta[key.strip().lower()] = value.strip().strip("\"'")
    return meta, body.lstrip("-\n")


def render_page(page: Page, site: str = "Stand-in Engineering Notes") -> str:
    """Realistic article markup: navigation, header, sidebar and footer around the article."""
    body = _MARKDOWN.render(page.text)
    tags = "".join(f'<li><a href="/tags/{quote(t)}">{escape(t)}</a></li>' for t in page.tags)
    date = escape(page.date)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>{escape(page.title)} | {escape(site)}</title>
<meta name="description" content="{escape(page.snippet())}">
<meta property="og:title" content="{escape(page.title)}">
<meta property="article:published_time" content="{date}">
</head><body>
<div class="cookie-banner">We use cookies to improve your experience. <button>Accept</button></div>
<header class="site-header"><a class="logo" href="/">{escape(site)}</a>
<nav><ul><li><a href="/">Home</a></li><li><a href="/topics">Topics</a></li>
<li><a href="/about">About</a></li><li><a href="/subscribe">Subscribe</a></li></ul></nav></header>
<main><article>
<h1>{escape(page.title)}</h1>
<p class="byline">By the editorial team · <time datetime="{date}">{date}</time></p>
{body}
<ul class="tags">{tags}</ul>
</article>
<aside class="sidebar"><h2>Popular</h2><ul><li><a href="/pages/popular-1">Ten tips</a></li>
<li><a href="/pages/popular-2">Our newsletter</a></li></ul></aside></main>
<footer><p>© {escape(site)}. All rights reserved.</p>
<p><a href="/privacy">Privacy</a> · <a href="/terms">Terms</a> · <a href="/contact">Contact</a></p>
</footer></body></html>"""


class _Server(ThreadingHTTPServer):
    # The default backlog of 5 drops bursts of connections (the kernel then retries the
    # SYN after a full second), which would make a concurrent fetcher look slow.
    request_queue_size = 128


class WebStandin:
    """The stand-in server, run in a background thread on 127.0.0.1 and port 0 (or `port`)."""

    def __init__(
        self,
        corpus_dir: Path | str | None = CORPUS_DIR,
        *,
        page_delay: float = 0.0,
        port: int = 0,
        big_bytes: int = 3_000_000,
        max_results: int = 10,
        messy: bool = False,
        ssl_context: ssl.SSLContext | None = None,
        keep_alive: bool = False,
    ) -> None:
        self.pages: dict[str, Page] = {}
        for page in load_corpus(Path(corpus_dir)) if corpus_dir else []:
            self.pages[page.slug] = page
        self.pinned: list[dict[str, str]] = []
        self.fixed_results: list[dict[str, str]] | None = None
        self.robots: str | None = None
        self.cache_control = ""
        self.validators = True  # pages carry an ETag and Last-Modified, and answer 304
        self.gone: dict[str, int] = {}  # slug -> the status it answers (404, 410, 503, …)
        self.moved: dict[str, str] = {}  # slug -> where a 301 sends it
        self.files: dict[str, tuple[str, bytes]] = {}  # path?query -> (content type, body)
        self.page_delay = page_delay
        self.big_bytes = big_bytes
        self.max_results = max_results
        self.messy = messy
        self.keep_alive = keep_alive
        self.scheme = "https" if ssl_context else "http"
        self.stopping = threading.Event()  # releases /hang and /trickle on stop()
        self.requests: Counter[str] = Counter()
        self.paths: list[str] = []
        self.finished_at: dict[str, float] = {}  # path -> when its answer was sent
        self.in_flight = 0
        self.max_in_flight = 0
        self.host_in_flight: Counter[str] = Counter()
        self.max_per_host: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", port), _handler_for(self))
        self._server.daemon_threads = True
        if ssl_context is not None:
            self._server.socket = ssl_context.wrap_socket(self._server.socket, server_side=True)
        self._thread: threading.Thread | None = None

    # --- lifecycle ---------------------------------------------------------------------
    @property
    def host_port(self) -> str:
        return f"127.0.0.1:{self._server.server_address[1]}"

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://{self.host_port}"

    def start(self) -> WebStandin:
        # A short poll interval makes stop() (and so each test's teardown) quick.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> WebStandin:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # --- content -----------------------------------------------------------------------
    def add_page(
        self, slug: str, title: str, text: str, *, date: str = "", tags: list[str] | None = None
    ) -> str:
        """Add (or replace) a page; returns its URL."""
        with self._lock:
            self.pages[slug] = Page(slug, title, text, date, list(tags or []))
        return self.page_url(slug)

    def add_file(self, path: str, body: bytes, content_type: str = "text/html") -> str:
        """Serve `body` as it is at `path` (with its query, if any); returns its URL."""
        with self._lock:
            self.files[path] = (content_type, body)
        return f"{self.base_url}{path}"

    def page_url(self, slug: str) -> str:
        return f"{self.base_url}/pages/{quote(slug)}"

    def pin_result(self, url: str, title: str = "Pinned result", content: str = "") -> None:
        """A result returned first for every search (for URLs that fail, redirect, ...)."""
        with self._lock:
            self.pinned.append({"url": url, "title": title, "content": content})

    def search(self, query: str, pageno: int = 1) -> list[dict[str, str]]:
        """Corpus pages ranked by term overlap with the query, pinned results first;
        `pageno` 2, 3, ... are the next `max_results` each (pinned results on page 1 only)."""
        if self.fixed_results is not None:
            return [dict(result) for result in self.fixed_results] if pageno <= 1 else []
        wanted = _terms(query)
        with self._lock:
            pages = list(self.pages.values())
            pinned = [dict(result) for result in self.pinned]
        scored = []
        for page in pages:
            score = len(wanted & page.terms()) + 2 * len(wanted & _terms(page.title))
            if score:
                scored.append((score, page))
        scored.sort(key=lambda pair: (-pair[0], pair[1].slug))
        found = [
            {
                "url": self.page_url(page.slug),
                "title": page.title,
                "content": page.snippet(),
                "publishedDate": page.date,
            }
            for _, page in scored
        ]
        if self.messy:
            found = messy_results(found, self.base_url)
        start = (max(pageno, 1) - 1) * self.max_results
        found = found[start : start + self.max_results]
        return (pinned if pageno <= 1 else []) + found

    # --- accounting --------------------------------------------------------------------
    def _enter(self, kind: str, path: str, host: str = "") -> None:
        with self._lock:
            self.requests[kind] += 1
            self.paths.append(path)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            if kind not in ("search", "robots"):
                self.host_in_flight[host] += 1
                self.max_per_host[host] = max(self.max_per_host[host], self.host_in_flight[host])

    def _leave(self, path: str, kind: str = "", host: str = "") -> None:
        with self._lock:
            self.in_flight -= 1
            self.finished_at[path] = time.monotonic()
            if kind not in ("search", "robots"):
                self.host_in_flight[host] -= 1

    def _count(self, kind: str) -> None:
        with self._lock:
            self.requests[kind] += 1

    def reset_counts(self) -> None:
        with self._lock:
            self.requests.clear()
            self.paths.clear()
            self.finished_at.clear()
            self.max_in_flight = self.in_flight
            self.max_per_host = Counter(self.host_in_flight)


def _handler_for(web: WebStandin) -> type[BaseHTTPRequestHandler]:
    class Handler(_Handler):
        standin = web
        protocol_version = "HTTP/1.1" if web.keep_alive else "HTTP/1.0"

    return Handler


class _Handler(HostileRoutes, BaseHTTPRequestHandler):
    standin: WebStandin
    server_version = "WebStandin/1.0"

    def log_message(self, format: str, *args: object) -> None:
        return  # quiet: tests read the counters instead

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        route, _, rest = parts.path.strip("/").partition("/")
        query = {key: values[0] for key, values in parse_qs(parts.query).items()}
        kind = {"pages": "page", "image.png": "image", "robots.txt": "robots"}.get(
            route, route or "root"
        )
        host = self.headers.get("Host", "")
        saved = self.standin.files.get(self.path)
        kind = "file" if saved else kind
        self.standin._enter(kind, self.path, host)
        try:
            if saved:
                self._send_validated(*saved)
                return
            getattr(self, f"_route_{route.replace('.', '_')}", self._not_found)(rest, query)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeouts, size caps): nothing left to answer
        finally:
            self.standin._leave(self.path, kind, host)

    # --- routes ------------------------------------------------------------------------
    def _route_search(self, rest: str, query: dict[str, str]) -> None:
        if query.get("format") != "json":
            self._send(403, "text/plain", b"format=json is required")
            return
        q = query.get("q", "")
        page = int(query["pageno"]) if query.get("pageno", "").isdigit() else 1
        body = {"query": q, "results": self.standin.search(q, page)}
        self._send(200, "application/json", json.dumps(body).encode())

    def _route_pages(self, rest: str, query: dict[str, str]) -> None:
        time.sleep(self.standin.page_delay)
        slug = rest.rstrip("/")
        if slug in self.standin.moved:
            self._send(301, "text/plain", b"moved", location=self.standin.moved[slug])
            return
        if slug in self.standin.gone:
            self._send(self.standin.gone[slug], "text/html", b"<h1>Gone</h1>")
            return
        page = self.standin.pages.get(slug)
        if page is None:
            self._not_found(rest, query)
            return
        self._send_validated("text/html; charset=utf-8", render_page(page).encode())

    def _send_validated(self, content_type: str, body: bytes) -> None:
        """A page with an ETag and Last-Modified; 304 to a request that has it already."""
        validators = {
            "ETag": f'"{hashlib.sha256(body).hexdigest()[:16]}"',
            "Last-Modified": "Mon, 01 Jan 2024 00:00:00 GMT",
        }
        if self.standin.cache_control:
            validators["Cache-Control"] = self.standin.cache_control
        if not self.standin.validators:
            plain = {k: v for k, v in validators.items() if k == "Cache-Control"}
            self._send(200, content_type, body, headers=plain)
            return
        if self.headers.get("If-None-Match") == validators["ETag"]:
            self.standin._count("not-modified")
            self._send(304, content_type, b"", headers=validators)
            return
        self._send(200, content_type, body, headers=validators)

    def _route_robots_txt(self, rest: str, query: dict[str, str]) -> None:
        if self.standin.robots is None:
            self._not_found(rest, query)
            return
        self._send(200, "text/plain; charset=utf-8", self.standin.robots.encode())

    def _route_redirect(self, rest: str, query: dict[str, str]) -> None:
        code = int(query.get("code", 302))  # 301, 302, 303, 307 or 308
        self._send(code, "text/plain", b"moved", location=query.get("to", "/"))

    def _route_chain(self, rest: str, query: dict[str, str]) -> None:
        hops = int(rest or 0)
        if hops > 0:
            self._send(302, "text/plain", b"moved", location=f"/chain/{hops - 1}")
            return
        page = Page("chain-end", "End of the redirect chain", "Arrived. " * 60)
        self._send(200, "text/html; charset=utf-8", render_page(page).encode())

    def _route_big(self, rest: str, query: dict[str, str]) -> None:
        size = self.standin.big_bytes
        declared = query.get("length", "yes") != "no"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        if declared:
            self.send_header("Content-Length", str(size))
        self.end_headers()
        chunk = b"<p>" + b"big " * 2048 + b"</p>\n"
        sent = 0
        while sent < size:
            piece = chunk[: size - sent]
            self.wfile.write(piece)
            sent += len(piece)

    def _route_image_png(self, rest: str, query: dict[str, str]) -> None:
        self._send(200, "image/png", _PNG)

    def _route_status(self, rest: str, query: dict[str, str]) -> None:
        code = int(rest or 500)
        self._send(code, "text/html", f"<h1>Status {code}</h1>".encode())

    def _route_slow(self, rest: str, query: dict[str, str]) -> None:
        time.sleep(float(rest or 1))
        page = Page("slow", "A slow page", "Slow content. " * 40)
        self._send(200, "text/html; charset=utf-8", render_page(page).encode())

    def _not_found(self, rest: str, query: dict[str, str]) -> None:
        self._send(404, "text/html", b"<h1>Not found</h1>")

    def _send(
        self,
        code: int,
        content_type: str,
        body: bytes,
        *,
        location: str = "",
        headers: dict[str, str] | None = None,
    ) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        if code != 304:
            self.send_header("Content-Length", str(len(body)))
        if location:
            self.send_header("Location", location)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve the stand-in web on loopback.")
    parser.add_argument("--port", type=int, default=8899)
    parser.add_argument("--corpus", default=str(CORPUS_DIR), help="folder of .md articles")
    parser.add_argument("--page-delay", type=float, default=0.0, help="seconds per page")
    parser.add_argument("--messy", action="store_true", help="every other result unusable")
    args = parser.parse_args(argv)
    web = WebStandin(args.corpus, page_delay=args.page_delay, port=args.port, messy=args.messy)
    print(f"Stand-in web on {web.base_url} ({len(web.pages)} pages)", flush=True)
    print(
        f"  RESEARCH_PROVIDERS=searxng SEARXNG_URL={web.base_url} "
        f"RESEARCH_ALLOW_HOSTS={web.host_port}",
        flush=True,
    )
    try:
        web._server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        web._server.server_close()


if __name__ == "__main__":
    main()
