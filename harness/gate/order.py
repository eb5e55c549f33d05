"""The order the gate lists variants and tasks in: the family's own (flagship first, MATH-500
first, as every report does), then any others by name, so files and charts never depend on the
order runs happened to be written in."""

from __future__ import annotations

from harness import family
from harness.runs import TASK_ORDER


def variant_rank(name: str) -> tuple[int, str]:
    return _rank(name, family.variants())


def task_rank(name: str) -> tuple[int, str]:
    return _rank(name, TASK_ORDER)


def _rank(name: str, order: tuple[str, ...]) -> tuple[int, str]:
    return (order.index(name), "") if name in order else (len(order), name)
