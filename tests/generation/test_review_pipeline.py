"""Where a run's post goes: in review unless publishing was asked and every check passed."""

from __future__ import annotations

import pytest

from blog.models import Post, PostRevision
from generation import service
from generation.publishing import NOT_ASKED_TO_PUBLISH

pytestmark = pytest.mark.django_db


def test_a_run_not_asked_to_publish_goes_to_review_with_a_pipeline_revision(standins, author):
    (run,) = service.generate_posts(count=1, topic="LLM optimization", author=author)
    post = run.post
    assert post.status == Post.Status.IN_REVIEW
    assert post.hold_reason == NOT_ASKED_TO_PUBLISH
    (revision,) = post.revisions.all()
    assert revision.origin == PostRevision.Origin.PIPELINE and revision.body == post.body


def test_a_run_asked_to_publish_that_passes_is_published_without_a_hold(standins, author):
    (run,) = service.generate_posts(count=1, topic="LLM optimization", author=author, publish=True)
    assert run.post.status == Post.Status.PUBLISHED and run.post.hold_reason == ""
