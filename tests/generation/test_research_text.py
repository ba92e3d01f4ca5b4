"""Tokenizing, canonical URLs, passage selection and ranking."""

from __future__ import annotations

import pytest

from generation.research import canonical_url, content_hash, select_passages, tokenize
from generation.research.ranking import rank_documents
from generation.research.text import split_passages


def test_tokenize_drops_stopwords_and_meets_plurals_and_verb_forms():
    assert tokenize("The indexes are caching queries; the index caches a query.") == [
        "index",
        "cach",
        "query",
        "index",
        "cach",
        "query",
    ]
    assert tokenize("Running C++ and Python 3.11 on the GPU") == [
        "run",
        "c++",
        "python",
        "3.11",
        "gpu",
    ]


@pytest.mark.parametrize(
    ("url", "canonical"),
    [
        ("HTTPS://Example.COM/Path/?utm_source=x&id=3#top", "https://example.com/Path?id=3"),
        ("http://example.com:80/a/", "http://example.com/a"),
        ("https://example.com:8443/a", "https://example.com:8443/a"),
        ("https://example.com/", "https://example.com"),
        ("http://[::1]:8080/x#y", "http://[::1]:8080/x"),
    ],
)
def test_canonical_url(url, canonical):
    assert canonical_url(url) == canonical


def test_content_hash_ignores_case_and_spacing():
    assert content_hash("Hello   World\n") == content_hash("hello world")
    assert content_hash("hello world") != content_hash("hello there")


def test_split_passages_keeps_sentences_whole():
    text = "\n\n".join(["Short intro."] + [f"Sentence number {n} is here. " * 30 for n in range(3)])
    passages = split_passages(text)
    assert all(len(p) <= 700 for p in passages)
    assert " ".join(passages).split() == text.split()


ARTICLE = "\n\n".join(
    [
        "PostgreSQL keeps old row versions after updates because of MVCC.",
        "Autovacuum starts workers that vacuum tables once dead rows pass a threshold. " * 3,
        "An unrelated paragraph about the history of the project and its community events.",
        "Long-running transactions stop vacuum from removing dead rows, so tables bloat. " * 3,
    ]
)


def test_select_passages_picks_matching_passages_in_document_order():
    chosen = select_passages(ARTICLE, ["vacuum dead rows", "table bloat"], max_chars=600)
    assert chosen
    assert sum(len(p) for p in chosen) <= 600
    assert not any("community events" in p for p in chosen)
    assert [ARTICLE.index(p) for p in chosen] == sorted(ARTICLE.index(p) for p in chosen)


def test_select_passages_falls_back_to_the_lead_when_nothing_matches():
    chosen = select_passages(ARTICLE, "kubernetes helm charts", max_chars=300)
    assert chosen and chosen[0].startswith("PostgreSQL keeps old row versions")


def test_select_passages_truncates_a_single_long_passage():
    assert select_passages("word " * 1000, "word", max_chars=100) == [("word " * 20)[:100]]


def test_rank_documents_prefers_the_text_about_the_queries():
    texts = [
        "Redis queues hold jobs for RQ workers. " * 10,
        "Speculative decoding uses a draft model to propose tokens the target model verifies. " * 5,
        "Nothing relevant here at all, only gardening advice for tomatoes. " * 5,
    ]
    scores = rank_documents(texts, ["speculative decoding draft model"])
    assert scores[1] == 1.0
    assert scores[0] == scores[2] == 0.0


def test_passages_keep_a_heading_on_its_own_line():
    from generation.research.text import split_passages

    text = "Queues and workers\nA queue is a list of job ids. Workers take jobs from it."
    (passage,) = split_passages(text)
    assert passage.splitlines() == [
        "Queues and workers",
        "A queue is a list of job ids. Workers take jobs from it.",
    ]


@pytest.mark.parametrize(
    ("body", "declared", "text"),
    [
        ("Café".encode("latin-1"), "utf-8", "Café"),  # the declared charset lies
        ("Café".encode(), "x-no-such-charset", "Café"),  # names no charset at all
        ("Café".encode("latin-1"), None, "Café"),
        ("Café".encode("utf-16"), "utf-8", "Café"),  # a byte order mark outranks the header
        ("Дом".encode("cp1251"), "cp1251", "Дом"),  # a declared charset that fits is used
    ],
)
def test_page_text_decodes_whatever_charset_the_server_declares(body, declared, text):
    from generation.research.extract import decode_text

    assert decode_text(body, declared) == text


SHELL_ARTICLE = (
    "CDPATH lets cd find directories under your home directory. Set it in the shell "
    "startup file in your home directory, then cd to any folder below home. The home "
    "variable names your home; tilde expands to home; a script run from home keeps "
    "home as its working directory."
)
FOCACCIA_RECIPE = (
    "This focaccia is easy home baking for beginners. Mix the flour, yeast, salt, water and "
    "olive oil, leave the dough to rise, press in olives and herbs, then bake for 25 "
    "minutes until golden. More recipes: sourdough bread and rolls."
)
# The topic padded with generic words, as a planning model does.
PADDED_QUERIES = [
    "home baking recipes",
    "home baking recipes a practical guide for engineers",
    "home baking recipes best practices",
    "home baking recipes trade-offs",
    "how home baking recipes works",
]


def test_a_page_repeating_one_topic_word_ranks_below_one_covering_the_topic():
    texts = [
        SHELL_ARTICLE,
        FOCACCIA_RECIPE,
        "Trade-offs of remote work: best practices and a practical guide for engineers.",
    ]
    floor = 0.2  # RESEARCH_RELEVANCE_FLOOR's default
    # On the padded queries alone, the shell article and the padding's page pass the floor.
    plain = rank_documents(texts, PADDED_QUERIES)
    assert plain[1] == 1.0 and plain[0] >= floor and plain[2] >= floor
    scores = rank_documents(texts, PADDED_QUERIES, topic="home baking recipes")
    assert scores[1] == 1.0
    assert scores[0] < floor  # "home" said nine times is one word of three: off-topic
    assert scores[2] == 0.0  # the padding's words only: none of the topic


def test_topic_coverage_counts_each_topic_term_saturated():
    from generation.research.ranking import tokenized_passages, topic_coverage

    documents = [tokenized_passages(text) for text in (SHELL_ARTICLE, FOCACCIA_RECIPE)]
    shell, recipe = topic_coverage(documents, "home baking recipes")
    assert 0.3 < shell < 1 / 3  # one term of three, however often it is said
    assert recipe == 2 / 3  # each of the three terms said once: 1 / (1 + 0.5)
    assert topic_coverage(documents, "kubernetes") == [0.0, 0.0]
