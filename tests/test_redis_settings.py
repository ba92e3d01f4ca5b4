"""Settings for Redis Sentinel and the alert webhook: parsed, or refused in one line."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from config.envtools import parse_sentinels, parse_webhook_url
from config.redisconf import redis_connection_config


def test_sentinels_parse_and_bad_ones_name_the_variable():
    assert parse_sentinels("10.0.0.1:26379, [::1]:26380", variable="REDIS_SENTINELS") == [
        ("10.0.0.1", 26379),
        ("::1", 26380),
    ]
    assert parse_sentinels("", variable="REDIS_SENTINELS") == []
    with pytest.raises(
        ImproperlyConfigured, match=r"REDIS_SENTINELS: '10\.0\.0\.1' is not host:port"
    ):
        parse_sentinels("10.0.0.1", variable="REDIS_SENTINELS")


def test_queues_use_the_sentinels_with_the_database_and_password_of_redis_url():
    assert redis_connection_config("redis://h:6379/3", [], "m") == {"URL": "redis://h:6379/3"}
    config = redis_connection_config("redis://:s3cret@ignored:6379/3", [("a", 26379)], "drb")
    assert (config["SENTINELS"], config["MASTER_NAME"], config["DB"], config["PASSWORD"]) == (
        [("a", 26379)],
        "drb",
        3,
        "s3cret",
    )


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.slack.com/services/T0/B0/x",
        "http://127.0.0.1:9000/hook",
        "http://localhost/h",
    ],
)
def test_webhook_urls_accepted(url):
    assert parse_webhook_url(url, variable="ALERT_WEBHOOK_URL") == url


@pytest.mark.parametrize(
    "url", ["http://hooks.example.com/x", "ftp://127.0.0.1/x", "https://", "hooks.example.com"]
)
def test_webhook_urls_refused_unless_https_or_loopback(url):
    with pytest.raises(ImproperlyConfigured, match="ALERT_WEBHOOK_URL must be an https:// URL"):
        parse_webhook_url(url, variable="ALERT_WEBHOOK_URL")
