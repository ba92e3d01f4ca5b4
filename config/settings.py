"""Settings for Deep Research Blog: one module, every knob read from the environment.

Each variable is listed and explained in `.env.example`. A bad value stops start-up
with a message naming the variable, through `config.env.ImproperlyConfigured`.
"""

from __future__ import annotations

import socket
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import environ
from django.core.exceptions import ImproperlyConfigured

from config.envtools import (
    parse_admins,
    parse_bool,
    parse_budget,
    parse_int_list,
    parse_prices,
    parse_rate_limits,
    parse_sentinels,
    parse_webhook_url,
)
from config.placeholders import placeholder_problems
from config.redisconf import redis_cache_options, redis_connection_config

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)


def _get(name: str, cast: Callable[..., Any], default: Any) -> Any:
    """Read one variable, turning any parse error into a message that names it."""
    try:
        return cast(name, default=default)
    except (ValueError, TypeError, environ.ImproperlyConfigured) as exc:
        raise ImproperlyConfigured(f"Environment variable {name} is invalid: {exc}") from exc


# --- Core -------------------------------------------------------------------------------
DEBUG = _get("DEBUG", env.bool, False)
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is required when DEBUG is off: set SECRET_KEY in the environment "
            "or .env (e.g. python -c 'import secrets; print(secrets.token_urlsafe(50))')."
        )
    SECRET_KEY = "django-insecure-dev-only-key"  # noqa: S105 - DEBUG only

ALLOWED_HOSTS = _get("ALLOWED_HOSTS", env.list, ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = _get("CSRF_TRUSTED_ORIGINS", env.list, [])
SITE_NAME = env.str("SITE_NAME", default="Deep Research Blog")
SITE_DESCRIPTION = env.str(
    "SITE_DESCRIPTION", default="Long, researched and cited articles on technology."
)
POSTS_PER_PAGE = _get("POSTS_PER_PAGE", env.int, 10)
# Used where links leave the request cycle (command output, emails).
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")
# `manage.py ensure_admin` (run by `make run`): the first superuser's password; empty = a
# random one, printed once.
ADMIN_PASSWORD = env.str("ADMIN_PASSWORD", default="")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.sitemaps",
    "django.contrib.humanize",
    "taggit",
    # Before django_rq, so generation's `rqworker` (with --max-time) overrides its own.
    "blog",
    "generation",
    "django_rq",
]

MIDDLEWARE = [
    # /healthz, /readyz and /metrics: answered before the host check and HTTPS redirect.
    "generation.operations.endpoints.ProbeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # Admin lists: date-part filters out of range are refused with a message, not a 500.
    "config.admin_dates.AdminDateQueryMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "config.security_headers.SiteCSPMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "blog.context_processors.site",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------------------
DATABASES = {"default": _get("DATABASE_URL", env.db_url, f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"].setdefault("CONN_MAX_AGE", _get("DATABASE_CONN_MAX_AGE", env.int, 60))
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis and RQ -----------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="redis://127.0.0.1:6379/0")
# Redis Sentinel (failover): `host:port,…` of the sentinels and the master's name. Then
# REDIS_URL gives only the database number and password; the master's address comes from
# the sentinels. Every Redis user (queues, workers, schedulers, leases, alerts, metrics,
# the cache) connects through django-rq's RQ_QUEUES below, so this is the one place.
REDIS_SENTINELS = parse_sentinels(
    env.str("REDIS_SENTINELS", default=""), variable="REDIS_SENTINELS"
)
REDIS_SENTINEL_MASTER = env.str("REDIS_SENTINEL_MASTER", default="mymaster")
RQ_QUEUE_NAMES = ["default", "content", "video", "email"]
RQ_QUEUES = {
    name: {
        **redis_connection_config(REDIS_URL, REDIS_SENTINELS, REDIS_SENTINEL_MASTER),
        "DEFAULT_TIMEOUT": 900,
    }
    for name in RQ_QUEUE_NAMES
}
# django-rq's own admin entry only asks for is_staff: generation.admin.dashboard registers a
# guarded one (permission generation.manage_queues) instead.
RQ_SHOW_ADMIN_LINK = False
RQ = {
    "WORKER_CLASS": "generation.execution.worker.GenerationWorker",
    # Registers the periodic jobs and waits out Redis outages when rqscheduler runs it.
    "SCHEDULER_CLASS": "generation.scheduling.periodic.ProjectScheduler",
}

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "drb",
        **redis_cache_options(REDIS_SENTINELS, REDIS_SENTINEL_MASTER),
    }
}

