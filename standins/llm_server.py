"""A loopback, OpenAI-compatible chat completions server for tests, benchmarks and demos.

    with LLMStandin(EchoResponder(), latency=0.1) as llm:
        client = LLMClient(base_url=llm.base_url, api_key="test-key", ...)
        llm.inject(kind="outline", status=429, retry_after=0.2)   # next outline call
        ...
        assert llm.counts["outline"] == 2

A responder decides what the "model" says: `classify(request) -> kind` labels a request
(for counting and fault matching) and `respond(request) -> content` answers it. Tokens
are counted as words * 1.3, and a latency model (fixed seconds plus tokens per second)
makes timings realistic for benchmarks. With `rpm` and/or `tpm` it enforces a provider's
rate limit per model, as a token bucket over `window` seconds: a request is charged one
request and its estimated tokens (prompt characters / 4 + max_tokens) on arrival, the
unused part is given back once the reply's usage is known, and a request over the limit
gets a 429 with the Retry-After that would let it through (`over_limit` counts them).
Run standalone for the offline demo:

    python -m standins.llm_server --port 8898 --responder standins.writer:WriterResponder
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import logging
import math
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NamedTuple, Protocol

logger = logging.getLogger(__name__)

TOKENS_PER_WORD = 1.3
INVALID_JSON = '{"title": "A reply cut off in the middle'
_WORD = re.compile(r"\S+")


class Responder(Protocol):
    def classify(self, request: dict) -> str: ...

    def respond(self, request: dict) -> str: ...


class EchoResponder:
    """A minimal valid instance for JSON-schema requests; one sentence for text."""

    def classify(self, request: dict) -> str:
        return schema_name(request) or "text"

    def respond(self, request: dict) -> str:
        schema = request_schema(request)
        if schema is not None:
            return json.dumps(minimal_instance(schema))
        words = sum(count_words(m) for m in request.get("messages", []))
        return f"This is the stand-in model answering a {words}-word request."


@dataclass
class Fault:
    """What to do to the next `times` requests of `kind` (None = any kind, forever)."""

    kind: str | None = None
    status: int | None = None
    retry_after: float | None = None
    retry_after_ms: int | None = None
    code: str | None = None
    invalid_json: bool = False
    content: str | None = None
    delay: float = 0.0
    times: int | None = 1


class RequestRecord(NamedTuple):
    kind: str
    model: str
    time: float
    status: int  # 0 while the request is being answered


class LLMStandin:
    """The server, its fault plan and its counters; a context manager that runs it."""

    def __init__(
        self,
        responder: Responder | None = None,
        *,
        latency: float = 0.0,
        tokens_per_second: float = 0.0,
        api_key: str | None = None,
        echo_key: str = "full",
        host: str = "127.0.0.1",
        port: int = 0,
        models: tuple[str, ...] = ("standin-writer", "standin-fast"),
        rpm: int | None = None,
        tpm: int | None = None,
        window: float = 60.0,
    ) -> None:
        self.responder: Responder = responder or EchoResponder()
        self.latency = latency
        self.tokens_per_second = tokens_per_second
        # When set, only this bearer token is accepted (like a real server's key check).
        self.api_key = api_key
        # How a refused key is echoed in the 401: "full", or "truncated" as OpenAI does
        # ("sk-proj-ab****wxyz"): clients must keep either out of their errors.
        if echo_key not in ("full", "truncated"):
            raise ValueError(f"echo_key must be 'full' or 'truncated', got {echo_key!r}.")
        self.echo_key = echo_key
        self.models = models
        self.rpm, self.tpm, self.window = rpm, tpm, window
        self._address = (host, port)
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.reset()

    # --- Lifecycle -----------------------------------------------------------------------

    def start(self) -> LLMStandin:
        server = _Server(self._address, _Handler)
        server.standin = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, args=(0.05,), daemon=True, name="llm-standin"
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)
            self._server = self._thread = None

    def __enter__(self) -> LLMStandin:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("The LLM stand-in is not running; use it as a context manager.")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    # --- Faults and counters ---------------------------------------------------------------

    def inject(
        self,
        kind: str | None = None,
        *,
        status: int | None = None,
        retry_after: float | None = 0.2,
        retry_after_ms: int | None = None,
        code: str | None = None,
        invalid_json: bool = False,
        content: str | None = None,
        delay: float = 0.0,
        times: int | None = 1,
    ) -> Fault:
        """Plan a fault: an HTTP error `status` (with Retry-After unless None), an
        unparsable or replaced reply, and/or an extra `delay`; `times=None` = until cleared."""
        fault = Fault(
            kind, status, retry_after, retry_after_ms, code, invalid_json, content, delay, times
        )
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def reset(self) -> None:
        """Forget counters and the request log (faults stay)."""
        with self._lock:
            self._counts: Counter[str] = Counter()
            self._requests: list[RequestRecord] = []
            self._in_flight = 0
            self._max_in_flight = 0
            self._over_limit = 0
            self._buckets: dict[str, list[float]] = {}  # model -> [requests, tokens, time]

    @property
    def counts(self) -> Counter[str]:
        with self._lock:
            return Counter(self._counts)

    @property
    def total(self) -> int:
        with self._lock:
            return len(self._requests)

    @property
    def over_limit(self) -> int:
        """Requests refused with a 429 because they were over the rate limit."""
        with self._lock:
            return self._over_limit

    @property
    def max_in_flight(self) -> int:
        with self._lock:
            return self._max_in_flight

    @property
    def requests(self) -> list[RequestRecord]:
        with self._lock:
            return list(self._requests)

    # --- One chat request (called from handler threads) ----------------------------------

    def handle_chat(self, request: dict, token: str) -> tuple[int, dict, dict[str, str]]:
        """(status, JSON body, extra headers) for one chat completion request."""
        kind = self.responder.classify(request)
        record = RequestRecord(kind, str(request.get("model", "")), time.time(), 0)
        # Counted on arrival, so a test sees a request that is still being answered.
        with self._lock:
            self._counts[kind] += 1
            self._requests.append(record)
            self._in_flight += 1
            self._max_in_flight = max(self._max_in_flight, self._in_flight)
        status = 500
        try:
            status, body, headers = self._answer(request, kind, token)
        finally:
            with self._lock:
                self._in_flight -= 1
                self._set_status(record, status)
        return status, body, headers

    def _set_status(self, record: RequestRecord, status: int) -> None:
        # By identity: two records may be equal field for field. Gone after a reset().
        for index, seen in enumerate(self._requests):
            if seen is record:
                self._requests[index] = record._replace(status=status)
                return

    def _answer(self, request: dict, kind: str, token: str) -> tuple[int, dict, dict[str, str]]:
        if not token or (self.api_key is not None and token != self.api_key):
            # Echoes the key as some servers do, so clients must keep it out of their errors.
            message = (
                f"Incorrect API key provided: {self._echo(token)}"
                if token
                else "Missing bearer token."
            )
            return 401, error_body(message, "invalid_request_error", "invalid_api_key"), {}
        model, charge = str(request.get("model", "")), limit_estimate(request)
        refused = self._admit(model, charge)
        if refused is not None:
            return refused
        status, body, headers = self._reply(request, kind)
        used = body["usage"]["total_tokens"] if status == 200 else 0
        self._give_back(model, charge - used)
        return status, body, headers

    def _reply(self, request: dict, kind: str) -> tuple[int, dict, dict[str, str]]:
        fault = self._take_fault(kind)
        if fault and fault.delay:
            time.sleep(fault.delay)
        if fault and fault.status:
            return fault.status, *_fault_response(fault)
        content = self.responder.respond(request)
        if fault and (fault.invalid_json or fault.content is not None):
            content = INVALID_JSON if fault.invalid_json else fault.content
        body = completion_body(request, content)
        time.sleep(self.seconds_for(body["usage"]["completion_tokens"]))
        return 200, body, {}

    # --- The rate limit (rpm / tpm per window, per model) --------------------------------

    def _admit(self, model: str, charge: int) -> tuple[int, dict, dict[str, str]] | None:
        """Charge one request and `charge` tokens, or refuse with a 429 saying when."""
        if self.rpm is None and self.tpm is None:
            return None
        with self._lock:
            requests, tokens = self._refilled(model)
            short = []
            if self.rpm is not None and requests < 1:
                short.append((1 - requests) * self.window / self.rpm)
            if self.tpm is not None and tokens < charge:
                short.append((charge - tokens) * self.window / self.tpm)
            if short:
                self._over_limit += 1
                wait = max(short)
                message = f"Rate limit reached for {model}: try again in {wait:.3f}s."
                body = error_body(message, "requests", "rate_limit_exceeded")
                return 429, body, {"Retry-After": f"{math.ceil(wait * 1000) / 1000:g}"}
            self._buckets[model] = [requests - 1, tokens - charge, time.monotonic()]
        return None

    def _refilled(self, model: str) -> tuple[float, float]:
        rpm, tpm = self.rpm or 0, self.tpm or 0
        requests, tokens, then = self._buckets.get(model, [rpm, tpm, time.monotonic()])
        elapsed = time.monotonic() - then
        return (
            min(rpm, requests + elapsed * rpm / self.window),
            min(tpm, tokens + elapsed * tpm / self.window),
        )

    def _give_back(self, model: str, tokens: int) -> None:
        if self.tpm is None:
            return
        with self._lock:
            requests, level = self._refilled(model)
            self._buckets[model] = [requests, min(self.tpm, level + tokens), time.monotonic()]

    def _echo(self, token: str) -> str:
        if self.echo_key == "truncated" and len(token) > 14:
            return f"{token[:10]}{'*' * (len(token) - 14)}{token[-4:]}"
        return token

    def seconds_for(self, completion_tokens: int) -> float:
        """The latency model: fixed seconds plus generation time (0 tokens/s = instant)."""
        rate = self.tokens_per_second
        return self.latency + (completion_tokens / rate if rate else 0.0)

    def _take_fault(self, kind: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.kind is None or fault.kind == kind:
                    if fault.times is not None:
                        fault.times -= 1
                        if fault.times <= 0:
                            self._faults.remove(fault)
                    return fault
        return None


# --- Wire format -------------------------------------------------------------------------


def completion_body(request: dict, content: str) -> dict:
    """A ChatCompletion as OpenAI returns it, cut at max_tokens like a real model."""
    limit = request.get("max_completion_tokens") or request.get("max_tokens")
    finish = "stop"
    if limit and tokens(len(content.split())) > limit:
        content, finish = _truncate(content, int(limit / TOKENS_PER_WORD)), "length"
    prompt = tokens(sum(count_words(m) for m in request.get("messages", [])))
    completion = tokens(len(content.split()))
    return {
        "id": f"chatcmpl-standin-{time.monotonic_ns()}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": str(request.get("model", "standin")),
        "system_fingerprint": None,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content, "refusal": None},
                "finish_reason": finish,
                "logprobs": None,
            }
        ],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        },
    }


def limit_estimate(request: dict) -> int:
    """What a provider counts against the limit on arrival: characters / 4 + max_tokens."""
    chars = sum(len(str(m.get("content") or "")) for m in request.get("messages", []))
    limit = request.get("max_completion_tokens") or request.get("max_tokens") or 0
    return math.ceil(chars / 4) + int(limit)


def error_body(message: str, type_: str, code: str | None = None) -> dict:
    return {"error": {"message": message, "type": type_, "param": None, "code": code}}


def _fault_response(fault: Fault) -> tuple[dict, dict[str, str]]:
    headers = {}
    if fault.retry_after is not None:
        headers["Retry-After"] = f"{fault.retry_after:g}"
    if fault.retry_after_ms is not None:
        headers["retry-after-ms"] = str(fault.retry_after_ms)
    type_ = "rate_limit_exceeded" if fault.status == 429 else "server_error"
    message = f"Injected fault: HTTP {fault.status}."
    return error_body(message, type_, fault.code), headers


def tokens(words: int) -> int:
    return round(words * TOKENS_PER_WORD)


def count_words(message: dict) -> int:
    content = message.get("content") or ""
    if isinstance(content, list):  # content parts: [{"type": "text", "text": ...}, ...]
        content = " ".join(str(part.get("text", "")) for part in content)
    return len(str(content).split())


def _truncate(content: str, words: int) -> str:
    """The first `words` words, keeping the original whitespace between them."""
    for index, match in enumerate(_WORD.finditer(content), start=1):
        if index >= words:
            return content[: match.end()]
    return content if words > 0 else ""


def schema_name(request: dict) -> str | None:
    json_schema = (request.get("response_format") or {}).get("json_schema") or {}
    return json_schema.get("name")


def request_schema(request: dict) -> dict | None:
    response_format = request.get("response_format") or {}
    if response_format.get("type") != "json_schema":
        return None
    return (response_format.get("json_schema") or {}).get("schema") or {}


def minimal_instance(schema: dict) -> Any:
    """The smallest value valid against a (simple) JSON schema."""
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    for combinator in ("anyOf", "oneOf", "allOf"):
        if schema.get(combinator):
            return minimal_instance(schema[combinator][0])
    kind = schema.get("type", "object")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object":
        properties = schema.get("properties", {})
        return {name: minimal_instance(properties.get(name, {})) for name in properties}
    if kind == "array":
        return [minimal_instance(schema.get("items", {})) for _ in range(schema.get("minItems", 0))]
    if kind == "string":
        return "stand-in".ljust(schema.get("minLength", 0), "x")
    if kind in ("integer", "number"):
        return schema.get("minimum", 1)
    return {"boolean": False, "null": None}.get(kind)


# --- HTTP --------------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # benchmarks open many connections at once
    standin: LLMStandin

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that timed out and hung up is expected, not a traceback on stderr.
        logger.debug("llm-standin: error answering %s", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "LLMStandin/1.0"

    @property
    def standin(self) -> LLMStandin:
        return self.server.standin  # type: ignore[attr-defined]

    def do_GET(self) -> None:
        if self.path.rstrip("/") != "/v1/models":
            self._send(404, error_body(f"Unknown path {self.path}", "invalid_request_error"))
            return
        data = [
            {"id": m, "object": "model", "created": 0, "owned_by": "standin"}
            for m in self.standin.models
        ]
        self._send(200, {"object": "list", "data": data})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        if self.path.rstrip("/") != "/v1/chat/completions":
            self._send(404, error_body(f"Unknown path {self.path}", "invalid_request_error"))
            return
        try:
            request = json.loads(raw)
        except ValueError:
            self._send(400, error_body("The body is not JSON.", "invalid_request_error"))
            return
        token = self.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        try:
            status, body, headers = self.standin.handle_chat(request, token)
        except Exception as exc:  # a responder bug: report it, and tell the SDK not to retry
            logger.exception("LLM stand-in responder failed")
            body = error_body(f"Responder failed: {exc}", "server_error")
            self._send(500, body, {"x-should-retry": "false"})
            return
        self._send(status, body, headers)

    def _send(self, status: int, body: dict, headers: dict[str, str] | None = None) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("llm-standin: " + format, *args)


# --- Standalone --------------------------------------------------------------------------


def load_responder(spec: str) -> Responder:
    """`"package.module:Class"` -> an instance of that class."""
    module_name, _, class_name = spec.partition(":")
    if not class_name:
        raise SystemExit(f"--responder must look like module:Class, not {spec!r}")
    return getattr(importlib.import_module(module_name), class_name)()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="OpenAI-compatible LLM stand-in on loopback.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8898)
    parser.add_argument("--responder", default="standins.llm_server:EchoResponder")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds per request")
    parser.add_argument("--tokens-per-second", type=float, default=0.0, help="0 = instant")
    parser.add_argument("--rpm", type=int, default=None, help="requests per window, per model")
    parser.add_argument("--tpm", type=int, default=None, help="tokens per window, per model")
    parser.add_argument("--window", type=float, default=60.0, help="seconds (default 60)")
    args = parser.parse_args(argv)
    standin = LLMStandin(
        load_responder(args.responder),
        latency=args.latency,
        tokens_per_second=args.tokens_per_second,
        host=args.host,
        port=args.port,
        rpm=args.rpm,
        tpm=args.tpm,
        window=args.window,
    )
    with standin:
        print(f"LLM stand-in listening: OPENAI_BASE_URL={standin.base_url}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    main()
