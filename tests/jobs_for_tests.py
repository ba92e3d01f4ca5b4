"""Small RQ job functions that only tests enqueue, to watch the worker itself.

They report to a Redis list named by the test, so the test sees when each job started and
finished (and in which process) without any product code in the way.
"""

from __future__ import annotations

import os
import time

from rq import get_current_job


def sleep_and_report(seconds: float, key: str) -> str:
    """Push "start:<pid>", sleep, push "end:<pid>"."""
    connection = get_current_job().connection
    connection.rpush(key, f"start:{os.getpid()}")
    time.sleep(seconds)
    connection.rpush(key, f"end:{os.getpid()}")
    return "slept"


def modules_loaded(names: list[str]) -> list[str]:
    """Which of `names` were already imported when the job started (this module imports
    none of them: whatever is loaded came from the worker before it forked the horse)."""
    import sys

    return [name for name in names if name in sys.modules]


def fail_holding_a_secret() -> None:
    """Fail with the Tavily key and the Redis URL (password included) in the message."""
    from django.conf import settings

    raise RuntimeError(f"provider refused {settings.TAVILY_API_KEY} via {settings.REDIS_URL}")
