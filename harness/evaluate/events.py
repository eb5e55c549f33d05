"""What a run reports while it runs. The phases print nothing: they hand these to a listener, and
the command line (harness.runview) turns them into the lines a terminal or a CI log shows, so a
script or a test can run an evaluation and keep, count or drop what it says."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Note:
    """Something about the plan a user should know before the results (a task left out, max_tokens fitted)."""

    text: str


@dataclass(frozen=True)
class Planned:
    planned: int
    stored: int
    to_send: int
    provider: str
    simulated: bool
    run_dir: Path


@dataclass(frozen=True)
class Probed:
    found: list[Any]  # probe.VariantProbe
    where: str


@dataclass(frozen=True)
class JudgeAsked:
    label: str
    questions: int
    to_send: int
    kit: bool  # the zai-kit checker rather than a judge


@dataclass(frozen=True)
class SendStarted:
    totals: dict[str, int]  # model -> requests to send


@dataclass(frozen=True)
class Answered:
    model: str
    ok: bool
    tokens: int


@dataclass(frozen=True)
class BatchNote:
    """A change in the state of a submitted batch."""

    model: str
    text: str


@dataclass(frozen=True)
class SendEnded:
    pass


@dataclass(frozen=True)
class Problem:
    """Why the run is incomplete, or what its figures lack: said at the end, on stderr."""

    text: str


Event = Note | Planned | Probed | JudgeAsked | SendStarted | Answered | BatchNote | SendEnded | Problem
Listener = Callable[[Event], None]

