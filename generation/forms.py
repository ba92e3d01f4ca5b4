"""The admin's "Generate posts" form: the same parameters as the background command."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.validators import MaxValueValidator

from blog.models import Category


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
        help_text="Wait this long before starting.",
    )
    tags = forms.BooleanField(
        label="Add tags", required=False, initial=True, help_text="Let the writer tag each post."
    )

    def __init__(self, *args: Any, user: AbstractBaseUser, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        limit = settings.GENERATION_MAX_BATCH
        count = self.fields["count"]
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
        author = self.fields["author"]
        author.queryset = get_user_model().objects.filter(is_staff=True, is_active=True)
        author.initial = user.pk
        self.category_names = list(Category.objects.values_list("name", flat=True))
