"""Endpoints for machines: /healthz and /readyz (load balancers, compose), /metrics."""

from __future__ import annotations

from collections.abc import Callable
from secrets import compare_digest

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.urls import path
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from redis.exceptions import RedisError

from generation.operations import health, metrics


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """The process is alive and serving (no dependency is asked)."""
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    """Ready for traffic: the database and Redis both answer; 503 otherwise. Stalls that
    do not stop the web (paused, overdue delayed jobs, worker churn) are listed as
    `warnings`, still 200."""
    checks = health.readiness()
    ready = all(value == "ok" for value in checks.values())
    body: dict[str, object] = {"status": "ok" if ready else "unavailable", **checks}
    if ready and (warnings := health.readiness_warnings()):
        body["status"] = "warning"
        body["warnings"] = {result.name: result.summary for result in warnings}
    return JsonResponse(body, status=200 if ready else 503)


@never_cache
@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    """Prometheus text format, for `Authorization: Bearer <METRICS_TOKEN>` only.

    Without METRICS_TOKEN the endpoint does not exist (404); a wrong or missing token is 401.
    """
    token = settings.METRICS_TOKEN
    if not token:
        raise Http404("Metrics are off: set METRICS_TOKEN.")
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme != "Bearer" or not compare_digest(given.strip().encode(), token.encode()):
        response = HttpResponse("A valid bearer token is required.\n", status=401)
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    registry = CollectorRegistry(auto_describe=False)
    registry.register(metrics.RedisCollector())
    try:
        body = generate_latest(registry)
    except (RedisError, OSError) as exc:
        # The figures live in Redis: without it there are none to give (as /readyz says).
        return HttpResponse(
            f"Metrics unavailable: Redis is unreachable ({type(exc).__name__}).\n",
            status=503,
            content_type="text/plain; charset=utf-8",
        )
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)


PROBES = {"/healthz": healthz, "/readyz": readyz, "/metrics": metrics_view}


class ProbeMiddleware:
    """Answer the probe paths first, before the host check and the HTTPS redirect.

    Load balancers, compose health checks and Prometheus call by IP over plain HTTP: with
    ALLOWED_HOSTS and SECURE_SSL_REDIRECT in force they would get 400 or 301. These views
    build no URLs from the Host header, so skipping that check is safe.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        view = PROBES.get(request.path_info)
        return view(request) if view is not None else self.get_response(request)


# The URLconf the project includes at its root.
urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("metrics", metrics_view, name="metrics"),
]
