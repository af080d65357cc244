"""The ``abtest`` command line through click's CliRunner (and one real `serve` start)."""
from __future__ import annotations

import csv
import io
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from alembic.script import ScriptDirectory
from sqlalchemy import Engine, func, select

from experiments.db import alembic_config, make_session_factory
from experiments.models import Experiment
from web.cli import main

PLAYBOOKS = sorted((Path(__file__).resolve().parents[2] / "experiments" / "playbooks").glob(
    "*.yaml"))


def count_experiments(engine: Engine) -> int:
    with make_session_factory(engine)() as session:
        return session.scalar(select(func.count()).select_from(Experiment)) or 0


def test_load_playbooks_then_update(runner, engine) -> None:
    result = runner.invoke(main, ["load", *map(str, PLAYBOOKS)])
    assert result.exit_code == 0, result.output
    assert "created urgency-close" in result.output
    assert count_experiments(engine) == len(PLAYBOOKS)
    again = runner.invoke(main, ["load", str(PLAYBOOKS[0])])
    assert again.exit_code == 0 and "updated" in again.output


def test_bad_file_changes_nothing_and_names_file_and_field(runner, engine, tmp_path) -> None:
    bad = tmp_path / "x.yaml"
    text = PLAYBOOKS[-1].read_text(encoding="utf-8").replace(
        'variants: ["off", "on"]\n    params: {stock: 3}', 'variants: ["off", "maybe"]', 1)
    bad.write_text(text, encoding="utf-8")
    broken = tmp_path / "broken.yaml"
    broken.write_text("key: [unclosed", encoding="utf-8")
    result = runner.invoke(main, ["load", *map(str, PLAYBOOKS), str(bad), str(broken)])
    assert result.exit_code == 1
    assert f"{bad}: units.1.variants.1: unknown variant 'maybe' of unit 'stock_left'" in (
        result.stderr)
    assert f"{broken}: not readable YAML" in result.stderr
    assert "Traceback" not in result.output
    assert count_experiments(engine) == 0


def test_state_conflict_rolls_back_every_file(runner, engine, tmp_path) -> None:
    assert runner.invoke(main, ["load", str(PLAYBOOKS[0])]).exit_code == 0
    clash = tmp_path / "clash.yaml"
    clash.write_text(PLAYBOOKS[-1].read_text(encoding="utf-8").replace(
        "key: urgency-close", "key: close-2"), encoding="utf-8")
    first = tmp_path / "first.yaml"
    first.write_text(PLAYBOOKS[-1].read_text(encoding="utf-8"), encoding="utf-8")
    result = runner.invoke(main, ["load", str(first), str(clash)])
    assert result.exit_code == 1 and "layer.range" in result.stderr
    assert count_experiments(engine) == 1


def test_apikey_lifecycle(runner) -> None:
    created = runner.invoke(main, ["apikey", "create", "--scope", "storefront", "--name", "shop"])
    assert created.exit_code == 0
    token = created.stdout.strip()
    assert token.startswith("abt_")
    listed = runner.invoke(main, ["apikey", "list"]).stdout
    assert "storefront\tactive" in listed and token not in listed
    key_id = listed.split("\t")[0]
    assert runner.invoke(main, ["apikey", "revoke", key_id]).exit_code == 0
    assert "revoked" in runner.invoke(main, ["apikey", "list"]).stdout
    missing = runner.invoke(main, ["apikey", "revoke", "999"])
    assert missing.exit_code == 1 and "no API key with id 999" in missing.stderr
    assert runner.invoke(main, ["apikey", "create", "--scope", "root"]).exit_code == 2


def test_db_upgrade(runner) -> None:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    result = runner.invoke(main, ["db", "upgrade"])
    assert result.exit_code == 0 and f"database at revision {head}" in result.output


def test_export_events(runner, client, storefront_headers, started, tmp_path) -> None:
    started()
    client.post("/api/v1/assign", json={"experiment": "urgency-close", "unit_id": "u1",
                                        "attributes": {"channel": "chat"}},
                headers=storefront_headers)
    client.post("/api/v1/events", headers=storefront_headers, json={"events": [
        {"event_id": "e1", "unit_id": "u1", "experiment": "urgency-close", "name": "conversion"},
        {"event_id": "e2", "unit_id": "u1", "name": "revenue", "value": 89.5},
        {"event_id": "e3", "unit_id": "other", "name": "revenue", "value": 1},
    ]})
    out = tmp_path / "events.csv"
    result = runner.invoke(main, ["export", "events", "--experiment", "urgency-close",
                                  "--format", "csv", "--out", str(out)])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert [r["event_id"] for r in rows] == ["e1", "e2"] and rows[1]["value"] == "89.5"
    assert rows[0]["arm"].startswith("countdown=")
    lines = runner.invoke(main, ["export", "events", "--experiment", "urgency-close",
                                 "--format", "jsonl"]).stdout.splitlines()
    assert [json.loads(line)["event_id"] for line in lines] == ["e1", "e2"]
    missing = runner.invoke(main, ["export", "events", "--experiment", "nope"])
    assert missing.exit_code == 1 and "unknown experiment 'nope'" in missing.stderr


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_serve_starts_on_a_fresh_directory(tmp_path) -> None:
    """`abtest serve` with no configuration: creates ./instance/abtest.db, migrates, answers."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "ABTEST_DATABASE_URL"}
    command = [sys.executable, "-c", "from web.cli import main; main()",
               "serve", "--port", str(port)]
    server = subprocess.Popen(command, cwd=tmp_path, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        body = None
        deadline = time.monotonic() + 60  # readiness wait: imports are slow on a busy machine
        while time.monotonic() < deadline and server.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/health") as answer:
                    body = json.load(answer)
                break
            except OSError:
                time.sleep(0.1)
        assert body == {"status": "ok", "database": "ok"}
        assert (tmp_path / "instance" / "abtest.db").exists()
    finally:
        server.terminate()
        server.wait(timeout=10)
