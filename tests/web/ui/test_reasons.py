"""The statistics engine's reasons reach the marketer in Chinese (or English), with readable
parameters, on the page and in the weekly report."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from abtest.stats.reasons import CODES
from tests.web.ui.conftest import post_form
from web.ui.reasons import MESSAGES, describer

PAGE = "/experiments/urgency-close"


def test_every_engine_code_has_a_message() -> None:
    assert set(MESSAGES) == CODES | {"days_needed_one"}


def test_parameters_are_formatted_readably_in_both_languages() -> None:
    cells = {"reason": "cell(s) without units: …", "reason_code": "empty_cells",
             "reason_params": {"cells": ["countdown=off|stock_left=on",
                                         "countdown=on|stock_left=on"]}}
    assert describer("zh")(cells) == (
        "以下组合还没有顾客：countdown=off|stock_left=on, countdown=on|stock_left=on")
    assert describer("en")(cells).startswith("These combinations have no shoppers yet: countdown")
    days = {"reason": "needs about 1 more day", "reason_code": "days_needed",
            "reason_params": {"days": 1}}
    assert describer("zh")(days) == "大约还需要 1 天。"
    assert describer("en")(days) == "Needs about one more day."
    srm = {"reason_code": "srm_mismatch",
           "reason_params": {"p_value": 1.234e-7, "threshold": 0.001}}
    assert "p = 1.23e-07 < 0.001" in describer("zh")(srm)
    unknown = {"reason": "from a newer engine", "reason_code": "not_yet_translated"}
    assert describer("zh")(unknown) == "from a newer engine"


def test_a_running_experiment_without_traffic_explains_itself_in_chinese(
    app: Flask, editor: FlaskClient, define: Callable[..., Any]
) -> None:
    define()
    post_form(editor, f"{PAGE}/start", {"confirm": "yes"}, PAGE)
    page = editor.get(PAGE).get_data(as_text=True)
    for chinese in ("还没有顾客看到这个实验。", "计算样本量需要对照组转化率大于 0 且小于 1",
                    "还没有任何版本组合有顾客。"):
        assert chinese in page
    for english in ("no units have been exposed yet", "a baseline conversion rate",
                    "no cell has units yet"):
        assert english not in page
    english_page = editor.get(PAGE, headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "No shopper has seen the experiment yet." in english_page
