"""Every door tried as each kind of user: only the one with the right may act.

Roles: anonymous, a logged-in user who is not staff, staff without the door's permission
(but with whatever lets them see the page the door is on), and staff with it. Each door is
tried through a CSRF-enforcing client; a refused try changes nothing: no run row, no job
in Redis, no post published. Publishing and choosing another author need the blog's own
permissions on every door that takes a request for posts.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

import django_rq
import pytest
from django.contrib.auth.models import Permission
from django.test import Client, TestCase
from django.utils import timezone
from django.utils.crypto import get_random_string
from rq.registry import ScheduledJobRegistry

from blog.models import Category, Post
from generation.models import GenerationRun, GenerationSchedule, RunStatus
from tests.factories import make_category, make_post, make_user

pytestmark = pytest.mark.django_db

GENERATE_URL = "/admin/generation/generate/"
RUNS_URL = "/admin/generation/generationrun/"
POSTS_URL = "/admin/blog/post/"
CATEGORIES_URL = "/admin/blog/category/"
SCHEDULE_ADD_URL = "/admin/generation/generationschedule/add/"
STATUS_URL = "/admin/generation/runs/status.json"
ROLES = ("anonymous", "non-staff", "staff without", "staff with")


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    # Dozens of users, each with a password: a quick hasher keeps the matrix in budget.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _perms(user, *codenames: str) -> None:
    for codename in codenames:
        user.user_permissions.add(Permission.objects.get(codename=codename))


def _client(user=None) -> Client:
    """A CSRF-enforcing client, logged in as `user`, holding a CSRF cookie."""
    client = Client(enforce_csrf_checks=True)
    if user is not None:
        client.force_login(user)
    # What a browser holds after any page with a form: a secret in the cookie, sent back
    # with each POST (Django accepts the unmasked secret as the form's token).
    client.cookies["csrftoken"] = get_random_string(32)
    return client


def _post(client: Client, url: str, data: dict, *, token: bool = True):
    if token:
        data = {**data, "csrfmiddlewaretoken": client.cookies["csrftoken"].value}
    # Jobs reach Redis when the request's transaction commits: run those hooks.
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post(url, data)


def _jobs() -> int:
    queue = django_rq.get_queue("content")
    return len(queue.job_ids) + len(ScheduledJobRegistry(queue=queue))


def _outcome(response) -> str:
    if response.status_code in (301, 302):
        location = response["Location"]
        return "login" if "/login/" in location else f"302 {location.split('?')[0]}"
    return str(response.status_code)


@dataclass
class Door:
    name: str
    needs: tuple[str, ...]  # what "staff with" has on top of `base`
    base: tuple[str, ...] = ()  # what both staff roles have (to reach the page)
    method: str = "GET"
    url: str = ""
    data: Callable[[dict], dict] = field(default=lambda ctx: {})
    acted: Callable[[dict], bool] = field(default=lambda ctx: True)
    setup: Callable[[dict], None] = field(default=lambda ctx: None)


def _generate_data(ctx: dict) -> dict:
    return {"count": "1", "topic": "Redis", "author": str(ctx["user"].pk), "delay": "0"}


def _runs_created(ctx: dict) -> bool:
    return GenerationRun.objects.count() > ctx["runs"] and _jobs() > ctx["jobs"]


def _failed_run(ctx: dict) -> None:
    # The user's own run: retrying another author's run is choose_author's (tested below).
    ctx["run"] = GenerationRun.objects.create(
        author=ctx["user"], topic="Redis", status=RunStatus.FAILED, attempts=4, max_attempts=4
    )


def _queued_run(ctx: dict) -> None:
    ctx["run"] = GenerationRun.objects.create(author=ctx["owner"], topic="Redis")


def _action(name: str) -> Callable[[dict], dict]:
    return lambda ctx: {"action": name, "_selected_action": [str(ctx["run"].pk)]}


def _status_is(status: str) -> Callable[[dict], bool]:
    return lambda ctx: GenerationRun.objects.get(pk=ctx["run"].pk).status == status


def _draft(ctx: dict) -> None:
    ctx["post"] = make_post(author=ctx["owner"], status=Post.Status.DRAFT)


def _published(ctx: dict) -> bool:
    return Post.objects.get(pk=ctx["post"].pk).status == Post.Status.PUBLISHED


def _flagged(ctx: dict) -> None:
    """A published post a re-read flagged "needs refresh"; its review screen is the door."""
    from tests.freshness_factories import flag_post

    ctx["post"] = make_post(author=ctx["owner"])
    flag_post(ctx["post"])
    ctx["url"] = f"{POSTS_URL}{ctx['post'].pk}/review/"


def _category(ctx: dict) -> None:
    ctx["category"] = Category.objects.first() or make_category("Databases")


SCHEDULES_URL = "/admin/generation/generationschedule/"


def _schedule_data(ctx: dict, **overrides: str) -> dict:
    """The schedule form as a browser posts it: enabled, every minute, the user's own."""
    return {
        "name": ctx.get("schedule_name", "every-minute"),
        "enabled": "on",
        "frequency": "custom",
        "at": "",
        "weekday": "1",
        "cron": "* * * * *",
        "timezone": "UTC",
        "count": "100",
        "topic": "Redis",
        "category": "",
        "author": str(ctx["user"].pk),
        **overrides,
    }


