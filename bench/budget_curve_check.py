"""Does the token-budget curve, computed after the fact from one run, tell what a run at a lower
max_tokens would have scored? Against the simulated endpoint: one run at the published 81,920,
then separate runs at lower caps (the simulator draws them afresh: max_tokens is part of its
answer seed), each compared with the curve's figure and interval at that cap.

    .venv/bin/python bench/budget_curve_check.py                      # AIME 2024, 30 x 32, caps 8k/16k/32k: ~3 min
    .venv/bin/python bench/budget_curve_check.py --task math500 --samples 3 --caps 2048,4096,8192
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from common import DATA_DIR, append_result, machine, machine_line  # noqa: E402

from harness import stats  # noqa: E402
from harness.cli import main  # noqa: E402
from harness.runs import load_run  # noqa: E402
from harness.stats.caps import cap_curve  # noqa: E402

FULL = 81920


def run(out: Path, store: Path, task: str, variant: str, samples: int, max_tokens: int) -> Path:
    code = main(["run", "--provider", "simulated", "--models", variant, "--tasks", task, "--samples", str(samples),
                 "--max-tokens", str(max_tokens), "--data-dir", str(DATA_DIR), "--out", str(out), "--store", str(store),
                 "--no-report", "--sim-time-scale", "0.001"])
    if code != 0:
        raise SystemExit(f"the run at max_tokens {max_tokens} failed ({code})")
    return out


def main_() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", default="aime24")
    parser.add_argument("--variant", default="glm-4.5-air")
    parser.add_argument("--samples", type=int, default=32)
    parser.add_argument("--caps", default="8192,16384,32768")
    args = parser.parse_args()
    caps = [int(c) for c in args.caps.split(",")]
    info, started = machine(), time.monotonic()
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        store = Path(folder) / "store.sqlite"
        full = load_run(run(Path(folder) / "full", store, args.task, args.variant, args.samples, FULL))
        curve = cap_curve(full.scores, FULL).set_index("cap")
        for cap in caps:
            separate = load_run(run(Path(folder) / f"cap{cap}", store, args.task, args.variant, args.samples, cap))
            measured = stats.summarize(separate.scores).iloc[0]
            predicted = curve.loc[cap]
            inside = bool(predicted["ci_low"] <= measured["accuracy"] <= predicted["ci_high"])
            truncated = float(measured["truncated_share"])
            rows.append({
                "cap": cap, "predicted": float(predicted["accuracy"]), "predicted_low": float(predicted["ci_low"]),
                "predicted_high": float(predicted["ci_high"]), "predicted_cut": float(predicted["truncated_share"]),
                "measured": float(measured["accuracy"]), "measured_low": float(measured["ci_low"]),
                "measured_high": float(measured["ci_high"]), "measured_cut": truncated, "inside": inside,
            })
        at_full = curve.loc[FULL]
    print(f"{args.variant} on {args.task}, {args.samples} samples per item, SIMULATED; the curve from one run at {FULL:,} "
          f"({100 * at_full['accuracy']:.1f}%) against separate runs at each cap")
    print(f"{'cap':>7} {'curve % [95% CI]':>22} {'cut':>6} {'separate run % [95% CI]':>26} {'cut':>6}  inside")
    for r in rows:
        print(f"{r['cap']:>7,} {100 * r['predicted']:6.1f} [{100 * r['predicted_low']:5.1f}, {100 * r['predicted_high']:5.1f}] "
              f"{100 * r['predicted_cut']:5.1f}% {100 * r['measured']:10.1f} [{100 * r['measured_low']:5.1f}, {100 * r['measured_high']:5.1f}] "
              f"{100 * r['measured_cut']:5.1f}%  {'yes' if r['inside'] else 'NO'}")
    print(machine_line(info), f"; {time.monotonic() - started:.0f} s")
    append_result({"bench": "budget_curve_check", "task": args.task, "variant": args.variant, "samples": args.samples,
                   "machine": info, "rows": rows})


if __name__ == "__main__":
    main_()
