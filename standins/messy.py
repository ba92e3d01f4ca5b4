"""The hostile half of the stand-in web: what real search results and servers do.

- `messy_results`: a result list where every other entry is unusable (an address the
  guard refuses, a redirect to loopback, a binary file, an oversized page, a 404), plus
  one page that never finishes.
- Routes mixed into the web stand-in's handler: `/bomb` (a compression bomb, stacked
  `gzip, gzip` by default), `/bomb/stream` (one gzip member of `mib` MiB of zeros,
  compressed as it is sent, no Content-Length), `/hang` (headers, a few bytes, then
  nothing until the server stops), `/trickle/search` (the search API answering one byte
  at a time), `/slowloris` (headers, then one byte a second forever), `/silent` (accepts
  the request and never answers), `/binary/<kind>` (octet-stream, pdf), `/empty` (a
  zero-byte page), `/misencoded/<kind>` (latin1 or utf16 bytes declared as utf-8, or a
  charset that does not exist).
"""

from __future__ import annotations

import functools
import json
import threading
import zlib
from typing import Any
from urllib.parse import quote

MIB = 1024 * 1024
BAD_KINDS = ("refused", "loopback-redirect", "binary", "oversized", "not-found")


def bad_result(kind: str, base_url: str, slug: str, n: int) -> dict[str, str]:
    """One unusable search result of `kind`, looking as relevant as the good ones."""
    urls = {
        "refused": f"http://10.{n % 250}.{len(slug) % 250}.7/{quote(slug)}",
        "loopback-redirect": f"{base_url}/redirect?to=http://127.0.0.1:9/{quote(slug)}",
        "binary": f"{base_url}/image.png?for={quote(slug)}",
        "oversized": f"{base_url}/big?for={quote(slug)}",
        "not-found": f"{base_url}/status/404?for={quote(slug)}",
    }
    return {"url": urls[kind], "title": f"{slug.replace('-', ' ').title()} (mirror)"}


def messy_results(good: list[dict[str, str]], base_url: str) -> list[dict[str, str]]:
    """Every other result unusable, and the second one a page that never finishes."""
    results: list[dict[str, str]] = []
    for n, result in enumerate(good):
        slug = result["url"].rstrip("/").rsplit("/", 1)[-1]
        bad = bad_result(BAD_KINDS[n % len(BAD_KINDS)], base_url, slug, n)
        results += [result, {**bad, "content": result.get("content", "")}]
    hang = {"url": f"{base_url}/hang", "title": "The definitive guide", "content": ""}
    return [*results[:1], hang, *results[1:]]


@functools.cache
def gzip_bomb(decoded_mib: int, layers: int) -> bytes:
    """`decoded_mib` MiB of zeros, gzipped `layers` times (256 MiB, twice: ~600 bytes)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = bytes(MIB)
    body = b"".join(packer.compress(zeros) for _ in range(decoded_mib)) + packer.flush()
    for _ in range(layers - 1):
        packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
        body = packer.compress(body) + packer.flush()
    return body


_BINARIES = {
    "octet-stream": ("application/octet-stream", bytes(range(256)) * 64),
    "pdf": ("application/pdf", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj <<>> endobj\n%%EOF\n"),
}
_GARBLED_TEXT = (
    "Caf\u00e9 na\u00efve r\u00e9sum\u00e9: les files d'attente \u00e0 Redis "
    "g\u00e8rent des t\u00e2ches \u00e9chou\u00e9es. "
) * 20


def misencoded(kind: str) -> tuple[str, bytes]:
    """(Content-Type, body) of a page whose declared charset lies or does not exist."""
    html = f"<html><body><article><p>{_GARBLED_TEXT}</p></article></body></html>"
    if kind == "utf16":
        return "text/html; charset=utf-8", html.encode("utf-16")
    if kind == "badcharset":
        return "text/plain; charset=x-no-such-charset", _GARBLED_TEXT.encode("latin-1")
    return "text/html; charset=utf-8", html.encode("latin-1")


class HostileRoutes:
    """Route methods for the web stand-in's handler (see standins.web._Handler)."""

    # Provided by the handler class these are mixed into (BaseHTTPRequestHandler).
    standin: Any
    wfile: Any
    send_response: Any
    send_header: Any
    end_headers: Any
    _send: Any

    def _route_bomb(self, rest: str, query: dict[str, str]) -> None:
        if rest == "stream":
            self._stream_bomb(query)
            return
        layers = max(1, min(int(query.get("layers", 2)), 4))
        body = gzip_bomb(max(1, min(int(query.get("mib", 256)), 1024)), layers)
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Encoding", ", ".join(["gzip"] * layers))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _stream_bomb(self, query: dict[str, str]) -> None:
        """One gzip member of `mib` MiB of zeros (default 1 GiB), compressed while sent."""
        packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Encoding", "gzip")
        self.end_headers()
        zeros = bytes(MIB)
        for _ in range(max(1, min(int(query.get("mib", 1024)), 4096))):
            if self.standin.stopping.is_set():
                return
            self.wfile.write(packer.compress(zeros))
        self.wfile.write(packer.flush())

    def _route_slowloris(self, rest: str, query: dict[str, str]) -> None:
        """Headers, then one byte every `every` seconds (default 1) until the server stops."""
        every = float(query.get("every", 1.0))
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.end_headers()
        while not self.standin.stopping.wait(every):
            self.wfile.write(b"a")
            self.wfile.flush()

    def _route_silent(self, rest: str, query: dict[str, str]) -> None:
        """Reads the request and answers nothing, not even a status line."""
        self.standin.stopping.wait()

    def _route_binary(self, rest: str, query: dict[str, str]) -> None:
        content_type, body = _BINARIES.get(rest, _BINARIES["octet-stream"])
        self._send(200, content_type, body)

    def _route_empty(self, rest: str, query: dict[str, str]) -> None:
        self._send(200, "text/html; charset=utf-8", b"")

    def _route_misencoded(self, rest: str, query: dict[str, str]) -> None:
        content_type, body = misencoded(rest)
        self._send(200, content_type, body)

    def _route_hang(self, rest: str, query: dict[str, str]) -> None:
        """A page that starts and never finishes (until the stand-in stops)."""
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", "100000")
        self.end_headers()
        self.wfile.write(b"<html><body><p>Loading")
        self.wfile.flush()
        self.standin.stopping.wait()

    def _route_trickle(self, rest: str, query: dict[str, str]) -> None:
        """The search API, one byte every `every` seconds (default 1)."""
        every = float(query.get("every", 1.0))
        results = self.standin.search(query.get("q", ""))
        body = json.dumps({"query": query.get("q", ""), "results": results}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        stopping: threading.Event = self.standin.stopping
        for index in range(len(body)):
            self.wfile.write(body[index : index + 1])
            self.wfile.flush()
            if stopping.wait(every):
                return