def _disabled_schedule(ctx: dict) -> None:
    from tests.factories import make_schedule

    ctx["schedule"] = make_schedule(
        enabled=False, cron="* * * * *", author=ctx["user"], topic="Redis"
    )
    ctx["schedule_name"] = ctx["schedule"].name


def _disabled_schedule_page(ctx: dict) -> None:
    _disabled_schedule(ctx)
    ctx["url"] = f"{SCHEDULES_URL}{ctx['schedule'].pk}/change/"


def _schedule_enabled(ctx: dict) -> bool:
    """The schedule exists, enabled, and the scheduler's next tick makes its runs."""
    from generation.scheduling import service as scheduling

    name = ctx.get("schedule_name", "every-minute")
    if not GenerationSchedule.objects.filter(name=name, enabled=True).exists():
        return False
    with TestCase.captureOnCommitCallbacks(execute=True):
        scheduling.schedules_tick(now=timezone.now() + timedelta(minutes=2))
    return _runs_created(ctx)


def _schedule_action(name: str) -> Callable[[dict], dict]:
    return lambda ctx: {"action": name, "_selected_action": [str(ctx["schedule"].pk)]}


SCHEDULE_RIGHTS = ("view_generationschedule", "add_generationschedule", "change_generationschedule")
VIEW_RUNS = ("view_generationrun",)
DOORS = [
    Door("generate form (GET)", ("add_generationrun",), url=GENERATE_URL),
    Door(
        "generate form (POST)",
        ("add_generationrun",),
        method="POST",
        url=GENERATE_URL,
        data=_generate_data,
        acted=_runs_created,
    ),
    Door(
        "generate in categories (action)",
        ("add_generationrun",),
        base=("view_category",),
        method="POST",
        url=CATEGORIES_URL,
        setup=_category,
        data=lambda ctx: {
            "action": "generate_in_categories",
            "_selected_action": [str(ctx["category"].pk)],
            "_generate": "1",
            "count": "1",
        },
        acted=_runs_created,
    ),
    Door(
        "schedule: add (enabled)",
        ("add_generationrun",),
        base=SCHEDULE_RIGHTS,
        method="POST",
        url=f"{SCHEDULES_URL}add/",
        data=_schedule_data,
        acted=_schedule_enabled,
    ),
    Door(
        "schedule: change (enable it)",
        ("add_generationrun",),
        base=SCHEDULE_RIGHTS,
        method="POST",
        setup=_disabled_schedule_page,
        data=_schedule_data,
        acted=_schedule_enabled,
    ),
    Door(
        "schedule: enable (action)",
        ("add_generationrun",),
        base=SCHEDULE_RIGHTS,
        method="POST",
        url=SCHEDULES_URL,
        setup=_disabled_schedule,
        data=_schedule_action("enable_selected"),
        acted=_schedule_enabled,
    ),
    Door(
        "schedule: run now (action)",
        ("add_generationrun",),
        base=SCHEDULE_RIGHTS,
        method="POST",
        url=SCHEDULES_URL,
        setup=_disabled_schedule,
        data=_schedule_action("run_now"),
        acted=_runs_created,
    ),
    Door(
        "run admin: retry (action)",
        ("change_generationrun", "add_generationrun"),
        base=VIEW_RUNS,
        method="POST",
        url=RUNS_URL,
        setup=_failed_run,
        data=_action("retry_failed"),
        acted=_status_is(RunStatus.QUEUED),
    ),
    Door(
        "run admin: cancel (action)",
        ("change_generationrun",),
        base=VIEW_RUNS,
        method="POST",
        url=RUNS_URL,
        setup=_queued_run,
        data=_action("cancel_queued"),
        acted=_status_is(RunStatus.CANCELED),
    ),
    Door(
        "post admin: publish (action)",
        ("publish_post",),
        base=("view_post", "change_post"),
        method="POST",
        url=POSTS_URL,
        setup=_draft,
        data=lambda ctx: {"action": "publish_selected", "_selected_action": [str(ctx["post"].pk)]},
        acted=_published,
    ),
    Door(
        "review: still correct (needs refresh)",
        ("review_post",),
        base=("view_post", "change_post"),
        method="POST",
        setup=_flagged,
        data=lambda ctx: {"action": "still_correct"},
        acted=lambda ctx: not Post.objects.get(pk=ctx["post"].pk).needs_refresh,
    ),
    Door(
        "review: unpublish (needs refresh)",
        ("publish_post",),
        base=("view_post", "change_post", "review_post"),
        method="POST",
        setup=_flagged,
        data=lambda ctx: {"action": "unpublish"},
        acted=lambda ctx: not _published(ctx),
    ),
    Door("run admin (changelist)", VIEW_RUNS, url=RUNS_URL),
    Door(
        "run admin (change)",
        VIEW_RUNS,
        url="",
        setup=lambda ctx: (_queued_run(ctx), ctx.update(url=f"{RUNS_URL}{ctx['run'].pk}/change/")),
    ),
    Door("/django-rq/", ("manage_queues",), url="/django-rq/"),
    Door("live status", VIEW_RUNS, url=f"{STATUS_URL}?ids=1"),
]
EXPECTED = {
    "anonymous": "refused (login)",
    "non-staff": "refused (login)",
    "staff without": "refused",
    "staff with": "acts",
}


