"""The phases of a run (sending, grading, the judge, writing samples.jsonl, the report at the end),
each announced to whoever watches: the benchmarks time them (bench/harness_probe.py) through this
hook instead of patching the harness's functions, so a phase that moves or is renamed keeps its
record. With no watcher, a phase costs one look at an empty list.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from functools import wraps
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")
Watcher = Callable[[str], AbstractContextManager[object]]
"""Called with a phase's name as it starts; the context it returns is left as the phase ends."""

_watchers: list[Watcher] = []


@contextlib.contextmanager
def watching(watcher: Watcher) -> Iterator[None]:
    """Have `watcher` see every phase of every run in this process while the context lasts."""
    _watchers.append(watcher)
    try:
        yield
    finally:
        _watchers.remove(watcher)


@contextlib.contextmanager
def phase(name: str) -> Iterator[None]:
    if not _watchers:
        yield
        return
    with contextlib.ExitStack() as stack:
        for watcher in _watchers:
            stack.enter_context(watcher(name))
        yield


def timed(name: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """A function that is one phase of a run."""

    def decorate(func: Callable[P, R]) -> Callable[P, R]:
        @wraps(func)
        def wrapped(*args: P.args, **kwargs: P.kwargs) -> R:
            with phase(name):
                return func(*args, **kwargs)

        return wrapped

    return decorate
