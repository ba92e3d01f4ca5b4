"""Seed the two schedules of the setup this replaces, disabled: a fresh install spends
nothing until someone enables one (admin, or `manage.py schedule_enable NAME`)."""

from django.db import migrations

SEEDS = [
    {"name": "daily-blog-posts", "cron": "0 9 * * *", "count": 2},
    {"name": "weekly-blog-posts", "cron": "0 6 * * 1", "count": 5},
]


def seed(apps, schema_editor):
    schedule_model = apps.get_model("generation", "GenerationSchedule")
    for seed in SEEDS:
        schedule_model.objects.get_or_create(
            name=seed["name"],
            defaults={
                "cron": seed["cron"],
                "count": seed["count"],
                "timezone": "America/New_York",
                "publish": True,
                "without_overlapping": True,
                "enabled": False,
            },
        )


def unseed(apps, schema_editor):
    schedule_model = apps.get_model("generation", "GenerationSchedule")
    schedule_model.objects.filter(
        name__in=[seed["name"] for seed in SEEDS], enabled=False, occurrences__isnull=True
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("generation", "0002_schedules_and_occurrences")]

    operations = [migrations.RunPython(seed, unseed)]
