"""Alert webhooks: the same state changes as the alert mails, POSTed to ALERT_WEBHOOK_URL.

`ALERT_WEBHOOK_FORMAT=slack` sends `{"text": …}`, which Slack, Mattermost and Rocket.Chat
incoming webhooks accept (Teams through a workflow); `json` sends the change's fields.
The job carries only the message, never the address: it posts to the URL configured when
it runs, so a job in Redis cannot be pointed anywhere else. The URL is https (http only to
loopback, checked at start-up); redirects are not followed; the text is redacted like logs.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx
from django.conf import settings

from config.redaction import redact

logger = logging.getLogger(__name__)

TIMEOUT_S = 10.0


def webhook_payload(alert: dict[str, str]) -> dict[str, Any]:
    """The body for the configured format; `alert` has check, before, after, subject, summary."""
    clean = {key: redact(str(value)) for key, value in alert.items()}
    if settings.ALERT_WEBHOOK_FORMAT == "json":
        return {**clean, "site": settings.SITE_NAME, "overview": _overview_url()}
    return {"text": f"*{clean['subject']}*\n{clean['summary']}\n{_overview_url()}"}


def _overview_url() -> str:
    return f"{settings.SITE_URL}/admin/generation/overview/"


def send_alert_webhook(alert: dict[str, str]) -> int:
    """Job (the `email` queue): POST one alert; raises on failure so RQ retries it."""
    url = settings.ALERT_WEBHOOK_URL
    if not url:
        return 0
    response = httpx.post(
        url, json=webhook_payload(alert), timeout=TIMEOUT_S, follow_redirects=False
    )
    if response.status_code >= 300:
        raise httpx.HTTPStatusError(
            f"Alert webhook answered {response.status_code}",
            request=response.request,
            response=response,
        )
    return response.status_code
