"""The pace (harness/pace.py) on a virtual clock: an event loop whose timers fire at once and move
the clock instead of sleeping, so minutes of a rate-limited run take a fraction of a second and
every time in them is exact. The provider's limit is the simulator's own token bucket."""

from __future__ import annotations

import asyncio
import math
import selectors
import types
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

import harness.pace
from harness.pace import Pace
from harness.simulator.faults import RateLimiter


class _Instant(selectors.SelectSelector):
    """Never blocks: waiting for the next timer moves the loop's clock to it."""

    def __init__(self, loop: VirtualLoop) -> None:
        super().__init__()
        self.loop = loop

    def select(self, timeout: float | None = None) -> list:
        if timeout:
            self.loop.now += timeout
        return []


class VirtualLoop(asyncio.SelectorEventLoop):
    def __init__(self) -> None:
        self.now = 0.0
        super().__init__(_Instant(self))

    def time(self) -> float:
        return self.now


@pytest.fixture()
def loop(monkeypatch: pytest.MonkeyPatch) -> Iterator[VirtualLoop]:
    virtual = VirtualLoop()
    monkeypatch.setattr(harness.pace, "time", types.SimpleNamespace(monotonic=virtual.time))
    yield virtual
    virtual.close()


def test_no_limit_never_waits(loop: VirtualLoop):
    pace = Pace(0)

    async def starts() -> list[float]:
        return list(await asyncio.gather(*(pace.wait() for _ in range(5000))))

    assert set(loop.run_until_complete(starts())) == {0.0}
    assert loop.now == 0.0
    for _ in range(100):  # answers alone never slow it either
        pace.answered()
    coroutine = pace.wait()
    with pytest.raises(StopIteration):  # returns without ever suspending: nothing to await on the hot path
        coroutine.send(None)


def test_a_configured_rpm_spaces_starts(loop: VirtualLoop):
    pace = Pace(600)

    async def starts() -> list[float]:
        return list(await asyncio.gather(*(pace.wait() for _ in range(50))))

    got = loop.run_until_complete(starts())
    assert got == pytest.approx([i * 0.1 for i in range(50)])
    for _ in range(100):
        pace.answered()
    loop.now = 100.0  # after an idle spell the next start is immediate, not a burst of saved-up slots
    assert loop.run_until_complete(starts()) == pytest.approx([100.0 + i * 0.1 for i in range(50)])


def test_retry_after_pauses_every_start_including_those_already_given_a_slot(loop: VirtualLoop):
    pace = Pace(600)

    async def run() -> list[float]:
        waiting = [asyncio.ensure_future(pace.wait()) for _ in range(10)]  # slots at 0.0, 0.1, ... 0.9
        await asyncio.sleep(0.15)
        pace.refused(2.0, 0.1)
        later = [asyncio.ensure_future(pace.wait()) for _ in range(3)]
        return list(await asyncio.gather(*waiting, *later))

    got = loop.run_until_complete(run())
    assert got[:2] == pytest.approx([0.0, 0.1])
    resumed = sorted(got[2:])
    assert resumed[0] == pytest.approx(2.15), "no start while the provider asked to wait"
    assert min(b - a for a, b in zip(resumed, resumed[1:])) >= 0.1 - 1e-9, "nor faster than the configured limit after"


def test_retry_after_pauses_an_unpaced_run(loop: VirtualLoop):
    pace = Pace(0)
    started = loop.run_until_complete(pace.wait())
    pace.refused(3.0, started)

    async def starts() -> list[float]:
        return list(await asyncio.gather(*(pace.wait() for _ in range(20))))

    assert min(loop.run_until_complete(starts())) == pytest.approx(3.0)


@dataclass
class Run:
    """What a provider limited by a token bucket saw: (arrival time, status) of every attempt."""

    log: list[tuple[float, int]] = field(default_factory=list)

    def after(self, start: float) -> list[tuple[float, int]]:
        return [(t, status) for t, status in self.log if t >= start]