def _user_for(role: str, door: Door):
    if role == "anonymous":
        return None
    user = make_user(is_staff=role != "non-staff")
    if role == "non-staff":
        _perms(user, *door.base, *door.needs)  # permissions do not make a door open
    elif role == "staff without":
        _perms(user, *door.base)
    else:
        _perms(user, *door.base, *door.needs)
    return user


@pytest.mark.parametrize("door", DOORS, ids=[door.name for door in DOORS])
def test_only_staff_with_the_permission_pass_the_door(door: Door, reliability_report):
    owner = make_user("owner", is_staff=True)
    for role in ROLES:
        user = _user_for(role, door)
        ctx = {"owner": owner, "user": user or owner, "url": door.url}
        door.setup(ctx)
        ctx.update(runs=GenerationRun.objects.count(), jobs=_jobs())
        client = _client(user)
        if door.method == "GET":
            response = client.get(ctx["url"])
            acted = response.status_code == 200
        else:
            response = _post(client, ctx["url"], door.data(ctx))
            acted = door.acted(ctx)
        got = _outcome(response)
        reliability_report.row(
            "Doors", door=door.name, role=role, expected=EXPECTED[role], got=got, acted=acted
        )
        assert acted == (role == "staff with"), (door.name, role, got, _errors(response))
        if role in ("anonymous", "non-staff"):
            assert got in ("login", "403"), (door.name, role, got)
        if not acted:
            assert GenerationRun.objects.count() == ctx["runs"], (door.name, role)
            assert _jobs() == ctx["jobs"], (door.name, role)
        GenerationSchedule.objects.update(enabled=False)  # the next role starts afresh
        GenerationSchedule.objects.filter(name="every-minute").delete()


def test_post_without_a_csrf_token_is_refused_and_creates_nothing(reliability_report):
    user = make_user(is_staff=True)
    _perms(user, "add_generationrun", "view_generationrun")
    client = _client(user)
    response = _post(client, GENERATE_URL, _generate_data({"user": user}), token=False)
    reliability_report.row(
        "Doors",
        door="generate form (POST, no CSRF token)",
        role="staff with",
        expected="403",
        got=_outcome(response),
        acted=GenerationRun.objects.exists(),
    )
    assert response.status_code == 403
    assert not GenerationRun.objects.exists() and _jobs() == 0


