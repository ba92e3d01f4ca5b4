"""Settings come from the environment; bad or missing values stop start-up clearly."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    base = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp")}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**base, "LOG_DIR": str(ROOT / "logs" / "test"), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": "a-long-random-production-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
    "ALLOWED_HOSTS": "blog.example.com",
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/test",
}


def test_check_deploy_passes_with_production_values():
    result = manage("check", "--deploy", **PRODUCTION)
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_missing_secret_key_with_debug_off_refuses_to_start():
    result = manage("check", **{**PRODUCTION, "SECRET_KEY": ""})
    assert result.returncode != 0
    assert "SECRET_KEY is required when DEBUG is off" in result.stderr


def test_bad_number_names_the_variable():
    result = manage("check", **{**PRODUCTION, "GENERATION_LLM_CONCURRENCY": "many"})
    assert result.returncode != 0
    assert "GENERATION_LLM_CONCURRENCY" in result.stderr


def test_bad_retry_intervals_name_the_variable():
    result = manage("check", **{**PRODUCTION, "GENERATION_RETRY_INTERVALS": "60,soon"})
    assert result.returncode != 0
    assert "GENERATION_RETRY_INTERVALS" in result.stderr


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("GENERATION_MAX_REMOVED_SHARE", "1.5", "must be between 0 and 1"),
        ("GENERATION_MAX_REMOVED_SHARE", "a quarter", "is invalid"),
        ("GENERATION_CITATION_THRESHOLD", "-0.1", "must be between 0 and 1"),
        ("GENERATION_CITATION_JUDGE", "perhaps", "is invalid"),
    ],
)
def test_bad_citation_settings_name_the_variable(name, value, message):
    result = manage("check", **{**PRODUCTION, name: value})
    assert result.returncode != 0
    assert name in result.stderr and message in result.stderr


def setting(name: str, **env: str) -> str:
    code = f"from django.conf import settings; print(settings.{name})"
    result = manage("shell", "-c", code, **{**PRODUCTION, **env})
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def test_default_llm_concurrency_writes_every_piece_of_a_post_in_one_round():
    # Sections, plus the introduction/conclusion and the metadata draft alongside them.
    assert setting("GENERATION_LLM_CONCURRENCY") == "8"
    assert setting("GENERATION_LLM_CONCURRENCY", GENERATION_SECTIONS="10") == "12"
    assert setting("GENERATION_LLM_CONCURRENCY", GENERATION_LLM_CONCURRENCY="3") == "3"


def test_research_limits_that_contradict_each_other_name_the_variable():
    result = manage("check", **{**PRODUCTION, "RESEARCH_MIN_SOURCES": "20"})
    assert result.returncode != 0
    assert "RESEARCH_MIN_SOURCES must not exceed RESEARCH_MAX_SOURCES" in result.stderr
    result = manage("check", **{**PRODUCTION, "RESEARCH_RELEVANCE_FLOOR": "1.5"})
    assert "RESEARCH_RELEVANCE_FLOOR must be at least 0 and below 1" in result.stderr


def test_bad_schedule_settings_name_the_variable():
    result = manage("check", **{**PRODUCTION, "SCHEDULE_TICK_SECONDS": "0"})
    assert result.returncode != 0
    assert "SCHEDULE_TICK_SECONDS must be at least 1" in result.stderr
    result = manage("check", **{**PRODUCTION, "SCHEDULE_GRACE_SECONDS": "90"})  # < 2 x 60 s
    assert result.returncode != 0
    assert "SCHEDULE_GRACE_SECONDS must be at least twice SCHEDULE_TICK_SECONDS" in result.stderr


# --- Placeholders from deploy/production.env.example ------------------------------------


def _example_env() -> dict[str, str]:
    """deploy/production.env.example as the environment, logs kept in the test folder."""
    values = {}
    for line in (ROOT / "deploy" / "production.env.example").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#") and "=" in line:
            name, _, value = line.partition("=")
            values[name.strip()] = value.strip().strip('"')
    return {**values, "LOG_DIR": str(ROOT / "logs" / "test")}


def test_check_deploy_fails_on_the_example_env_file():
    result = manage("check", "--deploy", **_example_env())
    assert result.returncode != 0
    assert "config.E001" in result.stderr and "SECRET_KEY is a placeholder" in result.stderr
    assert "config.E002" in result.stderr and "METRICS_TOKEN is a placeholder" in result.stderr
    assert "config.E004" in result.stderr and "password is the placeholder" in result.stderr


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"SECRET_KEY": "replace-with-a-real-key-0123456789"}, "SECRET_KEY is a placeholder"),
        ({"SECRET_KEY": "x" * 40 + "change-me"}, "SECRET_KEY is a placeholder"),
        ({"METRICS_TOKEN": "an-example-token-" + "x" * 40}, "METRICS_TOKEN is a placeholder"),
        ({"METRICS_TOKEN": "short-but-random-31-characters!"}, "METRICS_TOKEN is 31 characters"),
        (
            {"DATABASE_URL": "postgres://drb:change-me@127.0.0.1:5432/drb"},
            "DATABASE_URL's password is the placeholder",
        ),
    ],
)
def test_a_production_start_refuses_placeholders(overrides, message):
    result = manage("showmigrations", **{**PRODUCTION, **overrides})
    assert result.returncode != 0
    assert message in result.stderr
    assert "check --deploy lists every one" in result.stderr
    result = manage("check", "--deploy", **{**PRODUCTION, **overrides})
    assert result.returncode != 0 and message in result.stderr


def test_development_starts_with_placeholders():
    env = {**PRODUCTION, "DEBUG": "true", "SECRET_KEY": "replace-with-anything"}
    result = manage("check", **env)
    assert result.returncode == 0, result.stderr
