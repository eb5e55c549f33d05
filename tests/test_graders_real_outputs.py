"""The graders against real model outputs that nobody here wrote (tests/data/real_outputs.jsonl).

Each line is one response taken from a public release of model generations (the line cites the
repository, path, commit and licence), with the verdict a careful reader gives it: ``correct``,
``wrong``, ``no answer`` or ``ambiguous`` (letters named, none chosen), and a note where the
reading is not obvious. The labels were decided by reading each response, not by any grader.

The sources:
- NovaSky-AI/SkyThought (Apache-2.0) (evaluation outputs on MATH-500 and AIME 2024): a base model's free text
  (Qwen2.5-Math-7B), instruct models (Qwen2.5-14B-Instruct, gemma-2-27b-it) and long reasoning
  models (Sky-T1) whose reasoning is marked ``<|begin_of_thought|>`` ... ``<|end_of_thought|>``, many
  cut off inside it, some opened by the template and so carrying only the closing marker;
- TIGER-AI-Lab/MMLU-Pro (Apache-2.0; model outputs, the four-option questions only): letters in
  prose from base models (5-shot) and chat models;
- kuk/simple-evals-ru (MIT; GPQA-Diamond with simple-evals' "Answer: $LETTER" prompt): free-form
  GPQA from chat models that often answer otherwise ("is:\n\nB) text", "None of the above",
  "Answer: ABCD", an option's text without its letter). GPQA's authors ask that its questions not
  be put on the web in plain text, so these lines keep the record id instead of the question.
Golds are the benchmark's own answers (MATH-500 and AIME 2024 as published, the letters the
releases recorded for MMLU-Pro and GPQA).

Run with ``-s`` to see accuracy per source beside plain math-verify's.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from harness.graders import GradeCase, GradingPool, Verdict
from harness.graders.pool import MATH_VERIFY
from harness.graders.reasoning import template_opens_reasoning
from harness.graders.verdict import AMBIGUOUS, MISMATCH, NO_ANSWER

CORPUS = Path(__file__).parent / "data" / "real_outputs.jsonl"
LABELS = ("correct", "wrong", "no answer", "ambiguous")

# Where the graders and the reader part ways, none of them a response scored correct wrongly.
# A fix that makes one of these right fails the test until it is taken off the list.
KNOWN_MISSES = {
    "sky-gemma27_math500-407": "no answer",  # the closing "the value is:" was cut; the line before gives 9
    "sky-skyt1_27b_math500-259": "no answer",  # "I'm confident that the product is 22", then more prose
    "sky-skyt1_27b_math500-242": "no answer",  # settles on $32,254 in prose ("I think that's correct.")
    "sky-skyt1_27b_math500-403": "wrong",  # cut off mid-reasoning after a passing "the answer should be three"
    "sky-qwen25math7b_aime24-6": "wrong",  # boxes the answers of problems it invented
    "sky-qwen25math7b_aime24-26": "wrong",  # \boxed{Assistant} after invented problems
    "gpqa-07_yandexgpt_4_lite-reccVFW11Elovnf8T": "no answer",  # gives option D's text, never its letter
}


def _corpus() -> list[dict]:
    return [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines()]


def _status(verdict: Verdict) -> str:
    if verdict.correct:
        return "correct"
    return {MISMATCH: "wrong", NO_ANSWER: "no answer", AMBIGUOUS: "ambiguous"}.get(verdict.reason, verdict.reason)


def _source(row: dict) -> str:
    return f"{row['source']['repo'].split('/')[1]} {row['task'].split(' ')[0]}"


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    return _corpus()


@pytest.fixture(scope="module")
def statuses(rows) -> list[str]:
    with GradingPool(workers=2, timeout_s=10.0) as pool:
        verdicts = pool.grade_many(GradeCase(r["grader"], r["response"], r["gold"]) for r in rows)
    return [_status(v) for v in verdicts]


def test_every_line_cites_its_source_and_carries_a_label(rows):
    assert len(rows) >= 380 and len({r["id"] for r in rows}) == len(rows)
    for row in rows:
        assert set(row["source"]) >= {"repo", "path", "commit", "license"} and len(row["source"]["commit"]) == 40
        assert row["source"]["license"] in ("Apache-2.0", "MIT")
        assert row["label"] in LABELS and row["grader"] in ("math", "integer", "mcq")
        assert (row["problem"] is None) == (row["task"] == "gpqa-diamond")
    labels = Counter(r["label"] for r in rows)
    assert all(labels[label] for label in LABELS)
    kinds = Counter(r["model"].split(" (")[0] for r in rows)
    assert len(kinds) >= 10  # base models, instruct models, reasoning models
    # responses cut off inside their reasoning, among them some that never show the opening marker
    assert sum("<|begin_of_thought|>" in r["response"] and "<|end_of_thought|>" not in r["response"] for r in rows) >= 20
    assert sum("<|end_of_thought|>" in r["response"] and "<|begin_of_thought|>" not in r["response"] for r in rows) >= 2


def test_a_model_that_writes_its_own_opening_marker_is_not_taken_for_a_template_that_opened_it(rows):
    """Sky-T1 opens its own blocks and skips the marker now and then: its files must not be read as
    --reasoning-open, or its finished responses without any marker would lose their answers."""
    sky = [r["response"] for r in rows if r["model"] == "Sky-T1-math-correct-5K-27B"]
    assert any("<|end_of_thought|>" in r and "<|begin_of_thought|>" not in r for r in sky)
    assert not template_opens_reasoning(sky)
    assert template_opens_reasoning([r.replace("<|begin_of_thought|>", "") for r in sky])


def test_no_response_is_scored_correct_against_its_label(rows, statuses):
    false_positives = [(r["id"], r["label"], r["note"]) for r, s in zip(rows, statuses) if s == "correct" != r["label"]]
    assert not false_positives


def test_verdicts_match_the_labels_but_for_the_known_misses(rows, statuses):
    misses = {r["id"]: s for r, s in zip(rows, statuses) if s != r["label"]}
    assert misses == KNOWN_MISSES


def test_accuracy_per_source_beside_plain_math_verify(rows, statuses):
    """The closing note's table: a verdict is right when correct/not correct agrees with the label.

    Plain math-verify is the second opinion of `regrade --second-opinion` (harness.graders.plain):
    its default extraction on the whole response, the gold wrapped in ``$...$``, its own letter
    extraction for multiple choice.
    """
    with GradingPool(workers=2, timeout_s=10.0) as pool:
        plain = pool.grade_many(GradeCase(r["grader"], r["response"], r["gold"], method=MATH_VERIFY) for r in rows)
    table: dict[str, Counter[str]] = {}
    for row, status, second in zip(rows, statuses, plain):
        counts = table.setdefault(_source(row), Counter())
        truth = row["label"] == "correct"
        counts["items"] += 1
        counts["ours right"] += (status == "correct") == truth
        counts["ours fp"] += status == "correct" and not truth
        counts["plain right"] += second.correct == truth
        counts["plain fp"] += second.correct and not truth
    total = sum(table.values(), Counter())
    lines = [f"{'source':28} {'items':>5} {'glm-eval':>9} {'FP':>3} {'math-verify':>12} {'FP':>3}"]
    for name, c in [*sorted(table.items()), ("all", total)]:
        lines.append(f"{name:28} {c['items']:5} {c['ours right'] / c['items']:9.1%} {c['ours fp']:3} "
                     f"{c['plain right'] / c['items']:12.1%} {c['plain fp']:3}")
    print("\n" + "\n".join(lines))
    assert total["ours fp"] == 0 < total["plain fp"]
    assert total["ours right"] > total["plain right"]
