"""The public pages: visibility, the post page, pagination, feed, sitemap and robots.txt."""

from __future__ import annotations

from datetime import timedelta
from xml.etree import ElementTree

import pytest
from django.urls import reverse
from django.utils import timezone

from blog.models import Post
from tests.factories import make_category, make_post, make_posts, make_user

pytestmark = pytest.mark.django_db


def test_draft_is_404_for_anonymous_readers(client):
    draft = make_post("Secret draft", status=Post.Status.DRAFT)
    response = client.get(draft.get_absolute_url())
    assert response.status_code == 404
    assert "find that page" in response.content.decode()


def test_draft_is_previewable_by_staff_with_a_banner(client):
    draft = make_post("Secret draft", status=Post.Status.DRAFT)
    client.force_login(make_user(is_staff=True))
    response = client.get(draft.get_absolute_url())
    html = response.content.decode()
    assert response.status_code == 200
    assert "Draft preview" in html
    assert '<meta name="robots" content="noindex, nofollow">' in html


def test_scheduled_post_is_hidden_until_its_date(client):
    future = timezone.now() + timedelta(days=1)
    post = make_post("Tomorrow's post", published_at=future)
    assert client.get(post.get_absolute_url()).status_code == 404
    assert "Tomorrow" not in client.get(reverse("blog:home")).content.decode()


def test_non_staff_users_cannot_preview_drafts(client):
    draft = make_post("Secret draft", status=Post.Status.DRAFT)
    client.force_login(make_user())
    assert client.get(draft.get_absolute_url()).status_code == 404


def test_published_post_page_shows_everything_a_reader_needs(client):
    category = make_category("Networking")
    author = make_user("ada", first_name="Ada", last_name="Lovelace")
    post = make_post(
        "How TCP works",
        body="TCP is reliable [1]. Congestion control matters [2]. Unknown [5].\n\n"
        + "word " * 500,
        author=author,
        category=category,
        tags=["TCP", "Protocols"],
        excerpt="A tour of TCP.",
        sources=[
            {"number": 1, "title": "RFC 9293", "url": "https://www.rfc-editor.org/rfc/rfc9293"},
            {"number": 2, "title": "Congestion", "url": "https://example.org/cc", "domain": "ex"},
        ],
    )
    response = client.get(post.get_absolute_url())
    html = response.content.decode()
    assert response.status_code == 200
    assert "<title>How TCP works · " in html
    assert '<meta name="description" content="A tour of TCP.">' in html
    assert f'<link rel="canonical" href="http://testserver{post.get_absolute_url()}">' in html
    assert '<meta property="og:type" content="article">' in html
    assert '<link rel="alternate" type="application/rss+xml"' in html
    assert "Ada Lovelace" in html and "3 min read" in html and "Networking" in html
    assert reverse("blog:tag", args=["tcp"]) in html
    assert '<li id="source-1" value="1">' in html
    assert (
        '<a href="https://www.rfc-editor.org/rfc/rfc9293" rel="noopener nofollow">RFC 9293</a>'
        in html
    )
    assert '<sup class="cite"><a href="#source-2"' in html
    assert "Unknown [5]." in html
    assert "Draft preview" not in html


def test_post_without_sources_has_no_sources_section(client):
    post = make_post("Plain", body="No citations [1] here.")
    html = client.get(post.get_absolute_url()).content.decode()
    assert "Sources" not in html and "#source-1" not in html


def test_home_lists_newest_first_and_paginates(client, settings):
    settings.POSTS_PER_PAGE = 3
    posts = make_posts(7)  # newest last
    make_post("Draft on home", status=Post.Status.DRAFT)
    first = client.get(reverse("blog:home")).content.decode()
    third = client.get(reverse("blog:home"), {"page": 3}).content.decode()
    assert first.index(posts[6].title) < first.index(posts[5].title) < first.index(posts[4].title)
    assert posts[3].get_absolute_url() not in first
    assert "Page 1 of 3" in first and 'href="?page=2"' in first
    assert posts[0].get_absolute_url() in third and "Page 3 of 3" in third
    assert 'href="."' in client.get(reverse("blog:home"), {"page": 2}).content.decode()
    assert "Draft on home" not in first
    assert client.get(reverse("blog:home"), {"page": 9}).status_code == 404


def test_category_and_tag_pages_list_only_their_posts(client):
    science = make_category("Science", description="Things we measured.")
    inside = make_post("Inside", category=science, tags=["Physics"])
    outside = make_post("Outside", tags=["Art"])
    category_html = client.get(reverse("blog:category", args=["science"])).content.decode()
    tag_html = client.get(reverse("blog:tag", args=["physics"])).content.decode()
    assert inside.get_absolute_url() in category_html
    assert outside.get_absolute_url() not in category_html
    assert "Things we measured." in category_html
    assert inside.get_absolute_url() in tag_html and outside.get_absolute_url() not in tag_html
    assert client.get(reverse("blog:category", args=["nope"])).status_code == 404
    assert client.get(reverse("blog:tag", args=["nope"])).status_code == 404


