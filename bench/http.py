"""``python -m bench http``: the JSON API under gunicorn with the production settings.

For SQLite and PostgreSQL in turn: seed a database, start the API and a bare Flask app
(bench/ceiling_app.py) under the same ``gunicorn.conf.py`` on 127.0.0.1, then load each with
``wrk`` (or bench/loadgen.py when wrk is absent) for a few seconds per scenario:

(a) ceiling: constant JSON, (b) /assign for new units (write path), (c) /assign for returning
units (read path), (d) /events in batches of 100. Prints requests/s, p50/p99 latency, the
ratios (b)/(a) and (c)/(a), and the goals they are held to.

PostgreSQL: ``ABTEST_BENCH_POSTGRES_URL`` (rows are only added: a fresh experiment key per run),
else a throwaway cluster when PostgreSQL is installed, else skipped with a message.
Knobs (environment): ABTEST_BENCH_SECONDS (5 per scenario), ABTEST_BENCH_CONNECTIONS (16),
ABTEST_BENCH_WORKERS ("gthread:5:2": class:workers:threads, comma-separated to compare
several), ABTEST_BENCH_DATABASES ("sqlite,postgresql").
"""
from __future__ import annotations

import contextlib
import functools
import json
import os
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bench.loadgen import Body, LoadResult, run_load
from bench.servers import (
    ATTRIBUTES,
    GunicornServer,
    Seed,
    postgres_binaries,
    seed_database,
    throwaway_postgres,
)

RETURNING_UNITS = 2000
EVENTS_PER_BATCH = 100
GOALS = {"ceiling": "", "assign_new": ">= 40% of ceiling, p99 <= 25 ms",
         "assign_returning": ">= 60% of ceiling, p99 <= 25 ms", "events": ">= 20,000 events/s"}

# wrk script; @NAME@ placeholders are filled in per scenario (Lua has its own % formats).
_LUA = """
local key, run, returning = "@EXPERIMENT@", "@RUN@", @RETURNING@
local headers = {["Content-Type"] = "application/json", ["Authorization"] = "Bearer @TOKEN@"}
local n = 0
math.randomseed(@SEED@)
local function returning_unit() return "r-" .. math.random(0, returning - 1) end
local function assign_body(unit)
  return '{"experiment":"' .. key .. '","unit_id":"' .. unit .. '","attributes":@ATTRS@}'
end
local bodies = {
  ceiling = function() return assign_body(returning_unit()) end,
  assign_new = function() return assign_body("n-" .. run .. "-" .. n) end,
  assign_returning = function() return assign_body(returning_unit()) end,
  events = function()
    local events = {}
    for i = 1, @BATCH@ do
      events[i] = '{"event_id":"e-' .. run .. '-' .. n .. '-' .. i .. '","unit_id":"'
        .. returning_unit() .. '","experiment":"' .. key .. '","name":"conversion"}'
    end
    return '{"events":[' .. table.concat(events, ",") .. ']}'
  end,
}
local body = bodies["@SCENARIO@"]
function request()
  n = n + 1
  return wrk.format("POST", "@PATH@", headers, body())
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRKJSON {"requests":%d,"us":%d,"p50":%d,"p99":%d,"errors":%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout + e.status))
end
"""


@dataclass(frozen=True)
class Scenario:
    """One measured load: which server, which path, what body."""

    name: str
    path: str
    on_ceiling: bool = False
    events_per_request: int = 0


SCENARIOS = (
    Scenario("ceiling", "/ceiling", on_ceiling=True),
    Scenario("assign_new", "/api/v1/assign"),
    Scenario("assign_returning", "/api/v1/assign"),
    Scenario("events", "/api/v1/events", events_per_request=EVENTS_PER_BATCH),
)


@dataclass(frozen=True)
class Settings:
    """Load and server knobs read from the environment."""

    seconds: float
    connections: int
    worker_sets: tuple[tuple[str, str, str], ...]
    databases: tuple[str, ...]

    @classmethod
    def from_environment(cls) -> Settings:
        worker_sets = tuple(tuple(part.split(":")) for part in
                            os.environ.get("ABTEST_BENCH_WORKERS", "gthread:5:2").split(","))
        return cls(float(os.environ.get("ABTEST_BENCH_SECONDS", "5")),
                   int(os.environ.get("ABTEST_BENCH_CONNECTIONS", "16")),
                   worker_sets,  # type: ignore[arg-type]
                   tuple(os.environ.get("ABTEST_BENCH_DATABASES", "sqlite,postgresql")
                         .split(",")))


# -- bodies for the Python load generator (module level: sent to its worker processes) --

def _assign_body(experiment: str, unit: str) -> bytes:
    return json.dumps({"experiment": experiment, "unit_id": unit,
                       "attributes": ATTRIBUTES}).encode()


def _returning_body(experiment: str, tag: str, number: int) -> bytes:
    return _assign_body(experiment, f"r-{hash((tag, number)) % RETURNING_UNITS}")


def _new_body(experiment: str, tag: str, number: int) -> bytes:
    return _assign_body(experiment, f"n-{tag}-{number}")


