"""Peak memory of `glm-eval run` as the run grows: does it grow with the number of samples?

The simulator (own process) answers fast: fixed latency 10 ms, 20 tokens, streamed. The harness's
full path runs for each size (MATH-500 x samples x models), and the table gives the peak RSS of
the harness's main process and of its whole process tree (grading workers included), the RSS when
sending ends and when grading ends, and the growth per 10,000 samples between sizes.
With --tracemalloc N, each size is run again with allocation tracing (slower; CPU figures of that
run mean nothing) and the N largest allocation sites still held at the end of sending and of
grading are printed: where the memory goes.

    .venv/bin/python bench/bench_memory.py                         # 2,500 and 10,000 samples (~3 min)
    .venv/bin/python bench/bench_memory.py --sizes 100000          # a 100,000-sample run (~15-25 min today)
    .venv/bin/python bench/bench_memory.py --sizes 5000,20000 --tracemalloc 12
    .venv/bin/python bench/bench_memory.py --models glm-4.5,glm-4.5-air,glm-4.5-x,glm-4.5-airx,glm-4.5-flash --sizes 100000

With --read, no run of each size is sent: one real run of the 500 MATH-500 items is made, its
samples.jsonl is replicated to each size as samples 0, 1, ... of the same items, and the table gives
the peak RSS of reading that folder: `results.read_samples` alone, `glm-eval report`, and the end of a
run (`harness.cli._finish`, report and summary, in a process that has imported harness.evaluate),
each beside its imports alone (~1-2 min for 10,000 and 100,000).

    .venv/bin/python bench/bench_memory.py --read --sizes 10000,100000
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import GLM_EVAL_ITEMS, PYTHON, FixedLatency, Server, append_result, harness_cmd, machine, machine_line, measure, wait_quiet  # noqa: E402

# What --read measures, each as a command on a run folder (RUN), and the same command's imports alone. They
# run with -P (no current folder on sys.path), so that --variant PATH measures the copy there.
READERS = {
    "read_samples": ("from harness.results import read_samples; read_samples(RUN)", "import harness.results"),
    "glm-eval report": ("from harness.cli import main; raise SystemExit(main(['report', str(RUN), '--out', str(RUN / 'report')]))",
                        "import harness.cli, harness.report"),
    "end of run": ("import harness.evaluate, io; from rich.console import Console; from harness.cli import _finish; "
                   "_finish(RUN, Console(file=io.StringIO()))", "import harness.evaluate, harness.report"),
}


def run_size(server: Server, size: int, models: list[str], args: argparse.Namespace, tracemalloc_top: int = 0) -> dict[str, Any]:
    per_model = size // len(models)
    if per_model % GLM_EVAL_ITEMS and per_model > GLM_EVAL_ITEMS:
        raise SystemExit(f"{size} samples over {len(models)} models: each model's share must be a multiple of 500")
    before = server.stats()
    with tempfile.TemporaryDirectory(prefix="glm-bench-mem-") as tmp:
        tmp_path = Path(tmp)
        phases_path = tmp_path / "phases.json"
        cmd, env = harness_cmd(server.url, per_model, args.concurrency, not args.no_stream, tmp_path,
                               model=",".join(models), phases=phases_path, tracemalloc_top=tracemalloc_top)
        if args.variant:
            env["PYTHONPATH"] = args.variant
        measured = measure(cmd, env=env, tty=not args.no_tty, timeout_s=args.timeout)
        phases = json.loads(phases_path.read_text()) if phases_path.exists() else {}
        samples_mb = (tmp_path / "run" / "samples.jsonl").stat().st_size / 2**20 if (tmp_path / "run" / "samples.jsonl").exists() else None
        store_mb = (tmp_path / "store.sqlite").stat().st_size / 2**20 if (tmp_path / "store.sqlite").exists() else None
    after = server.stats()
    return {
        "samples": size, "models": len(models), "concurrency": args.concurrency, "returncode": measured["returncode"],
        "answered_200": after["by_status"].get("200", 0) - before["by_status"].get("200", 0),
        "wall_s": measured["wall_s"], "cpu_s": measured["cpu_s"],
        "peak_main_rss_mb": measured["peak_main_rss_mb"], "peak_tree_rss_mb": measured["peak_tree_rss_mb"],
        "rss_after_send_mb": phases.get("send", {}).get("rss_mb_after"),
        "rss_after_grade_mb": phases.get("grade", {}).get("rss_mb_after"),
        "import_rss_note": "main process RSS at import is ~100-150 MB (pandas, datasets, sympy)",
        "samples_jsonl_mb": samples_mb, "store_mb": store_mb, "tracemalloc": tracemalloc_top > 0,
        "phases": phases, "cpu_by_process": measured["cpu_by_process_polled"], "rss_timeline": measured["rss_timeline"],
        **({"output_tail": measured.get("tty_tail") or measured.get("launcher_output_tail")} if measured["returncode"] else {}),
    }


def replicate(source: Path, run: Path, size: int) -> None:
    """A run folder of `size` samples: the source's lines (one sample of each item) as samples
    0, 1, ... with keys of their own, and its manifest."""
    lines = [json.loads(line) for line in (source / "samples.jsonl").open(encoding="utf-8")]
    run.mkdir()
    (run / "manifest.json").write_text((source / "manifest.json").read_text(encoding="utf-8"), encoding="utf-8")
    with (run / "samples.jsonl").open("w", encoding="utf-8") as out:
        for i in range(size):
            row = lines[i % len(lines)] | {"sample": i // len(lines), "key": f"{i:064x}"}
            out.write(json.dumps(row, ensure_ascii=False) + "\n")


def read_sizes(server: Server, args: argparse.Namespace) -> list[dict[str, Any]]:
    """--read: peak RSS of reading run folders of each size (READERS), beside their imports alone."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="glm-bench-read-") as tmp:
        tmp_path = Path(tmp)
        cmd, env = harness_cmd(server.url, GLM_EVAL_ITEMS, args.concurrency, not args.no_stream, tmp_path, extra=["--no-report"])
        subprocess.run(cmd, env={**os.environ, **env}, check=True, capture_output=True, timeout=args.timeout)
        variant = {"PYTHONPATH": args.variant} if args.variant else None
        imports = {name: measure([PYTHON, "-P", "-c", imported], env=variant)["peak_main_rss_mb"] for name, (_, imported) in READERS.items()}
        for size in args.sizes:
            run = tmp_path / f"run-{size}"
            replicate(tmp_path / "run", run, size)
            for name, (code, _) in READERS.items():
                measured = measure([PYTHON, "-P", "-c", f"from pathlib import Path; RUN = Path({str(run)!r}); {code}"], env=variant,
                                   timeout_s=args.timeout)
                rows.append({"samples": size, "step": name, "returncode": measured["returncode"], "wall_s": measured["wall_s"],
                             "peak_main_rss_mb": measured["peak_main_rss_mb"], "imports_rss_mb": imports[name],
                             "samples_jsonl_mb": (run / "samples.jsonl").stat().st_size / 2**20})
                r = rows[-1]
                print(f"{size:>8} {name:>16} {r['samples_jsonl_mb']:>9.0f} {r['imports_rss_mb']:>10.0f} {r['peak_main_rss_mb']:>9.0f} "
                      f"{r['peak_main_rss_mb'] - r['imports_rss_mb']:>9.0f} {r['wall_s']:>7.1f}"
                      + ("" if r["returncode"] == 0 else f"  exit {r['returncode']}: {measured['launcher_output_tail'][-300:]}"), flush=True)
            (run / "samples.jsonl").unlink()
    return rows


