"""How fast to start requests: a configured requests-per-minute limit, and the limit a provider
shows by answering 429.

Kept apart from the runner because it is the one place that decides the rate; the runner only
asks it when a request may start and tells it what came back.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque


class Pace:
    """Spaces request starts: never faster than a configured requests-per-minute limit (0: none),
    and, once the provider answers 429, just below the rate it accepts.

    On a 429 the pace drops to 90% of the rate at which answers came back over the last few
    seconds (the provider's limit, when we were sending faster than it), or to half the rate of
    sending when too few answers came back to tell. Only refusals of requests sent at the current
    pace count, at most one cut a second: the tail of an earlier storm says nothing new. Every
    start waits out a Retry-After. After a quiet spell it speeds up a little with each answer,
    until a refusal marks the limit again; a run with no limit is never slowed.
    """

    WINDOW_S = 5.0
    QUIET_S = 30.0

    def __init__(self, rpm: int) -> None:
        self._floor = 60.0 / rpm if rpm > 0 else 0.0
        self._interval = self._floor
        self._next = 0.0
        self._paused_until = 0.0
        self._last_cut = float("-inf")
        self._last_refusal = float("-inf")
        self._answers: deque[float] = deque()
        self._starts: deque[float] = deque()
        self._lock = asyncio.Lock()

    async def wait(self) -> float:
        """Wait for this request's turn; returns when it started (for `refused`)."""
        async with self._lock:
            current = time.monotonic()
            start = max(current, self._next, self._paused_until)
            self._next = start + self._interval
            _push(self._starts, start, self.WINDOW_S)
        if start > current:
            await asyncio.sleep(start - current)
        return start

    def refused(self, retry_after: float | None, started: float) -> None:
        """A 429 for a request that started at `started`."""
        current = time.monotonic()
        self._last_refusal = current
        if retry_after:
            self._paused_until = max(self._paused_until, current + retry_after)
        if started < self._last_cut or current - self._last_cut < 1.0:
            return
        _trim(self._answers, current - self.WINDOW_S)
        _trim(self._starts, current - self.WINDOW_S)
        if len(self._answers) >= 4:
            rate = 0.9 * len(self._answers) / max(1.0, current - self._answers[0])
        else:
            rate = 0.5 * len(self._starts) / max(0.5, current - self._starts[0]) if self._starts else 1.0
        self._interval = max(self._floor, 1.0 / max(rate, 0.05))
        self._last_cut = current

    def answered(self) -> None:
        current = time.monotonic()
        _push(self._answers, current, self.WINDOW_S)
        if self._interval > self._floor and current - self._last_refusal > self.QUIET_S:
            self._interval = max(self._floor, self._interval * 0.98)


def _push(times: deque[float], value: float, window_s: float) -> None:
    times.append(value)
    _trim(times, value - window_s)


def _trim(times: deque[float], oldest: float) -> None:
    while times and times[0] < oldest:
        times.popleft()
