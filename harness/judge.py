"""A judge model, as Z.ai's own evaluation uses one: it reads the letter a GPQA response chose
(the `zai-judge` protocol), and, when asked (`--judge-fallback`), decides whether a math answer the
rules called different is in fact equivalent to the gold. As a second opinion on a whole run
(`regrade --second-opinion judge`) it also reads a math response's final answer itself and says
whether it equals the gold, so that no part of the verdict comes from glm-eval's rules.

The judge is configured like any model (`--judge PROVIDER:MODEL`); its requests go through the
same runner and store, so its answers are cached, resumable and never paid for twice. Every
verdict it decides says so in its reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

from harness.config import ModelConfig
from harness.errors import UserError
from harness.graders import Verdict, grade
from harness.judgeprompts import EQUIVALENCE_PROMPT, LETTER_PROMPT, READING_PROMPT
from harness.plan import Job, request_key
from harness.providers import Provider, Sampling, resolve_provider

# The judge answers briefly and deterministically; a thinking judge would cost far more.
SAMPLING = Sampling(temperature=0.0, top_p=1.0, max_tokens=2048, thinking=False, stream=False)
RESPONSE_TAIL_CHARS = 6000  # the end of a long response is where its final answer is
_EQUIVALENCE_WORD = re.compile(r"\b(EQUIVALENT|DIFFERENT)\b", re.IGNORECASE)
_ANSWER_LINE = re.compile(r"^\s*ANSWER:\s*(.*?)\s*$", re.IGNORECASE | re.MULTILINE)

LETTER = "letter"
EQUIVALENCE = "equivalence"
READING = "reading"


@dataclass(frozen=True)
class Judge:
    provider: Provider
    variant: str
    model_id: str
    api_key: str | None

    @property
    def label(self) -> str:
        return f"{self.provider.name}:{self.variant}"


@dataclass(frozen=True)
class JudgeJob:
    """One question to the judge about one sample (`source` is that sample's job)."""

    job: Job
    source: Job
    kind: str
    body: dict[str, Any]


def resolve_judge(spec: str, run_provider: Provider, models: dict[str, ModelConfig], need_key: bool = True) -> Judge:
    """`PROVIDER:MODEL`, or a bare `MODEL` on the run's own provider."""
    if ":" in spec:
        name, variant = spec.split(":", 1)
        provider = resolve_provider(name)
    else:
        provider, variant = run_provider, spec
    if not variant:
        raise UserError(f"--judge {spec!r}: name a model, as PROVIDER:MODEL (e.g. zai:glm-4.5) or MODEL")
    return Judge(provider, variant, provider.model_id(variant, models), provider.api_key() if need_key else None)


def letter_job(judge: Judge, source: Job, prompt_text: str, response: str) -> JudgeJob:
    text = LETTER_PROMPT.format(question=prompt_text, response=response[-RESPONSE_TAIL_CHARS:])
    return ask(judge, source, LETTER, text)


def equivalence_job(judge: Judge, source: Job, question: str, gold: str, candidate: str) -> JudgeJob:
    text = EQUIVALENCE_PROMPT.format(question=question, gold=gold, candidate=candidate)
    return ask(judge, source, EQUIVALENCE, text)


def reading_job(judge: Judge, source: Job, question: str, gold: str, response: str) -> JudgeJob:
    text = READING_PROMPT.format(question=question, gold=gold, response=response[-RESPONSE_TAIL_CHARS:])
    return ask(judge, source, READING, text)


def ask(judge: Judge, source: Job, kind: str, text: str, sampling: Sampling = SAMPLING) -> JudgeJob:
    """One question to the judge about `source`, keyed like any request (so stored and never re-sent)."""
    body = judge.provider.body(judge.model_id, [{"role": "user", "content": text}], sampling, seed=None)
    key = request_key(judge.provider, body, 0, 0)
    job = Job(key, judge.label, judge.model_id, source.task, source.item_index, source.sample)
    return JudgeJob(job, source, kind, body)


def apply(kind: str, verdict: Verdict, gold: str, answer: str | None) -> Verdict:
    """The sample's verdict once the judge has spoken (`answer` None: the judge never answered)."""
    if kind == LETTER:
        if answer is None:
            return replace(verdict, correct=False, extracted=None, normalized=None, reason="judge: no answer from the judge")
        read = grade("mcq", answer, gold)
        reason = {"match": "judge: match", "mismatch": "judge: mismatch"}.get(read.reason, "judge: no answer found")
        return replace(read, reason=reason)
    if kind == READING:
        return _reading(verdict, answer)
    if answer is None:
        return verdict
    words = _EQUIVALENCE_WORD.findall(answer)
    if not words:
        return verdict
    if words[-1].upper() == "EQUIVALENT":
        return replace(verdict, correct=True, reason="judge: equivalent")
    return replace(verdict, reason="judge: not equivalent")


def _reading(verdict: Verdict, answer: str | None) -> Verdict:
    """The judge's own reading of a math response: its answer line and its verdict word, the
    last of each (a judge that names no verdict has not called the answer right)."""
    if answer is None:
        return replace(verdict, correct=False, extracted=None, normalized=None, reason="judge: no answer from the judge")
    lines = _ANSWER_LINE.findall(answer)
    read = lines[-1] if lines and lines[-1].upper() != "NONE" else None
    words = _EQUIVALENCE_WORD.findall(answer)
    equal = bool(read and words and words[-1].upper() == "EQUIVALENT")
    reason = "judge: no answer found" if read is None else ("judge: equivalent" if equal else "judge: not equivalent")
    return replace(verdict, correct=equal, extracted=read, normalized=None, reason=reason)
