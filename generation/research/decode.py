"""Reading a response body with its decoded size capped while it decodes.

httpx inflates each compressed chunk whole, so a 600-byte body sent as
`Content-Encoding: gzip, gzip` can become hundreds of megabytes before any cap applies.
Here the raw bytes are inflated with zlib's `max_length`, never more than the cap (plus
one byte) at a time, and stacked or unknown encodings are refused outright.
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import Awaitable
from typing import TypeVar

import httpx

from generation.exceptions import FetchRefused
from generation.research.base import FetchFailed

T = TypeVar("T")

# The encodings the client asks for ("Accept-Encoding: gzip, deflate"), as zlib wbits.
_WBITS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}


def content_encoding(headers: httpx.Headers) -> str | None:
    """The one compression a response uses (None for none); stacked or unknown: refused."""
    names = [
        name.strip().lower()
        for name in headers.get_list("content-encoding", split_commas=True)
        if name.strip() and name.strip().lower() != "identity"
    ]
    if len(names) > 1:
        raise FetchRefused(f"refused: stacked content encodings ({', '.join(names)})")
    if names and names[0] not in _WBITS:
        raise FetchRefused(f"refused: unsupported content encoding {names[0]!r}")
    return names[0] if names else None


class BoundedDecoder:
    """Inflates chunk by chunk; raises FetchRefused once the output passes `max_bytes`."""

    def __init__(self, encoding: str | None, *, max_bytes: int) -> None:
        self.encoding = encoding
        self.max_bytes = max_bytes
        self.total = 0
        self._zlib = self._new() if encoding else None
        self._first = True

    def _new(self, wbits: int | None = None) -> zlib._Decompress:
        return zlib.decompressobj(wbits if wbits is not None else _WBITS[self.encoding or ""])

    def decode(self, data: bytes) -> bytes:
        if self._zlib is None:
            return self._count(data)
        out = bytearray()
        while data:
            try:
                piece = self._zlib.decompress(data, self.max_bytes - self.total + 1)
            except zlib.error as exc:
                if not (self._first and self.encoding == "deflate"):
                    raise FetchRefused(f"refused: body is not valid {self.encoding}") from exc
                # Some servers send raw deflate without the zlib wrapper (httpx does the same).
                self._zlib = self._new(-zlib.MAX_WBITS)
                self._first = False
                continue
            self._first = False
            out += self._count(piece)
            data = self._zlib.unconsumed_tail or self._next_member()
        return bytes(out)

    def _next_member(self) -> bytes:
        """gzip allows several members back to back: start a fresh inflater for the next."""
        if self._zlib is not None and self._zlib.eof and self._zlib.unused_data:
            rest = self._zlib.unused_data
            self._zlib = self._new()
            return rest
        return b""

    def _count(self, piece: bytes) -> bytes:
        self.total += len(piece)
        if self.total > self.max_bytes:
            decoded = " once decoded" if self.encoding else ""
            raise FetchRefused(f"too large: more than {self.max_bytes} bytes{decoded}")
        return piece


async def read_body(
    response: httpx.Response, *, max_bytes: int, stall_s: float | None = None
) -> bytes:
    """The decoded body of a streamed response, never holding more than `max_bytes` of it;
    FetchFailed when no bytes arrive for `stall_s` seconds."""
    decoder = BoundedDecoder(content_encoding(response.headers), max_bytes=max_bytes)
    body = bytearray()
    chunks = response.aiter_raw()
    while True:
        try:
            raw = await stalling(anext(chunks), stall_s)
        except StopAsyncIteration:
            return bytes(body)
        body += decoder.decode(raw)


async def stalling(step: Awaitable[T], stall_s: float | None) -> T:
    """`step`, cut with FetchFailed when it takes longer than `stall_s` (None: no limit).
    Each step is a wait for bytes: a page may be slow, but not silent."""
    try:
        async with asyncio.timeout(stall_s):
            return await step
    except TimeoutError as exc:
        raise FetchFailed(f"stalled: no bytes for {stall_s:g}s", transient=True) from exc
