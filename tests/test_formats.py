"""How figures read wherever a person sees them (harness/formats.py): reports, checks, audits."""

from __future__ import annotations

import math

from harness.formats import DASH, accuracy_cell, difference_cell, money, p_value, pct, pts_interval, task_name, tokens


def test_scores_and_differences() -> None:
    assert accuracy_cell(0.9667, 0.912, 1.0, 30, 2) == "96.7 [91.2, 100.0] (30×2)"
    assert difference_cell(-0.012, -0.03, 0.006) == "-1.2 [-3.0, 0.6]"
    assert pts_interval(-0.021, 0.004) == "[-2.1, +0.4]"
    assert pct(math.nan) == DASH and difference_cell(math.nan, 0.1, 0.2) == f"{DASH} [10.0, 20.0]"


def test_p_values_money_tokens_and_names() -> None:
    assert (p_value(0.0004), p_value(0.0312), p_value(math.nan)) == ("<0.001", "0.031", DASH)
    assert (money(0.000123, "USD"), money(4.76, "USD"), money(1234.5, None), money(math.nan, "USD")) == ("0.000123 USD", "4.76 USD", "1,234", "unknown")
    assert (tokens(81920), tokens(math.nan)) == ("81,920", "unknown")
    assert (task_name("gpqa_diamond:zai-kit"), task_name("mine")) == ("GPQA-Diamond (zai-kit)", "mine")
