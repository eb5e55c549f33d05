"""The phases hook the benchmarks time a run through (harness.phases, bench/harness_probe.py)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from harness import phases


def test_a_watcher_sees_each_phase_start_and_end() -> None:
    seen: list[str] = []

    @contextlib.contextmanager
    def watcher(name: str) -> Iterator[None]:
        seen.append(f"{name} start")
        yield
        seen.append(f"{name} end")

    @phases.timed("work")
    def work(x: int) -> int:
        with phases.phase("inner"):
            return x + 1

    with phases.watching(watcher):
        assert work(1) == 2
    assert work(2) == 3  # no longer watched
    assert seen == ["work start", "inner start", "inner end", "work end"]

