"""Segments import (good rows stored, bad rows reported by line, re-import replaces) and the
merge of stored segment attributes into assignment, on SQLite and PostgreSQL."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from abtest.rfm import read_orders, score_rfm
from experiments.assignment import assign
from experiments.errors import InvalidInput
from experiments.models import Assignment, CustomerSegment
from experiments.segments import import_orders, merge_attributes
from web.cli import main

AS_OF = datetime(2026, 11, 20, 23, 59, tzinfo=UTC)

# Ten customers: c0 buys most, most often and most recently, c9 least; amounts grow with i.
GOOD = "".join(
    f"c{i},2026-11-{10 + (9 - i):02d}T10:00:00,{(10 - i) * 100}.00\n" * (10 - i) for i in range(10)
)
ORDERS = (
    "customer_id,order_time,amount\n"
    + GOOD[: GOOD.index("c1,")]
    + "c0,yesterday,12.00\n"  # bad time
    + GOOD[GOOD.index("c1,"):]
    + "c5,2026-11-01,-3\n"  # refund
)


def _bad_lines(text: str) -> list[int]:
    return [i for i, line in enumerate(text.splitlines(), start=1)
            if "yesterday" in line or ",-3" in line]


def stored(session: Session) -> dict[str, dict]:
    return {row.unit_id: row.attributes for row in session.scalars(select(CustomerSegment))}


def test_import_stores_good_rows_and_reports_bad_lines(session: Session) -> None:
    summary = import_orders(session, io.StringIO(ORDERS), AS_OF)
    session.commit()
    expected = score_rfm(read_orders(io.StringIO(ORDERS)).orders, AS_OF)
    assert stored(session) == {unit: s.as_attributes() for unit, s in expected.items()}
    assert [e.line for e in summary.skipped] == _bad_lines(ORDERS)
    assert "negative" in summary.skipped[1].message
    assert (summary.units, summary.created, summary.updated, summary.removed) == (10, 10, 0, 0)
    assert summary.orders == 55
    assert summary.tiers["core"] == sum(s.tier == "core" for s in expected.values()) > 0
    assert list(summary.tiers) == ["core", "potential", "dormant", "regular"]
    text = "\n".join(summary.lines())
    assert f"line {_bad_lines(ORDERS)[0]}: order time 'yesterday'" in text


def test_reimport_replaces_scores_and_drops_absent_units(session: Session) -> None:
    import_orders(session, io.StringIO(ORDERS), AS_OF)
    session.commit()
    before = stored(session)
    # c0 is gone; c9 now buys a lot and recently; a newcomer n1 appears.
    second = ("unit_id,time,total\n" + "".join(
        line + "\n" for line in GOOD.splitlines() if not line.startswith("c0,"))
        + "c9,2026-11-20,5000\n" * 12 + "n1,2026-11-02,1\n")
    summary = import_orders(session, io.StringIO(second), AS_OF)
    session.commit()
    after = stored(session)
    assert "c0" not in after and "n1" in after
    assert before["c9"]["segment"] != "core" and after["c9"]["segment"] == "core"
    assert (summary.created, summary.updated, summary.removed) == (1, 9, 1)
    assert summary.skipped == ()


@pytest.mark.parametrize(("text", "field", "words"), [
    ("who,when\nc1,2026-11-01\n", "file", "missing unit id column"),
    ("customer_id,order_time,amount\nc1,soon,1\n", "file", "no valid order rows"),
    ("customer_id,order_time,amount\nc1,2026-12-01,1\n", "as_of", "no order on or before"),
])
def test_unusable_file_changes_nothing(session: Session, text: str, field: str,
                                       words: str) -> None:
    import_orders(session, io.StringIO(ORDERS), AS_OF)
    session.commit()
    with pytest.raises(InvalidInput) as raised:
        import_orders(session, io.StringIO(text), AS_OF)
    assert raised.value.field == field and words in raised.value.message
    session.rollback()
    assert len(stored(session)) == 10


def test_merge_sent_attributes_win() -> None:
    assert merge_attributes({"segment": "core", "rfm": "555"}, {"segment": "dormant", "x": 1}) == {
        "segment": "dormant", "rfm": "555", "x": 1}
    assert merge_attributes(None, {"channel": "chat"}) == {"channel": "chat"}


def test_targeting_uses_the_stored_segment_unless_one_is_sent(session: Session, running) -> None:
    import_orders(session, io.StringIO(ORDERS), AS_OF)
    segments = {unit: attributes["segment"] for unit, attributes in stored(session).items()}
    core = next(unit for unit, tier in segments.items() if tier == "core")
    other = next(unit for unit, tier in segments.items() if tier != "core")
    running(targeting={"segment": "core"})
    assert assign(session, "stock-test", core, {"channel": "chat"}).in_experiment
    assert not assign(session, "stock-test", other, {}).in_experiment
    assert assign(session, "stock-test", other, {"segment": "core"}).in_experiment
    assert not assign(session, "stock-test", "c-unknown", {}).in_experiment
    session.commit()
    rows = {row.unit_id: row.attributes for row in session.scalars(select(Assignment))}
    assert rows[core]["segment"] == "core" and rows[core]["channel"] == "chat"
    assert rows[core]["rfm"] == stored(session)[core]["rfm"]
    assert rows[other]["segment"] == "core"  # what targeting used: the sent value


def test_sent_segment_overrides_a_stored_core(session: Session, running) -> None:
    import_orders(session, io.StringIO(ORDERS), AS_OF)
    running(targeting={"segment": "core"})
    core = next(u for u, a in stored(session).items() if a["segment"] == "core")
    assert not assign(session, "stock-test", core, {"segment": "dormant"}).in_experiment


def test_cli_import_prints_tiers_and_skipped_lines(runner, engine, tmp_path) -> None:
    path = tmp_path / "orders.csv"
    path.write_text(ORDERS, encoding="utf-8")
    result = runner.invoke(main, ["segments", "import", str(path), "--as-of", "2026-11-20",
                                  "--bins", "4"])
    assert result.exit_code == 0, result.output
    assert "scored 10 units from 55 orders as of 2026-11-20T23:59:59.999999+00:00" in result.output
    for line in _bad_lines(ORDERS):
        assert f"line {line}:" in result.output
    with Session(engine) as session:
        assert {a["rfm_r"] for a in stored(session).values()} == {1, 2, 3, 4}


def test_cli_import_errors_name_the_file(runner, engine, tmp_path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("who,when\n", encoding="utf-8")
    result = runner.invoke(main, ["segments", "import", str(bad)])
    assert result.exit_code == 1
    assert f"error: {bad}: file: missing unit id column" in result.stderr
    missing = runner.invoke(main, ["segments", "import", str(tmp_path / "nope.csv")])
    assert missing.exit_code == 1 and "No such file" in missing.stderr
    gbk = tmp_path / "gbk.csv"
    gbk.write_bytes("客户,下单时间,金额\n张三,2026-11-01,12\n".encode("gbk"))
    encoded = runner.invoke(main, ["segments", "import", str(gbk)])
    assert encoded.exit_code == 1
    assert f"error: {gbk}: file: not UTF-8 text (byte 0); save the CSV as UTF-8" in encoded.stderr
    assert "Traceback" not in result.output + missing.output + encoded.output