async def limited_run(pace: Pace, loop: VirtualLoop, limits: list[tuple[float, int]], n: int, concurrency: int,
                      latency_s: float = 1.0, rtt_s: float = 0.004) -> Run:
    """N requests, C at a time, as the runner sends them (a 429 waits out its Retry-After and is
    sent again) to a provider whose per-minute limit is limits[i][1] from time limits[i][0] on,
    refused as the simulator refuses (a bucket of one second's worth; Retry-After rounded up)."""
    bucket = RateLimiter()
    run = Run()
    left = n

    async def worker() -> None:
        nonlocal left
        while left:
            left -= 1
            while True:
                started = await pace.wait()
                await asyncio.sleep(rtt_s / 2)
                rpm = [rpm for since, rpm in limits if since <= loop.now][-1]
                wait = bucket.take("key", rpm, None, loop.now)
                run.log.append((loop.now, 429 if wait else 200))
                if wait:
                    await asyncio.sleep(rtt_s / 2)
                    pace.refused(math.ceil(wait), started)
                    await asyncio.sleep(math.ceil(wait))
                    continue
                await asyncio.sleep(latency_s)
                pace.answered()
                break

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return run


def admitted_per_s(log: list[tuple[float, int]]) -> float:
    ok = [t for t, status in log if status == 200]
    return (len(ok) - 1) / (ok[-1] - ok[0])


def refused_share(log: list[tuple[float, int]]) -> float:
    return sum(status == 429 for _, status in log) / len(log)


@pytest.mark.parametrize(("rpm", "concurrency", "latency_s"), [(600, 64, 1.0), (240, 16, 1.0), (6000, 512, 2.0), (60, 8, 0.3)])
def test_an_unknown_limit_is_found_and_held_just_under(loop: VirtualLoop, rpm: int, concurrency: int, latency_s: float):
    limit = rpm / 60
    n = int(limit * 600)  # ten minutes at the limit
    run = loop.run_until_complete(limited_run(Pace(0), loop, [(0.0, rpm)], n, concurrency, latency_s))
    settled = run.after(10.0)
    assert admitted_per_s(settled) >= 0.9 * limit, "settles within 10% under the limit"
    assert refused_share(settled) < 0.02, f"{refused_share(settled):.1%} of starts refused once settled"
    assert admitted_per_s(run.log) >= 0.9 * limit, "the whole run, first storm included"


@pytest.mark.parametrize(("before", "after"), [(600, 1200), (1200, 300)])
def test_a_limit_that_changes_is_found_again(loop: VirtualLoop, before: int, after: int):
    """Raised: the probes find the room within minutes. Lowered: the first refusals cut to it."""
    run = loop.run_until_complete(limited_run(Pace(0), loop, [(0.0, before), (120.0, after)], 10_000, 256))
    late = [(t, status) for t, status in run.after(420.0) if t < loop.now - 5]
    assert admitted_per_s(late) >= 0.9 * after / 60
    assert refused_share(late) < 0.02


def test_no_probe_upward_while_the_pace_is_not_what_holds_the_run_back(loop: VirtualLoop):
    """Answers slow enough that the concurrency, not the pace, bounds the rate: a faster pace
    would go untested, and would let a storm through once answers come quicker again."""
    pace = Pace(0)

    async def burst(n: int) -> list[float]:
        return list(await asyncio.gather(*(pace.wait() for _ in range(n))))

    for started in loop.run_until_complete(burst(20))[10:]:  # 10 of 20 accepted: about 10/s
        pace.refused(None, started)
    held = loop.run_until_complete(burst(50))

    async def slow_answers() -> None:  # 4 at a time, 2 s each: 2/s against a pace of 9.5/s
        async def worker() -> None:
            while loop.now < 600:
                await pace.wait()
                await asyncio.sleep(2.0)
                pace.answered()
        await asyncio.gather(*(worker() for _ in range(4)))

    loop.run_until_complete(slow_answers())
    after = loop.run_until_complete(burst(50))
    assert after[-1] - after[0] == pytest.approx(held[-1] - held[0]), "the pace rose though it never bound"
