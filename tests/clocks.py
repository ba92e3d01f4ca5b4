"""A faster clock for the schedulers' tick in worker processes (SCHEDULE_CLOCK).

`fast_clock` agrees with the wall clock at TEST_CLOCK_EPOCH (a Unix time) and from then on
runs TEST_CLOCK_RATE times faster, so an every-minute schedule comes due every 60/rate
seconds of real time, and every process that reads it agrees on the time.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime

CLOCK_PATH = "tests.clocks.fast_clock"


def fast_clock() -> datetime:
    epoch = float(os.environ["TEST_CLOCK_EPOCH"])
    rate = float(os.environ["TEST_CLOCK_RATE"])
    return datetime.fromtimestamp(epoch + (time.time() - epoch) * rate, tz=UTC)


def fast_clock_env(rate: float) -> dict[str, str]:
    """Environment that puts a worker's tick on a clock `rate` times faster from now."""
    return {
        "SCHEDULE_CLOCK": CLOCK_PATH,
        "TEST_CLOCK_EPOCH": repr(time.time()),
        "TEST_CLOCK_RATE": repr(rate),
    }
