"""Redis connection settings from REDIS_URL, or from Redis Sentinel when REDIS_SENTINELS is set.

django-rq's RQ_QUEUES is the one place every Redis user of the project connects through
(queues, workers and their scheduler, rqscheduler, leases, alerts, metrics), so a queue
entry here decides single node or Sentinel for all of them. The cache gets the same
master through redis-py's SentinelConnectionPool.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlsplit


def redis_connection_config(
    url: str, sentinels: list[tuple[str, int]], master: str
) -> dict[str, Any]:
    """One RQ_QUEUES entry's connection: {"URL": url}, or django-rq's Sentinel keys with
    the database and credentials taken from `url`."""
    if not sentinels:
        return {"URL": url}
    parts = urlsplit(url)
    return {
        "SENTINELS": sentinels,
        "MASTER_NAME": master,
        "DB": int(parts.path.strip("/") or 0),
        "USERNAME": unquote(parts.username) if parts.username else None,
        "PASSWORD": unquote(parts.password) if parts.password else None,
        # A refused or dropped connection makes redis-py ask the sentinels for the master
        # again (the workers retry patiently meanwhile, generation.worker); keepalive
        # notices a master host that vanished without closing its sockets.
        "CONNECTION_KWARGS": {"socket_connect_timeout": 2, "socket_keepalive": True},
        "SENTINEL_KWARGS": {"socket_timeout": 2, "socket_connect_timeout": 2},
    }


def redis_cache_options(sentinels: list[tuple[str, int]], master: str) -> dict[str, Any]:
    """Django's RedisCache OPTIONS that reach the master through the sentinels ({} without)."""
    if not sentinels:
        return {}
    from redis.sentinel import Sentinel

    manager = Sentinel(sentinels, sentinel_kwargs={"socket_timeout": 2}, socket_timeout=5)
    return {
        "OPTIONS": {
            "pool_class": "redis.sentinel.SentinelConnectionPool",
            "service_name": master,
            "sentinel_manager": manager,
        }
    }
