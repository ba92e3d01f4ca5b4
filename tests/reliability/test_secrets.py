"""Configured secrets never reach what people read: error reports, logs, runs, the admin.

The secrets are set as an operator would: a Redis URL with a password (REDIS_URL, CACHES,
RQ_QUEUES), a database password, an LLM key that does not start with `sk-`, the search
providers' keys, SECRET_KEY. Each place is searched for every secret and for its first
8 characters (servers echo keys back truncated).
"""

from __future__ import annotations

import base64
import html
import logging
import re
import sys
import warnings
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
from django.conf import settings as django_settings
from django.core import mail
from django.test import Client, RequestFactory
from django.views.debug import get_exception_reporter_class

from generation.execution.service import generate_posts
from generation.runs import lifecycle
from tests.factories import make_user

pytestmark = pytest.mark.django_db

REDIS_PASSWORD = "rds-Pw-4f3e2d1c0b"
DB_PASSWORD = "pg-Pw-a1b2c3d4e5f6"
LLM_KEY = "gsk_live_9f8e7d6c5b4a"  # not sk-: a pattern for OpenAI keys misses it
SECRETS = {
    "Redis password": REDIS_PASSWORD,
    "DB password": DB_PASSWORD,
    "LLM key": LLM_KEY,
    "Tavily key": "tvly-Secret-77aa88bb99",
    "Brave key": "BSA-brave-0a9b8c7d6e",
    "SECRET_KEY": "django-secret-Q9w8e7r6t5y4u3i2",
}
REDIS_URL = f"redis://:{REDIS_PASSWORD}@127.0.0.1:6379/11"


def _leaks(text: str) -> list[str]:
    """Which secrets show in `text`, whole or by a prefix of 8 or more characters."""
    return [name for name, secret in SECRETS.items() if secret[:8] in text]


def _report(report, place: str, text: str) -> None:
    found = _leaks(text)
    report.row("Secrets", place=place, secrets_tried=len(SECRETS), found=len(found))
    assert not found, f"{place} shows {found}"


@pytest.fixture
def secret_settings(settings):
    settings.REDIS_URL = REDIS_URL
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
        }
    }
    settings.RQ_QUEUES = {"content": {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 900}}
    # Only read back by the error reports (connections are already open): Django's
    # warning about overriding DATABASES does not apply.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Overriding setting DATABASES", UserWarning)
        settings.DATABASES = {
            "default": {**django_settings.DATABASES["default"], "PASSWORD": DB_PASSWORD}
        }
    settings.OPENAI_API_KEY = LLM_KEY
    settings.TAVILY_API_KEY = SECRETS["Tavily key"]
    settings.BRAVE_API_KEY = SECRETS["Brave key"]
    settings.SECRET_KEY = SECRETS["SECRET_KEY"]
    settings.ADMINS = [("Ops", "ops@example.com")]
    return settings


def _fail_connecting() -> None:
    url, key = django_settings.REDIS_URL, django_settings.OPENAI_API_KEY
    truncated = f"{key[:10]}****{key[-4:]}"  # noqa: F841
    raise ConnectionError(f"cannot reach {url} with key {key[:12]}…")


def _request():
    return RequestFactory().get(
        "/boom/", {"q": "1"}, HTTP_X_FORWARDED_URL=REDIS_URL, HTTP_X_LLM=LLM_KEY
    )


def test_error_reports_html_and_text_show_no_secret(secret_settings, reliability_report):
    request = _request()
    try:
        _fail_connecting()
    except ConnectionError:
        reporter = get_exception_reporter_class(request)(request, *sys.exc_info())
    html, text = reporter.get_traceback_html(), reporter.get_traceback_text()
    assert "RQ_QUEUES" in html and "CACHES" in text  # the settings are in the report
    assert "cannot reach redis://:***@127.0.0.1" in text
    _report(reliability_report, "error report (HTML)", html)
    _report(reliability_report, "error report (text)", text)


def test_the_mail_to_admins_shows_no_secret(secret_settings, reliability_report):
    request = _request()
    try:
        _fail_connecting()
    except ConnectionError:
        logging.getLogger("django.request").error(
            "Internal Server Error: %s (%s)",
            request.path,
            django_settings.REDIS_URL,
            exc_info=True,
            extra={"status_code": 500, "request": request},
        )
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    parts = [message.subject, message.body] + [alt[0] for alt in message.alternatives]
    assert "ConnectionError" in message.body
    _report(reliability_report, "mail to ADMINS", "\n".join(parts))


def _log_file() -> Path:
    return Path(django_settings.LOG_DIR) / django_settings.LOG_FILE


