"""Admin forms: "Generate posts" (the background command's parameters), schedules, and
the intermediate page of the "generate" actions on categories and posts."""

from __future__ import annotations

from collections.abc import Callable
from datetime import time
from typing import Any, cast
from zoneinfo import available_timezones

from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.validators import MaxValueValidator
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from blog.models import Category
from generation import cron
from generation.admin import permissions
from generation.exceptions import InvalidRequest
from generation.models import GenerationSchedule
from generation.operations import estimates
from generation.validators import MAX_DELAY_SECONDS, validate_count, validate_delay


class GeneratePostsForm(forms.Form):
    count = forms.IntegerField(
        initial=1,
        min_value=1,
        help_text="How many posts to write; each becomes its own background job.",
    )
    topic = forms.CharField(
        max_length=300,
        required=False,
        help_text="Leave empty to let the writer choose a topic for each post.",
        widget=forms.TextInput(attrs={"size": 60}),
    )
    category = forms.CharField(
        max_length=100,
        required=False,
        help_text="An existing or new category; leave empty to let the writer choose.",
        widget=forms.TextInput(attrs={"list": "category-names", "size": 40}),
    )
    author = forms.ModelChoiceField(queryset=get_user_model().objects.none(), empty_label=None)
    publish = forms.BooleanField(
        required=False, help_text="Publish at once; otherwise the posts are saved as drafts."
    )
    delay = forms.IntegerField(
        label="Delay (seconds)",
        initial=0,
        min_value=0,
        validators=[validate_delay],
        widget=forms.NumberInput(attrs={"max": MAX_DELAY_SECONDS}),
        help_text="Wait this long before starting (at most 30 days).",
    )
    tags = forms.BooleanField(
        label="Add tags", required=False, initial=True, help_text="Let the writer tag each post."
    )

    def __init__(self, *args: Any, user: AbstractBaseUser | AnonymousUser, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        limit = settings.GENERATION_MAX_BATCH
        count = cast(forms.IntegerField, self.fields["count"])
        count.max_value = limit
        count.widget.attrs["max"] = limit
        count.validators.append(MaxValueValidator(limit))
        message = f"Count must be between 1 and {limit}."
        count.error_messages.update({"min_value": message, "max_value": message})
        count.error_messages["invalid"] = "Count must be a whole number."
        self.fields["delay"].error_messages.update(
            {
                "min_value": "Delay must be zero or more seconds.",
                "invalid": "Delay must be a whole number of seconds.",
            }
        )
        author = cast(forms.ModelChoiceField, self.fields["author"])
        author.queryset = permissions.author_choices(user)
        author.initial = user.pk
        self.user = user
        self.category_names = list(Category.objects.values_list("name", flat=True))
        # Shown before queueing: what a post is expected to cost, and where it stops.
        self.estimate = estimates.post_estimate()
        self.ceiling = settings.GENERATION_MAX_RUN_USD

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        assert data is not None  # Django's clean() returns cleaned_data
        _refuse_request(self, data)
        return data


class DatalistInput(forms.TextInput):
    """A text input offering suggestions (a <datalist>), read when the form is drawn."""

    def __init__(self, *, options: Callable[[], list[str]], size: int = 40) -> None:
        super().__init__(attrs={"size": size})
        self.options = options

    def render(
        self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None
    ) -> SafeString:
        list_id = f"{name}-suggestions"
        field = super().render(name, value, {**(attrs or {}), "list": list_id}, renderer)
        options = format_html_join("", '<option value="{}">', ((o,) for o in self.options()))
        return format_html('{}<datalist id="{}">{}</datalist>', field, list_id, options)


FREQUENCIES = [
    ("daily", "Daily"),
    ("weekly", "Weekly"),
    ("custom", "Custom cron expression"),
]
WEEKDAY_CHOICES = [(number % 7, cron.WEEKDAYS[number % 7]) for number in range(1, 8)]


class ScheduleForm(forms.ModelForm):
    """A schedule: a daily or weekly preset, or any cron expression, on a zone's clock."""

    frequency = forms.ChoiceField(
        choices=FREQUENCIES,
        initial="daily",
        help_text="Daily and Weekly set the cron expression from the time (and day) below.",
    )
    at = forms.TimeField(
        label="At (local time)",
        required=False,
        initial=time(9, 0),
        widget=forms.TimeInput(format="%H:%M", attrs={"type": "time"}),
        error_messages={"invalid": "Give the time of day as HH:MM, e.g. 09:00."},
    )
    weekday = forms.TypedChoiceField(
        label="On", choices=WEEKDAY_CHOICES, coerce=int, required=False, initial=1
    )

    class Meta:
        model = GenerationSchedule
        fields = [
            "name",
            "enabled",
            "cron",
            "timezone",
            "count",
            "publish",
            "topic",
            "category",
            "author",
            "without_overlapping",
        ]
        widgets = {
            "timezone": DatalistInput(options=lambda: sorted(available_timezones()), size=30),
            "topic": forms.TextInput(attrs={"size": 60}),
            "category": DatalistInput(
                options=lambda: list(Category.objects.values_list("name", flat=True)), size=40
            ),
        }
        help_texts = {
            "cron": "Five fields: minute hour day-of-month month day-of-week, e.g. 0 9 * * 1-5 "
            "(weekdays at 09:00), in the schedule's time zone. Used with Custom.",
            "timezone": "An IANA name, e.g. America/New_York: 09:00 stays 09:00 there all year.",
        }

    # The editing user, set by the schedule admin: publishing and another author need
    # the blog's permissions (blog.permissions).
    user: Any = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["cron"].required = False
        _limit_count(self.fields["count"])
        self._limit_authors(cast(forms.ModelChoiceField, self.fields["author"]))
        if self.instance.pk is None:
            self.initial.setdefault("timezone", settings.TIME_ZONE)
        else:
            self._init_preset(self.instance.cron)

    def _limit_authors(self, author: forms.ModelChoiceField) -> None:
        """Everyone for a user who may choose the author; else themselves (and the stored
        author, so the page shows it; saving it is refused)."""
        author.queryset = get_user_model().objects.filter(is_staff=True, is_active=True)
        author.empty_label = "(GENERATION_DEFAULT_AUTHOR)"
        if self.user is None or permissions.may_choose_author(self.user):
            return
        mine = [self.user.pk, self.instance.author_id]
        author.queryset = author.queryset.filter(pk__in=[pk for pk in mine if pk])
        author.empty_label = None  # the default author is someone else
        self.initial.setdefault("author", self.user.pk)

    def _init_preset(self, expression: str) -> None:
        preset = cron.cron_preset(expression)
        if preset is None:
            self.initial["frequency"] = "custom"
            return
        kind, at, weekday = preset
        self.initial.update({"frequency": kind, "at": at})
        if weekday is not None:
            self.initial["weekday"] = weekday

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        assert data is not None  # Django's clean() returns cleaned_data
        frequency, at = data.get("frequency"), data.get("at")
        if frequency in ("daily", "weekly"):
            if at is None:
                if "at" not in self.errors:
                    self.add_error("at", f"Give the time of day for a {frequency} schedule.")
            elif frequency == "daily":
                data["cron"] = cron.cron_daily(at)
            else:
                data["cron"] = cron.cron_weekly(at, data.get("weekday") or 0)
        elif frequency == "custom":
            self._clean_custom_cron(data)
        if not data.get("author") and not settings.GENERATION_DEFAULT_AUTHOR:
            self.add_error("author", "Choose an author: GENERATION_DEFAULT_AUTHOR is not set.")
        if self.user is not None:
            # Only an enabled schedule makes runs: saving one needs the generate right too.
            _refuse_request(self, data, generates=bool(data.get("enabled")))
        return data

    def _clean_custom_cron(self, data: dict[str, Any]) -> None:
        try:
            data["cron"] = cron.cron_validate(data.get("cron") or "")
        except InvalidRequest as exc:
            self.add_error("cron", str(exc))


class GenerateForSelectionForm(forms.Form):
    """The intermediate page of the "generate" admin actions: how many, and publish."""

    count = forms.IntegerField(
        initial=1, label="Posts for each", help_text="How many posts for each selected item."
    )
    publish = forms.BooleanField(
        required=False, help_text="Publish at once; otherwise the posts are saved as drafts."
    )

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _limit_count(self.fields["count"])
        self.user = user

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        assert data is not None  # Django's clean() returns cleaned_data
        # The actions write as the user who takes them: the same rule as every door.
        refusal = permissions.request_refusal(
            self.user, publish=bool(data.get("publish")), author_id=self.user.pk
        )
        if refusal:
            self.add_error(None, refusal)
        return data


def _refuse_request(
    form: GeneratePostsForm | ScheduleForm, data: dict[str, Any], *, generates: bool = True
) -> None:
    """A form error when `form.user` may not generate (when the form makes runs), publish,
    or write as the chosen author (empty: the default author, someone else)."""
    author = data.get("author")
    user, publish, author_id = form.user, bool(data.get("publish")), author.pk if author else None
    refusal = (permissions.generate_refusal(user) if generates else None) or (
        permissions.publish_refusal(user, publish=publish)
        or permissions.author_refusal(user, author_id=author_id)
    )
    if refusal:
        form.add_error(None, refusal)


def _limit_count(field: forms.Field) -> None:
    """1..GENERATION_MAX_BATCH (read now: it is a setting), one message for every bad count."""
    field.validators = [validate_count]
    field.widget.attrs.update({"min": 1, "max": settings.GENERATION_MAX_BATCH})
    field.error_messages["invalid"] = "Count must be a whole number."
