"""Error rates of `glm-eval audit`'s verdicts: false alarms where no difference was planted, and
detection of the planted ones, at the sizes the audit uses by default (the tasks' own samples per
item: MATH-500 500 x 3, AIME 2024 30 x 32, GPQA-Diamond 198 x 8).

Two ways, which must agree:

- `model` (default): many seeds, fast. Per item, the probability that the simulator answers right is
  taken from the simulator itself (its Calibrator, with each provider profile's accuracy shift, times
  1 - the no-answer rate), and each seed draws every host's answers independently, as the simulator
  does (the profile name is in its answer seed). Each seed's per-item counts go through the audit's own
  paired comparison and verdict (harness.audit.analysis), so what is measured is the audit's
  statistics on exactly the simulator's answer distribution, without its HTTP and grading.
- `e2e`: fewer seeds, the whole path: `glm-eval audit` against the simulator's provider profiles,
  verdicts read back from the report.

    .venv/bin/python bench/audit_error_rates.py                          # model: 1,000 seeds, ~3 min
    .venv/bin/python bench/audit_error_rates.py --mode e2e --seeds 10    # e2e: MATH-500 500 x 1, ~1 min a seed
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from common import DATA_DIR, append_result, machine, machine_line  # noqa: E402

from harness import stats  # noqa: E402
from harness.audit.analysis import EQUIVALENCE_PTS, paired_interval, verdict  # noqa: E402
from harness.simproc import answer_key_for  # noqa: E402
from harness.simulator import DEFAULT_PROFILES, load_profiles  # noqa: E402
from harness.simulator.calibration import Calibrator  # noqa: E402
from harness.simulator.key import AnswerKey  # noqa: E402

VARIANT = "glm-4.5-air"
REFERENCE = "faithful"
# A host with no accuracy shift drawing on its own stands for "no difference planted"; fp8 and int4
# are the planted ones (configs/simulator.yaml).
CANDIDATES = {"no-usage": "none planted", "fp8": "-5 points", "int4": "-10 points"}
SIZES = {"math500": 3, "aime24": 32, "gpqa_diamond": 8}
E2E_SIZE = ("math500", 1)  # what --mode e2e runs (all items, one sample), measured here too so the two compare


def kind(text: str) -> str:
    for word in ("worse", "better", "indistinguishable"):
        if text.startswith(word):
            return word
    return "too few to tell"


def item_probabilities(host: str, key: AnswerKey) -> dict[str, np.ndarray]:
    """Per task, the chance of a right answer for each item, as the simulator playing `host` has it."""
    profiles = load_profiles(DEFAULT_PROFILES)
    calibrator = Calibrator(profiles, key, profiles.provider(host).accuracy_shift)
    keep = 1 - profiles.variants[VARIANT].no_answer_rate
    return {task: np.array([calibrator.p_correct(VARIANT, i, True) * keep for i in key.by_task[task]]) for task in SIZES}


def model_mode(seeds: int) -> list[dict]:
    key = AnswerKey(answer_key_for(list(SIZES), DATA_DIR))
    p = {host: item_probabilities(host, key) for host in (REFERENCE, *CANDIDATES)}
    rng = np.random.default_rng(12345)
    counts: dict[tuple[str, int, str], Counter[str]] = {}
    for task, k in [*SIZES.items(), E2E_SIZE]:
        ids = np.arange(len(p[REFERENCE][task])).astype(str)
        for _ in range(seeds):
            base = rng.binomial(k, p[REFERENCE][task])
            for host in CANDIDATES:
                other = rng.binomial(k, p[host][task])
                a = pd.DataFrame({"item_id": ids, "n_samples": k, "n_correct": base})
                b = pd.DataFrame({"item_id": ids, "n_samples": k, "n_correct": other})
                r = stats.compare(a, b, n_resamples=50, n_permutations=200)
                low, high = paired_interval(r.delta, r.sem, r.n_items)
                counts.setdefault((task, k, host), Counter())[kind(verdict(r.delta, low, high, r.sem, EQUIVALENCE_PTS))] += 1
    return _rows(counts, seeds, {task: len(p[REFERENCE][task]) for task in SIZES}, p)


def e2e_mode(seeds: int) -> list[dict]:
    from harness.cli import main  # noqa: PLC0415

    counts: dict[tuple[str, int, str], Counter[str]] = {}
    providers = ",".join(f"simulated@{h}" for h in (REFERENCE, *CANDIDATES))
    with tempfile.TemporaryDirectory() as folder:
        for seed in range(seeds):
            out = Path(folder) / f"seed{seed}"
            code = main(["audit", "--providers", providers, "--models", VARIANT, "--tasks", "math500", "--samples", "1", "--seed", str(seed),
                         "--data-dir", str(DATA_DIR), "--out", str(out), "--store", str(Path(folder) / "store.sqlite"), "--sim-time-scale", "0.0001"])
            if code != 0:
                raise SystemExit(f"audit with seed {seed} failed ({code})")
            for row in pd.read_csv(out / "report" / "providers.csv").to_dict("records"):
                host = row["provider"].split("@")[1]
                if host in CANDIDATES:
                    counts.setdefault((*E2E_SIZE, host), Counter())[kind(row["verdict"])] += 1
    return _rows(counts, seeds, {"math500": 500}, None)


def _rows(counts: dict[tuple[str, int, str], Counter[str]], seeds: int, items: dict[str, int], p: dict | None) -> list[dict]:
    rows = []
    for (task, k, host), found in sorted(counts.items()):
        shift = None if p is None else 100 * float(p[host][task].mean() - p[REFERENCE][task].mean())
        rows.append({"task": task, "size": f"{items[task]} x {k}", "host": host, "planted": CANDIDATES[host], "planted_pts": shift, "seeds": seeds,
                     **{f"share_{k.replace(' ', '_')}": found[k] / seeds for k in ("worse", "better", "indistinguishable", "too few to tell")}})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", choices=["model", "e2e"], default="model")
    parser.add_argument("--seeds", type=int, default=1000)
    args = parser.parse_args()
    if not DATA_DIR.is_dir():
        raise SystemExit(f"needs the benchmark sets in {DATA_DIR}")
    info, started = machine(), time.monotonic()
    rows = model_mode(args.seeds) if args.mode == "model" else e2e_mode(args.seeds)
    print(f"audit verdicts over {args.seeds} seeds ({args.mode}); reference simulated@{REFERENCE}, {VARIANT}, equivalence ±{EQUIVALENCE_PTS:g} points")
    print(f"{'task':13} {'size':9} {'host':9} {'planted':13} {'worse':>7} {'better':>7} {'indist.':>8} {'too few':>8}")
    for r in rows:
        planted = r["planted"] if r["planted_pts"] is None else f"{r['planted_pts']:+.1f} pts"
        print(f"{r['task']:13} {r['size']:9} {r['host']:9} {planted:13} {100 * r['share_worse']:6.1f}% {100 * r['share_better']:6.1f}% "
              f"{100 * r['share_indistinguishable']:7.1f}% {100 * r['share_too_few_to_tell']:7.1f}%")
    print(machine_line(info), f"; {time.monotonic() - started:.0f} s")
    append_result({"bench": "audit_error_rates", "mode": args.mode, "seeds": args.seeds, "machine": info, "rows": rows})


if __name__ == "__main__":
    main()