def _events_body(experiment: str, tag: str, number: int) -> bytes:
    return json.dumps({"events": [
        {"event_id": f"e-{tag}-{number}-{i}", "experiment": experiment, "name": "conversion",
         "unit_id": f"r-{hash((tag, number, i)) % RETURNING_UNITS}"}
        for i in range(EVENTS_PER_BATCH)]}).encode()


_PYTHON_BODIES = {"ceiling": _returning_body, "assign_new": _new_body,
                  "assign_returning": _returning_body, "events": _events_body}


def _run_wrk(url: str, scenario: Scenario, seed: Seed, settings: Settings) -> LoadResult:
    fills = {"EXPERIMENT": seed.experiment, "RUN": secrets.token_hex(4),
             "RETURNING": str(RETURNING_UNITS), "TOKEN": seed.storefront_token,
             "SEED": str(secrets.randbelow(1 << 30)), "ATTRS": json.dumps(ATTRIBUTES),
             "BATCH": str(EVENTS_PER_BATCH), "SCENARIO": scenario.name, "PATH": scenario.path}
    script = _LUA
    for name, value in fills.items():
        script = script.replace(f"@{name}@", value)
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as file:
        file.write(script)
        file.flush()
        seconds = max(1, round(settings.seconds))
        command = ["wrk", "-t", "1", "-c", str(settings.connections), "-d", f"{seconds}s",
                   "--timeout", "10s", "-s", file.name, url]
        output = subprocess.run(command, capture_output=True, text=True, check=True,
                                timeout=settings.seconds + 60).stdout
    line = next(line for line in output.splitlines() if line.startswith("WRKJSON "))
    found = json.loads(line.removeprefix("WRKJSON "))
    return LoadResult(found["requests"], found["us"] / 1e6, found["p50"] / 1000,
                      found["p99"] / 1000, found["errors"])


def _run(server: GunicornServer, scenario: Scenario, seed: Seed, settings: Settings
         ) -> LoadResult:
    """One scenario with wrk when installed, else with the Python load generator."""
    if shutil.which("wrk"):
        return _run_wrk(server.url, scenario, seed, settings)
    body: Body = functools.partial(_PYTHON_BODIES[scenario.name], seed.experiment)
    headers = {"Content-Type": "application/json",
               "Authorization": f"Bearer {seed.storefront_token}"}
    return run_load(server.port, scenario.path, headers, body, settings.connections,
                    settings.seconds)


@contextlib.contextmanager
def _database(name: str, workdir: Path) -> Iterator[str | None]:
    """The URL to bench on, or None (with a message) when that database is unavailable."""
    if name == "sqlite":
        yield f"sqlite:///{workdir / 'bench.db'}"
    elif os.environ.get("ABTEST_BENCH_POSTGRES_URL"):
        yield os.environ["ABTEST_BENCH_POSTGRES_URL"]
    elif postgres_binaries() is None:
        print("PostgreSQL skipped: no server installed and ABTEST_BENCH_POSTGRES_URL unset")
        yield None
    else:
        with throwaway_postgres() as url:
            yield url


def _measure(url: str, workers: tuple[str, str, str], settings: Settings, workdir: Path
             ) -> dict[str, LoadResult]:
    """Every scenario against one database under one worker setting."""
    seed = seed_database(url, RETURNING_UNITS)
    worker_class, count, threads = workers
    knobs = {"ABTEST_WORKER_CLASS": worker_class, "ABTEST_WORKERS": count,
             "ABTEST_THREADS": threads}
    log = workdir / "gunicorn.log"
    results: dict[str, LoadResult] = {}
    with GunicornServer(url, log, settings=knobs).start() as app, \
            GunicornServer(url, log, "bench.ceiling_app:app", knobs).start() as ceiling:
        for scenario in SCENARIOS:
            results[scenario.name] = _run(ceiling if scenario.on_ceiling else app, scenario,
                                          seed, settings)
    return results


def _report(database: str, workers: tuple[str, str, str], results: dict[str, LoadResult]
            ) -> None:
    ceiling = results["ceiling"].rate
    print(f"\n{database}, worker class {workers[0]}, {workers[1]} workers x {workers[2]}"
          f" threads")
    print(f"{'scenario':<18}{'req/s':>9}{'events/s':>10}{'p50 ms':>9}{'p99 ms':>9}"
          f"{'errors':>8}{'/ceiling':>10}  goal")
    for scenario in SCENARIOS:
        found = results[scenario.name]
        events = f"{found.rate * scenario.events_per_request:,.0f}" \
            if scenario.events_per_request else ""
        share = f"{found.rate / ceiling:.0%}" if ceiling else "-"
        print(f"{scenario.name:<18}{found.rate:>9,.0f}{events:>10}{found.p50_ms:>9.1f}"
              f"{found.p99_ms:>9.1f}{found.errors:>8}{share:>10}  {GOALS[scenario.name]}")


def main() -> None:
    settings = Settings.from_environment()
    generator = "wrk" if shutil.which("wrk") else "Python load generator (wrk not installed)"
    print(f"{generator}, {settings.connections} connections, {settings.seconds:g} s per"
          f" scenario, {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory(prefix="abtest-bench-") as tmp:
        for database in settings.databases:
            with _database(database, Path(tmp)) as url:
                if url is None:
                    continue
                for workers in settings.worker_sets:
                    _report(database, workers, _measure(url, workers, settings, Path(tmp)))
