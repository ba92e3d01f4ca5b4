"""The `llm_standin` fixture: a running loopback LLM server that settings point at.

Use it from a test module (or a conftest) by binding it to a module-level name (an
assignment rather than an import, so ruff does not flag test arguments as F811):

    from tests import standins_llm_fixtures

    llm_standin = standins_llm_fixtures.llm_standin

By default it answers with `EchoResponder`. Pass your own responder, or any
`LLMStandin` keyword arguments, with an indirect parameter:

    @pytest.mark.parametrize("llm_standin", [WriterResponder()], indirect=True)
    def test_x(llm_standin): ...

    @pytest.mark.parametrize(
        "llm_standin", [{"responder": WriterResponder(), "latency": 0.05}], indirect=True
    )
    def test_y(llm_standin): ...

While the test runs, `settings.OPENAI_BASE_URL` is the stand-in's address and
`settings.OPENAI_API_KEY` is "test-key", so `LLMClient.from_settings()` talks to it;
`llm_standin.counts`, `.total`, `.requests` and `.inject(...)` work as documented in
standins/llm_server.py.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from standins.llm_server import LLMStandin

STANDIN_API_KEY = "test-key"


@pytest.fixture
def llm_standin(request: pytest.FixtureRequest, settings) -> Iterator[LLMStandin]:
    param = getattr(request, "param", None)
    options = param if isinstance(param, dict) else {"responder": param}
    with LLMStandin(**options) as standin:
        settings.OPENAI_BASE_URL = standin.base_url
        settings.OPENAI_API_KEY = STANDIN_API_KEY
        yield standin
