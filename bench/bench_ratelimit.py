"""Under a provider's per-key limit of R requests per minute: how close to R does a run get, and
how many of its requests are answered 429?

The simulator (own process, a fresh one per run, with its request log) limits the key to R
requests per minute (a token bucket holding one second's worth, as providers quantise their
limits) and answers in fixed latency. Each client sends N requests at concurrency C:
the harness's `glm-eval run` with `--rpm R` (its client-side pace) and with `--rpm 0` (no pace:
it learns of the limit from 429s and Retry-After), and the plain aiohttp client paced at R.
From the request log: achieved rate = the 200s over the span from the first request to the last
200 (requests admitted per minute, as a fraction of R), and the share of all requests (attempts)
answered 429; both over the whole run and once settled, from STEADY_S after the first request on
(without knowing the limit, the first second's C requests meet an unavoidable burst of 429s).

    .venv/bin/python bench/bench_ratelimit.py                       # R=600/min, N=300 (~3 min)
    .venv/bin/python bench/bench_ratelimit.py --rpm 60 --n 60 --concurrency 16
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import FixedLatency, Server, append_result, harness_cmd, machine, machine_line, measure, plain_cmd, wait_quiet  # noqa: E402

from harness.simulator.faults import Faults  # noqa: E402

CLIENTS = ("harness --rpm R", "harness --rpm 0", "aiohttp paced")
STEADY_S = 10.0


def one(client: str, args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="glm-bench-rpm-") as tmp:
        tmp_path = Path(tmp)
        log = tmp_path / "requests.jsonl"
        report = tmp_path / "report.json"
        fixed = FixedLatency(args.latency_ms, args.tokens, None)
        with Server(fixed, faults=Faults(rpm_limit=args.rpm), request_log=log) as server:
            if client.startswith("harness"):
                rpm = args.rpm if client == "harness --rpm R" else 0
                cmd, env = harness_cmd(server.url, args.n, args.concurrency, False, tmp_path, phases=report)
                cmd[cmd.index("--rpm") + 1] = str(rpm)
                if args.variant:
                    env["PYTHONPATH"] = args.variant
                measured = measure(cmd, env=env, timeout_s=args.timeout)
            else:
                measured = measure(plain_cmd("aiohttp", server.url, args.n, args.concurrency, False, report, rpm=args.rpm),
                                   timeout_s=args.timeout)
        entries = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
        phases = json.loads(report.read_text()) if report.exists() else {}
    ok = [e for e in entries if e.get("status") == 200]
    limited = [e for e in entries if e.get("status") == 429]
    first = min(e["time"] for e in entries) if entries else 0.0
    span = (max(e["time"] for e in ok) - first) if ok else 0.0
    # n requests admitted over the span: the rate is (n - 1) intervals over it, per minute
    achieved = (len(ok) - 1) / span * 60 if span > 0 else 0.0
    settled = [e for e in entries if e["time"] >= first + STEADY_S]
    settled_ok = sorted(e["time"] for e in settled if e.get("status") == 200)
    settled_span = settled_ok[-1] - settled_ok[0] if len(settled_ok) > 1 else 0.0
    send_wall = phases.get("send", {}).get("wall_s") if client.startswith("harness") else phases.get("send_wall_s")
    return {
        "client": client, "rpm_limit": args.rpm, "n": args.n, "concurrency": args.concurrency, "returncode": measured["returncode"],
        "attempts": len(entries), "ok": len(ok), "http_429": len(limited),
        "share_429": len(limited) / len(entries) if entries else None,
        "achieved_rpm": achieved, "achieved_over_r": achieved / args.rpm,
        "settled_attempts": len(settled),
        "settled_share_429": sum(e.get("status") == 429 for e in settled) / len(settled) if settled else None,
        "settled_achieved_over_r": (len(settled_ok) - 1) / settled_span * 60 / args.rpm if settled_span > 0 else None,
        "send_wall_s": send_wall, "ideal_s": (args.n - 1) / args.rpm * 60 + args.latency_ms / 1000,
        "end_to_end_over_r": (len(ok) / send_wall * 60 / args.rpm) if send_wall else None,
        "gave_up": args.n - len(ok),
    }


HEAD = (f"{'client':18} {'R/min':>6} {'N':>5} {'C':>4} {'attempts':>8} {'200':>5} {'429':>5} {'429 share':>9} "
        f"{'achieved/min':>12} {'achieved/R':>10} {'after 10 s: 429':>15} {'achieved/R':>10} {'send s':>7} {'ideal s':>7} "
        f"{'not answered':>12}")


def line(r: dict[str, Any]) -> str:
    flag = "" if r["returncode"] == 0 else f"  exit {r['returncode']}"
    wall = "-" if r["send_wall_s"] is None else f"{r['send_wall_s']:.1f}"
    settled_429 = "-" if r["settled_share_429"] is None else f"{100 * r['settled_share_429']:.1f}%"
    settled_r = "-" if r["settled_achieved_over_r"] is None else f"{r['settled_achieved_over_r']:.3f}"
    return (f"{r['client']:18} {r['rpm_limit']:>6} {r['n']:>5} {r['concurrency']:>4} {r['attempts']:>8} {r['ok']:>5} "
            f"{r['http_429']:>5} {100 * (r['share_429'] or 0):>8.1f}% {r['achieved_rpm']:>12.0f} {r['achieved_over_r']:>10.3f} "
            f"{settled_429:>15} {settled_r:>10} {wall:>7} {r['ideal_s']:>7.1f} {r['gave_up']:>12}{flag}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rpm", type=int, default=600, help="the simulated per-key limit R, requests per minute")
    parser.add_argument("--n", type=int, default=300, help="requests per run (<= 500, or a multiple of 500)")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--latency-ms", type=float, default=1000.0, dest="latency_ms")
    parser.add_argument("--tokens", type=int, default=200)
    parser.add_argument("--clients", type=lambda s: s.split(","), default=list(CLIENTS), help=",".join(CLIENTS))
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--variant", help="PYTHONPATH of a copy of the harness to measure instead (a prototype)")
    parser.add_argument("--timeout", type=float, default=1800.0)
    parser.add_argument("--results", type=Path, default=None)
    args = parser.parse_args()

    info = machine()
    print(f"rate limit: simulated limit {args.rpm}/min per key (bucket of one second's worth), fixed latency "
          f"{args.latency_ms:g} ms, JSON answers; {machine_line(info)}")
    print(HEAD)
    print("-" * len(HEAD))
    rows = []
    for repeat in range(args.repeats):
        for client in args.clients:
            row = one(client, args)
            row["repeat"] = repeat
            rows.append(row)
            print(line(row), flush=True)
            wait_quiet(2)
    record = {"bench": "ratelimit", "machine": info,
              "params": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items() if k != "results"}, "rows": rows}
    append_result(record, args.results) if args.results is not None else append_result(record)


if __name__ == "__main__":
    main()
