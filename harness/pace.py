"""How fast to start requests: a configured requests-per-minute limit, and the limit a provider
shows by answering 429.

Kept apart from the runner because it is the one place that decides the rate; the runner only
asks it when a request may start and tells it what came back.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque


class Pace:
    """Spaces request starts: never faster than a configured requests-per-minute limit (0: none),
    and, once the provider answers 429, just under the rate it was seen to accept.

    Until a 429 nothing is paced: a run that meets no limit is never slowed. On a 429 the pace
    measures the rate the provider accepted (starts minus refusals over the last few seconds;
    429s come back at once, so that count is current whatever the latency of answers) and holds
    at HOLD of it; a refusal of a request sent at the current pace cuts it by at least that
    share, a refusal from an earlier, faster spell only by what the measurement says. Every
    start waits out a Retry-After, including starts already given a slot. After a quiet spell
    (10 s and 100 starts) in which the pace held the run back, it probes upward by a small step,
    doubling the step once past the limit it measured (the limit may have risen), until a
    refusal marks it again: so in the long run it holds under the limit and a probe's 429 comes
    about once a minute, and once every few hundred starts.
    """

    WINDOW_S = 5.0  # the accepted rate is measured over the starts of this last span
    HOLD = 0.95  # after a cut, send at this share of the accepted rate: a margin for jittered starts
    QUIET_S = 10.0  # probe upward only after this long without a 429,
    QUIET_STARTS = 100  # and this many starts at the pace: each probe costs about one 429
    STEP = 0.01  # the first probe adds this share of the measured limit
    MIN_RATE = 1 / 60.0  # starts per second never cut below: Retry-After spaces the rest

    def __init__(self, rpm: int) -> None:
        self._floor = 60.0 / rpm if rpm > 0 else 0.0  # the configured limit, as an interval
        self._interval = self._floor
        self._next = 0.0  # when the next slot is free
        self._last = -math.inf  # the latest start handed out
        self._paused_until = 0.0
        self._epoch = 0  # bumped when slots already handed out may be too early
        self._limit = 0.0  # the provider's limit, starts per second, as measured at the last cut
        self._step = 0.0
        self._probe_at = math.inf  # no probing before a limit is met
        self._last_cut = -math.inf
        self._started = 0  # starts so far
        self._spell = (0.0, 0)  # when the current quiet spell began, and self._started then
        self._starts: deque[float] = deque()
        self._refusals: deque[float] = deque()  # start times of refused requests

    async def wait(self) -> float:
        """Wait for this request's turn; returns when it started (for `refused`).

        A synchronous computation (atomic on the event loop, so no lock): unpaced, it never
        suspends. A caller woken after the pace was cut or paused takes a new slot."""
        now = time.monotonic()
        while True:
            start = max(now, self._next, self._paused_until)
            self._next = start + self._interval
            if start <= now:
                return self._begin(now)
            epoch = self._epoch
            await asyncio.sleep(start - now)
            if epoch == self._epoch:
                return self._begin(start)
            now = time.monotonic()

    def refused(self, retry_after: float | None, started: float) -> None:
        """A 429 for a request that started at `started`."""
        now = time.monotonic()
        if retry_after and now + retry_after > self._paused_until:
            self._paused_until = now + retry_after
            self._replan()
        oldest = now - self.WINDOW_S
        _push(self._refusals, started, oldest)
        _trim(self._starts, oldest)
        sent = len(self._starts)
        span = max(1.0, now - self._starts[0]) if sent else 1.0
        accepted = max(0, sent - len(self._refusals)) / span
        rate = self.HOLD * accepted if accepted else 0.5 * sent / span
        if started >= self._last_cut and self._interval:  # sent at the current pace: that pace is too fast
            rate = min(rate, self.HOLD / self._interval)
        interval = max(self._floor, 1.0 / max(rate, self.MIN_RATE))
        if interval > self._interval:
            self._interval = interval
            self._limit = 1.0 / (interval * self.HOLD)
            self._step = self.STEP * self._limit
            self._last_cut = now
            self._replan()
        self._quiet_from(max(now, self._paused_until))

    def answered(self) -> None:
        """An answer: after a quiet spell, the moment to probe upward."""
        current = time.monotonic()
        if current >= self._probe_at:
            self._probe(current)

    def _quiet_from(self, moment: float) -> None:
        self._spell = (moment, self._started)
        self._probe_at = moment + max(self.QUIET_S, self.QUIET_STARTS * self._interval)

    def _probe(self, current: float) -> None:
        began, started = self._spell
        if self._started - started >= 0.9 * (current - began) / self._interval:  # else the pace is not what
            rate = 1.0 / self._interval + self._step  # holds the run back, and a faster one would go untested
            if rate > self._limit:
                self._step *= 2
            self._interval = max(self._floor, 1.0 / rate)
        self._quiet_from(current)

    def _begin(self, start: float) -> float:
        self._last = start
        self._started += 1
        _push(self._starts, start, start - self.WINDOW_S)
        return start

    def _replan(self) -> None:
        """Slots handed out before a cut or a pause are void: their holders take new ones."""
        self._epoch += 1
        self._next = self._last + self._interval


def _push(times: deque[float], value: float, oldest: float) -> None:
    times.append(value)
    _trim(times, oldest)


def _trim(times: deque[float], oldest: float) -> None:
    while times and times[0] < oldest:
        times.popleft()
