"""The check as JUnit XML: one test case per model x task, for CI systems that show test reports
(GitHub test reporters, GitLab, Jenkins). A regression is a <failure>; every case carries its
figures in <system-out>, so an inconclusive or improved cell is visible without being a failure."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime

from harness.gate.check import Check
from harness.gate.summary import explanation, level_name, row, tolerance
from harness.runs import SIMULATED

SUITE = "glm-eval check"


def case_name(model: str, task: str) -> str:
    return f"{model} on {task}"


def check_junit(check: Check) -> str:
    failures = len(check.regressions)
    mark = f" [{SIMULATED}]" if check.simulated else ""
    suites = ET.Element("testsuites", name=SUITE, tests=str(len(check.cells)), failures=str(failures), errors="0")
    suite = ET.SubElement(
        suites, "testsuite",
        name=f"{SUITE} {check.run.name} against {check.baseline_path}{mark}",
        tests=str(len(check.cells)), failures=str(failures), errors="0", skipped="0", time="0",
        timestamp=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    properties = ET.SubElement(suite, "properties")
    for name, value in (
        ("run", check.run.name), ("baseline", str(check.baseline_path)), ("simulated", str(check.simulated).lower()),
        ("tolerance_points", f"{check.tolerance_pts:g}"), ("alpha", f"{check.alpha:g}"),
    ):
        ET.SubElement(properties, "property", name=name, value=value)
    for cell in check.cells:
        case = ET.SubElement(suite, "testcase", classname=f"glm-eval.check.{cell.task}", name=case_name(cell.model, cell.task), time="0")
        shown = row(check, cell)
        figures = (
            f"{cell.verdict}: baseline {shown['baseline %']}, current {shown['current %']}, delta {shown['Δ points']} points, "
            f"{level_name(check)} interval {shown['interval']}, p {shown['p']} (H0: no drop larger than {tolerance(check)})"
        )
        if cell.verdict == "regressed":
            failure = ET.SubElement(case, "failure", type="regression", message=f"{case_name(cell.model, cell.task)} {figures}")
            failure.text = explanation(check).replace("**", "")
        ET.SubElement(case, "system-out").text = figures + (f"\n{SIMULATED}" if check.simulated else "")
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"
