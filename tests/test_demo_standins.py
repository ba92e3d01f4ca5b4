"""The offline demo's stand-ins listen on fixed, settable ports."""

from __future__ import annotations

import socket
import urllib.request

import pytest

from standins.demo import DemoUnavailable, demo_ports, demo_standins


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_default_ports_are_fixed():
    assert demo_ports({}) == (8898, 8899)


def test_a_source_link_still_works_after_a_restart():
    env = {"DEMO_LLM_PORT": str(free_port()), "DEMO_WEB_PORT": str(free_port())}
    with demo_standins(env) as first:
        link = f"{first['SEARXNG_URL']}/pages/redis-rq-basics"
        with urllib.request.urlopen(link, timeout=5) as response:
            assert response.status == 200
    with demo_standins(env) as second:  # `make run` stopped and started again
        assert second == first
        assert second["OPENAI_BASE_URL"] == f"http://127.0.0.1:{env['DEMO_LLM_PORT']}/v1"
        with urllib.request.urlopen(link, timeout=5) as response:
            assert b"Background Jobs with Redis and RQ" in response.read()


def test_a_busy_port_names_the_variable_to_change():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        env = {"DEMO_LLM_PORT": str(free_port()), "DEMO_WEB_PORT": str(port)}
        expected = rf"127\.0\.0\.1:{port} .*set DEMO_WEB_PORT"
        with pytest.raises(DemoUnavailable, match=expected), demo_standins(env):
            pass


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DEMO_WEB_PORT": "http"}, "DEMO_WEB_PORT='http' is not a port number"),
        ({"DEMO_LLM_PORT": "70000"}, "DEMO_LLM_PORT='70000' is not a port number"),
        ({"DEMO_LLM_PORT": "9000", "DEMO_WEB_PORT": "9000"}, "must differ"),
    ],
)
def test_bad_ports_are_refused_in_one_line(env, message):
    with pytest.raises(DemoUnavailable, match=message):
        demo_ports(env)


def test_pages_of_your_own_are_searched_beside_the_corpus(tmp_path):
    ports = {"DEMO_LLM_PORT": str(free_port()), "DEMO_WEB_PORT": str(free_port())}
    with demo_standins(ports) as plain:
        assert plain["RESEARCH_PROVIDERS"] == "searxng"
    with demo_standins({**ports, "RESEARCH_LOCAL_DIR": str(tmp_path)}) as own:
        assert own["RESEARCH_PROVIDERS"] == "searxng,local"
