"""The one LLM client: any OpenAI-compatible endpoint through the `openai` SDK.

Retries of 408/409/429/5xx, timeouts and connection errors are the SDK's own
(`max_retries`): it honours `Retry-After` and `retry-after-ms` up to two minutes and
otherwise backs off exponentially from 0.5 s. A client built with a rate limiter
(`from_settings` always builds one) retries in `_send_gated` instead, so that every
resend passes the shared gate (see generation/ratelimit.py for why and how).
This module adds bounded concurrency,
structured output validated against a JSON schema (with one repair request), token and
cost accounting, and errors that say what failed in one line without the API key.
"""

from __future__ import annotations

import asyncio
import functools
import json as jsonlib
import logging
import random
import re
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import openai
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match
from openai.types.chat import ChatCompletionMessageParam

from config.redaction import redact
from generation.exceptions import ConfigurationError, LLMError, NoLLMEndpoint
from generation.operations.usage import CallUsage, UsageLedger, estimate_cost
from generation.ratelimit import Gate, RateLimiter, estimate_tokens

__all__ = ["CallUsage", "LLMClient", "UsageLedger", "estimate_cost"]

logger = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.openai.com/v1"
# Local servers (Ollama, vLLM, LM Studio) ignore the key, but the SDK insists on one.
PLACEHOLDER_KEY = "not-needed"
JSON_TEMPERATURE = 0.2
RETRYABLE_STATUSES = frozenset({408, 409, 429})
_FENCE = re.compile(r"^\s*```[\w-]*[ \t]*\n?(?P<body>.*?)\n?\s*```\s*$", re.DOTALL)
_SECRET_LIKE = re.compile(r"\bsk-[A-Za-z0-9_\-]{8,}")


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    """Loading the CA bundle costs ~20 ms; one context serves every client and loop."""
    return httpx.create_ssl_context()


@dataclass
class _Session:
    """The SDK client and the semaphore of one event loop: neither may cross loops."""

    loop: asyncio.AbstractEventLoop
    api: openai.AsyncOpenAI
    slots: asyncio.Semaphore
    gate: Gate | None = None


