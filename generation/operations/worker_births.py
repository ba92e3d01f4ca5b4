"""Worker births recorded in Redis, to catch a worker that keeps restarting (crash loop).

Every worker records its start in one sorted set (scored by Redis's clock, shared by every
host). A worker is known by its supervisor program (`SUPERVISOR_PROCESS_NAME`, set by
supervisord for each process it runs) on its host, or else by its name (`rqworker --name`):
RQ's default names are random, so a restarted worker would look new every time. A worker
that restarted and whose latest start is no longer alive is reported too: supervisor gave
up on it (FATAL after `startretries`) before it restarted often enough to count as churn.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections import Counter
from dataclasses import dataclass
from typing import cast

from redis import Redis
from rq.worker import Worker

BIRTHS_KEY = "drb:workers:births"
WINDOW_SECONDS = 3600


def worker_identity(worker_name: str) -> str:
    """What a restarted worker has in common with its previous life."""
    program = os.environ.get("SUPERVISOR_PROCESS_NAME")
    return f"{socket.gethostname()}:{program}" if program else worker_name


def _clock(connection: Redis) -> float:
    seconds, micros = cast(tuple[int, int], connection.time())  # redis-py types it sync-or-async
    return seconds + micros / 1_000_000


def birth_record(connection: Redis, worker_name: str) -> None:
    """Note that a worker started now; starts older than the window are dropped."""
    now = _clock(connection)
    member = f"{worker_identity(worker_name)}\t{worker_name}\t{uuid.uuid4().hex[:8]}"
    with connection.pipeline() as pipe:
        pipe.zadd(BIRTHS_KEY, {member: now})
        pipe.zremrangebyscore(BIRTHS_KEY, "-inf", now - WINDOW_SECONDS)
        pipe.expire(BIRTHS_KEY, WINDOW_SECONDS * 2)
        pipe.execute()


@dataclass(frozen=True)
class Restarts:
    identity: str
    count: int  # restarts in the last hour (starts in the hour, less the first)
    gone: bool  # its latest start is not alive now (supervisor gave up: FATAL)


def restarts_last_hour(connection: Redis) -> dict[str, Restarts]:
    """identity → its restarts in the last hour, for those that restarted at all."""
    now = _clock(connection)
    members = cast(list[bytes], connection.zrangebyscore(BIRTHS_KEY, now - WINDOW_SECONDS, "+inf"))
    starts: Counter[str] = Counter()
    latest: dict[str, str] = {}
    for member in members:
        identity, name, _ = member.decode().split("\t")
        starts[identity] += 1
        latest[identity] = name
    restarted = [identity for identity, count in starts.items() if count > 1]
    with connection.pipeline() as pipe:
        for identity in restarted:
            pipe.exists(Worker.redis_worker_namespace_prefix + latest[identity])
        alive = pipe.execute()
    return {
        identity: Restarts(identity, starts[identity] - 1, gone=not is_alive)
        for identity, is_alive in zip(restarted, alive, strict=True)
    }
