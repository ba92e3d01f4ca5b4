"""A request for posts, validated: the type every door hands to a service.

It sits below both doors (`runs.service.enqueue_posts`, `execution.service.generate_posts`)
and the run lifecycle, which builds runs from it, so none of them imports a door.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypedDict

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser

from generation.exceptions import InvalidRequest
from generation.models import Origin
from generation.validators import MAX_DELAY_SECONDS

AuthorRef = AbstractBaseUser | int | str | None


class PostOptions(TypedDict, total=False):
    """What a request may say about its posts; `request_build` has the defaults."""

    topic: str
    publish: bool
    author: AuthorRef
    tags: bool
    category: str


class QueueOptions(PostOptions, total=False):
    """A background request also says when, on which queue, and who asked."""

    delay: float
    queue: str
    origin: str
    occurrence_id: int | None


@dataclass(frozen=True)
class GenerationRequest:
    """A validated request for posts: what every door hands to the service."""

    count: int
    author_id: int
    topic: str = ""
    publish: bool = False
    with_tags: bool = True
    category: str = ""
    delay: float = 0.0
    queue: str = "content"
    origin: str = Origin.COMMAND
    occurrence_id: int | None = None  # the schedule occurrence asking, if any
    estimate_usd: Decimal | None = None  # one post's expected cost, recorded on its run
    max_attempts: int = field(default_factory=lambda: len(settings.GENERATION_RETRY_INTERVALS) + 1)


def author_resolve(author: AuthorRef) -> AbstractBaseUser:
    """A user given as instance, id or username, else GENERATION_DEFAULT_AUTHOR."""
    user_model = get_user_model()
    if isinstance(author, user_model):
        return author
    ref = author if author not in (None, "") else settings.GENERATION_DEFAULT_AUTHOR
    if ref in (None, ""):
        raise InvalidRequest(
            "No author: pass --author (user id or username) or set GENERATION_DEFAULT_AUTHOR."
        )
    lookup: dict[str, Any] = {"pk": int(str(ref))} if str(ref).isdigit() else {"username": str(ref)}
    try:
        return user_model.objects.get(**lookup)
    except user_model.DoesNotExist:
        raise InvalidRequest(f"Author {ref!r} does not exist.") from None


def request_build(
    *,
    count: int,
    topic: str = "",
    publish: bool = False,
    delay: float = 0,
    author: AuthorRef = None,
    tags: bool = True,
    category: str = "",
    queue: str = "content",
    origin: str = Origin.COMMAND,
    max_attempts: int | None = None,
    occurrence_id: int | None = None,
) -> GenerationRequest:
    """Validate every parameter and say in one line what is wrong."""
    if isinstance(count, bool) or not isinstance(count, int):
        raise InvalidRequest(f"Count must be a whole number, got {count!r}.")
    if not 1 <= count <= settings.GENERATION_MAX_BATCH:
        raise InvalidRequest(
            f"Count must be between 1 and {settings.GENERATION_MAX_BATCH} "
            f"(GENERATION_MAX_BATCH), got {count}."
        )
    if delay is None or not delay >= 0:  # NaN too
        raise InvalidRequest(f"Delay must be zero or more seconds, got {delay}.")
    if delay > MAX_DELAY_SECONDS:
        raise InvalidRequest(
            f"Delay must be at most {MAX_DELAY_SECONDS} seconds (30 days), got {delay}."
        )
    topic, category = (topic or "").strip(), (category or "").strip()
    if len(topic) > 300:
        raise InvalidRequest("Topic must be at most 300 characters.")
    if len(category) > 100:
        raise InvalidRequest("Category must be at most 100 characters.")
    if queue not in settings.RQ_QUEUE_NAMES:
        raise InvalidRequest(
            f"Unknown queue {queue!r}: one of {', '.join(settings.RQ_QUEUE_NAMES)}."
        )
    if origin not in Origin.values:
        raise InvalidRequest(f"Unknown origin {origin!r}.")
    extra: dict[str, Any] = {"max_attempts": max_attempts} if max_attempts else {}
    return GenerationRequest(
        count=count,
        author_id=author_resolve(author).pk,
        topic=topic,
        publish=bool(publish),
        with_tags=bool(tags),
        category=category,
        delay=float(delay),
        queue=queue,
        origin=origin,
        occurrence_id=occurrence_id,
        **extra,
    )