def test_metrics_needs_its_bearer_token_whoever_is_logged_in(settings, reliability_report):
    settings.METRICS_TOKEN = "metrics-token-1234567890"
    superuser = make_user(is_staff=True, is_superuser=True)
    for role, user in (("anonymous", None), ("superuser session", superuser)):
        response = _client(user).get("/metrics")
        reliability_report.row(
            "Doors",
            door="/metrics",
            role=role,
            expected="401",
            got=response.status_code,
            acted=False,
        )
        assert response.status_code == 401
    response = Client().get("/metrics", HTTP_AUTHORIZATION="Bearer metrics-token-1234567890")
    reliability_report.row(
        "Doors",
        door="/metrics",
        role="bearer token",
        expected="200",
        got=response.status_code,
        acted=True,
    )
    assert response.status_code == 200


# --- Publishing and another author: the blog's permissions --------------------------------


def _generator(*extra: str):
    user = make_user(is_staff=True)
    _perms(user, "add_generationrun", "view_generationrun", *extra)
    return user


CASES = [
    # (what, extra permissions, form overrides, acts)
    ("publish", (), {"publish": "on"}, False),
    ("publish", ("publish_post",), {"publish": "on"}, True),
    ("another author", (), {"author": "superuser"}, False),
    ("another author", ("choose_author",), {"author": "superuser"}, True),
]


@pytest.mark.parametrize(("what", "extra", "overrides", "acts"), CASES)
def test_generate_form_publish_and_author_need_blog_permissions(
    what, extra, overrides, acts, reliability_report
):
    superuser = make_user("boss", is_staff=True, is_superuser=True)
    user = _generator(*extra)
    data = _generate_data({"user": user})
    data.update({k: str(superuser.pk) if v == "superuser" else v for k, v in overrides.items()})
    response = _post(_client(user), GENERATE_URL, data)
    run = GenerationRun.objects.first()
    reliability_report.row(
        "Doors",
        door=f"generate form: {what}",
        role=f"staff with {'+'.join(extra) or 'generate only'}",
        expected="acts" if acts else "refused",
        got=_outcome(response),
        acted=run is not None,
    )
    if acts:
        assert run is not None and _jobs() == 1
        assert run.publish == ("publish" in overrides)
        assert run.author_id == (superuser.pk if "author" in overrides else user.pk)
    else:
        assert response.status_code == 200 and run is None and _jobs() == 0
        page = response.content.decode()
        permission = "blog.publish_post" if what == "publish" else "blog.choose_author"
        assert permission in page  # the form says in one line what is refused


def test_generate_action_with_publish_needs_the_publish_permission(reliability_report):
    category = make_category("Databases")
    user = _generator("view_category")
    data = {
        "action": "generate_in_categories",
        "_selected_action": [str(category.pk)],
        "_generate": "1",
        "count": "1",
        "publish": "on",
    }
    response = _post(_client(user), CATEGORIES_URL, data)
    reliability_report.row(
        "Doors",
        door="generate in categories: publish",
        role="staff with generate only",
        expected="refused",
        got=_outcome(response),
        acted=GenerationRun.objects.exists(),
    )
    assert response.status_code == 200 and "blog.publish_post" in response.content.decode()
    assert not GenerationRun.objects.exists() and _jobs() == 0


@pytest.mark.parametrize("extra", [(), ("publish_post",)])
def test_a_publishing_schedule_needs_the_publish_permission(extra, reliability_report):
    user = make_user(is_staff=True)
    _perms(user, "add_generationrun", "add_generationschedule", "view_generationschedule", *extra)
    data = {
        "name": "Nightly",
        "enabled": "on",
        "frequency": "daily",
        "at": "09:00",
        "weekday": "1",
        "cron": "",
        "timezone": "UTC",
        "count": "1",
        "publish": "on",
        "topic": "Redis",
        "category": "",
        "author": str(user.pk),
    }
    response = _post(_client(user), SCHEDULE_ADD_URL, data)
    saved = GenerationSchedule.objects.filter(name="Nightly").exists()
    reliability_report.row(
        "Doors",
        door="schedule: publish",
        role=f"staff with {'+'.join(extra) or 'generate only'}",
        expected="acts" if extra else "refused",
        got=_outcome(response),
        acted=saved,
    )
    assert saved == bool(extra)
    if not extra:
        assert "blog.publish_post" in response.content.decode()


