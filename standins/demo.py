"""Start the offline demo's stand-ins and say how to point the site at them.

Both servers run in threads of the calling process on fixed loopback ports (8898 for the
OpenAI-compatible writer, 8899 for the bundled corpus behind a SearXNG-style search;
DEMO_LLM_PORT and DEMO_WEB_PORT change them), so the source links of a demo post keep
working after `make run` restarts. The search is as messy as a real one: every other
result is unusable. The returned environment is all that differs from a real deployment.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping

from standins.llm_server import LLMStandin
from standins.web import WebStandin
from standins.writer import WriterResponder

BANNER = (
    "Offline demo: neither OPENAI_API_KEY nor OPENAI_BASE_URL is set, so posts are written "
    "by the bundled stand-in LLM from a bundled corpus (set either variable for real posts)."
)
DEFAULT_PORTS = {"DEMO_LLM_PORT": 8898, "DEMO_WEB_PORT": 8899}


class DemoUnavailable(RuntimeError):
    """A stand-in cannot start (bad or busy port); the message says what to change."""


def demo_ports(env: Mapping[str, str]) -> tuple[int, int]:
    """(LLM port, web port) from DEMO_LLM_PORT and DEMO_WEB_PORT, or the defaults."""
    ports = []
    for name, default in DEFAULT_PORTS.items():
        raw = str(env.get(name) or default).strip()
        if not raw.isdigit() or not 1 <= int(raw) <= 65535:
            raise DemoUnavailable(f"{name}={raw!r} is not a port number (1-65535).")
        ports.append(int(raw))
    if ports[0] == ports[1]:
        raise DemoUnavailable("DEMO_LLM_PORT and DEMO_WEB_PORT must differ.")
    return ports[0], ports[1]


@contextlib.contextmanager
def demo_standins(
    env: Mapping[str, str] | None = None, *, latency: float = 0.0, page_delay: float = 0.0
) -> Iterator[dict[str, str]]:
    """Run both stand-ins; yield the environment variables that point the site at them."""
    env = env or {}
    llm_port, web_port = demo_ports(env)
    with (
        _started(
            "DEMO_LLM_PORT",
            llm_port,
            lambda: LLMStandin(WriterResponder(), latency=latency, port=llm_port).start(),
        ) as llm,
        _started(
            "DEMO_WEB_PORT",
            web_port,
            lambda: WebStandin(page_delay=page_delay, port=web_port, messy=True).start(),
        ) as web,
    ):
        yield {
            "OPENAI_BASE_URL": llm.base_url,
            "OPENAI_API_KEY": "demo",
            "GENERATION_MODEL": "standin-writer",
            "GENERATION_FAST_MODEL": "standin-fast",
            # Pages of your own (RESEARCH_LOCAL_DIR) are searched beside the bundled corpus.
            "RESEARCH_PROVIDERS": "searxng,local" if env.get("RESEARCH_LOCAL_DIR") else "searxng",
            "SEARXNG_URL": web.base_url,
            "RESEARCH_ALLOW_HOSTS": web.host_port,
            "DRB_DEMO": "1",
        }


@contextlib.contextmanager
def _started(variable: str, port: int, start):
    try:
        server = start()
    except OSError as exc:
        raise DemoUnavailable(
            f"The demo cannot listen on 127.0.0.1:{port} ({exc.strerror}): stop what uses it "
            f"or set {variable} to a free port."
        ) from exc
    try:
        yield server
    finally:
        server.stop()


def needs_demo(env: dict[str, str]) -> bool:
    """The demo runs when no LLM endpoint is configured at all."""
    return not env.get("OPENAI_API_KEY") and not env.get("OPENAI_BASE_URL")
