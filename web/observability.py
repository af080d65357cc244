"""Request ids, one JSON log line per request, and the /healthz readiness route.

Every request gets an id: the caller's ``X-Request-ID`` when it looks like an id (so a proxy's
or storefront's id follows the request through our logs), else a fresh one; it is echoed in the
response header. After each request the logger ``abtest.request`` writes one JSON object per
line (request id, method, path, status, latency in ms, worker pid) through the ``logging``
module, so an operator can ship it anywhere a handler can write.
"""
from __future__ import annotations

import json
import logging
import os
import re
import sys
import time
import uuid

from flask import Flask, Response, g, request

from web.api.meta import healthz

REQUEST_ID_HEADER = "X-Request-ID"
LOGGER_NAME = "abtest.request"
# Ids we echo and log verbatim: anything else (newlines, quotes, kilobytes) is replaced, so a
# client cannot forge log lines or response headers through it.
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:@/+=-]{1,128}$")

logger = logging.getLogger(LOGGER_NAME)


def init_observability(app: Flask) -> None:
    """Install the request-id/logging hooks and the /healthz route on ``app``."""
    _ensure_handler()
    app.before_request(_start_request)
    app.after_request(_finish_request)
    app.add_url_rule("/healthz", view_func=healthz, methods=["GET"])


def _ensure_handler() -> None:
    """One stderr handler writing bare JSON lines, unless the operator configured one.

    ``propagate`` is off so a root handler (gunicorn's, a test runner's) does not print each
    line a second time in its own format.
    """
    if logger.handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False


def request_id() -> str:
    """The current request's id (generated on first use outside the hooks, e.g. in tests)."""
    if "request_id" not in g:
        offered = request.headers.get(REQUEST_ID_HEADER, "")
        g.request_id = offered if _SAFE_REQUEST_ID.match(offered) else uuid.uuid4().hex
    return g.request_id


def _start_request() -> None:
    g.request_started = time.perf_counter()
    request_id()


def _finish_request(response: Response) -> Response:
    """Echo the id and log the request; runs for error answers too (they are responses)."""
    rid = request_id()
    response.headers[REQUEST_ID_HEADER] = rid
    started = g.get("request_started", time.perf_counter())
    logger.info(json.dumps({
        "request_id": rid,
        "method": request.method,
        "path": request.path,
        "status": response.status_code,
        "latency_ms": round((time.perf_counter() - started) * 1000, 3),
        "pid": os.getpid(),
    }, ensure_ascii=False))
    return response