def test_a_huge_delay_is_a_form_error_not_a_500(reliability_report):
    user = _generator()
    data = {**_generate_data({"user": user}), "delay": str(10**12)}
    response = _post(_client(user), GENERATE_URL, data)
    reliability_report.row(
        "Doors",
        door="generate form: delay=10**12",
        role="staff with",
        expected="200 + form error",
        got=_outcome(response),
        acted=GenerationRun.objects.exists(),
    )
    assert response.status_code == 200
    assert "Delay must be between 0 and 2592000 seconds (30 days)" in response.content.decode()
    assert not GenerationRun.objects.exists() and _jobs() == 0


# --- Links from the web in the admin ------------------------------------------------------

HOSTILE_URLS = [
    "javascript:alert(document.cookie)",
    " JaVaScRiPt:alert(1)",
    "java\tscript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "vbscript:msgbox(1)",
]


def test_source_urls_from_the_web_are_links_only_when_http(admin_client, reliability_report):
    from blog.models import PostSource
    from generation.models import ResearchSource

    owner = make_user(is_staff=True)
    run = GenerationRun.objects.create(author=owner, topic="XSS")
    post = make_post(author=owner)
    urls = [*HOSTILE_URLS, "https://example.com/page"]
    for number, url in enumerate(urls, start=1):
        ResearchSource.objects.create(
            run=run, number=number, url=url, title=f"t{number}", provider="searxng", status="ok"
        )
        PostSource.objects.create(post=post, number=number, title=f"t{number}", url=url)
    pages = {
        "run admin (sources)": f"{RUNS_URL}{run.pk}/change/",
        "post admin (sources)": f"{POSTS_URL}{post.pk}/change/",
    }
    for place, url in pages.items():
        page = admin_client.get(url).content.decode()
        hrefs = re.findall(r'href="([^"]*)"', page)
        bad = [h for h in hrefs if re.match(r"\s*(java|vb)\s*script:|\s*data:", h, re.I)]
        bad += [h for h in hrefs if "script" in h.lower() and "example.com" not in h]
        reliability_report.row(
            "Links from the web",
            place=place,
            hostile_urls=len(HOSTILE_URLS),
            rendered_as_links=len(bad),
        )
        assert not bad, (place, bad)
    run_page = admin_client.get(pages["run admin (sources)"]).content.decode()
    assert 'href="https://example.com/page"' in run_page  # http(s) stays a link
    assert "javascript:alert(document.cookie)" in run_page  # the others are text


@pytest.mark.parametrize("extra", [(), ("publish_post",)])
def test_running_a_publishing_schedule_now_needs_the_publish_permission(extra, reliability_report):
    from tests.factories import make_schedule

    owner = make_user("owner", is_staff=True)
    schedule = make_schedule("Nightly", publish=True, author=owner)
    user = make_user(is_staff=True)
    _perms(
        user,
        "add_generationrun",
        "view_generationschedule",
        "change_generationschedule",
        "choose_author",
        *extra,
    )
    data = {"action": "run_now", "_selected_action": [str(schedule.pk)]}
    response = _post(_client(user), "/admin/generation/generationschedule/", data)
    acted = GenerationRun.objects.exists()
    reliability_report.row(
        "Doors",
        door="schedule: run now (publishing)",
        role=f"staff with generate+choose_author{'+publish_post' if extra else ''}",
        expected="acts" if extra else "refused",
        got=_outcome(response),
        acted=acted,
    )
    assert acted == bool(extra)
    assert (_jobs() > 0) == bool(extra)


# --- One rule at every door that makes runs ------------------------------------------------


def test_schedule_rights_alone_make_no_runs(reliability_report):
    """The review's hole: add/change on schedules but no generate right, an enabled
    every-minute schedule of 100 posts. Refused; the tick queues nothing."""
    from generation.scheduling import service as scheduling

    user = make_user(is_staff=True)
    _perms(user, *SCHEDULE_RIGHTS)
    response = _post(_client(user), f"{SCHEDULES_URL}add/", _schedule_data({"user": user}))
    with TestCase.captureOnCommitCallbacks(execute=True):
        scheduling.schedules_tick(now=timezone.now() + timedelta(minutes=5))
    reliability_report.row(
        "Doors",
        door="schedule: enabled * * * * * x100",
        role="staff with schedule rights only",
        expected="refused",
        got=_outcome(response),
        acted=GenerationRun.objects.exists(),
    )
    assert response.status_code == 200
    assert "generation.add_generationrun" in response.content.decode()
    assert not GenerationSchedule.objects.filter(name="every-minute").exists()
    assert not GenerationRun.objects.exists() and _jobs() == 0
    # A disabled schedule makes no runs: saving one needs no generate right.
    data = _schedule_data({"user": user})
    del data["enabled"]
    _post(_client(user), f"{SCHEDULES_URL}add/", data)
    assert GenerationSchedule.objects.filter(name="every-minute", enabled=False).exists()


