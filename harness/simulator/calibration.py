"""Per-item probability of a correct answer, calibrated to the profile's accuracy.

Real benchmarks have easy and hard items, and the hard ones are hard for every model; a single
coin with the profile's accuracy would make errors fall uniformly and pass/fail agreement between
variants unrealistically low. So each item gets a difficulty z_i (from its question, the same for
all variants) and p_i = sigmoid(a + sigma * z_i), with `a` chosen so that the mean of p_i over the
key's items of the task is the profile's accuracy (moved by a provider profile's accuracy_shift:
a host's quantization costs points on every item, easy ones less, as the logit scale has it).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from .draws import standard_normal_of
from .key import AnswerKey
from .profiles import Profiles

MAX_P = 0.9999
"""Targets above this (after dividing out the no-answer rate) are capped; the rest is rounding."""


def item_z(question: str) -> float:
    """Difficulty of an item: higher z is easier. A property of the question, not the model."""
    return standard_normal_of("item-difficulty\0" + question)


def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def solve_offset(zs: Sequence[float], sigma: float, target: float) -> float:
    """The a for which mean(sigmoid(a + sigma*z)) == target, by bisection (the mean rises with a)."""
    low, high = -50.0, 50.0
    for _ in range(80):
        mid = (low + high) / 2
        mean = sum(_sigmoid(mid + sigma * z) for z in zs) / len(zs)
        if mean < target:
            low = mid
        else:
            high = mid
    return (low + high) / 2


class Calibrator:
    """p_i for (variant, item, thinking), with the offset solved once per (variant, task, thinking).

    `accuracy_shift` is in accuracy points, added to every variant's accuracy on every task: what
    a provider profile's host loses (or gains) against the model's own."""

    def __init__(self, profiles: Profiles, key: AnswerKey, accuracy_shift: float = 0.0) -> None:
        self._profiles = profiles
        self._key = key
        self._shift = accuracy_shift / 100.0
        self.z = [item_z(item.question) for item in key.items]
        self._offsets: dict[tuple[str, str, bool], float] = {}

    def target(self, variant: str, task: str, thinking: bool) -> float:
        """Mean p_i such that the accuracy a grader observes, no-answers included, is the profile's
        (shifted before the no-answer division, so that the observed accuracy moves by the shift)."""
        profile = self._profiles.variants[variant]
        accuracy = profile.accuracy_for(task) * (1.0 if thinking else profile.no_thinking_factor) + self._shift
        return min(max(accuracy, 0.0) / (1.0 - profile.no_answer_rate), MAX_P)

    def p_correct(self, variant: str, item: int, thinking: bool) -> float:
        task = self._key.items[item].task
        slot = (variant, task, thinking)
        if slot not in self._offsets:
            zs = [self.z[i] for i in self._key.by_task[task]]
            self._offsets[slot] = solve_offset(zs, self._profiles.item_sigma, self.target(*slot))
        return _sigmoid(self._offsets[slot] + self._profiles.item_sigma * self.z[item])
