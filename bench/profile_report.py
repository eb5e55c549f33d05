"""Shares of CPU samples in a py-spy raw profile (collapsed stacks, one "frame;frame;... count"
line per stack, frames as "function (file:line)").

    python bench/profile_report.py stacks.txt [--top 25] [--window send]

Prints three views: self time by line (where the CPU is spent), inclusive time by function for
the harness's own frames and the libraries it calls (what the time is spent for), and inclusive
time of a few named stages (SSE parsing, JSON, the store, the progress display, ...).
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?):(?P<line>\d+)\)$")
SITE = "site-packages/"

# Stages: a stack counts for the stage of its deepest frame that matches one (see classify).
STAGES: list[tuple[str, tuple[str, ...]]] = [
    ("startup: imports", ("_find_and_load",)),
    ("plan: request keys and bodies", ("harness/plan.py",)),
    ("tasks: loading the data", ("harness/tasks.py",)),
    ("grading (in-process part: pool dispatch, results)", ("harness/graders/",)),
    ("samples.jsonl and manifest", ("_write_samples", "_sample_row", "_manifest", "harness/results.py")),
    ("store: SQLite commit per response", ("harness/store.py",)),
    ("progress display (rich)", ("harness/progress.py", "rich/")),
    ("SSE: httpx aiter_lines / line decoding", ("aiter_lines", "aiter_text", "LineDecoder", "TextDecoder")),
    ("JSON decoding of events/bodies", ("json/decoder.py", "json/__init__.py:346")),
    ("client.py: request/response handling", ("harness/client.py",)),
    ("runner.py", ("harness/runner.py",)),
    ("httpx/httpcore/h11/anyio transport", ("httpx/", "httpcore/", "h11/", "anyio/")),
    ("asyncio event loop itself", ("asyncio/",)),
]


def parse(path: Path) -> list[tuple[list[tuple[str, str, int]], int]]:
    stacks = []
    for raw in path.read_text(encoding="utf-8", errors="replace").splitlines():
        head, _, count = raw.rpartition(" ")
        if not head or not count.isdigit():
            continue
        frames = []
        for part in head.split(";"):
            m = FRAME.match(part.strip())
            if m:
                frames.append((m["func"], short(m["file"]), int(m["line"])))
            else:
                frames.append((part.strip(), "?", 0))
        stacks.append((frames, int(count)))
    return stacks


def short(file: str) -> str:
    if SITE in file:
        return file.split(SITE, 1)[1]
    for marker in ("/work/main/", "/lib/python3.11/"):
        if marker in file:
            return file.split(marker, 1)[1]
    return file


def classify(frames: list[tuple[str, str, int]]) -> str:
    """The stage of the deepest frame that belongs to one (leaf first): where the time goes."""
    for func, file, line in reversed(frames):
        text = f"{func} ({file}:{line})"
        for name, needles in STAGES:
            if any(n in text for n in needles):
                return name
    return "other"


def report(stacks: list[tuple[list[tuple[str, str, int]], int]], top: int) -> str:
    total = sum(c for _, c in stacks) or 1
    lines = [f"{total} samples"]
    leaf: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    stage: Counter[str] = Counter()
    for frames, count in stacks:
        f, file, line = frames[-1]
        leaf[f"{file}:{line} {f}"] += count
        seen = set()
        for func, file, line in frames:
            if file.startswith(("harness/", "bench/")) or "/" in file and file.split("/")[0] in (
                    "httpx", "httpcore", "h11", "anyio", "rich", "sqlite3", "json", "asyncio"):
                key = f"{file}:{func}" if file.startswith(("harness/", "bench/")) else f"{file.split('/')[0]}/.. {func}"
                if file.startswith(("harness/", "bench/")):
                    key = f"{file}:{line} {func}"
                if key not in seen:
                    inclusive[key] += count
                    seen.add(key)
        stage[classify(frames)] += count
    lines.append("\nby stage (the deepest frame that names one):")
    for name, count in stage.most_common():
        lines.append(f"  {100 * count / total:5.1f}%  {name}")
    lines.append(f"\nself time, top {top} lines:")
    for key, count in leaf.most_common(top):
        lines.append(f"  {100 * count / total:5.1f}%  {key}")
    lines.append(f"\ninclusive, top {top} harness lines and library functions:")
    for key, count in inclusive.most_common(top):
        lines.append(f"  {100 * count / total:5.1f}%  {key}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("stacks", type=Path)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--only", help="keep only stacks with a frame containing this text (e.g. _send)")
    args = parser.parse_args()
    stacks = parse(args.stacks)
    if args.only:
        stacks = [(f, c) for f, c in stacks if any(args.only in f"{func} ({file}:{line})" for func, file, line in f)]
    print(report(stacks, args.top))


if __name__ == "__main__":
    main()
