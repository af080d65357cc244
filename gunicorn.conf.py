"""Production gunicorn settings: ``gunicorn -c gunicorn.conf.py 'web.app:create_app()'``.

Needs ``ABTEST_SECRET_KEY`` (the app refuses to start in production without one) and usually
``ABTEST_DATABASE_URL``. Each setting can be overridden from the environment (the bench uses
that to compare worker kinds on the same file):

- ``ABTEST_BIND`` (default 127.0.0.1:8000; put a TLS-terminating proxy in front),
- ``ABTEST_WORKERS`` (default 2 x CPU cores + 1),
- ``ABTEST_WORKER_CLASS`` (default gthread) and ``ABTEST_THREADS`` (default 2).

Why these defaults: every request is CPU-bound Python plus a short database round trip, so
more processes than cores only help to overlap that wait; ``gthread`` keeps HTTP/1.1
connections alive (``sync`` closes each one, a TCP handshake per request when clients or a
proxy reuse connections) and two threads overlap the database wait without the GIL contention
more threads bring. Compare on your machine with
``ABTEST_BENCH_WORKERS=sync:5:1,gthread:5:2,gthread:3:4 python -m bench http``.

Migrations run once in the master before workers fork (``on_starting``), so workers starting
together on a fresh SQLite file never race to create the same tables; each worker's own
``upgrade`` then finds the schema current. The app is not preloaded: every worker opens its own
database connections after the fork, and starts its own background allocation thread
(web.scheduling; ``ABTEST_ALLOCATION_PERIOD_SECONDS``), which a preloading master would lose
in the fork. Keep ``preload_app = False``.
"""
from __future__ import annotations

import multiprocessing
import os
from typing import Any

bind = os.environ.get("ABTEST_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("ABTEST_WORKERS", 2 * multiprocessing.cpu_count() + 1))
worker_class = os.environ.get("ABTEST_WORKER_CLASS", "gthread")
threads = int(os.environ.get("ABTEST_THREADS", 2))
keepalive = 5  # seconds an idle keep-alive connection is held (gthread only)
timeout = 30  # a worker silent this long is killed and replaced
graceful_timeout = 20
max_requests = 20_000  # recycle workers now and then: bounds any slow leak
max_requests_jitter = 2_000  # ... but not all at once
backlog = 2048
preload_app = False
accesslog = None  # the app writes one JSON line per request (web.observability)
errorlog = "-"
loglevel = "info"


def on_starting(server: Any) -> None:
    """Bring the database to the newest migration once, before any worker starts."""
    from experiments.db import make_engine, upgrade

    engine = make_engine()
    try:
        upgrade(engine)
    finally:
        engine.dispose()
