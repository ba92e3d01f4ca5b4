"""A realistic small blog for the real-client suites: published posts with sources,
categories and tags over two pages, one draft and one scheduled post."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.utils import timezone

from blog.models import Category, Post, PostSource
from tests.factories import make_category, make_post, make_user

BODY = """A long introduction about {topic}, with a claim backed by a source [1] and
another backed by two [2].

## Why {topic} matters

- first point, with **bold** and *emphasis*
- second point, with `inline code`

| Setting | Default |
|:---|---:|
| workers | 4 |

```python
print("{topic}")
```

> A quotation from the second source [2].

Read [the first source](https://example.org/{slug}/one) or [our archive](/).
"""


@dataclass
class Site:
    published: list[Post]
    draft: Post
    scheduled: Post
    categories: list[Category]


def make_site(*, count: int = 5) -> Site:
    """`count` published posts (newest last), one draft and one scheduled post."""
    author = make_user("ada", first_name="Ada", last_name="Lovelace")
    categories = [
        make_category("Machine learning", description="Models, training and inference."),
        make_category("Databases"),
    ]
    start = timezone.now() - timedelta(hours=count + 1)
    published = [
        _post(i, author=author, category=categories[i % 2], published_at=start + timedelta(hours=i))
        for i in range(count)
    ]
    draft = _post(count, author=author, category=categories[0], status=Post.Status.DRAFT)
    scheduled = _post(
        count + 1,
        author=author,
        category=categories[1],
        published_at=timezone.now() + timedelta(days=2),
    )
    # The newest post was made by the pipeline: its page carries the disclosure and dates.
    Post.objects.filter(pk=published[-1].pk).update(generated=True)
    PostSource.objects.filter(post=published[-1]).update(fetched_at=start)
    published[-1].refresh_from_db()
    return Site(published=published, draft=draft, scheduled=scheduled, categories=categories)


def _post(i: int, *, status: str = Post.Status.PUBLISHED, **fields) -> Post:
    topic = f"Topic number {i}"
    slug = f"topic-{i}"
    return make_post(
        f"{topic}: a long look at caching & queues",
        body=BODY.format(topic=topic, slug=slug),
        status=status,
        excerpt=f"What we learned about {topic} <in practice> & at scale.",
        tags=["python", f"tag {i}", "Caching & queues", "Données"],
        sources=[
            {"number": 1, "title": f"{topic}, part one", "url": f"https://example.org/{slug}/one"},
            {"number": 2, "title": "A second view", "url": f"https://docs.example.net/{slug}"},
        ],
        **fields,
    )
