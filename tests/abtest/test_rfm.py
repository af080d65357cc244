"""RFM: CSV parsing with line-numbered errors, quantile scores against hand values/scipy, tiers."""

from __future__ import annotations

import io
import math
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import numpy as np
import pytest
from scipy.stats import percentileofscore, rankdata

from abtest.rfm import (
    TIERS,
    Order,
    RfmScore,
    RowError,
    TierRules,
    quantile_scores,
    read_orders,
    score_rfm,
)

AS_OF = datetime(2024, 7, 1, tzinfo=UTC)


def read(text: str):
    return read_orders(io.StringIO(text, newline=""))


def orders_of(unit_id: str, days_ago: int, amounts: list[int]) -> list[Order]:
    """One order per amount: the last ``days_ago`` days before AS_OF, the others monthly before."""
    return [
        Order(unit_id, AS_OF - timedelta(days=days_ago + 30 * k), Decimal(amount))
        for k, amount in enumerate(amounts)
    ]


# --- parsing -------------------------------------------------------------------------------------


def test_good_rows_are_parsed_to_utc_decimals_and_chinese_ids():
    result = read(
        "unit_id,order_time,amount\n"
        "张三,2024-03-01,1299.00\n"
        'c-2,2024-03-01T10:30:00+08:00,"1,299.50"\n'
        "c-3,2024-03-01 10:30,0\n"
        "c-4,2024-03-01T23:00:00Z,12\n"
    )
    assert result.errors == ()
    assert result.orders == (
        Order("张三", datetime(2024, 3, 1, tzinfo=UTC), Decimal("1299.00")),
        Order("c-2", datetime(2024, 3, 1, 2, 30, tzinfo=UTC), Decimal("1299.50")),
        Order("c-3", datetime(2024, 3, 1, 10, 30, tzinfo=UTC), Decimal("0")),
        Order("c-4", datetime(2024, 3, 1, 23, tzinfo=UTC), Decimal("12")),
    )
    assert all(order.ordered_at.tzinfo is UTC for order in result.orders)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (",2024-03-01,10", "unit id is empty"),
        ("c1,,10", "order time is empty"),
        ("c1,01/03/2024,10", "order time '01/03/2024' is not an ISO 8601 date or datetime"),
        ("c1,2024-02-30,10", "order time '2024-02-30' is not an ISO 8601 date or datetime"),
        ("c1,2024-03-01,", "amount '' is not a decimal number like 1299.00 or 1,299.00"),
        ("c1,2024-03-01,abc", "amount 'abc' is not a decimal number like 1299.00 or 1,299.00"),
        ('c1,2024-03-01,"12,5"', "amount '12,5' is not a decimal number like 1299.00 or 1,299.00"),
        ("c1,2024-03-01,¥12", "amount '¥12' is not a decimal number like 1299.00 or 1,299.00"),
        ("c1,2024-03-01,NaN", "amount 'NaN' is not a decimal number like 1299.00 or 1,299.00"),
        ("c1,2024-03-01,-5.00", "amount '-5.00' is negative (a refund is not an order)"),
        ("c1,2024-03-01,1,299.00", "expected 3 fields, found 4 (an unquoted comma?)"),
        ("c1,2024-03-01", "expected 3 fields, found 2 (an unquoted comma?)"),
    ],
)
def test_each_kind_of_bad_row_is_reported_and_skipped(row, message):
    result = read(f"unit_id,order_time,amount\nok1,2024-03-01,1\n{row}\nok2,2024-03-02,2\n")
    assert result.errors == (RowError(3, message),)
    assert [order.unit_id for order in result.orders] == ["ok1", "ok2"]


def test_line_numbers_count_blank_lines_and_quoted_line_breaks_as_an_editor_does():
    text = (
        "customer,ordered_at,total,note\n"  # 1
        'c1,2024-03-01,5,"gift wrap,\n'  # 2
        'please"\n'  # 3 (same record)
        "\n"  # 4 blank: skipped, counted
        "c2,yesterday,5,\n"  # 5
        ",,,\n"  # 6 all blank: skipped
        "c3,2024-03-01,-1,\n"  # 7
    )
    result = read(text)
    assert [order.unit_id for order in result.orders] == ["c1"]
    assert [error.line for error in result.errors] == [5, 7]


