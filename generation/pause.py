"""Pause and resume generation: RQ's own suspension, with who, when and why.

A pause is RQ's `rq:suspended` flag (`rq.suspension`, the same one `rq suspend` and
`manage.py rqsuspend` set): every worker finishes the job it has and then takes no new one
until resumed. Beside it we keep why, since when and by whom (`drb:pause`), so the
overview, `queue_health`, `/metrics` and the schedules' tick can say so.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from redis import Redis
from rq.suspension import WORKERS_SUSPENDED, resume, suspend

from generation import queues

DETAILS_KEY = "drb:pause"


@dataclass(frozen=True)
class PauseState:
    reason: str
    since: datetime | None
    by: str

    def summary(self) -> str:
        since = f" since {self.since:%Y-%m-%d %H:%M:%S} UTC" if self.since else ""
        by = f" by {self.by}" if self.by else ""
        why = f": {self.reason}" if self.reason else ""
        return f"generation is paused{since}{by}{why}; `manage.py queue_resume` resumes it"


def _connection() -> Redis:
    return queues.get_queue("default").connection


def generation_pause(*, reason: str = "", by: str = "") -> PauseState:
    """Suspend every worker (each finishes its current job first) and note why."""
    connection = _connection()
    now = datetime.now(UTC)
    with connection.pipeline() as pipe:
        pipe.delete(DETAILS_KEY)
        pipe.hset(DETAILS_KEY, mapping={"reason": reason[:500], "since": now.isoformat(), "by": by})
        pipe.execute()
    suspend(connection)
    return PauseState(reason=reason[:500], since=now, by=by)


def generation_resume() -> bool:
    """Let the workers take jobs again; False when generation was not paused."""
    connection = _connection()
    connection.delete(DETAILS_KEY)
    return bool(resume(connection))


def pause_state(connection: Redis | None = None) -> PauseState | None:
    """The pause in force, or None. A pause set by `rq suspend` has no details."""
    connection = connection or _connection()
    with connection.pipeline() as pipe:
        pipe.exists(WORKERS_SUSPENDED)
        pipe.hgetall(DETAILS_KEY)
        suspended, details = pipe.execute()
    if not suspended:
        return None
    text = {key.decode(): value.decode() for key, value in details.items()}
    since = datetime.fromisoformat(text["since"]) if text.get("since") else None
    return PauseState(reason=text.get("reason", ""), since=since, by=text.get("by", ""))
