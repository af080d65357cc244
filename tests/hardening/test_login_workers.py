"""Password guessing against a real multi-worker gunicorn (3 workers × 2 threads, production
settings): the failure count lives in the database, so a burst of parallel wrong passwords
from one address gets exactly the 5 free attempts through, whichever workers answer, where
per-process counting let one allowance per worker through (issue 14: 49 of 120 with 5
workers). Then the right password works once the 1 s wait is over.
"""
from __future__ import annotations

import http.client
import re
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlencode

from experiments.db import make_engine, make_session_factory
from experiments.users import create_user
from tests.hardening.conftest import LiveServer

PASSWORD = "correct horse battery staple"
GUESSES = 24
_TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def _sign_in(live: LiveServer, password: str) -> int:
    """One browser: fetch the form (session cookie + CSRF token), post name and password.
    The cookie is Secure (production), so it is carried by hand over plain http."""
    connection = http.client.HTTPConnection("127.0.0.1", live.server.port, timeout=60)
    try:
        connection.request("GET", "/login")
        form = connection.getresponse()
        page = form.read().decode()
        cookie = form.headers["Set-Cookie"].split(";", 1)[0]
        token = _TOKEN.search(page)
        assert token, page[:200]
        body = urlencode({"username": "ed", "password": password, "csrf_token": token.group(1)})
        connection.request("POST", "/login", body=body, headers={
            "Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"})
        answer = connection.getresponse()
        answer.read()
        return answer.status
    finally:
        connection.close()


def test_parallel_guesses_on_several_workers_get_exactly_the_free_attempts(
    live: LiveServer, db_url: str
) -> None:
    engine = make_engine(db_url)
    try:
        with make_session_factory(engine).begin() as session:
            create_user(session, "ed", PASSWORD, "editor")
    finally:
        engine.dispose()
    with ThreadPoolExecutor(GUESSES) as pool:
        statuses = list(pool.map(lambda _: _sign_in(live, "wrong-password"), range(GUESSES)))
    assert sorted(statuses) == [200] * 5 + [429] * (GUESSES - 5), statuses
    time.sleep(1.1)  # the first wait is 1 s; a real server keeps real time
    assert _sign_in(live, PASSWORD) == 302