class LLMClient:
    """Text and schema-checked JSON completions, recording usage in a shared ledger."""

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str | None,
        model: str,
        fast_model: str,
        concurrency: int,
        timeout: float,
        max_retries: int,
        prices: dict,
        ledger: UsageLedger | None = None,
        limiter: RateLimiter | None = None,
        rate_limit_retries: int = 8,
        on_wait: Callable[[str], None] | None = None,
    ) -> None:
        if concurrency < 1:
            raise ConfigurationError("GENERATION_LLM_CONCURRENCY must be at least 1.")
        if timeout <= 0 or max_retries < 0:
            raise ConfigurationError(
                "GENERATION_LLM_TIMEOUT must be > 0 and GENERATION_LLM_MAX_RETRIES >= 0."
            )
        self._api_key = api_key
        # Explicit, so the SDK never falls back to reading OPENAI_BASE_URL behind our back.
        self.base_url = base_url or DEFAULT_BASE_URL
        self.model = model
        self.fast_model = fast_model or model
        self.concurrency = concurrency
        self.timeout = timeout
        self.max_retries = max_retries
        self.prices = prices
        self.ledger = ledger if ledger is not None else UsageLedger()
        self.limiter = limiter
        self.rate_limit_retries = rate_limit_retries
        # Told "waiting 4 s for the rate limit" when a call must wait its turn.
        self.on_wait = on_wait
        self._session: _Session | None = None

    @classmethod
    def from_settings(
        cls,
        *,
        ledger: UsageLedger | None = None,
        on_wait: Callable[[str], None] | None = None,
    ) -> LLMClient:
        """A client configured from Django settings (OPENAI_*, GENERATION_*)."""
        from django.conf import settings

        key = settings.OPENAI_API_KEY.strip()
        base_url = settings.OPENAI_BASE_URL.strip()
        if not key and not base_url:
            raise NoLLMEndpoint()
        timeout = settings.GENERATION_LLM_TIMEOUT
        return cls(
            api_key=key or PLACEHOLDER_KEY,
            base_url=base_url or None,
            model=settings.GENERATION_MODEL,
            fast_model=settings.GENERATION_FAST_MODEL,
            concurrency=settings.GENERATION_LLM_CONCURRENCY,
            timeout=timeout,
            max_retries=settings.GENERATION_LLM_MAX_RETRIES,
            prices=settings.GENERATION_PRICES,
            ledger=ledger,
            limiter=RateLimiter.from_settings(
                base_url=base_url or DEFAULT_BASE_URL, timeout=timeout
            ),
            rate_limit_retries=settings.LLM_RATE_LIMIT_RETRIES,
            on_wait=on_wait,
        )

    async def __aenter__(self) -> LLMClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP connections of the running loop's session."""
        session, self._session = self._session, None
        if session is not None and session.loop is asyncio.get_running_loop():
            await session.api.close()
            if session.gate is not None:
                await session.gate.aclose()

    async def text(
        self,
        *,
        system: str,
        user: str,
        stage: str,
        fast: bool = False,
        max_tokens: int = 1500,
        temperature: float = 0.7,
    ) -> str:
        """Free text from the writing model (or the fast one)."""
        model = self.fast_model if fast else self.model
        messages: list[ChatCompletionMessageParam] = [
            {"role": "system", "content": system},
            {"role": "user", "content": user},
        ]
        content, finish = await self._complete(
            messages, stage=stage, model=model, max_tokens=max_tokens, temperature=temperature
        )
        if not content.strip():
            raise LLMError(f"{self._where(stage, model)} returned an empty reply ({finish}).")
        if finish == "length":
            logger.warning("LLM stage=%s model=%s hit max_tokens=%d", stage, model, max_tokens)
        return content

    async def json(
        self,
        *,
        system: str,
        user: str,
        schema_name: str,
        schema: dict,
        stage: str,
        fast: bool = False,
        max_tokens: int = 1500,
    ) -> dict:
        """A JSON object valid against `schema`; one repair request if the first is not."""
        model = self.fast_model if fast else self.model
        validator = Draft202012Validator(schema)
        messages: list[ChatCompletionMessageParam] = [
            {"role": "system", "content": _json_system(system, schema)},
            {"role": "user", "content": user},
        ]
        call = functools.partial(
            self._complete,
            stage=stage,
            model=model,
            max_tokens=max_tokens,
            temperature=JSON_TEMPERATURE,
            response_format={
                "type": "json_schema",
                "json_schema": {"name": schema_name, "schema": schema, "strict": True},
            },
        )
        reply, _ = await call(messages)
        value, problem = parse_json_reply(reply, validator)
        if problem is None:
            return value
        logger.warning(
            "LLM stage=%s schema=%s: %s; asking for a repair", stage, schema_name, problem
        )
        messages += [
            {"role": "assistant", "content": reply},
            {"role": "user", "content": _repair_prompt(problem)},
        ]
        reply, _ = await call(messages)
        value, problem = parse_json_reply(reply, validator)
        if problem is None:
            return value
        raise LLMError(
            f"{self._where(stage, model)} returned unusable JSON for {schema_name!r} "
            f"even after one repair: {problem}"
        )

    # --- One request ---------------------------------------------------------------------

    async def _complete(
        self, messages: list[ChatCompletionMessageParam], *, stage: str, model: str, **params: Any
    ) -> tuple[str, str]:
        """One chat completion (the SDK retries it); returns (content, finish_reason)."""
        session = self._current_session()
        # SDK retry sleeps happen inside the slot: a rate-limited endpoint gets fewer
        # requests while it recovers, not more.
        async with session.slots:
            started = time.perf_counter()
            try:
                if session.gate is not None:
                    response = await self._send_gated(
                        session.gate, session.api, messages, model, params
                    )
                else:
                    response = await session.api.chat.completions.create(
                        model=model, messages=messages, **params
                    )
            except openai.APIError as exc:
                # `from None`: the SDK error's text may quote the request's credentials.
                raise self._error(exc, stage=stage, model=model) from None
            seconds = time.perf_counter() - started
        self._record(response, stage=stage, model=model, seconds=seconds)
        if not response.choices:
            raise LLMError(f"{self._where(stage, model)} returned no choices.")
        choice = response.choices[0]
        return choice.message.content or "", choice.finish_reason or "unknown"

    def _current_session(self) -> _Session:
        """The running loop's session; the pipeline runs each stage on a new loop."""
        loop = asyncio.get_running_loop()
        if self._session is None or self._session.loop is not loop:
            # A session of a finished loop cannot be closed from here; its sockets
            # were bound to that loop and are released with it.
            gate = self.limiter.connect() if self.limiter is not None else None
            self._session = _Session(
                loop, self._new_api(), asyncio.Semaphore(self.concurrency), gate
            )
        return self._session

    async def _send_gated(
        self,
        gate: Gate,
        api: openai.AsyncOpenAI,
        messages: list[ChatCompletionMessageParam],
        model: str,
        params: dict[str, Any],
    ) -> Any:
        """One completion through the shared rate limit, retried here (the SDK's retries
        are off): a 429 pauses the endpoint for every worker and is tried again after the
        pause; other retryable failures back off as the SDK would."""
        estimate = estimate_tokens(messages, int(params.get("max_tokens") or 0))
        limited = failed = 0
        while True:
            ticket = await gate.acquire(model, estimate, on_wait=self.on_wait)
            try:
                response = await api.chat.completions.create(
                    model=model, messages=messages, **params
                )
            except openai.RateLimitError as exc:
                if _error_code(exc) == "insufficient_quota":
                    await gate.abandon(ticket)
                    raise
                await gate.rate_limited(ticket, exc.response.headers)
                if limited >= self.rate_limit_retries:
                    raise
                limited += 1
                continue
            except openai.APIError as exc:
                await gate.abandon(ticket)
                if failed >= self.max_retries or not _retryable(exc):
                    raise
                failed += 1
                await asyncio.sleep(_backoff(exc, failed))
                continue
            usage = response.usage
            await gate.settle(ticket, used=(usage.total_tokens or 0) if usage else estimate)
            return response

    def _new_api(self) -> openai.AsyncOpenAI:
        return openai.AsyncOpenAI(
            api_key=self._api_key,
            base_url=self.base_url,
            timeout=self.timeout,
            # With a gate, every resend must pass it: _send_gated retries, not the SDK.
            max_retries=0 if self.limiter is not None else self.max_retries,
            http_client=openai.DefaultAsyncHttpxClient(verify=_ssl_context()),
        )

    def _record(self, response: Any, *, stage: str, model: str, seconds: float) -> None:
        usage = response.usage
        prompt = (usage.prompt_tokens or 0) if usage else 0
        completion = (usage.completion_tokens or 0) if usage else 0
        cost, priced = estimate_cost(model, prompt, completion, self.prices)
        self.ledger.add(
            CallUsage(stage, model, prompt, completion, cost, round(seconds, 3), priced)
        )
        logger.info(
            "LLM call stage=%s model=%s prompt_tokens=%d completion_tokens=%d seconds=%.2f%s",
            stage,
            model,
            prompt,
            completion,
            seconds,
            "" if priced else " (model has no price: cost counted as 0)",
        )

    # --- Errors --------------------------------------------------------------------------

    def _where(self, stage: str, model: str) -> str:
        url = httpx.URL(self.base_url)
        port = f":{url.port}" if url.port else ""
        return f"LLM call for stage {stage!r} (model {model} at {url.scheme}://{url.host}{port})"

    def _error(self, exc: openai.APIError, *, stage: str, model: str) -> LLMError:
        where = self._where(stage, model)
        if isinstance(exc, openai.APITimeoutError):
            return LLMError(
                f"{where} timed out after {self.timeout:g}s (retried {self.max_retries} times)."
            )
        if isinstance(exc, openai.APIConnectionError):
            cause = self._redact(str(exc.__cause__ or exc))
            return LLMError(
                f"{where} could not connect (retried {self.max_retries} times): {cause}"
            )
        if isinstance(exc, openai.APIStatusError):
            status = exc.status_code
            detail = self._redact(_server_message(exc))
            if status in RETRYABLE_STATUSES or status >= 500:
                # Out of quota is a 429 too, but waiting will not refill it.
                permanent = _error_code(exc) == "insufficient_quota"
                gated_429 = status == 429 and self.limiter is not None and not permanent
                retried = self.rate_limit_retries if gated_429 else self.max_retries
                return LLMError(
                    f"{where} failed with HTTP {status} (retried {retried} times): {detail}",
                    permanent=permanent,
                )
            return LLMError(f"{where} was refused with HTTP {status}: {detail}", permanent=True)
        return LLMError(f"{where} failed: {self._redact(str(exc))}")

    def _redact(self, text: str) -> str:
        # Servers echo keys, sometimes truncated: the key and any 8-char prefix go.
        if len(self._api_key) >= 4:
            text = text.replace(self._api_key, "[redacted]")
        text = redact(text, extra=[self._api_key])
        return _one_line(_SECRET_LIKE.sub("[redacted]", text))


