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
