"""The simulated endpoint alone, driven by a plain asyncio client: is the simulator ever the
bottleneck of a throughput benchmark?

The simulator runs in its own process in fixed-latency mode (every answer after exactly L ms,
T tokens, streams at R tokens/s), so the ideal wall time of N requests at concurrency C is
ceil(N / C) x (L + T/R for streams). A wall/ideal near 1 and a server CPU well below one core
mean that later benchmarks measure the harness, not the simulator.

    .venv/bin/python bench/bench_simulator.py            # prints a table, appends bench/results.jsonl
    .venv/bin/python bench/bench_simulator.py --n 500 --concurrency 64,256
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import multiprocessing
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harness.simulator import FixedLatency, SimOptions, serve  # noqa: E402

RESULTS = ROOT / "bench" / "results.jsonl"
KEY = "bench-key"


def _serve(fixed: FixedLatency, chunk_tokens: int, ports: Any) -> None:
    serve(SimOptions(api_key=KEY, fixed_latency=fixed, chunk_tokens=chunk_tokens), [], ready=ports.put)


class Server:
    """The simulator in a child process, for the length of one mode."""

    def __init__(self, fixed: FixedLatency, chunk_tokens: int) -> None:
        context = multiprocessing.get_context("spawn")
        ports = context.Queue()
        self.process = context.Process(target=_serve, args=(fixed, chunk_tokens, ports), daemon=True)
        self.process.start()
        self.url = f"http://127.0.0.1:{ports.get(timeout=60)}"

    def stop(self) -> None:
        self.process.terminate()
        self.process.join(10)


async def _one(session: aiohttp.ClientSession, url: str, body: bytes, stream: bool) -> bool:
    async with session.post(url, data=body) as response:
        if response.status != 200:
            await response.read()
            return False
        if not stream:
            await response.json()
            return True
        tail = b""
        async for data in response.content.iter_any():
            tail = (tail + data)[-32:]
        return tail.endswith(b"data: [DONE]\n\n")


async def _drive(url: str, n: int, concurrency: int, stream: bool) -> dict[str, Any]:
    body = json.dumps({"model": "glm-4.5", "stream": stream, "max_tokens": 100_000,
                       "messages": [{"role": "user", "content": "What is 6 x 7? Put it in \\boxed{}."}]}).encode()
    headers = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=600)
    async with aiohttp.ClientSession(connector=connector, headers=headers, timeout=timeout) as session:
        stats_url = f"{url}/_sim/stats"
        before = await (await session.get(stats_url)).json()
        cpu_client = time.process_time()
        gate = asyncio.Semaphore(concurrency)
        failures = 0

        async def task() -> None:
            nonlocal failures
            async with gate:
                try:
                    ok = await _one(session, f"{url}/v1/chat/completions", body, stream)
                except aiohttp.ClientError:
                    ok = False
                failures += not ok

        started = time.perf_counter()
        await asyncio.gather(*(task() for _ in range(n)))
        wall = time.perf_counter() - started
        client_cpu = time.process_time() - cpu_client
        after = await (await session.get(stats_url)).json()
    return {"wall_s": wall, "failures": failures, "client_cpu_s": client_cpu,
            "server_cpu_s": after["cpu_s"] - before["cpu_s"], "max_in_flight": after["max_in_flight"]}


def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    rows = []
    modes = [("json", FixedLatency(args.latency_ms, args.tokens)),
             ("stream", FixedLatency(args.latency_ms, args.stream_tokens, args.rate))]
    for mode, fixed in modes:
        server = Server(fixed, args.chunk_tokens)
        try:
            per_request = fixed.latency_ms / 1000 + (fixed.tokens / args.rate if mode == "stream" else 0)
            for concurrency in args.concurrency:
                result = asyncio.run(_drive(server.url, args.n, concurrency, mode == "stream"))
                ideal = math.ceil(args.n / concurrency) * per_request
                tokens = args.n * fixed.tokens
                rows.append({
                    "mode": mode, "n": args.n, "concurrency": concurrency, "latency_ms": fixed.latency_ms,
                    "tokens": fixed.tokens, "rate": fixed.stream_tokens_per_s, **result,
                    "ideal_s": ideal, "wall_over_ideal": result["wall_s"] / ideal,
                    "requests_per_s": args.n / result["wall_s"],
                    "server_cpu_s_per_1k": result["server_cpu_s"] / args.n * 1000,
                    "server_cpu_s_per_m_tokens": result["server_cpu_s"] / tokens * 1e6 if mode == "stream" else None,
                })
        finally:
            server.stop()
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    head = (f"{'mode':6} {'C':>5} {'N':>5} {'req/s':>7} {'wall s':>7} {'ideal s':>7} {'wall/ideal':>10} "
            f"{'srv CPU s':>9} {'srv s/1k req':>12} {'srv s/M tok':>11} {'cli CPU s':>9} {'peak':>5} {'fail':>4}")
    lines = [head, "-" * len(head)]
    for r in rows:
        per_m = f"{r['server_cpu_s_per_m_tokens']:.1f}" if r["server_cpu_s_per_m_tokens"] is not None else "-"
        lines.append(
            f"{r['mode']:6} {r['concurrency']:>5} {r['n']:>5} {r['requests_per_s']:>7.0f} {r['wall_s']:>7.2f} "
            f"{r['ideal_s']:>7.2f} {r['wall_over_ideal']:>10.3f} {r['server_cpu_s']:>9.2f} "
            f"{r['server_cpu_s_per_1k']:>12.2f} {per_m:>11} {r['client_cpu_s']:>9.2f} {r['max_in_flight']:>5} "
            f"{r['failures']:>4}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=2000, help="requests per concurrency level")
    parser.add_argument("--concurrency", type=lambda s: [int(c) for c in s.split(",")], default=[64, 256, 1024])
    parser.add_argument("--latency-ms", type=float, default=200.0, dest="latency_ms")
    parser.add_argument("--tokens", type=int, default=500, help="tokens of a non-streamed answer")
    parser.add_argument("--stream-tokens", type=int, default=200, dest="stream_tokens")
    parser.add_argument("--rate", type=float, default=200.0, help="streamed tokens per second")
    parser.add_argument("--chunk-tokens", type=int, default=SimOptions.chunk_tokens, dest="chunk_tokens")
    parser.add_argument("--results", type=Path, default=RESULTS, help="where the JSON line is appended")
    args = parser.parse_args()

    load_before = os.getloadavg()[0]
    rows = run(args)
    print(f"simulator alone, fixed latency {args.latency_ms:g} ms; streams: {args.stream_tokens} tokens at "
          f"{args.rate:g}/s, {args.chunk_tokens} tokens per event; {os.cpu_count()} CPUs, "
          f"load average {load_before:.1f} before the run (other work on the machine skews the figures)")
    print(table(rows))
    record = {
        "bench": "simulator", "time": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
                    "loadavg_before": load_before},
        "params": {k: v for k, v in vars(args).items() if k != "results"}, "rows": rows,
    }
    with args.results.open("a", encoding="utf-8") as out:
        out.write(json.dumps(record) + "\n")


if __name__ == "__main__":
    main()