# --- Auth, i18n, static -----------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
LOGIN_URL = "admin:login"

# --- Email and admins -------------------------------------------------------------------
ADMINS = parse_admins(env.str("ADMINS", default=""), variable="ADMINS")
MANAGERS = ADMINS
vars().update(_get("EMAIL_URL", env.email_url, "consolemail://"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="blog@localhost")
SERVER_EMAIL = env.str("SERVER_EMAIL", default=DEFAULT_FROM_EMAIL)

# --- Security (safe by default once DEBUG is off) ---------------------------------------
SECURE_SSL_REDIRECT = _get("SECURE_SSL_REDIRECT", env.bool, not DEBUG)
SESSION_COOKIE_SECURE = _get("SESSION_COOKIE_SECURE", env.bool, not DEBUG)
CSRF_COOKIE_SECURE = _get("CSRF_COOKIE_SECURE", env.bool, not DEBUG)
SECURE_HSTS_SECONDS = _get("SECURE_HSTS_SECONDS", env.int, 0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = _get("SECURE_HSTS_INCLUDE_SUBDOMAINS", env.bool, not DEBUG)
SECURE_HSTS_PRELOAD = _get("SECURE_HSTS_PRELOAD", env.bool, not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if _get("SECURE_PROXY_SSL_HEADER", env.bool, False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Content-Security-Policy (django-csp) on every page: no inline script anywhere; scripts
# and styles come from our own static files. The admin also allows inline styles, and
# django-rq's pages their inline scripts by hash (config.security_headers).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    }
}
# Error reports (mails to ADMINS, debug pages) mask secrets by value, in settings such as
# REDIS_URL, CACHES, RQ_QUEUES and DATABASES too (config.error_reports).
DEFAULT_EXCEPTION_REPORTER_FILTER = "config.error_reports.RedactingExceptionReporterFilter"
DEFAULT_EXCEPTION_REPORTER = "config.error_reports.RedactingExceptionReporter"

# --- Logging ----------------------------------------------------------------------------
LOG_DIR = Path(env.str("LOG_DIR", default=str(BASE_DIR / "logs")))
LOG_DIR.mkdir(parents=True, exist_ok=True)
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO").upper()
# One file per kind of process (and per number where there are several: supervisor sets
# LOG_FILE=worker-01.log, compose worker-{hostname}.log). Several processes still share a
# file (gunicorn's workers, a worker and its work-horses), so no process rotates it: each
# reopens the file once logrotate has moved it (WatchedFileHandler), and every line is one
# O_APPEND write, so lines are never lost or cut into each other.
_KIND = "worker" if "rqworker" in sys.argv else "scheduler" if "rqscheduler" in sys.argv else "app"
LOG_FILE = env.str("LOG_FILE", default=f"{_KIND}.log").format(hostname=socket.gethostname())
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        # On every handler: secrets never reach a log line or an error mail.
        "redact": {"()": "config.redaction.RedactingFilter"},
        "run_context": {"()": "generation.runs.logcontext.RunContextFilter"},
        "quiet_maintenance": {"()": "generation.runs.logcontext.QuietMaintenanceFilter"},
    },
    "formatters": {
        "plain": {
            "format": "%(asctime)s %(levelname)s %(name)s [pid %(process)d]%(run_context)s "
            "%(message)s"
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["redact", "run_context"],
        },
        "file": {
            "class": "logging.handlers.WatchedFileHandler",
            "filename": str(LOG_DIR / LOG_FILE),
            "formatter": "plain",
            "filters": ["redact", "run_context"],
            "encoding": "utf-8",
        },
        "mail_admins": {
            "class": "django.utils.log.AdminEmailHandler",
            "level": "ERROR",
            "filters": ["redact"],
        },
    },
    "root": {"handlers": ["console", "file"], "level": LOG_LEVEL},
    "loggers": {
        # Django's default config gives "django" a console and a mail_admins handler of
        # its own (unfiltered: every error was mailed twice, once unredacted): none here.
        "django": {"handlers": [], "level": "INFO", "propagate": True},
        "django.request": {"handlers": ["mail_admins"], "level": "ERROR", "propagate": True},
        # rq may give its logger a handler of its own: the record is redacted first (after
        # the maintenance filter, which reads the unformatted message).
        "rq.worker": {"filters": ["quiet_maintenance", "redact"]},
        # The SDKs log request details (and would log headers at DEBUG): keep them quiet.
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
        "openai": {"level": "WARNING"},
        "trafilatura": {"level": "WARNING"},
    },
}

# --- LLM --------------------------------------------------------------------------------
# The openai SDK's own variables, so any OpenAI-compatible endpoint works by URL.
OPENAI_API_KEY = env.str("OPENAI_API_KEY", default="")
OPENAI_BASE_URL = env.str("OPENAI_BASE_URL", default="")
# Set by `make run` / `make demo` when they serve the loopback stand-ins: the admin says so.
DRB_DEMO = _get("DRB_DEMO", env.bool, False)
GENERATION_MODEL = env.str("GENERATION_MODEL", default="gpt-4o-mini")
GENERATION_FAST_MODEL = env.str("GENERATION_FAST_MODEL", default="gpt-4o-mini")
GENERATION_LLM_TIMEOUT = _get("GENERATION_LLM_TIMEOUT", env.float, 120.0)
GENERATION_LLM_MAX_RETRIES = _get("GENERATION_LLM_MAX_RETRIES", env.int, 4)
# USD per million tokens, "model=input:output" pairs; unknown models cost 0 and say so.
GENERATION_PRICES = parse_prices(
    env.str(
        "GENERATION_PRICES",
        default="gpt-4o-mini=0.15:0.60,gpt-4o=2.50:10.00,gpt-4.1-mini=0.40:1.60,"
        "gpt-4.1=2.00:8.00,standin-writer=0.15:0.60,standin-fast=0.15:0.60",
    ),
    variable="GENERATION_PRICES",
)

# --- Generation -------------------------------------------------------------------------
GENERATION_TOPICS = _get("GENERATION_TOPICS", env.list, [])
GENERATION_DEFAULT_AUTHOR = env.str("GENERATION_DEFAULT_AUTHOR", default="")
GENERATION_MAX_BATCH = _get("GENERATION_MAX_BATCH", env.int, 100)
# Seconds to wait before attempts 2, 3, 4...: N intervals mean N + 1 attempts in all.
GENERATION_RETRY_INTERVALS = parse_int_list(
    env.str("GENERATION_RETRY_INTERVALS", default="60,300,900"),
    variable="GENERATION_RETRY_INTERVALS",
)
GENERATION_JOB_TIMEOUT = _get("GENERATION_JOB_TIMEOUT", env.int, 900)
# A running run renews its lease this often; a lease left unrenewed this long is a crash.
GENERATION_HEARTBEAT_SECONDS = _get("GENERATION_HEARTBEAT_SECONDS", env.float, 10.0)
GENERATION_LEASE_SECONDS = _get("GENERATION_LEASE_SECONDS", env.float, 45.0)
GENERATION_REAPER_INTERVAL = _get("GENERATION_REAPER_INTERVAL", env.float, 15.0)
GENERATION_CITATION_THRESHOLD = _get("GENERATION_CITATION_THRESHOLD", env.float, 0.5)
# A second check of every kept claim by the fast model (one batched call per section).
GENERATION_CITATION_JUDGE = parse_bool(
    env.str("GENERATION_CITATION_JUDGE", default="false"), variable="GENERATION_CITATION_JUDGE"
)
# Above this share of claims removed, a post is held as a draft even with --publish.
GENERATION_MAX_REMOVED_SHARE = _get("GENERATION_MAX_REMOVED_SHARE", env.float, 0.25)
GENERATION_MIN_SOURCES_PER_SECTION = _get("GENERATION_MIN_SOURCES_PER_SECTION", env.int, 2)
GENERATION_SECTIONS = _get("GENERATION_SECTIONS", env.int, 6)
# LLM requests in flight per stage. The default lets every section, the introduction and
# conclusion, and the metadata draft of a default post be written in one round.
GENERATION_LLM_CONCURRENCY = _get(
    "GENERATION_LLM_CONCURRENCY", env.int, max(GENERATION_SECTIONS, 1) + 2
)
# Rate limits per LLM endpoint and model, shared by every worker through Redis
# (generation/ratelimit.py): requests and tokens per window, as "model=limit"
# pairs ("*" or a bare number = every model). Empty = no limit.
LLM_RPM = parse_rate_limits(env.str("LLM_RPM", default=""), variable="LLM_RPM")
LLM_TPM = parse_rate_limits(env.str("LLM_TPM", default=""), variable="LLM_TPM")
# The window LLM_RPM and LLM_TPM count over: a minute, as providers count.
LLM_RATE_WINDOW_S = _get("LLM_RATE_WINDOW_S", env.float, 60.0)
# 429 answers a call may wait out (each pauses the whole endpoint) before it fails.
LLM_RATE_LIMIT_RETRIES = _get("LLM_RATE_LIMIT_RETRIES", env.int, 8)

# --- Operations: health, alerts, metrics, budget ---------------------------------------
# queue_health, the periodic alert job and /readyz: warn past these.
QUEUE_DEPTH_ALERT = _get("QUEUE_DEPTH_ALERT", env.int, 50)
FAILED_JOBS_ALERT = _get("FAILED_JOBS_ALERT", env.int, 3)
QUEUE_WAIT_ALERT_S = _get("QUEUE_WAIT_ALERT_S", env.int, 600)
HEALTH_CHECK_INTERVAL = _get("HEALTH_CHECK_INTERVAL", env.int, 180)
# Overdue delayed jobs (no worker runs --with-scheduler) and crash-looping workers.
SCHEDULED_OVERDUE_S = _get("SCHEDULED_OVERDUE_S", env.int, 120)
WORKER_RESTARTS_ALERT = _get("WORKER_RESTARTS_ALERT", env.int, 5)
# Alerts also go to this webhook (Slack/Mattermost-compatible "slack", or plain "json").
ALERT_WEBHOOK_URL = parse_webhook_url(
    env.str("ALERT_WEBHOOK_URL", default=""), variable="ALERT_WEBHOOK_URL"
)
ALERT_WEBHOOK_FORMAT = env.str("ALERT_WEBHOOK_FORMAT", default="slack")
if ALERT_WEBHOOK_FORMAT not in ("slack", "json"):
    raise ImproperlyConfigured(
        "Environment variable ALERT_WEBHOOK_FORMAT must be slack or json; "
        f"got {ALERT_WEBHOOK_FORMAT!r}."
    )
# queue_health warns when LLM calls spent more than this share of their time (over the
# last 10 minutes) waiting for the rate limit: more workers would not help.
LLM_RATE_WAIT_WARN_SHARE = _get("LLM_RATE_WAIT_WARN_SHARE", env.float, 0.5)
# /metrics answers only with "Authorization: Bearer <METRICS_TOKEN>"; empty = 404.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
# A production start refuses the example file's placeholders; `check --deploy` lists each.
if not DEBUG and sys.argv[1:2] != ["check"]:
    _placeholders = placeholder_problems(
        secret_key=SECRET_KEY,
        metrics_token=METRICS_TOKEN,
        database_password=str(DATABASES["default"].get("PASSWORD") or ""),
    )
    if _placeholders:
        raise ImproperlyConfigured(
            f"{_placeholders[0][1]} (DEBUG is off; manage.py check --deploy lists every one)"
        )
# Estimated USD a day; once reached, no new runs start until tomorrow. Empty = no limit.
GENERATION_DAILY_BUDGET_USD = parse_budget(
    env.str("GENERATION_DAILY_BUDGET_USD", default=""), variable="GENERATION_DAILY_BUDGET_USD"
)
# Most one post may spend (USD, estimated): a run reaching it is held at its next stage
# boundary, checkpoints kept. ~3x a gpt-4o post by the README's formula; empty = no ceiling.
GENERATION_MAX_RUN_USD = parse_budget(
    env.str("GENERATION_MAX_RUN_USD", default="1.00"), variable="GENERATION_MAX_RUN_USD"
)
# Mail a post's author when a background run has written it.
GENERATION_NOTIFY_AUTHOR = _get("GENERATION_NOTIFY_AUTHOR", env.bool, False)
# Reviewers (blog.review_post) get at most one "posts awaiting review" digest this often.
REVIEW_DIGEST_MINUTES = _get("REVIEW_DIGEST_MINUTES", env.int, 60)
if REVIEW_DIGEST_MINUTES < 1:
    raise ImproperlyConfigured("Environment variable REVIEW_DIGEST_MINUTES must be at least 1.")

# --- Schedules (GenerationSchedule, driven by rq-scheduler) -----------------------------
# How often the scheduler's job turns due occurrences into runs.
SCHEDULE_TICK_SECONDS = _get("SCHEDULE_TICK_SECONDS", env.int, 60)
# A due time found this late (the scheduler was down) still runs, once; older ones are missed.
SCHEDULE_GRACE_SECONDS = _get("SCHEDULE_GRACE_SECONDS", env.int, 3600)
# Where the periodic tick reads the time: a dotted path to a callable returning an aware
# datetime. The tests run the schedulers on a faster clock; a site has no reason to change it.
SCHEDULE_CLOCK = env.str("SCHEDULE_CLOCK", default="django.utils.timezone.now")
if SCHEDULE_TICK_SECONDS < 1:
    raise ImproperlyConfigured("Environment variable SCHEDULE_TICK_SECONDS must be at least 1.")
if SCHEDULE_GRACE_SECONDS < 2 * SCHEDULE_TICK_SECONDS:
    raise ImproperlyConfigured(
        "Environment variable SCHEDULE_GRACE_SECONDS must be at least twice "
        "SCHEDULE_TICK_SECONDS, or on-time occurrences would count as missed."
    )

# --- Living posts: re-verification of published posts (generation/freshness) -----------
# A published post's sources are read again once its last check (or its publication) is
# this many days old; each tick of the scheduler queues at most VERIFY_BATCH of them,
# oldest first; the tick runs every VERIFY_TICK_SECONDS.
VERIFY_AFTER_DAYS = _get("VERIFY_AFTER_DAYS", env.int, 30)
VERIFY_BATCH = _get("VERIFY_BATCH", env.int, 20)
VERIFY_TICK_SECONDS = _get("VERIFY_TICK_SECONDS", env.int, 3600)
# A cited page the research cache took less than this many seconds ago is not asked again
# (another post of the batch just read it); older copies are revalidated (304 = no body).
VERIFY_CACHE_MAX_AGE_S = _get("VERIFY_CACHE_MAX_AGE_S", env.float, 3600.0)

# --- Research ---------------------------------------------------------------------------
RESEARCH_PROVIDERS = _get("RESEARCH_PROVIDERS", env.list, ["wikipedia", "arxiv", "hackernews"])
SEARXNG_URL = env.str("SEARXNG_URL", default="")
TAVILY_API_KEY = env.str("TAVILY_API_KEY", default="")
BRAVE_API_KEY = env.str("BRAVE_API_KEY", default="")
RESEARCH_LOCAL_DIR = env.str("RESEARCH_LOCAL_DIR", default="")
RESEARCH_FETCH_CONCURRENCY = _get("RESEARCH_FETCH_CONCURRENCY", env.int, 8)
RESEARCH_FETCH_TIMEOUT = _get("RESEARCH_FETCH_TIMEOUT", env.float, 10.0)
RESEARCH_MAX_BYTES = _get("RESEARCH_MAX_BYTES", env.int, 2_000_000)
RESEARCH_MAX_SOURCES = _get("RESEARCH_MAX_SOURCES", env.int, 12)
# Fewer usable sources than this after the second round fails the run (no retries).
RESEARCH_MIN_SOURCES = _get("RESEARCH_MIN_SOURCES", env.int, 3)
# Candidates each provider is asked for per query: more than are kept, so unusable
# results are replaced from the same searches.
RESEARCH_RESULTS_PER_QUERY = _get("RESEARCH_RESULTS_PER_QUERY", env.int, 10)
# The whole research stage (searches, fetches, a second round) ends by this many seconds.
RESEARCH_DEADLINE_S = _get("RESEARCH_DEADLINE_S", env.float, 30.0)
# Once enough pages are in, a fetch running this many times longer than the slowest page
# that arrived (and at least 0.5 s) is cut.
RESEARCH_STRAGGLER_FACTOR = _get("RESEARCH_STRAGGLER_FACTOR", env.float, 2.0)
# A source scoring below this share of the best source's relevance is off-topic.
RESEARCH_RELEVANCE_FLOOR = _get("RESEARCH_RELEVANCE_FLOOR", env.float, 0.2)
RESEARCH_ALLOW_HOSTS = _get("RESEARCH_ALLOW_HOSTS", env.list, [])
# Where a site owner reads who we are and how to reach us: named in the User-Agent.
SITE_CONTACT_URL = env.str("SITE_CONTACT_URL", default=SITE_URL)
RESEARCH_USER_AGENT = env.str(
    "RESEARCH_USER_AGENT", default=f"DeepResearchBlog/0.1 (+{SITE_CONTACT_URL})"
)
# A fetch that has received no bytes for this many seconds is cut (apart from the timeout).
RESEARCH_STALL_S = _get("RESEARCH_STALL_S", env.float, 3.0)
# Fetched pages are reused for this long (seconds; 0: no cache), then revalidated.
RESEARCH_CACHE_TTL = _get("RESEARCH_CACHE_TTL", env.float, 7 * 24 * 3600.0)
# The research cache's size in Redis (MiB of compressed pages); the least recently used go.
RESEARCH_CACHE_MAX_MB = _get("RESEARCH_CACHE_MAX_MB", env.int, 256)
# Page fetches at once to one host, across every worker (Redis); Crawl-delay up to a cap.
RESEARCH_PER_HOST = _get("RESEARCH_PER_HOST", env.int, 2)
RESEARCH_CRAWL_DELAY_MAX = _get("RESEARCH_CRAWL_DELAY_MAX", env.float, 10.0)
# Provider API base URLs: the public services by default; tests and demos point them at loopback.
RESEARCH_WIKIPEDIA_API = env.str(
    "RESEARCH_WIKIPEDIA_API", default="https://en.wikipedia.org/w/api.php"
)
RESEARCH_ARXIV_API = env.str("RESEARCH_ARXIV_API", default="https://export.arxiv.org/api/query")
RESEARCH_HN_API = env.str("RESEARCH_HN_API", default="https://hn.algolia.com/api/v1")
RESEARCH_TAVILY_API = env.str("RESEARCH_TAVILY_API", default="https://api.tavily.com")
RESEARCH_BRAVE_API = env.str("RESEARCH_BRAVE_API", default="https://api.search.brave.com")

for _name in (
    "GENERATION_CITATION_THRESHOLD",
    "GENERATION_MAX_REMOVED_SHARE",
    "LLM_RATE_WAIT_WARN_SHARE",
):
    if not 0 <= globals()[_name] <= 1:
        raise ImproperlyConfigured(f"Environment variable {_name} must be between 0 and 1.")

for _name in (
    "POSTS_PER_PAGE",
    "GENERATION_LLM_CONCURRENCY",
    "GENERATION_MAX_BATCH",
    "GENERATION_JOB_TIMEOUT",
    "RESEARCH_FETCH_CONCURRENCY",
    "RESEARCH_MAX_SOURCES",
    "RESEARCH_MIN_SOURCES",
    "RESEARCH_RESULTS_PER_QUERY",
    "RESEARCH_MAX_BYTES",
    "RESEARCH_STRAGGLER_FACTOR",
    "RESEARCH_PER_HOST",
    "QUEUE_DEPTH_ALERT",
    "FAILED_JOBS_ALERT",
    "QUEUE_WAIT_ALERT_S",
    "HEALTH_CHECK_INTERVAL",
    "SCHEDULED_OVERDUE_S",
    "WORKER_RESTARTS_ALERT",
    "VERIFY_AFTER_DAYS",
    "VERIFY_BATCH",
    "VERIFY_TICK_SECONDS",
):
    if globals()[_name] < 1:
        raise ImproperlyConfigured(f"Environment variable {_name} must be at least 1.")
if RESEARCH_MIN_SOURCES > RESEARCH_MAX_SOURCES:
    raise ImproperlyConfigured(
        "Environment variable RESEARCH_MIN_SOURCES must not exceed RESEARCH_MAX_SOURCES."
    )
for _name in ("RESEARCH_STALL_S", "RESEARCH_CACHE_MAX_MB"):
    if globals()[_name] <= 0:
        raise ImproperlyConfigured(f"Environment variable {_name} must be above 0.")
for _name in ("RESEARCH_CACHE_TTL", "RESEARCH_CRAWL_DELAY_MAX", "VERIFY_CACHE_MAX_AGE_S"):
    if globals()[_name] < 0:
        raise ImproperlyConfigured(f"Environment variable {_name} must not be negative.")
if LLM_RATE_WINDOW_S <= 0 or LLM_RATE_LIMIT_RETRIES < 0:
    raise ImproperlyConfigured(
        "Environment variable LLM_RATE_WINDOW_S must be above 0 and LLM_RATE_LIMIT_RETRIES "
        "at least 0."
    )
if RESEARCH_DEADLINE_S <= 0:
    raise ImproperlyConfigured("Environment variable RESEARCH_DEADLINE_S must be above 0.")
if not 0 <= RESEARCH_RELEVANCE_FLOOR < 1:
    raise ImproperlyConfigured(
        "Environment variable RESEARCH_RELEVANCE_FLOOR must be at least 0 and below 1."
    )