def fmt(value: Any, spec: str) -> str:
    return "-" if value is None else format(value, spec)


HEAD = (f"{'samples':>8} {'models':>6} {'wall s':>7} {'CPU s':>7} {'peak main MB':>12} {'peak tree MB':>12} "
        f"{'after send':>10} {'after grade':>11} {'MB per 10k':>10} {'200s':>7}")
READ_HEAD = f"{'samples':>8} {'step':>16} {'jsonl MB':>9} {'imports MB':>10} {'peak MB':>9} {'growth MB':>9} {'wall s':>7}"


def line(r: dict[str, Any], growth: float | None) -> str:
    flag = "" if r["returncode"] == 0 else f"  exit {r['returncode']}"
    return (f"{r['samples']:>8} {r['models']:>6} {r['wall_s']:>7.1f} {r['cpu_s']:>7.1f} {r['peak_main_rss_mb']:>12.0f} "
            f"{r['peak_tree_rss_mb']:>12.0f} {fmt(r['rss_after_send_mb'], '.0f'):>10} {fmt(r['rss_after_grade_mb'], '.0f'):>11} "
            f"{fmt(growth, '.1f'):>10} {r['answered_200']:>7}{flag}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=lambda s: [int(c) for c in s.split(",")], default=[2500, 10000],
                        help="samples per run (500 items x samples x models)")
    parser.add_argument("--models", default="glm-4.5", help="comma-separated variants; the samples are split among them")
    parser.add_argument("--concurrency", type=int, default=64, help="per model, as --concurrency is")
    parser.add_argument("--latency-ms", type=float, default=10.0, dest="latency_ms")
    parser.add_argument("--tokens", type=int, default=20)
    parser.add_argument("--no-stream", action="store_true", dest="no_stream")
    parser.add_argument("--no-tty", action="store_true", dest="no_tty")
    parser.add_argument("--tracemalloc", type=int, default=0, metavar="N",
                        help="also run each size with tracemalloc; keep the N largest sites (40 is a good N)")
    parser.add_argument("--read", action="store_true", help="measure reading run folders of each size, not running them (see above)")
    parser.add_argument("--variant", help="PYTHONPATH of a copy of the harness to measure instead (a prototype)")
    parser.add_argument("--timeout", type=float, default=3600.0)
    parser.add_argument("--results", type=Path, default=None)
    args = parser.parse_args()
    models = args.models.split(",")

    info = machine()
    print(f"memory: fixed latency {args.latency_ms:g} ms, {args.tokens} tokens, {'JSON' if args.no_stream else 'streamed'}; "
          f"C={args.concurrency} per model; {machine_line(info)}")
    rows: list[dict[str, Any]] = []
    with Server(FixedLatency(args.latency_ms, args.tokens, None)) as server:
        if args.read:
            print(f"{READ_HEAD}\n{'-' * len(READ_HEAD)}")
            rows = read_sizes(server, args)
        else:
            print(HEAD)
            print("-" * len(HEAD))
            for size in args.sizes:
                row = run_size(server, size, models, args)
                growth = None
                if rows and rows[-1]["samples"] != size:
                    growth = (row["peak_main_rss_mb"] - rows[-1]["peak_main_rss_mb"]) / (size - rows[-1]["samples"]) * 10_000
                row["main_mb_per_10k_samples"] = growth
                rows.append(row)
                print(line(row, growth), flush=True)
                wait_quiet(2)
            if args.tracemalloc:
                traced: list[dict[str, Any]] = []
                for size in args.sizes:
                    row = run_size(server, size, models, args, tracemalloc_top=args.tracemalloc)
                    rows.append(row)
                    traced.append(row)
                    print(f"\ntracemalloc, {size} samples (traced current / peak MB at the end of each phase):")
                    for phase in ("send", "grade", "write_samples"):
                        data = row["phases"].get(phase)
                        if not data:
                            continue
                        print(f"  end of {phase}: {data.get('tracemalloc_current_peak_mb')}")
                        for site in data.get("tracemalloc_top", [])[:15]:
                            print(f"    {site['mb']:8.2f} MB {site['blocks']:>9} blocks  {site['where']}")
                if len(traced) > 1:
                    first, last = traced[0], traced[-1]
                    extra = (last["samples"] - first["samples"]) / 10_000
                    for phase in ("send", "grade"):
                        old_sites = {s["where"]: s["mb"] for s in first["phases"].get(phase, {}).get("tracemalloc_top", [])}
                        new_sites = {s["where"]: s["mb"] for s in last["phases"].get(phase, {}).get("tracemalloc_top", [])}
                        grown = sorted(((new_sites[w] - old_sites.get(w, 0.0), w) for w in new_sites), reverse=True)
                        print(f"\nsites that grow with the run, end of {phase} ({first['samples']} -> {last['samples']} samples), MB per 10k samples:")
                        for delta, where in grown[:10]:
                            if delta > 0.05:
                                print(f"    {delta / extra:8.2f}  {where}")
    record = {"bench": "memory", "machine": info, "params": {k: (str(v) if isinstance(v, Path) else v)
                                                             for k, v in vars(args).items() if k != "results"}, "rows": rows}
    append_result(record, args.results) if args.results is not None else append_result(record)


if __name__ == "__main__":
    main()
