"""Disable a generation schedule: no occurrence runs until it is enabled again."""

from __future__ import annotations

from generation.management.commands.schedule_enable import Command as EnableCommand


class Command(EnableCommand):
    help = "Disable schedule NAME; runs already queued are left alone."
    enabled = False
