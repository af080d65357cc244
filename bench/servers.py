"""Real servers for the HTTP bench and the hardening tests: gunicorn with the production
settings (gunicorn.conf.py) on 127.0.0.1, a throwaway PostgreSQL cluster, and the seed both
serve (API keys, a running experiment, units that already have an arm).

Not a benchmark itself (no ``main``). Each gunicorn runs in its own process group, so the
master and all workers can be stopped (or killed with SIGKILL, as the crash test does) at once.
"""
from __future__ import annotations

import contextlib
import glob
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from experiments.apikeys import create_api_key
from experiments.assignment import assign
from experiments.db import make_engine, make_session_factory, upgrade
from experiments.definitions import create_experiment
from experiments.lifecycle import start_experiment

REPO_ROOT = Path(__file__).resolve().parent.parent
GUNICORN_CONFIG = REPO_ROOT / "gunicorn.conf.py"
APP = "web.app:create_app()"
HOST = "127.0.0.1"
PLAYBOOK = REPO_ROOT / "experiments" / "playbooks" / "urgency-close.yaml"
ATTRIBUTES = {"channel": "chat"}  # passes the playbook's targeting


@dataclass(frozen=True)
class Seed:
    """What a client of the seeded database needs."""

    experiment: str
    storefront_token: str
    admin_token: str
    returning_units: tuple[str, ...]


def seed_database(url: str, returning_units: int = 0) -> Seed:
    """Migrate ``url``, add two API keys and start a copy of the urgency-close playbook under a
    fresh key (no layer, so it never collides with other experiments), and assign
    ``returning_units`` units ``r-0``, ``r-1``... so they take the read path."""
    tag = secrets.token_hex(3)
    definition = {**yaml.safe_load(PLAYBOOK.read_text(encoding="utf-8")),
                  "key": f"bench-{tag}", "layer": None}
    engine = make_engine(url)
    try:
        upgrade(engine)
        with make_session_factory(engine).begin() as session:
            storefront = create_api_key(session, "storefront", f"bench {tag}")[1]
            admin = create_api_key(session, "admin", f"bench {tag}")[1]
            create_experiment(session, definition)
            start_experiment(session, definition["key"])
        units = tuple(f"r-{i}" for i in range(returning_units))
        with make_session_factory(engine).begin() as session:
            for unit in units:
                assign(session, definition["key"], unit, ATTRIBUTES)
    finally:
        engine.dispose()
    return Seed(definition["key"], storefront, admin, units)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (the OS picks it)."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


class GunicornServer:
    """``gunicorn -c gunicorn.conf.py APP`` on a free loopback port, against ``database_url``.

    ``settings`` are extra environment variables (ABTEST_WORKERS, ABTEST_WORKER_CLASS...);
    stdout and stderr (the JSON request log among them) go to ``log_path``.
    """

    def __init__(self, database_url: str, log_path: Path, app: str = APP,
                 settings: Mapping[str, str] | None = None) -> None:
        self.database_url = database_url
        self.log_path = log_path
        self.app = app
        self.settings = dict(settings or {})
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def environment(self) -> dict[str, str]:
        """The parent's environment plus bind address, database and a random secret key."""
        return {**os.environ, "ABTEST_BIND": f"{HOST}:{self.port}",
                "ABTEST_DATABASE_URL": self.database_url,
                "ABTEST_SECRET_KEY": secrets.token_hex(32), "ABTEST_ENV": "production",
                "PYTHONPATH": str(REPO_ROOT), **self.settings}

    def start(self, ready_path: str = "/healthz", timeout: float = 90.0) -> GunicornServer:
        """Start in a new process group and wait until ``ready_path`` answers 200."""
        command = [sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONFIG), self.app]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(command, cwd=REPO_ROOT, env=self.environment(),
                                            stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True)
        self._wait_ready(ready_path, timeout)
        return self

    def _wait_ready(self, path: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited: see {self.log_path}")
            with contextlib.suppress(OSError):
                with urllib.request.urlopen(self.url + path, timeout=2) as answer:
                    if answer.status == 200:
                        return
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"gunicorn not ready after {timeout:.0f} s: see {self.log_path}")

    def kill(self) -> None:
        """SIGKILL the whole process group (master and workers), as a power cut would."""
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)
            self.process = None

    def stop(self, timeout: float = 30.0) -> None:
        """Graceful stop (SIGTERM to the group); SIGKILL whatever is left after ``timeout``."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pass
        self.kill()

    def __enter__(self) -> GunicornServer:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def postgres_binaries() -> Path | None:
    """The bin directory of the newest installed PostgreSQL server, if any."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


@contextlib.contextmanager
def throwaway_postgres() -> Iterator[str]:
    """A fresh PostgreSQL cluster on a free loopback port; yields its SQLAlchemy URL.

    Durability is off (fsync, synchronous_commit): this measures the service, not the disk.
    As root the server runs as user ``postgres`` (initdb refuses root).
    """
    bin_dir = postgres_binaries()
    if bin_dir is None:
        raise FileNotFoundError("no PostgreSQL server binaries under /usr/lib/postgresql")
    root = Path(tempfile.mkdtemp(prefix="abtest-pg-"))
    port = free_port()
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if as_user:
        shutil.chown(root, "postgres", "postgres")
    data = root / "data"

    def run(*args: str) -> None:
        subprocess.run([*as_user, *args], cwd="/", check=True, capture_output=True)

    run(str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8",
        "--no-sync")
    options = (f"-p {port} -k {root} -c listen_addresses={HOST} -c fsync=off"
               " -c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
    run(str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(root / "server.log"), "-w",
        "-o", options, "start")
    try:
        yield f"postgresql+psycopg://postgres@{HOST}:{port}/postgres"
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            run(str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)


def get_json(url: str, timeout: float = 10.0) -> tuple[int, bytes]:
    """Status and body of a GET (4xx/5xx included, not raised)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