def test_a_logged_exception_shows_no_secret(secret_settings, reliability_report):
    log = _log_file()
    start = log.stat().st_size if log.exists() else 0
    try:
        _fail_connecting()
    except ConnectionError:
        logging.getLogger("generation.execution.jobs").exception(
            "Queue %s unreachable (key %s)", django_settings.REDIS_URL, LLM_KEY[:11] + "…"
        )
    for handler in logging.getLogger().handlers:
        handler.flush()
    written = log.read_bytes()[start:].decode("utf-8")
    assert "Queue redis://:***@127.0.0.1:6379/11 unreachable" in written
    assert "Traceback" in written and "ConnectionError" in written
    _report(reliability_report, "log file (message + traceback)", written)


def test_an_error_stored_on_a_run_shows_no_secret(secret_settings, reliability_report):
    error = ConnectionError(f"Redis at {REDIS_URL} refused; db password {DB_PASSWORD[:9]}…")
    entry = lifecycle.error_entry(attempt=1, stage="research", error=error, kind="error")
    _report(reliability_report, "run error history (any error)", entry["error"])


@pytest.mark.llm_options(api_key="the-right-key-0000", echo_key="truncated")
def test_a_run_failing_on_an_echoed_key_stores_no_secret(
    standins, settings, admin_client, reliability_report
):
    settings.OPENAI_API_KEY = LLM_KEY
    settings.TAVILY_API_KEY = SECRETS["Tavily key"]
    settings.BRAVE_API_KEY = SECRETS["Brave key"]
    author = make_user(is_staff=True)
    log = _log_file()
    start = log.stat().st_size if log.exists() else 0
    [run] = generate_posts(count=1, topic="Redis job retries", author=author)
    run.refresh_from_db()
    assert run.status == "failed" and run.errors
    error = run.errors[-1]["error"]
    assert "HTTP 401" in error and "Incorrect API key provided" in error
    assert standins.llm.requests and standins.llm.requests[0].status == 401  # it did echo
    _report(reliability_report, "run error (LLM 401, key echoed truncated)", error)
    page = admin_client.get(f"/admin/generation/generationrun/{run.pk}/change/")
    assert page.status_code == 200
    _report(reliability_report, "admin run page", page.content.decode())
    written = log.read_bytes()[start:].decode("utf-8") if log.exists() else ""
    _report(reliability_report, "log file (the run's failure)", written)


def test_the_debug_page_shows_no_secret(secret_settings, reliability_report):
    settings = secret_settings
    settings.DEBUG = True
    settings.ROOT_URLCONF = "tests.reliability.boom_urls"
    response = Client(raise_request_exception=False).get("/boom/", HTTP_X_LLM=LLM_KEY)
    assert response.status_code == 500 and b"ConnectionError" in response.content
    _report(reliability_report, "debug 500 page", response.content.decode())


@pytest.mark.workers
def test_a_failed_job_keeps_no_secret_in_redis_or_the_worker_log(
    worker_env, tmp_path, reliability_report
):
    import django_rq
    from rq.job import Job

    from tests.workers import running_worker, wait_for

    env = {
        **worker_env,
        "TAVILY_API_KEY": SECRETS["Tavily key"],
        "BRAVE_API_KEY": SECRETS["Brave key"],
        "LOG_DIR": str(tmp_path),
    }
    queue = django_rq.get_queue("content")
    job = queue.enqueue("tests.jobs_for_tests.fail_holding_a_secret")
    with running_worker(env):
        wait_for(lambda: Job.fetch(job.id, connection=queue.connection).is_failed, timeout=60)
    failed = Job.fetch(job.id, connection=queue.connection)
    stored = failed.latest_result().exc_string
    assert "RuntimeError: provider refused [redacted]" in stored
    _report(reliability_report, "failed job's traceback in Redis (dashboard)", stored)
    _report(reliability_report, "worker log", (tmp_path / "worker.log").read_text("utf-8"))


# --- Each form a secret is written in -----------------------------------------------------

AT_PASSWORD = "rds@Pw-4f3e2d1c0b"  # redis-py takes an unencoded "@" in a password
AT_URL = f"redis://:{AT_PASSWORD}@127.0.0.1:6379/11"
ODD_KEY = "Sp3c!al+Key/with&chars=9f8e7d"  # every encoding writes it differently


def _logged(*lines: str) -> str:
    """What the log file shows for `lines`, each logged as its own record."""
    log = _log_file()
    start = log.stat().st_size if log.exists() else 0
    for line in lines:
        logging.getLogger("generation.jobs").warning("%s", line)
    for handler in logging.getLogger().handlers:
        handler.flush()
    return log.read_bytes()[start:].decode("utf-8")


def _shared_runs(shown: str, written: str, run: int = 6) -> list[str]:
    """Runs of `run` characters of `written` that `shown` still holds."""
    return [
        written[i : i + run] for i in range(len(written) - run + 1) if written[i : i + run] in shown
    ]


