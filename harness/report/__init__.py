"""Reports for people choosing a GLM-4.5 variant: tables, charts and a self-contained page, from
run folders (manifest.json and samples.jsonl) only; and the paired comparison of two runs or two
variants of one run."""

from harness.report.build import default_folder, write_figures, write_report
from harness.report.comparison import Comparison, compare, comparison_markdown, print_comparison
from harness.report.terminal import print_summary

__all__ = ["Comparison", "compare", "comparison_markdown", "default_folder", "print_comparison", "print_summary", "write_figures", "write_report"]
