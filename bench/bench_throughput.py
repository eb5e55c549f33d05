"""Throughput of the harness's full `glm-eval run` path against the simulator in fixed-latency mode,
side by side with plain asyncio clients (httpx and aiohttp) on the same server in the same run.

The simulator runs in its own process: every answer after exactly L ms, T tokens, streams at R
tokens/s. The ideal wall time of N requests at concurrency C is ceil(N/C) x (L + T/R for streams).
The harness runs as a subprocess (`bench/harness_probe.py`, which is `glm-eval` plus a record of
when sending and grading start and end), with store, grading and the progress display on (the
display on a pseudo-terminal, as a user sees it). Each client runs under bench/measure.py, which
counts the CPU of its whole process tree (grading workers too) and its peak memory.

Columns: `send` is the sending phase (what the ideal bounds): wall, wall/ideal, CPU of the main
process per 1,000 requests and per million streamed tokens. `all` is the whole command: wall from
launch to exit and CPU of the whole process tree (startup, plan, sending, grading, samples.jsonl),
per 1,000 requests. Peak RSS is of the whole tree (main process in brackets).

    .venv/bin/python bench/bench_throughput.py                      # N=500, C=64,256,1024, json and stream (~10 min)
    .venv/bin/python bench/bench_throughput.py --n 5000 --modes json
    .venv/bin/python bench/bench_throughput.py --n 500 --concurrency 256 --clients harness --profile /tmp/prof
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import FixedLatency, Server, append_result, harness_cmd, ideal_s, machine, machine_line, measure, plain_cmd, wait_quiet  # noqa: E402

CLIENTS = ("harness", "httpx", "aiohttp")


def is_harness(client: str, args: argparse.Namespace) -> bool:
    base = client.removesuffix("-notty")
    return base == "harness" or base in args.variant


def one(client: str, server: Server, n: int, concurrency: int, stream: bool, tokens: int, ideal: float,
        args: argparse.Namespace, profile: Path | None) -> dict[str, Any]:
    before = server.stats()
    with tempfile.TemporaryDirectory(prefix="glm-bench-run-") as tmp:
        tmp_path = Path(tmp)
        report = tmp_path / "report.json"
        base = client.removesuffix("-notty")  # NAME-notty: output to a file, so plain progress lines, not rich
        if is_harness(client, args):
            cmd, env = harness_cmd(server.url, n, concurrency, stream, tmp_path, phases=report, lag=args.lag)
            if base in args.variant:  # a copy of the harness (a prototype), found first on the path
                env["PYTHONPATH"] = args.variant[base]
            measured = measure(cmd, env=env, tty=not (args.no_tty or client.endswith("-notty")), profile=profile)
        else:
            measured = measure(plain_cmd(client, server.url, n, concurrency, stream, report), profile=profile)
        phases = json.loads(report.read_text()) if report.exists() else {}
    after = server.stats()
    ok = after["by_status"].get("200", 0) - before["by_status"].get("200", 0)
    if is_harness(client, args):
        send = phases.get("send", {})
        send_wall, send_cpu = send.get("wall_s"), send.get("cpu_s")
    else:
        send_wall, send_cpu = phases.get("send_wall_s"), phases.get("send_cpu_s")
    million_tokens = n * tokens / 1e6
    row = {
        "client": client, "mode": "stream" if stream else "json", "n": n, "concurrency": concurrency,
        "ideal_s": ideal, "returncode": measured["returncode"], "answered_200": ok,
        "send_wall_s": send_wall, "send_wall_over_ideal": send_wall / ideal if send_wall else None,
        "send_cpu_s": send_cpu,
        "send_cpu_s_per_1k": send_cpu / n * 1000 if send_cpu is not None else None,
        "send_cpu_s_per_m_tokens": send_cpu / million_tokens if send_cpu is not None and stream else None,
        "all_wall_s": measured["wall_s"], "all_wall_over_ideal": measured["wall_s"] / ideal,
        "all_cpu_s": measured["cpu_s"], "all_cpu_s_per_1k": measured["cpu_s"] / n * 1000,
        "all_cpu_s_per_m_tokens": measured["cpu_s"] / million_tokens if stream else None,
        "peak_tree_rss_mb": measured["peak_tree_rss_mb"], "peak_main_rss_mb": measured["peak_main_rss_mb"],
        "cpu_by_process": measured["cpu_by_process_polled"], "server_cpu_s": after["cpu_s"] - before["cpu_s"],
        "phases": phases if is_harness(client, args) else None,
    }
    if measured["returncode"] != 0:
        row["output_tail"] = measured.get("tty_tail") or measured.get("launcher_output_tail")
    return row


def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    rows = []
    for mode in args.modes:
        stream = mode == "stream"
        tokens = args.stream_tokens if stream else args.tokens
        fixed = FixedLatency(args.latency_ms, tokens, args.rate if stream else None)
        with Server(fixed, args.chunk_tokens) as server:
            for n in args.n:
                for concurrency in args.concurrency:
                    ideal = ideal_s(n, concurrency, args.latency_ms, tokens, args.rate if stream else None)
                    for repeat in range(args.repeats):
                        order = list(args.clients)
                        order = order[repeat % len(order):] + order[: repeat % len(order)]  # rotate: no client always first
                        for client in order:
                            profile = None
                            if args.profile is not None:
                                args.profile.mkdir(parents=True, exist_ok=True)
                                profile = args.profile / f"{client}-{mode}-n{n}-c{concurrency}-r{repeat}.txt"
                            row = one(client, server, n, concurrency, stream, tokens, ideal, args, profile)
                            row["repeat"] = repeat
                            rows.append(row)
                            print(line(row), flush=True)
                            wait_quiet(args.pause)
    return rows


def fmt(value: Any, spec: str) -> str:
    return "-" if value is None else format(value, spec)


HEAD = (f"{'client':10} {'mode':6} {'N':>5} {'C':>5} {'ideal s':>7} {'send s':>7} {'send/ideal':>10} "
        f"{'send CPU/1k':>11} {'send CPU/Mtok':>13} {'all s':>7} {'all/ideal':>9} {'all CPU/1k':>10} "
        f"{'all CPU/Mtok':>12} {'peak MB':>13} {'srv CPU':>7} {'200s':>5}")


def line(r: dict[str, Any]) -> str:
    flag = "" if r["returncode"] == 0 else f"  exit {r['returncode']}"
    peak = f"{r['peak_tree_rss_mb']:.0f} ({r['peak_main_rss_mb']:.0f})"
    return (f"{r['client']:10} {r['mode']:6} {r['n']:>5} {r['concurrency']:>5} {r['ideal_s']:>7.1f} "
            f"{fmt(r['send_wall_s'], '7.2f'):>7} {fmt(r['send_wall_over_ideal'], '.3f'):>10} "
            f"{fmt(r['send_cpu_s_per_1k'], '.2f'):>11} {fmt(r['send_cpu_s_per_m_tokens'], '.1f'):>13} "
            f"{r['all_wall_s']:>7.2f} {r['all_wall_over_ideal']:>9.3f} {r['all_cpu_s_per_1k']:>10.2f} "
            f"{fmt(r['all_cpu_s_per_m_tokens'], '.1f'):>12} {peak:>13} {r['server_cpu_s']:>7.2f} "
            f"{r['answered_200']:>5}{flag}")


def span(values: list[float], spec: str) -> str:
    values = [v for v in values if v is not None]
    if not values:
        return "-"
    low, high = min(values), max(values)
    return format(low, spec) if len(values) == 1 or format(low, spec) == format(high, spec) else f"{low:{spec}}-{high:{spec}}"


def summary(rows: list[dict[str, Any]]) -> str:
    """Per cell and client, the range over repeats: send wall/ideal, send CPU per 1k (or per M tokens)."""
    cells: dict[tuple[str, int, int], dict[str, list[dict[str, Any]]]] = {}
    for r in rows:
        cells.setdefault((r["mode"], r["n"], r["concurrency"]), {}).setdefault(r["client"], []).append(r)
    head = f"{'mode':6} {'N':>5} {'C':>5} {'client':12} {'send/ideal':>12} {'send CPU/1k':>12} {'send CPU/Mtok':>14} {'all/ideal':>11} {'all CPU/1k':>11}"
    out = ["", "summary over repeats (ranges):", head, "-" * len(head)]
    for (mode, n, c), by_client in cells.items():
        for client, rs in by_client.items():
            out.append(f"{mode:6} {n:>5} {c:>5} {client:12} {span([r['send_wall_over_ideal'] for r in rs], '.2f'):>12} "
                       f"{span([r['send_cpu_s_per_1k'] for r in rs], '.1f'):>12} {span([r['send_cpu_s_per_m_tokens'] for r in rs], '.1f'):>14} "
                       f"{span([r['all_wall_over_ideal'] for r in rs], '.2f'):>11} {span([r['all_cpu_s_per_1k'] for r in rs], '.1f'):>11}")
    return "\n".join(out)


def main() -> None:
    ints = lambda s: [int(c) for c in s.split(",")]  # noqa: E731
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=ints, default=[500], help="requests per run, comma-separated (above 500: multiples of 500)")
    parser.add_argument("--concurrency", type=ints, default=[64, 256, 1024])
    parser.add_argument("--modes", type=lambda s: s.split(","), default=["json", "stream"])
    parser.add_argument("--clients", type=lambda s: s.split(","), default=list(CLIENTS),
                        help=",".join(CLIENTS) + "; a harness client NAME-notty runs without a terminal (plain progress lines)")
    parser.add_argument("--variant", action="append", default=[], metavar="NAME=PATH[:PATH]",
                        help="a copy of the harness to measure as client NAME (PYTHONPATH=PATH...); add NAME to --clients")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--latency-ms", type=float, default=1000.0, dest="latency_ms")
    parser.add_argument("--tokens", type=int, default=2000, help="tokens of a non-streamed answer")
    parser.add_argument("--stream-tokens", type=int, default=2000, dest="stream_tokens")
    parser.add_argument("--rate", type=float, default=200.0, help="streamed tokens per second")
    parser.add_argument("--chunk-tokens", type=int, default=8, dest="chunk_tokens", help="tokens per SSE event")
    parser.add_argument("--pause", type=float, default=2.0, help="seconds between runs")
    parser.add_argument("--lag", action="store_true", help="record event-loop lag in the harness (adds a 5 ms ticker)")
    parser.add_argument("--no-tty", action="store_true", dest="no_tty", help="harness output to a file: plain progress lines, not rich")
    parser.add_argument("--profile", type=Path, help="py-spy each client's main process into this folder")
    parser.add_argument("--results", type=Path, default=None, help="where the JSON line is appended (default bench/results.jsonl)")
    args = parser.parse_args()
    args.variant = dict(v.split("=", 1) for v in args.variant)

    info = machine()
    print(f"throughput: fixed latency {args.latency_ms:g} ms; json answers {args.tokens} tokens; streams "
          f"{args.stream_tokens} tokens at {args.rate:g}/s, {args.chunk_tokens} per event; {machine_line(info)}")
    print(HEAD)
    print("-" * len(HEAD))
    rows = run(args)
    print(summary(rows))
    record = {"bench": "throughput", "machine": info,
              "params": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items() if k != "results"},
              "rows": rows}
    if args.results is not None:
        append_result(record, args.results)
    else:
        append_result(record)


if __name__ == "__main__":
    main()
