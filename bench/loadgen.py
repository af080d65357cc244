"""Python load generator for the HTTP bench when ``wrk`` is not installed.

Closed loop like wrk: ``connections`` persistent HTTP/1.1 connections (http.client), spread over
one process per CPU so the GIL of one process does not cap the load, each sending the next
request as soon as the previous answer is read. Slower than wrk per request, so ratios measured
with it understate the server; the bench says which generator ran.
"""
from __future__ import annotations

import http.client
import itertools
import multiprocessing
import os
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

Body = Callable[[str, int], bytes]  # (connection tag, request number) -> JSON body


@dataclass(frozen=True)
class LoadResult:
    """Throughput and latency of one closed-loop run."""

    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int  # connection errors and non-2xx answers

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def percentile(sorted_values: list[float], share: float) -> float:
    """Nearest-rank percentile of an ascending list (0 when empty)."""
    if not sorted_values:
        return 0.0
    rank = max(1, round(share * len(sorted_values) + 0.5))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def _connection_loop(port: int, path: str, headers: dict[str, str], body: Body, tag: str,
                     until: float, latencies: list[float], errors: list[int]) -> None:
    """One persistent connection, requests back to back until ``until``."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    for number in itertools.count():
        if time.monotonic() >= until:
            break
        started = time.perf_counter()
        try:
            connection.request("POST", path, body(tag, number), headers)
            answer = connection.getresponse()
            answer.read()
            ok = 200 <= answer.status < 300
        except (OSError, http.client.HTTPException):
            connection.close()
            ok = False
        latencies.append(time.perf_counter() - started)
        if not ok:
            errors.append(1)
    connection.close()


def _process(args: tuple[int, str, dict[str, str], Body, str, int, float]) -> tuple[
        list[float], int]:
    port, path, headers, body, tag, connections, until = args
    latencies: list[float] = []
    errors: list[int] = []
    threads = [threading.Thread(target=_connection_loop, args=(
        port, path, headers, body, f"{tag}-{i}", until, latencies, errors))
        for i in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, len(errors)


def run_load(port: int, path: str, headers: dict[str, str], body: Body, connections: int,
             seconds: float) -> LoadResult:
    """Closed-loop load for ``seconds`` over ``connections`` connections; ``body`` must be a
    module-level function (it is sent to the worker processes)."""
    processes = max(1, min(os.cpu_count() or 1, connections))
    tag = f"{os.getpid()}-{random.randrange(1 << 30)}"
    until = time.monotonic() + seconds
    shares = [connections // processes + (i < connections % processes) for i in range(processes)]
    jobs = [(port, path, headers, body, f"{tag}-{i}", share, until)
            for i, share in enumerate(shares)]
    started = time.monotonic()
    with multiprocessing.get_context("fork").Pool(processes) as pool:
        parts = pool.map(_process, jobs)
    elapsed = time.monotonic() - started
    latencies = sorted(latency for part, _ in parts for latency in part)
    return LoadResult(len(latencies), elapsed, percentile(latencies, 0.50) * 1000,
                      percentile(latencies, 0.99) * 1000, sum(errors for _, errors in parts))
