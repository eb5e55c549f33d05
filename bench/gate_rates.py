"""False alarms and detection of `glm-eval check`, fixed and sequential, over many seeds.

Per item, the chance of a right answer is the simulator's own (its Calibrator over the real items'
difficulties, times 1 - the no-answer rate), for glm-4.5 and glm-4.5-air; each replication draws a
baseline and a current run. "No change": the current run has the baseline's chances. "Drop":
glm-4.5-air is 5 points lower on MATH-500 (the simulator's accuracy_shift). Every replication is
judged by the gate's own rule (harness.gate.check.cell_bounds and verdict_of, vectorised), at alpha
split over the cells, and sequentially (harness.gate.sequential: looks after each quarter of the
items, O'Brien-Fleming-type alpha spending), counting the requests each sends.

    .venv/bin/python bench/gate_rates.py                 # 4,000 replications per suite and case, ~1 min
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from common import DATA_DIR, append_result, machine, machine_line  # noqa: E402

from harness.gate.check import cell_bounds, per_cell, verdict_of  # noqa: E402
from harness.gate.sequential import looks  # noqa: E402
from harness.simproc import answer_key_for  # noqa: E402
from harness.simulator import DEFAULT_PROFILES, load_profiles  # noqa: E402
from harness.simulator.calibration import Calibrator  # noqa: E402
from harness.simulator.key import AnswerKey  # noqa: E402

VARIANTS = ("glm-4.5", "glm-4.5-air")
SUITES = {  # task -> (items, samples per item), both runs alike
    "smoke (configs/suites/smoke.yaml)": {"math500": (50, 2), "gpqa_diamond": (50, 2), "aime24": (30, 1)},
    "recommended": {"math500": (500, 2), "gpqa_diamond": (198, 4), "aime24": (30, 16)},
}
DROP = ("glm-4.5-air", "math500", -5.0)
ALPHA, LOOKS = 0.05, 4
TOLERANCE = 1.0  # --tolerance sets it


def chances(key: AnswerKey, shift: float) -> dict[tuple[str, str], np.ndarray]:
    profiles = load_profiles(DEFAULT_PROFILES)
    calibrator = Calibrator(profiles, key, shift)
    return {(v, t): np.array([calibrator.p_correct(v, i, True) * (1 - profiles.variants[v].no_answer_rate) for i in key.by_task[t]])
            for v in VARIANTS for t in ("math500", "gpqa_diamond", "aime24")}


def simulate(suite: dict[str, tuple[int, int]], base_p: dict, cur_p: dict, reps: int, rng: np.random.Generator) -> dict:
    cells = [(v, t) for v in VARIANTS for t in suite]
    alpha = per_cell(ALPHA, len(cells))
    fixed_regressed = np.zeros((reps, len(cells)), bool)
    seq_regressed = np.zeros((reps, len(cells)), bool)
    fixed_open = np.zeros((reps, len(cells)), bool)
    seq_open = np.zeros((reps, len(cells)), bool)
    same = np.zeros((reps, len(cells)), bool)  # the sequential verdict equals the fixed one
    requests_fixed = requests_seq = 0.0
    for c, (variant, task) in enumerate(cells):
        n, k = suite[task]
        pick = rng.permutation(len(base_p[(variant, task)]))[:n]  # a --limit subset: the same items for both runs
        pb, pc = base_p[(variant, task)][pick], cur_p[(variant, task)][pick]
        diffs = (rng.binomial(k, pc, (reps, n)) - rng.binomial(k, pb, (reps, n))) / k
        fixed = verdict = _verdict(diffs, pb, alpha)
        fixed_regressed[:, c], fixed_open[:, c] = verdict == "regressed", verdict == "inconclusive"
        final = np.full(reps, "inconclusive", dtype=object)
        requests_fixed += reps * n * k
        # sequential: looks after each quarter of the items, at the spent levels; stop at the first decision
        undecided = np.ones(reps, bool)
        for m, level in looks(n, LOOKS, alpha):
            verdict = _verdict(diffs[:, :m], pb[:m], level)
            decided_now = undecided & (verdict != "inconclusive")
            seq_regressed[decided_now, c] = verdict[decided_now] == "regressed"
            final[decided_now] = verdict[decided_now]
            requests_seq += decided_now.sum() * m * k
            undecided &= ~decided_now
        seq_open[undecided, c] = True
        same[:, c] = final == fixed
        requests_seq += undecided.sum() * n * k
    planted = cells.index(DROP[:2])
    return {
        "false_alarm_fixed": float(fixed_regressed.any(axis=1).mean()), "false_alarm_sequential": float(seq_regressed.any(axis=1).mean()),
        "caught_fixed": float(fixed_regressed[:, planted].mean()), "caught_sequential": float(seq_regressed[:, planted].mean()),
        "undecided_cells_fixed": float(fixed_open.mean()), "undecided_cells_sequential": float(seq_open.mean()),
        "requests_ratio": requests_seq / requests_fixed,
        "same_verdict": float(same.mean()),
    }


def _verdict(diffs: np.ndarray, p_base: np.ndarray, alpha: float) -> np.ndarray:
    n = diffs.shape[1]
    mean, sem = diffs.mean(axis=1), diffs.std(axis=1, ddof=1) / math.sqrt(n)
    # Newcombe's fallback (every item moved alike) needs each side's accuracy: the baseline's expected
    # one stands in for both, as only replications with no spread use it.
    acc = np.full(len(mean), float(p_base.mean()))
    low, high = cell_bounds(mean, sem, n, acc, acc + mean, alpha)
    return np.asarray(verdict_of(low, high, TOLERANCE))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=4000)
    parser.add_argument("--tolerance", type=float, default=1.0, help="points (the check's default 1)")
    args = parser.parse_args()
    global TOLERANCE
    TOLERANCE = args.tolerance
    info, started = machine(), time.monotonic()
    key = AnswerKey(answer_key_for(["math500", "gpqa_diamond", "aime24"], DATA_DIR))
    unchanged, dropped = chances(key, 0.0), chances(key, DROP[2])
    cur_drop = {**unchanged, DROP[:2]: dropped[DROP[:2]]}
    rng = np.random.default_rng(2026)
    rows = []
    for name, suite in SUITES.items():
        none = simulate(suite, unchanged, unchanged, args.reps, rng)
        drop = simulate(suite, unchanged, cur_drop, args.reps, rng)
        rows.append({"suite": name, "sizes": suite, "no_change": none, "drop": drop})
        size = ", ".join(f"{t} {n}x{k}" for t, (n, k) in suite.items())
        print(f"{name}: {size}; tolerance {TOLERANCE:g}, alpha {ALPHA:g} over {2 * len(suite)} cells, {args.reps} replications")
        for label, r in (("no change", none), ("glm-4.5-air 5 points lower on MATH-500", drop)):
            print(f"  {label}: checks failed fixed {100 * r['false_alarm_fixed']:.1f}% / sequential {100 * r['false_alarm_sequential']:.1f}%; "
                  f"drop caught fixed {100 * r['caught_fixed']:.1f}% / sequential {100 * r['caught_sequential']:.1f}%; "
                  f"cells undecided fixed {100 * r['undecided_cells_fixed']:.1f}% / sequential {100 * r['undecided_cells_sequential']:.1f}%; "
                  f"requests sequential/fixed {r['requests_ratio']:.2f}; same verdict in {100 * r['same_verdict']:.1f}% of cells")
    print(machine_line(info), f"; {time.monotonic() - started:.0f} s")
    append_result({"bench": "gate_rates", "reps": args.reps, "tolerance": TOLERANCE, "alpha": ALPHA, "looks": LOOKS, "machine": info, "rows": rows})


if __name__ == "__main__":
    main()