@pytest.fixture
def odd_secrets(settings):
    settings.REDIS_URL = AT_URL
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": AT_URL}
    }
    settings.RQ_QUEUES = {"content": {"URL": AT_URL, "DEFAULT_TIMEOUT": 900}}
    settings.TAVILY_API_KEY = ODD_KEY
    settings.OPENAI_API_KEY = LLM_KEY
    settings.ADMINS = [("Ops", "ops@example.com")]
    return settings


def test_a_password_with_an_at_sign_is_masked_whole_in_logs_and_the_mail(
    odd_secrets, reliability_report
):
    written = _logged(f"cannot reach {AT_URL}", "unconfigured redis://:ab@cd-ef99@host:1/0")
    assert "redis://:***@127.0.0.1:6379/11" in written and "redis://:***@host:1/0" in written
    assert "Pw-4f3e" not in written and "cd-ef99" not in written
    request = _request()
    try:
        raise ConnectionError(f"cannot reach {AT_URL}")
    except ConnectionError:
        logging.getLogger("django.request").error(
            "Internal Server Error: %s", request.path, exc_info=True, extra={"request": request}
        )
    message = mail.outbox[-1]
    sent = "\n".join([message.subject, message.body, *(alt[0] for alt in message.alternatives)])
    assert "RQ_QUEUES" in sent and "CACHES" in sent and "REDIS_URL" in sent
    for place, text in (("log file", written), ("mail to ADMINS (settings)", sent)):
        found = [piece for piece in ("rds@Pw", "Pw-4f3e2d1c0b") if piece in text]
        reliability_report.row(
            "Secrets", place=f"{place}: password with '@'", secrets_tried=1, found=len(found)
        )
        assert not found, (place, found)


FORMS = {
    "URL-encoded": quote(ODD_KEY, safe=""),
    "URL-encoded, path-safe": quote(ODD_KEY),
    "URL-encoded, lower-case hex": re.sub(
        r"%[0-9A-F]{2}", lambda m: m[0].lower(), quote(ODD_KEY, safe="")
    ),
    "+ for space": quote_plus(ODD_KEY),
    "+ read as a space": ODD_KEY.replace("+", " "),
    "HTML-escaped": html.escape(ODD_KEY),
    "base64": base64.b64encode(ODD_KEY.encode()).decode(),
    "base64, URL-safe": base64.urlsafe_b64encode(ODD_KEY.encode()).decode().rstrip("="),
    "Basic auth": base64.b64encode(f"api:{ODD_KEY}".encode()).decode(),
    "truncated echo": ODD_KEY[:9] + "***" + ODD_KEY[-4:],
}


@pytest.mark.parametrize("form", FORMS, ids=list(FORMS))
def test_every_form_of_a_secret_is_masked_in_the_log(form, odd_secrets, reliability_report):
    shown = FORMS[form]
    written = _logged(f"provider said: Authorization: Basic {shown} (status 401)")
    assert "(status 401)" in written  # the line is there, its secret is not
    leaked = _shared_runs(written, shown)
    reliability_report.row("Secrets", place=f"log file: {form}", secrets_tried=1, found=len(leaked))
    assert not leaked, (form, leaked)


def test_an_upper_case_scheme_counts(odd_secrets, reliability_report):
    written = _logged("dial REDIS://:Up-Pass-123456@10.0.0.9:6379/0 and POSTGRES://u:pgpw-55@db/x")
    assert "REDIS://:***@10.0.0.9" in written and "POSTGRES://u:***@db" in written
    found = [p for p in ("Up-Pass", "pgpw-55") if p in written]
    reliability_report.row(
        "Secrets", place="log file: upper-case scheme", secrets_tried=2, found=len(found)
    )
    assert not found


@pytest.mark.parametrize("cut", [2, 4, 5, 7])
def test_a_secret_split_across_two_log_records_is_masked_in_both(
    cut, odd_secrets, reliability_report
):
    """Cut before its 8th character: the second record starts with the rest of the key
    (masked wherever a token starts), the first ends with its start (masked from 4
    characters on; 1 to 3 characters are too common to mask and tell nothing)."""
    first, rest = LLM_KEY[:cut], LLM_KEY[cut:]
    written = _logged(f"key begins {first}", f"{rest} is the rest")
    assert "is the rest" in written and "key begins" in written
    leaked = [piece for piece in (rest[:6], rest[-6:]) if piece in written]
    if cut >= 4 and f"begins {first}\n" in written:
        leaked.append(first)
    reliability_report.row(
        "Secrets", place=f"log file: key split at {cut}", secrets_tried=1, found=len(leaked)
    )
    assert not leaked, leaked
