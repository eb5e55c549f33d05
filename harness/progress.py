"""Live progress per model: done/total, errors, tokens, elapsed, ETA.

A terminal gets a rich live display; a log (CI, a pipe) gets one plain line per model every
`interval_s`, so that a long run in CI still shows it is alive without flooding the log.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn, TimeRemainingColumn


@dataclass
class Counter:
    total: int
    done: int = 0
    errors: int = 0
    tokens: int = 0
    started: float = field(default_factory=time.monotonic)


class ProgressView:
    def __init__(self, totals: dict[str, int], console: Console | None = None, interval_s: float = 15.0) -> None:
        self.counters = {model: Counter(total) for model, total in totals.items()}
        self.console = console or Console(stderr=True)
        self._interval = interval_s
        self._last_line = time.monotonic()
        self._live: Progress | None = None
        self._ids: dict[str, TaskID] = {}
        self._last_note = ""

    def __enter__(self) -> ProgressView:
        if self.console.is_terminal:
            self._live = Progress(
                TextColumn("{task.description:<14}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[errors]} err"),
                TextColumn("{task.fields[tokens]} tok"),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=self.console,
                refresh_per_second=4,
            )
            self._live.start()
            for model, c in self.counters.items():
                self._ids[model] = self._live.add_task(model, total=c.total, errors=0, tokens=0)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.stop()
        else:
            self._print_lines()

    def update(self, model: str, ok: bool, tokens: int) -> None:
        c = self.counters[model]
        c.done += 1
        c.errors += not ok
        c.tokens += tokens
        if self._live is not None:
            self._live.update(self._ids[model], completed=c.done, errors=c.errors, tokens=c.tokens)
        elif time.monotonic() - self._last_line >= self._interval:
            self._print_lines()

    def note(self, model: str, text: str) -> None:
        """A change in the state of something the run waits on (a submitted batch): shown as it happens,
        above the bars on a terminal, as its own line in a log."""
        line = f"[batch] {model}: {text}"
        if line == self._last_note:
            return
        self._last_note = line
        if self._live is not None:
            self._live.console.print(line)
        else:
            print(line, file=sys.stderr, flush=True)

    def _print_lines(self) -> None:
        self._last_line = time.monotonic()
        for model, c in self.counters.items():
            elapsed = time.monotonic() - c.started
            eta = f"{elapsed / c.done * (c.total - c.done):.0f}s" if c.done else "unknown"
            print(
                f"[progress] {model}: {c.done}/{c.total} done, {c.errors} errors, {c.tokens} tokens, "
                f"{elapsed:.0f}s elapsed, ETA {eta}",
                file=sys.stderr,
                flush=True,
            )
