"""The plain asyncio client that the harness is measured against: minimal code, no store, no
grading, no display. N chat-completions requests, C at a time, streamed (every SSE event parsed
with json.loads and its deltas kept, as any client must) or not; httpx or aiohttp.

    python bench/plain_client.py --lib aiohttp --url http://127.0.0.1:PORT --n 500 --concurrency 64 [--stream]

Writes a JSON report (--report): wall and CPU of the sending loop, successes, 429s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

PROMPT = ("Solve the following math problem step by step. Put your answer inside \\boxed{}.\n\n"
          "Find the number of ordered pairs $(a, b)$ of integers with $|a| + |b| \\le 10$.\n\n"
          "Remember to put your answer inside \\boxed{}.")


def body(i: int, stream: bool) -> dict:
    return {"model": "glm-4.5", "messages": [{"role": "user", "content": PROMPT}], "max_tokens": 81920,
            "temperature": 0.6, "top_p": 0.95, "stream": stream, "seed": i, "thinking": {"type": "enabled"}}


def take(chunk: dict, content: list[str], reasoning: list[str]) -> None:
    for choice in chunk.get("choices") or ():
        delta = choice.get("delta") or {}
        if delta.get("content"):
            content.append(delta["content"])
        if delta.get("reasoning_content"):
            reasoning.append(delta["reasoning_content"])


class Pace:
    def __init__(self, rpm: int) -> None:
        self.interval = 60.0 / rpm if rpm else 0.0
        self.next = 0.0

    async def wait(self) -> None:
        if self.interval:
            now = time.monotonic()
            start = max(now, self.next)
            self.next = start + self.interval
            await asyncio.sleep(start - now)


async def run_httpx(args: argparse.Namespace, counts: dict[str, int]) -> None:
    import httpx

    limits = httpx.Limits(max_connections=args.concurrency, max_keepalive_connections=args.concurrency)
    async with httpx.AsyncClient(base_url=args.url, limits=limits, timeout=httpx.Timeout(600, connect=60),
                                 headers={"Authorization": "Bearer sim-key"}) as client:

        async def one(i: int) -> None:
            while True:
                await pace.wait()
                if args.stream:
                    content: list[str] = []
                    reasoning: list[str] = []
                    async with client.stream("POST", "/v1/chat/completions", json=body(i, True)) as r:
                        if r.status_code == 429:
                            await r.aread()
                            counts["429"] += 1
                            await asyncio.sleep(float(r.headers.get("retry-after", 1)))
                            continue
                        async for line in r.aiter_lines():
                            if line.startswith("data: ") and line != "data: [DONE]":
                                take(json.loads(line[6:]), content, reasoning)
                    counts["ok"] += bool(content or reasoning)
                    return
                r = await client.post("/v1/chat/completions", json=body(i, False))
                if r.status_code == 429:
                    counts["429"] += 1
                    await asyncio.sleep(float(r.headers.get("retry-after", 1)))
                    continue
                counts["ok"] += bool(r.json()["choices"][0]["message"])
                return

        pace = Pace(args.rpm)
        await workers(args, one)


async def run_aiohttp(args: argparse.Namespace, counts: dict[str, int]) -> None:
    import aiohttp

    connector = aiohttp.TCPConnector(limit=args.concurrency)
    async with aiohttp.ClientSession(args.url, connector=connector, timeout=aiohttp.ClientTimeout(total=600),
                                     headers={"Authorization": "Bearer sim-key"}) as session:

        async def one(i: int) -> None:
            while True:
                await pace.wait()
                async with session.post("/v1/chat/completions", json=body(i, args.stream)) as r:
                    if r.status == 429:
                        await r.read()
                        counts["429"] += 1
                        await asyncio.sleep(float(r.headers.get("Retry-After", 1)))
                        continue
                    if not args.stream:
                        counts["ok"] += bool((await r.json())["choices"][0]["message"])
                        return
                    content: list[str] = []
                    reasoning: list[str] = []
                    async for line in r.content:  # one SSE line at a time
                        if line.startswith(b"data: ") and not line.startswith(b"data: [DONE]"):
                            take(json.loads(line[6:]), content, reasoning)
                    counts["ok"] += bool(content or reasoning)
                    return

        pace = Pace(args.rpm)
        await workers(args, one)


async def workers(args: argparse.Namespace, one) -> None:  # type: ignore[no-untyped-def]
    queue = iter(range(args.n))

    async def worker() -> None:
        for i in queue:
            await one(i)

    await asyncio.gather(*(worker() for _ in range(min(args.concurrency, args.n))))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lib", choices=["httpx", "aiohttp"], required=True)
    parser.add_argument("--url", required=True)
    parser.add_argument("--n", type=int, required=True)
    parser.add_argument("--concurrency", type=int, required=True)
    parser.add_argument("--stream", action="store_true")
    parser.add_argument("--rpm", type=int, default=0)
    parser.add_argument("--report")
    args = parser.parse_args()
    counts = {"ok": 0, "429": 0}
    started, cpu = time.perf_counter(), time.process_time()
    asyncio.run((run_httpx if args.lib == "httpx" else run_aiohttp)(args, counts))
    report = {"send_wall_s": time.perf_counter() - started, "send_cpu_s": time.process_time() - cpu, **counts}
    if args.report:
        with open(args.report, "w") as out:
            json.dump(report, out)
    else:
        print(json.dumps(report))


if __name__ == "__main__":
    main()
