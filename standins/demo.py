"""Start the offline demo's stand-ins and say how to point the site at them.

Both servers run in threads of the calling process on free loopback ports: the
OpenAI-compatible writer and the bundled corpus behind a SearXNG-style search. The
returned environment is all that differs from a real deployment.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from standins.llm_server import LLMStandin
from standins.web import WebStandin
from standins.writer import WriterResponder

BANNER = (
    "Offline demo: neither OPENAI_API_KEY nor OPENAI_BASE_URL is set, so posts are written "
    "by the bundled stand-in LLM from a bundled corpus (set either variable for real posts)."
)


@contextlib.contextmanager
def demo_standins(*, latency: float = 0.0, page_delay: float = 0.0) -> Iterator[dict[str, str]]:
    """Run both stand-ins; yield the environment variables that point the site at them."""
    with (
        LLMStandin(WriterResponder(), latency=latency) as llm,
        WebStandin(page_delay=page_delay) as web,
    ):
        yield {
            "OPENAI_BASE_URL": llm.base_url,
            "OPENAI_API_KEY": "demo",
            "GENERATION_MODEL": "standin-writer",
            "GENERATION_FAST_MODEL": "standin-fast",
            "RESEARCH_PROVIDERS": "searxng",
            "SEARXNG_URL": web.base_url,
            "RESEARCH_ALLOW_HOSTS": web.host_port,
            "DRB_DEMO": "1",
        }


def needs_demo(env: dict[str, str]) -> bool:
    """The demo runs when no LLM endpoint is configured at all."""
    return not env.get("OPENAI_API_KEY") and not env.get("OPENAI_BASE_URL")