# --- JSON replies ----------------------------------------------------------------------


def parse_json_reply(reply: str, validator: Draft202012Validator) -> tuple[dict, str | None]:
    """(object, None) when `reply` holds a JSON object valid for `validator`, else ({}, why)."""
    text = strip_fences(reply)
    if not text.strip():
        return {}, "the reply was empty"
    try:
        value = jsonlib.loads(text)
    except jsonlib.JSONDecodeError as exc:
        value = _embedded_object(text)
        if value is None:
            return {}, f"not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
    error = best_match(validator.iter_errors(value))
    if error is not None:
        path = "/".join(str(part) for part in error.absolute_path) or "(root)"
        return {}, f"does not match the schema at {path}: {_one_line(error.message)}"
    if not isinstance(value, dict):
        return {}, "expected a JSON object"
    return value, None


def strip_fences(reply: str) -> str:
    """Local models often wrap JSON in ```json fences despite being told not to."""
    match = _FENCE.match(reply)
    return match.group("body") if match else reply


def _embedded_object(text: str) -> Any:
    """The object in "Here is the JSON: {...}", when the model added prose around it."""
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end <= start:
        return None
    try:
        return jsonlib.loads(text[start : end + 1])
    except jsonlib.JSONDecodeError:
        return None


def _json_system(system: str, schema: dict) -> str:
    # Servers that ignore response_format still get told the shape in words.
    compact = jsonlib.dumps(schema, separators=(",", ":"))
    return (
        f"{system}\n\nReply with one JSON object only (no prose, no code fences) "
        f"matching this JSON schema: {compact}"
    )