def test_header_nav_lists_categories_with_published_posts(client):
    make_post("Visible", category=make_category("Visible Cat"))
    make_post("Hidden", category=make_category("Drafts Only"), status=Post.Status.DRAFT)
    html = client.get(reverse("blog:home")).content.decode()
    assert "Visible Cat" in html and "Drafts Only" not in html


def test_feed_contains_latest_published_items_with_excerpts(client):
    make_posts(22, excerpt="Short summary.")
    make_post("Unpublished", status=Post.Status.DRAFT)
    response = client.get(reverse("blog:feed"))
    assert response["Content-Type"].startswith("application/rss+xml")
    items = ElementTree.fromstring(response.content).findall("./channel/item")  # noqa: S314 - our own feed
    assert len(items) == 20
    assert items[0].findtext("title") == "Generated post 21"
    assert items[0].findtext("description") == "Short summary."
    assert items[0].findtext("link").startswith("http://testserver/posts/")
    assert all(item.findtext("title") != "Unpublished" for item in items)


def test_feed_description_is_the_excerpt_as_html_text(client):
    make_post("Tricky", excerpt='Queues <b>and</b> caches & "<script>alert(1)</script>"')
    response = client.get(reverse("blog:feed"))
    item = ElementTree.fromstring(response.content).find("./channel/item")  # noqa: S314 - our own feed
    # Readers render a description as HTML: the excerpt's text arrives escaped, never as markup.
    assert item.findtext("description") == (
        "Queues &lt;b&gt;and&lt;/b&gt; caches &amp; "
        "&quot;&lt;script&gt;alert(1)&lt;/script&gt;&quot;"
    )


def test_time_elements_carry_an_iso_datetime_to_the_second(client):
    # A second back: setting the microseconds could put it in the future, off the home page.
    published = (timezone.now() - timedelta(seconds=1)).replace(microsecond=123456)
    post = make_post("Timed", published_at=published)
    stamp = timezone.localtime(published).replace(microsecond=0).isoformat()
    for url in (reverse("blog:home"), post.get_absolute_url()):
        html = client.get(url).content.decode()
        assert f'<time datetime="{stamp}">' in html
        assert ".123456" not in html


def test_tags_beyond_ascii_or_without_letters_never_break_a_page(client):
    # taggit slugs keep "café" and "日本語" as they are, and give "#" an empty slug.
    post = make_post("Tagged", tags=["café", "日本語", "#"])
    for url in (reverse("blog:home"), post.get_absolute_url()):
        html = client.get(url).content.decode()
        assert '<a class="chip" href="/tag/caf%C3%A9/">café</a>' in html
        assert '<span class="chip">#</span>' in html
    for name in ("café", "日本語"):
        tag = post.tags.get(name=name)
        response = client.get(reverse("blog:tag", args=[tag.slug]))
        assert response.status_code == 200 and "Tagged" in response.content.decode()


def test_favicon_redirects_to_the_static_icon_linked_from_every_page(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 301
    assert response["Location"] == "/static/favicon.ico"
    assert '<link rel="icon" href="/static/favicon.ico"' in client.get("/").content.decode()


def test_sitemap_lists_home_posts_and_categories(client):
    category = make_category("Maths")
    post = make_post("On primes", category=category)
    draft = make_post("Draft", status=Post.Status.DRAFT)
    response = client.get(reverse("blog:sitemap"))
    xml = response.content.decode()
    assert response.status_code == 200
    assert "<loc>http://testserver/</loc>" in xml
    assert f"<loc>http://testserver{post.get_absolute_url()}</loc>" in xml
    assert f"<loc>http://testserver{category.get_absolute_url()}</loc>" in xml
    assert draft.get_absolute_url() not in xml


def test_robots_txt_allows_all_but_admin_and_points_to_sitemap(client):
    response = client.get("/robots.txt")
    body = response.content.decode()
    assert response["Content-Type"].startswith("text/plain")
    assert "User-agent: *" in body and "Allow: /" in body
    assert "Disallow: /admin/" in body and "Disallow: /django-rq/" in body
    assert "Sitemap: http://testserver/sitemap.xml" in body


def test_unknown_address_gets_the_friendly_404(client):
    response = client.get("/no/such/page/")
    assert response.status_code == 404
    assert "Read the latest posts" in response.content.decode()