def test_utf8_bom_from_excel_is_dropped_from_the_first_header():
    raw = "unit_id,order_time,amount\n客户007,2024-03-01,88\n".encode("utf-8-sig")
    result = read_orders(io.TextIOWrapper(io.BytesIO(raw), encoding="utf-8", newline=""))
    assert result.orders == (Order("客户007", datetime(2024, 3, 1, tzinfo=UTC), Decimal("88")),)


@pytest.mark.parametrize(
    ("header", "row"),
    [
        ("unit_id,order_time,amount", "u1,2024-03-01,7"),
        ("Customer_ID,Ordered_At,Total", "u1,2024-03-01,7"),
        ("CUSTOMER,TIME,AMOUNT", "u1,2024-03-01,7"),
        (" Customer ID , Order-Time , Order Total ", "u1,2024-03-01,7"),
        ("amount,note,user_id,created_at", "7,x,u1,2024-03-01"),
    ],
)
def test_alternate_headers_in_any_case_and_order(header, row):
    result = read(f"{header}\n{row}\n")
    assert result.errors == ()
    assert result.orders == (Order("u1", datetime(2024, 3, 1, tzinfo=UTC), Decimal("7")),)


def test_missing_column_names_the_column_and_the_headers_found():
    expected = r"missing amount column .*; headers found: \['customer_id', 'time', 'price'\]$"
    with pytest.raises(ValueError, match=expected):
        read("\ufeffcustomer_id,time,price\nc1,2024-03-01,5\n")
    with pytest.raises(ValueError, match="missing unit id column"):
        read("id,time,amount\n")


def test_two_candidate_columns_for_one_role_are_ambiguous():
    with pytest.raises(ValueError, match="ambiguous unit id column"):
        read("customer,customer_id,time,amount\n")


@pytest.mark.parametrize(
    "text", ["", "unit_id,order_time,amount\n", "unit_id,order_time,amount\n\n"]
)
def test_no_rows_is_an_empty_result(text):
    result = read(text)
    assert (result.orders, result.errors) == ((), ())


@pytest.mark.parametrize(
    ("unit_id", "ordered_at", "amount"),
    [
        ("", AS_OF, Decimal(1)),
        ("c1", datetime(2024, 3, 1), Decimal(1)),
        ("c1", AS_OF, Decimal(-1)),
        ("c1", AS_OF, Decimal("NaN")),
    ],
)
def test_order_refuses_values_no_order_can_have(unit_id, ordered_at, amount):
    with pytest.raises(ValueError):
        Order(unit_id, ordered_at, amount)


# --- scores --------------------------------------------------------------------------------------

# (unit, days since last order, order amounts): F = number of amounts, M = their sum.
TEN_CUSTOMERS = [
    ("c01", 2, [150] * 8),  # M 1200
    ("c02", 5, [150] * 6),  # M 900
    ("c03", 9, [80]),
    ("c04", 14, [100] * 3),  # M 300
    ("c05", 30, [75, 75]),  # M 150
    ("c06", 45, [150, 100, 100, 100]),  # M 450
    ("c07", 60, [40]),
    ("c08", 120, [100, 100]),  # M 200
    ("c09", 200, [20]),
    ("c10", 365, [60]),
]
# By hand, score = floor(5 * (rank - 0.5) / 10) + 1, so ranks 1-2 -> 1, 3-4 -> 2, ..., 9-10 -> 5.
# R ranks fewest days highest: c10 1, c09 2, ..., c01 10.
# F: four one-offs share ranks 1-4 (average 2.5 -> 2), two 2s share 5-6 (5.5 -> 3), 3 -> rank 7 (4),
#    4 -> rank 8 (4), 6 -> 9 (5), 8 -> 10 (5).
# M: 20 40 60 80 150 200 300 450 900 1200 are ranks 1..10.
# Tiers on 5 bins: core all >= 4; potential R >= 3; dormant all <= 2; else regular.
EXPECTED_5 = {
    "c01": (2, 8, Decimal(1200), "555", "core"),
    "c02": (5, 6, Decimal(900), "555", "core"),
    "c03": (9, 1, Decimal(80), "422", "potential"),
    "c04": (14, 3, Decimal(300), "444", "core"),
    "c05": (30, 2, Decimal(150), "333", "potential"),
    "c06": (45, 4, Decimal(450), "344", "potential"),
    "c07": (60, 1, Decimal(40), "221", "dormant"),
    "c08": (120, 2, Decimal(200), "233", "regular"),
    "c09": (200, 1, Decimal(20), "121", "dormant"),
    "c10": (365, 1, Decimal(60), "122", "dormant"),
}


