"""Background allocation: a daemon thread that runs :func:`experiments.allocation.allocate_due`.

Each tick opens its own Session (never a request's), commits, and closes it; an error is logged
and the next tick tries again, so a bad experiment cannot stop the thread. Every gunicorn worker
may run one: the compare-and-set period claim in the allocation service lets only one of them
reweight an experiment per period. The tick only decides how often experiments are *checked*;
each experiment reweights when its own ``period_hours`` has elapsed.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

from sqlalchemy.orm import Session, sessionmaker

from experiments.allocation import AllocationOutcome, allocate_due

log = logging.getLogger(__name__)


def run_once(session_factory: sessionmaker[Session]) -> list[AllocationOutcome]:
    """One tick: allocate every due experiment in a fresh session and commit."""
    with session_factory() as session:
        outcomes = allocate_due(session)
        session.commit()
    return outcomes


@dataclass
class AllocationScheduler:
    """Calls :func:`run_once` every ``period_seconds`` on a daemon thread until stopped."""

    session_factory: sessionmaker[Session]
    period_seconds: float
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the thread (daemon: it never holds the process open)."""
        if self.period_seconds <= 0:
            raise ValueError("period_seconds must be positive; 0 means no scheduler")
        self._thread = threading.Thread(target=self._loop, name="abtest-allocation", daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = None) -> None:
        """Ask the thread to finish after the current tick and wait for it."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        """True while the thread runs (started and not yet stopped)."""
        return self._thread is not None and self._thread.is_alive()

    def _loop(self) -> None:
        while not self._stop.wait(self.period_seconds):
            try:
                for outcome in run_once(self.session_factory):
                    log.info("allocation %s: %s v%d", outcome.experiment, outcome.action,
                             outcome.weights_version)
            except Exception:  # keep the thread alive; the next tick retries
                log.exception("allocation tick failed")
