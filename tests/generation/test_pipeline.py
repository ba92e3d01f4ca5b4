"""The whole pipeline, through the real openai SDK and real HTTP, against the stand-ins."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from blog.models import Post
from generation.exceptions import InvalidRequest, LLMError
from generation.execution import service
from generation.models import GenerationRun, ResearchSource, RunStatus
from generation.runs.titles import is_near_duplicate

pytestmark = pytest.mark.django_db


def generate(**options) -> list[GenerationRun]:
    return service.generate_posts(**{"count": 1, "topic": "LLM optimization", **options})


def test_happy_path_makes_a_cited_post(standins, author):
    (run,) = generate(author=author, publish=True, category="Machine Learning")

    assert run.status == RunStatus.SUCCEEDED, run.errors
    post = run.post
    assert post.status == Post.Status.PUBLISHED
    assert post.category.name == "Machine Learning"
    assert post.body.count("## ") >= 3 and "## Conclusion" in post.body
    assert 0 < post.tags.count() <= 8
    assert len(post.meta_description) <= 160 and post.excerpt
    # Every citation left in the body names one of the post's listed sources.
    numbers = {s.number for s in post.sources.all()}
    assert numbers == set(range(1, len(numbers) + 1)) and len(numbers) >= 2
    import re

    cited = {int(n) for n in re.findall(r"\[(\d+)\]", post.body)}
    assert cited == numbers
    # Listed sources are pages the research stage actually fetched and kept.
    kept_urls = set(
        ResearchSource.objects.filter(run=run, status="kept").values_list("url", flat=True)
    )
    assert {s.url for s in post.sources.all()} <= kept_urls
    assert run.citations_verified == run.citations_total > 0
    assert run.prompt_tokens > 0 and run.completion_tokens > 0 and run.cost_usd > 0
    assert set(run.timings) == {
        "topic",
        "research",
        "outline",
        "sections",
        "citations",
        "metadata",
        "publish",
    }
    assert standins.llm.counts["section"] == len(run.checkpoints["outline"]["sections"])


def test_429_then_success(standins, author):
    standins.llm.inject(kind="outline", status=429, retry_after=0.1, times=1)
    (run,) = generate(author=author)
    assert run.status == RunStatus.SUCCEEDED, run.errors
    assert standins.llm.counts["outline"] == 2


def test_invalid_json_is_repaired_once(standins, author):
    standins.llm.inject(kind="outline", invalid_json=True, times=1)
    (run,) = generate(author=author)
    assert run.status == RunStatus.SUCCEEDED, run.errors
    assert standins.llm.counts["outline"] == 2


def test_failure_in_sections_resumes_without_repeating_earlier_stages(standins, author, settings):
    standins.llm.inject(kind="section", status=400, times=1)
    (run,) = generate(author=author)
    assert run.status == RunStatus.FAILED
    assert run.errors[-1]["stage"] == "sections"
    assert set(run.checkpoints) >= {"topic", "research", "outline"}
    before = dict(standins.llm.counts)
    searches, pages = standins.web.requests["search"], standins.web.requests["page"]
    sections = len(run.checkpoints["outline"]["sections"])

    # Another attempt (as a retry would make) resumes at the sections stage.
    GenerationRun.objects.filter(pk=run.pk).update(status=RunStatus.RETRYING, max_attempts=2)
    run = service.run_generation(run.pk)

    assert run.status == RunStatus.SUCCEEDED, run.errors
    assert standins.web.requests["search"] == searches and standins.web.requests["page"] == pages
    for kind in ("topic_angle", "search_queries", "outline"):
        assert standins.llm.counts[kind] == before[kind], kind
    # Only the failed section was written again; the finished ones were kept.
    assert standins.llm.counts["section"] == sections + 1
    assert run.attempts == 2 and len(run.errors) == 1


def test_three_posts_on_one_topic_have_distinct_titles(standins, author):
    runs = generate(author=author, count=3)
    titles = [run.post.title for run in runs]
    assert all(run.status == RunStatus.SUCCEEDED for run in runs)
    assert len(set(titles)) == 3
    for i, title in enumerate(titles):
        assert not is_near_duplicate(title, titles[:i] + titles[i + 1 :])


def test_a_finished_run_never_makes_a_second_post(standins, author):
    (run,) = generate(author=author)
    with pytest.raises(Exception, match="succeeded"):
        service.run_generation(run.pk)
    assert Post.objects.count() == 1


def test_without_topic_a_configured_uncovered_topic_is_chosen(standins, author, settings):
    settings.GENERATION_TOPICS = ["LLM optimization", "PostgreSQL performance"]
    generate(author=author, topic="LLM optimization")
    (run,) = generate(author=author, topic="")
    assert run.status == RunStatus.SUCCEEDED, run.errors
    assert run.topic == "PostgreSQL performance"


def test_no_tags_option_leaves_the_post_untagged(standins, author):
    (run,) = generate(author=author, tags=False)
    assert run.post.tags.count() == 0


def test_missing_llm_configuration_names_both_variables(author, settings):
    settings.OPENAI_API_KEY = ""
    settings.OPENAI_BASE_URL = ""
    # Refused at the door, before any run is written.
    with pytest.raises(InvalidRequest, match=r"set OPENAI_API_KEY .* or OPENAI_BASE_URL"):
        generate(author=author)
    assert not GenerationRun.objects.exists()
    # A run queued before the endpoint went away fails on its first call, saying the same.
    run = GenerationRun.objects.create(author=author, topic="Redis", max_attempts=1)
    with pytest.raises(Exception, match="No LLM endpoint configured"):
        service.run_generation(run.pk)
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED
    assert (
        "OPENAI_API_KEY" in run.errors[0]["error"] and "OPENAI_BASE_URL" in run.errors[0]["error"]
    )


def test_bad_arguments_fail_before_any_work(standins, author):
    with pytest.raises(InvalidRequest, match="Count must be between 1"):
        generate(author=author, count=0)
    with pytest.raises(InvalidRequest, match="does not exist"):
        generate(author="nobody")
    assert GenerationRun.objects.count() == 0
    assert standins.llm.total == 0


def test_command_prints_post_and_accounting(standins, author, capsys):
    call_command(
        "generate_deep_research", "--count=1", "--topic=Python async I/O", f"--author={author.pk}"
    )
    out = capsys.readouterr().out
    post = Post.objects.get()
    assert post.title in out
    # A post in review is a 404 for readers: the output gives its review screen instead.
    assert post.get_absolute_url() not in out
    assert f"/admin/blog/post/{post.pk}/review/ (in review: " in out
    for word in ("sources", "citations", "tokens", "cost", "research"):
        assert word in out
    # Not a terminal: one plain line per event, in order, none repeated.
    run = f"run {post.generation_run.pk}:"
    lines = [line for line in out.splitlines() if line.startswith("run ")]
    assert lines[:3] == [f"{run} queued", f"{run} attempt 1/1 started", f"{run} topic started"]
    assert lines[-1] == f"{run} succeeded" and len(lines) == len(set(lines))


def test_command_prints_a_published_posts_public_url(standins, author, capsys):
    call_command(
        "generate_deep_research",
        "--publish",
        "--topic=Redis and job queues",
        f"--author={author.pk}",
    )
    post = Post.objects.get()
    assert f"{post.get_absolute_url()} (published)" in capsys.readouterr().out


def test_command_refuses_bad_count_in_one_line(author):
    with pytest.raises(CommandError, match="Count must be between 1 and"):
        call_command("generate_deep_research", "--count=0", f"--author={author.pk}")


def test_llm_error_is_recorded_with_its_stage(standins, author):
    standins.llm.inject(kind="topic_angle", status=401, times=None)
    (run,) = generate(author=author)
    assert run.status == RunStatus.FAILED
    assert run.errors[0]["stage"] == "topic"
    assert LLMError.__name__ in run.errors[0]["error"]
