"""LLMClient through the real openai SDK, over HTTP, against the loopback LLM stand-in."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from decimal import Decimal

import httpx
import pytest

from generation.exceptions import ConfigurationError, LLMError
from generation.pipeline.llm import LLMClient, UsageLedger, estimate_cost
from standins.llm_server import EchoResponder, LLMStandin
from tests import standins_llm_fixtures

llm_standin = standins_llm_fixtures.llm_standin  # the shared fixture, for this module

PRICES = {"standin-writer": (0.15, 0.60)}
OUTLINE = {
    "type": "object",
    "properties": {
        "title": {"type": "string"},
        "sections": {
            "type": "array",
            "minItems": 2,
            "items": {
                "type": "object",
                "properties": {"heading": {"type": "string"}},
                "required": ["heading"],
                "additionalProperties": False,
            },
        },
    },
    "required": ["title", "sections"],
    "additionalProperties": False,
}
VALID_OUTLINE = '{"title": "T", "sections": [{"heading": "a"}, {"heading": "b"}]}'


class RecordingResponder(EchoResponder):
    """EchoResponder that keeps every request body, to check what the client sent."""

    def __init__(self) -> None:
        self.seen: list[dict] = []

    def respond(self, request: dict) -> str:
        self.seen.append(request)
        return super().respond(request)


@pytest.fixture
def standin():
    with LLMStandin(RecordingResponder()) as server:
        yield server


def make_client(server: LLMStandin, **overrides) -> LLMClient:
    options = {
        "api_key": "test-key",
        "base_url": server.base_url,
        "model": "standin-writer",
        "fast_model": "standin-fast",
        "concurrency": 4,
        "timeout": 5.0,
        "max_retries": 2,
        "prices": PRICES,
    }
    return LLMClient(**{**options, **overrides})


def run(client: LLMClient, call):
    """Run `call(client)` on a fresh event loop, as the pipeline does for each stage."""

    async def main():
        async with client:
            return await call(client)

    return asyncio.run(main())


def outline_call(llm: LLMClient):
    return llm.json(
        system="Plan.", user="Topic: x", schema_name="outline", schema=OUTLINE, stage="outline"
    )


def test_text_returns_the_reply_and_uses_the_fast_model_on_request(standin):
    client = make_client(standin)
    reply = run(client, lambda llm: llm.text(system="Be brief.", user="Hello there", stage="topic"))
    fast = run(client, lambda llm: llm.text(system="s", user="u", stage="topic", fast=True))
    assert reply.startswith("This is the stand-in model")
    assert fast
    assert [r.model for r in standin.requests] == ["standin-writer", "standin-fast"]
    assert standin.counts["text"] == 2


def test_json_returns_a_schema_valid_object_using_structured_output(standin):
    result = run(make_client(standin), outline_call)
    assert result == {"title": "stand-in", "sections": [{"heading": "stand-in"}] * 2}
    sent = standin.responder.seen[0]["response_format"]
    assert sent["type"] == "json_schema"
    assert sent["json_schema"] == {"name": "outline", "schema": OUTLINE, "strict": True}
    assert standin.counts["outline"] == 1


def test_429_with_retry_after_is_waited_out_then_succeeds(standin):
    standin.inject(status=429, retry_after=0.4)
    started = time.perf_counter()
    run(make_client(standin), lambda llm: llm.text(system="s", user="u", stage="topic"))
    assert time.perf_counter() - started >= 0.4
    first, second = standin.requests
    assert (first.status, second.status) == (429, 200)
    assert second.time - first.time >= 0.4


def test_retry_after_ms_is_honoured(standin):
    standin.inject(status=429, retry_after=None, retry_after_ms=250)
    run(make_client(standin), lambda llm: llm.text(system="s", user="u", stage="topic"))
    first, second = standin.requests
    assert second.time - first.time >= 0.25


def test_500_without_retry_after_is_retried_with_backoff(standin):
    standin.inject(status=500, retry_after=None)
    reply = run(make_client(standin), lambda llm: llm.text(system="s", user="u", stage="topic"))
    assert reply
    first, second = standin.requests
    assert (first.status, second.status) == (500, 200)
    assert second.time - first.time >= 0.3  # the SDK's first backoff is 0.375-0.5 s


def test_exhausted_retries_raise_a_retryable_error_naming_the_status(standin):
    standin.inject(status=503, retry_after=0.05, times=None)
    client = make_client(standin, max_retries=2)
    with pytest.raises(LLMError, match=r"HTTP 503 \(retried 2 times\)") as caught:
        run(client, lambda llm: llm.text(system="s", user="u", stage="sections"))
    assert not caught.value.permanent
    assert "'sections'" in str(caught.value)
    assert standin.total == 3


def test_out_of_quota_429_is_permanent(standin):
    standin.inject(status=429, retry_after=0.05, code="insufficient_quota", times=None)
    with pytest.raises(LLMError) as caught:
        run(
            make_client(standin, max_retries=0),
            lambda llm: llm.text(system="s", user="u", stage="t"),
        )
    assert caught.value.permanent


def test_timeout_is_retried_then_succeeds(standin):
    standin.inject(delay=1.5)
    client = make_client(standin, timeout=0.3, max_retries=1)
    assert run(client, lambda llm: llm.text(system="s", user="u", stage="topic"))
    assert standin.total == 2


def test_timeout_after_retries_raises(standin):
    standin.inject(delay=1.0, times=None)
    client = make_client(standin, timeout=0.2, max_retries=0)
    with pytest.raises(LLMError, match=r"timed out after 0\.2s"):
        run(client, lambda llm: llm.text(system="s", user="u", stage="topic"))


def test_unreachable_endpoint_raises_a_connection_error():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again before the client connects
    client = LLMClient(
        api_key="k", base_url=f"http://127.0.0.1:{port}/v1", model="m", fast_model="m",
        concurrency=1, timeout=2, max_retries=0, prices={},
    )  # fmt: skip
    with pytest.raises(LLMError, match="could not connect"):
        run(client, lambda llm: llm.text(system="s", user="u", stage="topic"))


def test_invalid_json_gets_exactly_one_repair_request(standin):
    standin.inject(kind="outline", invalid_json=True)
    result = run(make_client(standin), outline_call)
    assert len(result["sections"]) == 2
    assert standin.counts["outline"] == 2
    repair = standin.responder.seen[1]["messages"]
    assert repair[-2]["role"] == "assistant"
    assert repair[-2]["content"].startswith('{"title": "A reply cut off')
    assert "not valid JSON" in repair[-1]["content"]
    assert "corrected JSON" in repair[-1]["content"]


def test_invalid_json_twice_raises_and_both_calls_are_counted(standin):
    standin.inject(kind="outline", invalid_json=True, times=2)
    ledger = UsageLedger()
    with pytest.raises(LLMError, match="unusable JSON for 'outline' even after one repair"):
        run(make_client(standin, ledger=ledger), outline_call)
    assert standin.total == 2
    assert ledger.totals()["calls"] == 2


def test_schema_mismatch_is_repaired(standin):
    standin.inject(kind="outline", content='{"title": "T", "sections": []}')
    result = run(make_client(standin), outline_call)
    assert len(result["sections"]) == 2
    assert (
        "does not match the schema at sections"
        in standin.responder.seen[1]["messages"][-1]["content"]
    )


def test_fenced_json_from_local_models_is_accepted_without_repair(standin):
    standin.inject(kind="outline", content=f"```json\n{VALID_OUTLINE}\n```")
    assert run(make_client(standin), outline_call)["title"] == "T"
    assert standin.total == 1


def test_concurrent_calls_never_exceed_the_concurrency_bound():
    with LLMStandin(latency=0.1) as server:
        client = make_client(server, concurrency=3)

        async def ten(llm: LLMClient):
            calls = [llm.text(system="s", user=f"u{i}", stage="sections") for i in range(10)]
            return await asyncio.gather(*calls)

        assert len(run(client, ten)) == 10
        assert server.max_in_flight == 3
        assert server.total == 10


def test_usage_and_cost_are_recorded_per_stage(standin):
    ledger = UsageLedger()
    client = make_client(standin, ledger=ledger)
    run(client, lambda llm: llm.text(system="s", user="u", stage="topic"))
    run(client, outline_call)  # a new event loop, the same client and ledger
    run(client, lambda llm: llm.text(system="s", user="u", stage="topic", fast=True))
    stages = ledger.by_stage()
    assert list(stages) == ["topic", "outline"]
    assert stages["topic"]["calls"] == 2
    assert stages["topic"]["unpriced_calls"] == 1  # standin-fast has no price
    outline_usage = ledger.calls[1]
    assert outline_usage.prompt_tokens > 0 and outline_usage.completion_tokens > 0
    tokens = (outline_usage.prompt_tokens, outline_usage.completion_tokens)
    expected, priced = estimate_cost("standin-writer", *tokens, PRICES)
    assert priced and outline_usage.cost_usd == expected > 0
    assert ledger.calls[2].cost_usd == 0 and not ledger.calls[2].priced
    totals = ledger.totals()
    assert totals["calls"] == 3
    assert isinstance(totals["cost_usd"], Decimal)
    assert totals["prompt_tokens"] == sum(s["prompt_tokens"] for s in stages.values())


def test_estimate_cost_prices_dated_snapshots_by_family():
    prices = {"gpt-4o": (2.5, 10.0), "gpt-4o-mini": (0.15, 0.6)}
    assert estimate_cost("gpt-4o-mini-2024-07-18", 1_000_000, 0, prices) == (Decimal("0.15"), True)
    assert estimate_cost("gpt-4o", 0, 1_000_000, prices) == (Decimal("10.0"), True)
    assert estimate_cost("llama3.1:8b", 500, 500, prices) == (Decimal(0), False)


def test_missing_key_and_base_url_name_both_settings(settings):
    settings.OPENAI_API_KEY = ""
    settings.OPENAI_BASE_URL = ""
    with pytest.raises(ConfigurationError) as caught:
        LLMClient.from_settings()
    assert "OPENAI_API_KEY" in str(caught.value) and "OPENAI_BASE_URL" in str(caught.value)
    assert caught.value.permanent


def test_from_settings_talks_to_the_standin_fixture(llm_standin):
    ledger = UsageLedger()
    client = LLMClient.from_settings(ledger=ledger)
    assert run(client, lambda llm: llm.text(system="s", user="u", stage="topic"))
    assert llm_standin.total == 1 and ledger.totals()["calls"] == 1


def test_base_url_without_key_works_with_a_placeholder_key(llm_standin, settings):
    settings.OPENAI_API_KEY = ""  # Ollama and friends need no key
    client = LLMClient.from_settings()
    assert run(client, lambda llm: llm.text(system="s", user="u", stage="topic"))
    assert llm_standin.requests[0].status == 200


def test_401_is_permanent_and_never_shows_the_key(caplog):
    secret = "sk-wrong-0123456789abcdef"
    caplog.set_level(logging.DEBUG)
    with LLMStandin(api_key="the-right-key") as server:
        client = make_client(server, api_key=secret)
        with pytest.raises(LLMError, match="HTTP 401") as caught:
            run(client, lambda llm: llm.text(system="s", user="u", stage="topic"))
        assert server.total == 1  # never retried
    assert caught.value.permanent
    assert secret not in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    assert secret not in caplog.text


def test_each_call_logs_one_line_without_the_prompt(standin, caplog):
    caplog.set_level(logging.INFO, logger="generation.pipeline.llm")
    run(
        make_client(standin),
        lambda llm: llm.text(system="s", user="very private prompt", stage="topic"),
    )
    lines = [r.getMessage() for r in caplog.records if r.name == "generation.pipeline.llm"]
    assert len(lines) == 1
    assert "stage=topic model=standin-writer" in lines[0] and "prompt_tokens=" in lines[0]
    assert "very private prompt" not in caplog.text


def test_standin_lists_models_and_requires_a_bearer_token(standin):
    models = httpx.get(f"{standin.base_url}/models").json()
    assert [m["id"] for m in models["data"]] == ["standin-writer", "standin-fast"]
    response = httpx.post(
        f"{standin.base_url}/chat/completions", json={"model": "m", "messages": []}
    )
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"


def test_standin_cuts_replies_at_max_tokens(standin):
    reply = run(
        make_client(standin), lambda llm: llm.text(system="s", user="u", stage="t", max_tokens=4)
    )
    assert len(reply.split()) == 3
    assert standin.requests[0].status == 200
