"""Mail (and alert webhooks): alerts to ADMINS and "post ready" notes to authors, sent from
the `email` queue.

`*_enqueue` functions put a mail job on the `email` queue after the transaction commits;
the job functions (`send_admins_mail`, `send_post_ready_mail`) do the sending in a worker,
where SMTP slowness or failure (retried by RQ) never holds up a request or a post.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import mail_admins, send_mail
from django.db import transaction
from django.urls import reverse
from redis.exceptions import RedisError
from rq import Retry

from generation import queues
from generation.models import GenerationRun, RunStatus

logger = logging.getLogger(__name__)

EMAIL_QUEUE = "email"
MAIL_RETRY = Retry(max=3, interval=[30, 120, 600])


def send_admins_mail(subject: str, body: str) -> None:
    """Job: one mail to ADMINS (nothing to do when ADMINS is empty)."""
    mail_admins(subject, body, fail_silently=False)


def send_post_ready_mail(run_id: int) -> bool:
    """Job: tell the author of run `run_id` that its post is written; False if not sent."""
    run = GenerationRun.objects.select_related("post", "author").filter(pk=run_id).first()
    if run is None or run.status != RunStatus.SUCCEEDED or not run.post or not run.author.email:
        return False
    post = run.post
    admin_url = settings.SITE_URL + reverse("admin:blog_post_change", args=[post.pk])
    lines = [f'Your post "{post.title}" is written ({post.status}).']
    if post.is_published:
        lines.append(f"Read it at {settings.SITE_URL}{post.get_absolute_url()}")
    lines += [
        f"Review or edit it at {admin_url}",
        "",
        f"Run {run.pk}: ${run.cost_usd:.4f} estimated.",
    ]
    send_mail(f"Post ready: {post.title}", "\n".join(lines), None, [run.author.email])
    return True


def _enqueue(func: str, *args: object) -> None:
    queues.get_queue(EMAIL_QUEUE).enqueue(func, *args, retry=MAIL_RETRY, result_ttl=3600)


def admins_mail_enqueue(subject: str, body: str) -> None:
    """Queue one mail to ADMINS; sent here and now when Redis is down (the alert that says
    so could never travel through Redis)."""

    def push() -> None:
        try:
            _enqueue("generation.notifications.send_admins_mail", subject, body)
        except (RedisError, OSError):
            logger.warning("Redis is down: sending the alert mail directly")
            send_admins_mail(subject, body)

    transaction.on_commit(push)


def alert_webhook_enqueue(alert: dict[str, str]) -> None:
    """Queue one alert for ALERT_WEBHOOK_URL (nothing when it is not set), after the commit;
    with Redis down it is posted here and now, like the mail."""
    if not settings.ALERT_WEBHOOK_URL:
        return

    def push() -> None:
        try:
            _enqueue("generation.webhooks.send_alert_webhook", alert)
        except (RedisError, OSError):
            logger.warning("Redis is down: posting the alert webhook directly")
            from generation.webhooks import send_alert_webhook

            try:
                send_alert_webhook(alert)
            except Exception as exc:  # the mail still goes; a lost webhook is logged
                logger.error("Alert webhook not sent: %s", exc)

    transaction.on_commit(push)


def post_ready_enqueue(run_id: int) -> None:
    """Queue the author's "post ready" mail when GENERATION_NOTIFY_AUTHOR is on."""
    if not settings.GENERATION_NOTIFY_AUTHOR:
        return
    try:
        _enqueue("generation.notifications.send_post_ready_mail", run_id)
    except (RedisError, OSError) as exc:  # the post exists; a lost courtesy mail is logged
        logger.warning("Run %s: post-ready mail not queued: %s", run_id, exc)
