"""What the simulated model answers to a request, and how long it takes.

Everything is decided when the request arrives (the text, its length, its timing), so the
request log can say what was answered before the first byte is sent, and a request killed
half-way would have got the same answer.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

from .calibration import Calibrator
from .draws import Draws
from .forms import LETTERS, answer_in_box, ending, other_letter, tentative
from .judging import judge_reply
from .key import AnswerKey, Kind, gold_letter, parse_options
from .options import FixedLatency
from .profiles import DEFAULT_TASK, Profiles
from .protocol import ChatRequest
from .text import pieces_of, reasoning_pieces, solution_pieces

LENGTH_SIGMA = 0.4
"""Spread of per-request lengths (lognormal, sigma on the log scale)."""
DIFFICULTY_LENGTH = 0.3
"""Harder items (lower z) think longer: length x exp(-0.3 z), normalised to keep the mean."""
TTFT_SIGMA = 0.25
FIXED_FINAL = "The answer is $\\boxed{42}$."


@dataclass(frozen=True)
class Plan:
    """One completion, decided in full: token pieces (see text.py) and real-time timing."""

    reasoning: Sequence[str]
    content: Sequence[str]
    finish_reason: str
    show_reasoning: bool
    ttft_s: float
    token_interval_s: float
    task: str | None = None
    item: int | None = None
    correct: bool | None = None
    """The draw, before any truncation; None when the item or the gold letter is unknown."""

    @property
    def total_s(self) -> float:
        """When the last token is ready: a non-streamed answer is sent then."""
        return self.ttft_s + self.token_interval_s * (len(self.reasoning) + len(self.content))

    def cut(self, limit: int, finish_reason: str) -> Plan:
        """The completion stopped after `limit` tokens: reasoning first, then the answer."""
        reasoning, content = self.reasoning, self.content
        if len(reasoning) + len(content) <= limit:
            return self
        if len(reasoning) >= limit:
            reasoning, content = reasoning[:limit], []
        else:
            content = content[: limit - len(reasoning)]
        return replace(self, reasoning=reasoning, content=content, finish_reason=finish_reason)


def _lognormal(mean: float, sigma: float, draws: Draws, label: str) -> float:
    return mean * math.exp(sigma * draws.normal(label) - sigma * sigma / 2)


def _state_part_way(reasoning: list[str], sentence: str, draws: Draws) -> list[str]:
    """The reasoning with `sentence` in place of as many of its pieces, somewhere in its middle
    three fifths: the same length, so token counts and cut points do not move."""
    pieces = pieces_of(" " + sentence)
    room = len(reasoning) - len(pieces)
    if room < 2:
        return reasoning
    at = int(room * (0.2 + 0.6 * draws.uniform("reasoning-answer-at")))
    return reasoning[:at] + pieces + reasoning[at + len(pieces) :]


def _answer_pieces(final_words: str, length: int, draws: Draws) -> list[str]:
    closing = pieces_of("\n\n" + final_words)
    body = solution_pieces(length - len(closing), draws)
    if not body:
        closing[0] = closing[0].lstrip()
    return body + closing


class Responder:
    """Plans answers as the model served by one host: `provider_profile` names the host the
    simulator plays (its accuracy shift, its speed, its own draws), None the plain simulator."""

    def __init__(self, profiles: Profiles, key: AnswerKey, provider_profile: str | None = None) -> None:
        self._profiles = profiles
        self._key = key
        self._provider_profile = provider_profile
        host = profiles.provider(provider_profile)
        self._speed = host.speed
        self._leniency = host.checker_leniency
        self._calibrator = Calibrator(profiles, key, host.accuracy_shift)

    def plan(self, request: ChatRequest, time_scale: float) -> Plan:
        draws = Draws(request.answer_seed(self._provider_profile))
        profile = self._profiles.variants[request.model]
        # A host's hardware: a slower one starts later and makes fewer tokens per second.
        ttft = _lognormal(profile.ttft_s, TTFT_SIGMA, draws, "ttft") * time_scale / self._speed
        interval = time_scale / (profile.tokens_per_s * self._speed)
        verdict = judge_reply(request.prompt, self._leniency)
        if verdict is not None:  # a judge prompt: a short, thoughtless answer
            return Plan(
                reasoning=[], content=pieces_of(verdict), finish_reason="stop", show_reasoning=request.show_reasoning,
                ttft_s=ttft, token_interval_s=interval,
            )
        index = self._key.lookup(request.prompt)
        task, z = DEFAULT_TASK, 0.0
        if index is None:
            kind, final, correct = self._unknown(request.prompt, draws)
        else:
            item = self._key.items[index]
            task, z, kind = item.task, self._calibrator.z[index], item.kind
            p = self._calibrator.p_correct(request.model, index, request.thinking)
            correct = draws.uniform("correct") < p
            if kind == "mcq":
                final, correct = self._letter(request.prompt, item.gold, correct, draws)
            else:
                final = answer_in_box(item.gold, kind, correct, draws)
            if draws.uniform("no-answer") < profile.no_answer_rate:
                final, correct = None, False

        reasoning: list[str] = []
        if request.thinking:
            difficulty = math.exp(-DIFFICULTY_LENGTH * z - DIFFICULTY_LENGTH**2 / 2)
            mean = profile.reasoning_tokens_for(task) * difficulty
            if correct is False:  # a model that has not found the answer keeps going
                mean *= profile.wrong_reasoning_factor
            length = _lognormal(mean, profile.reasoning_sigma, draws, "reasoning-len")
            reasoning = reasoning_pieces(max(1, round(length)), draws)
            if final is not None and draws.uniform("reasoning-answer") < profile.reasoning_answer_rate:
                reasoning = _state_part_way(reasoning, tentative(kind, final), draws)
        answer_len = max(1, round(_lognormal(profile.answer_tokens, LENGTH_SIGMA, draws, "answer-len")))
        content = _answer_pieces(ending(kind, final, draws), answer_len, draws)
        plan = Plan(
            reasoning=reasoning, content=content, finish_reason="stop",
            show_reasoning=request.show_reasoning, ttft_s=ttft, token_interval_s=interval,
            task=None if index is None else task, item=index, correct=correct,
        )
        return plan if request.max_tokens is None else plan.cut(request.max_tokens, "length")

    def _letter(self, prompt: str, gold: str, correct: bool, draws: Draws) -> tuple[str, bool | None]:
        options = parse_options(prompt)
        letters = "".join(options) or LETTERS
        letter = gold_letter(options, gold)
        if letter is None:  # the prompt's choices do not contain the gold text: a guess
            return draws.choice("letter", letters), None
        return (letter if correct else other_letter(letter, letters, draws)), correct

    def _unknown(self, prompt: str, draws: Draws) -> tuple[Kind, str, None]:
        """A prompt not in the key: a plausible answer of the right shape, counted as unknown."""
        options = parse_options(prompt)
        if options:
            return "mcq", draws.choice("letter", "".join(options)), None
        return "math", str(int(draws.uniform("unknown-int") * 998) + 2), None


def fixed_plan(request: ChatRequest, fixed: FixedLatency) -> Plan:
    """The benchmark answer: `tokens` tokens (reasoning first when thinking is on), exact timing."""
    closing = pieces_of(FIXED_FINAL)
    draws = Draws(b"fixed")
    body = max(0, fixed.tokens - len(closing))
    if request.thinking:
        reasoning, content = reasoning_pieces(body, draws), closing
    else:
        reasoning, content = [], _answer_pieces(FIXED_FINAL, fixed.tokens, draws)
    interval = 1.0 / fixed.stream_tokens_per_s if fixed.stream_tokens_per_s else 0.0
    plan = Plan(
        reasoning=reasoning, content=content, finish_reason="stop",
        show_reasoning=request.show_reasoning, ttft_s=fixed.latency_ms / 1000.0, token_interval_s=interval,
    ).cut(fixed.tokens, "stop")
    return plan if request.max_tokens is None else plan.cut(request.max_tokens, "length")