@pytest.fixture
def ten_orders() -> list[Order]:
    return [order for spec in TEN_CUSTOMERS for order in orders_of(*spec)]


def test_scores_and_tiers_match_hand_computed_quintiles(ten_orders):
    scores = score_rfm(reversed(ten_orders), AS_OF)
    assert list(scores) == sorted(EXPECTED_5)
    got = {
        unit: (s.recency_days, s.frequency, s.monetary, s.code, s.tier)
        for unit, s in scores.items()
    }
    assert got == EXPECTED_5
    assert {s.tier for s in scores.values()} == set(TIERS)


def test_three_bins_still_give_every_tier(ten_orders):
    # Ranks 1-3 -> 1, 4-7 -> 2, 8-10 -> 3; one-offs' average rank 2.5 -> 1, the 2s' 5.5 -> 2.
    scores = score_rfm(ten_orders, AS_OF, bins=3)
    assert {unit: (s.code, s.tier) for unit, s in scores.items()} == {
        "c01": ("333", "core"),
        "c02": ("333", "core"),
        "c03": ("312", "potential"),
        "c04": ("222", "potential"),
        "c05": ("222", "potential"),
        "c06": ("233", "potential"),
        "c07": ("211", "potential"),
        "c08": ("122", "regular"),
        "c09": ("111", "dormant"),
        "c10": ("111", "dormant"),
    }


@pytest.mark.parametrize("bins", [2, 3, 4, 5, 7, 9])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_quantile_scores_equal_the_mean_percentile_rank_definition(bins, seed):
    rng = np.random.default_rng(seed)
    values = rng.integers(0, 12, size=int(rng.integers(1, 60))).astype(float)
    expected = [
        math.floor(bins * percentileofscore(values, v, kind="mean") / 100 + 1e-9) + 1
        for v in values
    ]
    assert quantile_scores(values.tolist(), bins) == expected
    ranks = rankdata(values, method="average")
    assert quantile_scores(values.tolist(), bins) == [
        math.floor(bins * (rank - 0.5) / len(values) + 1e-9) + 1 for rank in ranks
    ]


def test_distinct_values_fill_equal_sized_bins():
    scores = quantile_scores([float(v) for v in range(100, 0, -1)], 5)
    assert [scores.count(score) for score in range(1, 6)] == [20] * 5
    assert scores[0] == 5 and scores[-1] == 1


def test_ties_get_equal_scores_whatever_their_input_order():
    values = [5.0, 1.0, 5.0, 3.0, 5.0, 1.0]
    scores = quantile_scores(values, 5)
    assert scores[0] == scores[2] == scores[4]
    assert scores[1] == scores[5]
    assert quantile_scores(values[::-1], 5) == scores[::-1]


def test_all_equal_or_lone_values_score_mid_scale():
    assert quantile_scores([4.0] * 7, 5) == [3] * 7
    assert quantile_scores([4.0], 3) == [2]
    assert quantile_scores([], 5) == []


