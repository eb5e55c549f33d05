"""A run's events as the terminal shows them: notes and the plan on the console, live progress
while sending (a bar per model on a terminal, a line a model every 15 s in a log), and what the
run lacks on stderr at the end."""

from __future__ import annotations

import sys

from rich.console import Console

from harness.evaluate.events import Answered, BatchNote, Event, JudgeAsked, Note, Planned, Probed, Problem, SendEnded, SendStarted
from harness.probe import print_probe
from harness.progress import ProgressView


class RunView:
    """A listener for harness.evaluate.execute that prints on `console`."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self._progress: ProgressView | None = None

    def __call__(self, event: Event) -> None:
        match event:
            case Answered(model, ok, tokens):
                assert self._progress is not None
                self._progress.update(model, ok, tokens)
            case BatchNote(model, text):
                assert self._progress is not None
                self._progress.note(model, text)
            case SendStarted(totals):
                self._progress = ProgressView(totals, self.console).__enter__()
            case SendEnded():
                if self._progress is not None:
                    self._progress.__exit__(None, None, None)
                    self._progress = None
            case Note(text):
                self.console.print(f"[yellow]note[/yellow]: {text}")
            case Planned():
                self.console.print(
                    f"{event.planned} requests planned; {event.stored} already stored, {event.to_send} to send "
                    f"({event.provider}{', SIMULATED' if event.simulated else ''}) -> {event.run_dir}"
                )
            case Probed(found, where):
                print_probe(found, where, self.console)
            case JudgeAsked(label, questions, to_send, kit):
                if kit:
                    self.console.print(f"checker {label} (zai-kit): {to_send} questions to send")
                else:
                    self.console.print(f"judge {label}: {questions} questions; {questions - to_send} already stored, {to_send} to send")
            case Problem(text):
                print(f"glm-eval: {text}", file=sys.stderr)
