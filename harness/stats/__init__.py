"""Scores with error bars, computed from the scores frame (one row per model x task x item x sample).

The item is the unit of every interval and test: samples of one item are not independent.
All figures are fractions (0.982), never points; parameters named `*_pts` take points.
"""

from harness.stats.intervals import Estimate, bootstrap_interval, mean_interval
from harness.stats.items import BREAKDOWN_COLUMNS, available_breakdowns, per_item
from harness.stats.metrics import SUMMARY_COLUMNS, pass_at_k, summarize
from harness.stats.paired import (
    DropTest,
    PairedComparison,
    RegressionResult,
    compare,
    compare_to,
    mcnemar_exact,
    one_sided_drop_test,
    regression_test,
    sign_flip_pvalue,
)
from harness.stats.power import SampleSizeAdvice, sample_size_advice
from harness.stats.usage import Throughput, throughput, usage_summary

__all__ = [
    "BREAKDOWN_COLUMNS",
    "SUMMARY_COLUMNS",
    "DropTest",
    "Estimate",
    "PairedComparison",
    "RegressionResult",
    "SampleSizeAdvice",
    "Throughput",
    "available_breakdowns",
    "bootstrap_interval",
    "compare",
    "compare_to",
    "mcnemar_exact",
    "mean_interval",
    "one_sided_drop_test",
    "pass_at_k",
    "per_item",
    "regression_test",
    "sample_size_advice",
    "sign_flip_pvalue",
    "summarize",
    "throughput",
    "usage_summary",
]