def test_orders_after_as_of_are_ignored_and_recency_is_whole_days():
    orders = [
        Order("a", AS_OF - timedelta(days=3, hours=23), Decimal(10)),
        Order("a", AS_OF + timedelta(seconds=1), Decimal(1000)),
        Order("later", AS_OF + timedelta(days=1), Decimal(5)),
        Order("b", AS_OF.astimezone(timezone(timedelta(hours=8))), Decimal(1)),
    ]
    scores = score_rfm(orders, AS_OF)
    assert set(scores) == {"a", "b"}
    assert (scores["a"].recency_days, scores["a"].frequency, scores["a"].monetary) == (
        3,
        1,
        Decimal(10),
    )
    assert scores["b"].recency_days == 0


def test_empty_input_is_an_empty_result():
    assert score_rfm([], AS_OF) == {}


@pytest.mark.parametrize("bins", [0, 1, 10])
def test_bins_outside_two_to_nine_are_refused(bins):
    with pytest.raises(ValueError, match="bins"):
        score_rfm([], AS_OF, bins=bins)


def test_naive_as_of_is_refused():
    with pytest.raises(ValueError, match="as_of must be timezone-aware"):
        score_rfm([], datetime(2024, 7, 1))


# --- tiers and tags ------------------------------------------------------------------------------


@pytest.fixture
def population() -> list[Order]:
    """Twenty ordinary customers plus four clear-cut ones."""
    ordinary = [
        order
        for i in range(20)
        for order in orders_of(f"o{i:02d}", 20 + 15 * i, [40 + 10 * (i % 5)] * (1 + i % 4))
    ]
    return ordinary + [
        *orders_of("big_recent_frequent", 0, [200] * 30),
        *orders_of("one_small_order_a_year_ago", 365, [5]),
        *orders_of("recent_one_off_mid_spend", 1, [100]),
        *orders_of("lapsed_big_spender", 300, [5000]),
    ]


@pytest.mark.parametrize(
    ("unit", "tier", "flagged"),
    [
        ("big_recent_frequent", "core", False),
        ("one_small_order_a_year_ago", "dormant", False),
        ("recent_one_off_mid_spend", "potential", False),
        ("lapsed_big_spender", "regular", True),
    ],
)
def test_clear_cut_customers(population, unit, tier, flagged):
    score = score_rfm(population, AS_OF)[unit]
    assert score.tier == tier
    assert score.as_attributes()["high_spend_low_engagement"] is flagged


def test_tier_rules_on_five_bins():
    rules = TierRules()
    assert rules.tier(4, 4, 4, 5) == "core"
    assert rules.tier(5, 5, 3, 5) == "potential"
    assert rules.tier(3, 1, 1, 5) == "potential"
    assert rules.tier(2, 2, 2, 5) == "dormant"
    assert rules.tier(2, 3, 1, 5) == "regular"
    assert rules.tags(1, 5, 4, 5) == ("high_spend_low_engagement",)
    assert rules.tags(5, 2, 5, 5) == ("high_spend_low_engagement",)
    assert rules.tags(3, 3, 5, 5) == ()
    assert rules.tags(1, 1, 3, 5) == ()


def test_tier_rules_are_configurable():
    strict_core = TierRules(core_min=1.0)
    assert strict_core.tier(4, 5, 5, 5) == "potential"
    assert strict_core.tier(5, 5, 5, 5) == "core"
    with pytest.raises(ValueError, match=r"TierRules.dormant_max must be within \[0, 1\]"):
        TierRules(dormant_max=2)


def test_every_score_combination_gets_exactly_one_listed_tier():
    rules = TierRules()
    for bins in range(2, 10):
        tiers = {
            rules.tier(r, f, m, bins)
            for r in range(1, bins + 1)
            for f in range(1, bins + 1)
            for m in range(1, bins + 1)
        }
        assert tiers == set(TIERS), bins


def test_as_attributes_shape():
    score = RfmScore("c1", 3, 4, Decimal("512.30"), 5, 4, 5, "core", ("high_spend_low_engagement",))
    assert score.as_attributes() == {
        "segment": "core",
        "rfm": "545",
        "rfm_r": 5,
        "rfm_f": 4,
        "rfm_m": 5,
        "high_spend_low_engagement": True,
    }
