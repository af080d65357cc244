"""Reasons carry a stable code and readable parameters beside their English text, so a user
interface can word them in its own language."""
from __future__ import annotations

import pytest

from abtest.stats.factorial import factorial_analysis
from abtest.stats.health import check_guardrail, sample_ratio_mismatch
from abtest.stats.power import days_needed, sample_size
from abtest.stats.reasons import CODES, problem
from abtest.stats.summary import SampleStats


def test_an_empty_factorial_cell_is_named_by_its_arm_key_not_a_python_repr() -> None:
    cells = [({"countdown": c, "stock_left": s}, SampleStats.binary(0 if (c, s) == ("off", "on")
                                                                     else 50, 5))
             for c in ("off", "on") for s in ("off", "on")]
    result = factorial_analysis(cells, "binary")
    assert (result.status, result.reason_code) == ("empty_cell", "empty_cells")
    assert result.reason_params == {"cells": ["countdown=off|stock_left=on"]}
    assert result.reason == "cell(s) without units: countdown=off|stock_left=on"


def test_power_srm_and_guardrail_reasons_have_codes_and_parameters() -> None:
    plan = sample_size("binary", 0.0, 0.05)
    assert (plan.status, plan.reason_code, plan.reason_params) == (
        "zero_variance", "baseline_rate_out_of_range", {"rate": 0.0})
    assert days_needed(1000, 100, observed_per_arm=(900, 900)).reason_params == {"days": 2}
    srm = sample_ratio_mismatch([600, 400], [0.5, 0.5])
    assert srm.mismatch and srm.reason_code == "srm_mismatch"
    assert srm.reason_params == {"p_value": srm.p_value, "threshold": 0.001}
    harmed = check_guardrail(SampleStats.binary(1000, 200), SampleStats.binary(1000, 100),
                             "binary", higher_is_better=False)
    assert harmed.harmed and harmed.reason_code == "guardrail_higher"
    assert harmed.reason == "treatment significantly higher than control"  # API text kept


def test_an_unknown_code_is_refused() -> None:
    assert "days_needed" in CODES
    with pytest.raises(ValueError, match="unknown reason code 'typo'"):
        problem("ok", "typo", "text")
