"""Background Thompson allocation inside the web server process.

Every app built for serving (not ``TESTING``) starts one
:class:`experiments.scheduler.AllocationScheduler` that checks, every
``ALLOCATION_PERIOD_SECONDS`` (config, else ``ABTEST_ALLOCATION_PERIOD_SECONDS``, default 300;
0 turns it off), which running Thompson experiments are due, on its own daemon thread and its
own sessions, so requests never wait for it.

Several gunicorn workers each run one: the allocation service's compare-and-set period claim
lets only one of them reweight an experiment per period. gunicorn.conf.py does not preload the
app (``preload_app = False``), so ``create_app`` and this thread run in each worker after the
fork; a thread started in a preloading master would not survive into the workers.
The thread is stopped at interpreter exit, or by hand through ``app.extensions[SCHEDULER]``.
"""
from __future__ import annotations

import atexit
import os

from flask import Flask

from experiments.scheduler import AllocationScheduler
from web.endpoint import EXTENSION

PERIOD_SETTING = "ALLOCATION_PERIOD_SECONDS"
PERIOD_VARIABLE = "ABTEST_ALLOCATION_PERIOD_SECONDS"
DEFAULT_PERIOD_SECONDS = 300.0
SCHEDULER = "abtest_scheduler"
#: Seconds to wait at exit for a tick in progress (below gunicorn's graceful_timeout of 20).
STOP_TIMEOUT = 10.0


def allocation_period(app: Flask) -> float:
    """Seconds between checks: the app's setting, else the environment, else the default."""
    configured = app.config.get(PERIOD_SETTING)
    raw = configured if configured is not None else os.environ.get(PERIOD_VARIABLE)
    try:
        return DEFAULT_PERIOD_SECONDS if raw in (None, "") else float(raw)
    except ValueError:
        raise ValueError(f"{PERIOD_VARIABLE} must be a number of seconds, got {raw!r}") from None


def init_scheduler(app: Flask) -> AllocationScheduler | None:
    """Start the allocation thread unless testing or switched off (period 0); None then."""
    period = allocation_period(app)
    if app.testing or period <= 0:
        return None
    scheduler = AllocationScheduler(app.extensions[EXTENSION].session_factory, period)
    scheduler.start()
    app.extensions[SCHEDULER] = scheduler
    atexit.register(scheduler.stop, STOP_TIMEOUT)
    return scheduler
