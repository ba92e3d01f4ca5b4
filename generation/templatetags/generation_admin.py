"""Admin template helpers of the generation app."""

from __future__ import annotations

from urllib.parse import urlsplit

from django import template
from django.conf import settings

register = template.Library()

LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}
DEMO_BANNER = "Offline demo: posts are written by the bundled stand-in LLM from a bundled corpus"


def demo_mode() -> bool:
    """The offline demo: its run script sets DRB_DEMO and points the LLM at loopback."""
    host = urlsplit(settings.OPENAI_BASE_URL or "").hostname or ""
    return settings.DRB_DEMO and host in LOOPBACK_HOSTS


@register.simple_tag
def demo_banner() -> str:
    """The demo banner's text, or an empty string outside the demo."""
    return DEMO_BANNER if demo_mode() else ""