def _repair_prompt(problem: str) -> str:
    return (
        f"That reply cannot be used: {problem}. Reply again with the corrected JSON object "
        "only, matching the schema exactly; no prose, no code fences."
    )


# --- Error details ---------------------------------------------------------------------


def _retryable(exc: openai.APIError) -> bool:
    """What the SDK itself retries: timeouts, refused connections, 408/409/429/5xx."""
    if isinstance(exc, openai.APIConnectionError):  # APITimeoutError is one too
        return True
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code in RETRYABLE_STATUSES or exc.status_code >= 500
    return False


def _backoff(exc: openai.APIError, retry: int) -> float:
    """The SDK's wait before retry `retry`: the server's Retry-After when it sends one
    (up to a minute), else 0.5 s doubling to 8 s, less up to a quarter of jitter."""
    response = getattr(exc, "response", None)
    if response is not None:
        try:
            asked = float(response.headers.get("retry-after", ""))
        except ValueError:
            asked = -1.0
        if 0 < asked <= 60:
            return asked
    return min(0.5 * 2 ** (retry - 1), 8.0) * (1 - 0.25 * random.random())


def _server_message(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict) and body.get("message"):
        return str(body["message"])
    return exc.message


def _error_code(exc: openai.APIStatusError) -> str | None:
    body = exc.body
    return body.get("code") if isinstance(body, dict) else None


def _one_line(text: str, limit: int = 300) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