@pytest.mark.parametrize("extra", [(), ("choose_author",)])
def test_an_empty_schedule_author_is_another_author(settings, extra, reliability_report):
    owner = make_user("default-author", is_staff=True)
    settings.GENERATION_DEFAULT_AUTHOR = str(owner.pk)
    user = make_user(is_staff=True)
    _perms(user, *SCHEDULE_RIGHTS, "add_generationrun", *extra)
    response = _post(
        _client(user), f"{SCHEDULES_URL}add/", _schedule_data({"user": user}, author="")
    )
    saved = GenerationSchedule.objects.filter(name="every-minute").exists()
    reliability_report.row(
        "Doors",
        door="schedule: empty author (the default)",
        role=f"staff with generate{'+choose_author' if extra else ''}",
        expected="acts" if extra else "refused",
        got=_outcome(response),
        acted=saved,
    )
    assert saved == bool(extra)
    if not extra:
        assert "blog.choose_author" in response.content.decode()


@pytest.mark.parametrize("extra", [(), ("choose_author",)])
def test_retrying_another_users_run_needs_choose_author(extra, reliability_report):
    owner = make_user("owner", is_staff=True)
    run = GenerationRun.objects.create(
        author=owner, topic="Redis", status=RunStatus.FAILED, attempts=4, max_attempts=4
    )
    user = make_user(is_staff=True)
    _perms(user, "view_generationrun", "change_generationrun", "add_generationrun", *extra)
    response = _post(_client(user), RUNS_URL, _action("retry_failed")({"run": run}))
    run.refresh_from_db()
    acted = run.status == RunStatus.QUEUED
    reliability_report.row(
        "Doors",
        door="run admin: retry another user's run",
        role=f"staff with generate+change{'+choose_author' if extra else ''}",
        expected="acts" if extra else "refused",
        got=_outcome(response),
        acted=acted,
    )
    assert acted == bool(extra) and (_jobs() == 1) == bool(extra)
    assert run.author_id == owner.pk


@pytest.mark.parametrize("extra", [(), ("choose_author",)])
def test_author_lists_show_only_the_user_without_choose_author(extra):
    other = make_user("someone-else", is_staff=True)
    user = _generator(*extra)
    _perms(user, *SCHEDULE_RIGHTS)
    client = _client(user)
    for url in (GENERATE_URL, f"{SCHEDULES_URL}add/"):
        page = client.get(url).content.decode()
        options = re.findall(r'<option value="(\d+)"', page)
        assert str(user.pk) in options, url
        assert (str(other.pk) in options) == bool(extra), url


@pytest.mark.parametrize("extra", [(), ("choose_author",)])
def test_the_post_admins_author_field_follows_choose_author(extra, reliability_report):
    owner = make_user("owner", is_staff=True)
    other = make_user("other", is_staff=True)
    post = make_post(author=owner, status=Post.Status.DRAFT)
    user = make_user(is_staff=True)
    _perms(user, "view_post", "change_post", *extra)
    data = {
        "title": post.title,
        "slug": post.slug,
        "author": str(other.pk),
        "excerpt": "",
        "body": post.body,
        "tags": "",
        "meta_description": "",
        "sources-TOTAL_FORMS": "0",
        "sources-INITIAL_FORMS": "0",
    }
    response = _post(_client(user), f"{POSTS_URL}{post.pk}/change/", data)
    post.refresh_from_db()
    reliability_report.row(
        "Doors",
        door="post admin: set another author",
        role=f"staff with change_post{'+choose_author' if extra else ''}",
        expected="acts" if extra else "ignored",
        got=_outcome(response),
        acted=post.author_id == other.pk,
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert post.author_id == (other.pk if extra else owner.pk)


def _errors(response) -> list[str]:
    return re.findall(r'class="errorlist[^"]*"[^>]*>(.*?)</ul>', response.content.decode(), re.S)
