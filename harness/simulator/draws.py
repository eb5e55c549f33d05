"""Deterministic pseudo-random draws derived from a hash.

Every random choice the simulator makes is a function of the request, so the same request gets
the same answer and tests can rely on it; labels keep the draws for different purposes
independent of each other.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from statistics import NormalDist
from typing import TypeVar

T = TypeVar("T")
_STANDARD_NORMAL = NormalDist()


def uniform_of(data: bytes) -> float:
    """A uniform in the open interval (0, 1) from the first 8 bytes of a digest of `data`."""
    digest = hashlib.sha256(data).digest()
    return (int.from_bytes(digest[:8], "big") + 0.5) / 2.0**64


class Draws:
    """Independent draws keyed by label, all fixed by one seed."""

    def __init__(self, seed: bytes) -> None:
        self._seed = seed

    def uniform(self, label: str) -> float:
        return uniform_of(self._seed + b"\0" + label.encode())

    def normal(self, label: str) -> float:
        return _STANDARD_NORMAL.inv_cdf(self.uniform(label))

    def choice(self, label: str, options: Sequence[T]) -> T:
        return options[int(self.uniform(label) * len(options))]


def standard_normal_of(text: str) -> float:
    return _STANDARD_NORMAL.inv_cdf(uniform_of(text.encode()))
