"""The graders against the labelled set (tests/grading_cases.py), and plain math-verify against it.

Run with ``-s`` to see both tables.
"""

from __future__ import annotations

import logging
from collections import Counter

import pytest
from grading_cases import CASES, Case

from harness.graders import GradeCase, GradingPool, Verdict
from harness.graders.extract import final_answer
from harness.graders.math import canonical, equivalent, judge, read
from harness.graders.reasoning import strip_reasoning

# Every category issue 4 asks the set to cover.
REQUIRED_CATEGORIES = {
    "fractions vs decimals", r"\dfrac and \tfrac", r"\text{} and units", "degrees", "percent", "intervals",
    "sets and tuples", "plus-minus and multiple answers", "matrices and vectors", "equations",
    "thousands separators", "base subscripts", "leading zeros", "scientific notation", "truncated responses",
    "responses with no boxed answer", "multiple choice",
}


def _table(title: str, wrong: Counter[str]) -> str:
    total = Counter(case.category for case in CASES)
    lines = [title, f"{'category':34} {'cases':>5} {'wrong':>5} {'accuracy':>8}"]
    for category in sorted(total):
        right = total[category] - wrong[category]
        lines.append(f"{category:34} {total[category]:5} {wrong[category]:5} {right / total[category]:8.1%}")
    all_wrong = sum(wrong.values())
    lines.append(f"{'all':34} {len(CASES):5} {all_wrong:5} {(len(CASES) - all_wrong) / len(CASES):8.1%}")
    return "\n".join(lines)


def _is_right(case: Case, verdict: Verdict) -> bool:
    return verdict.correct == case.correct and (case.reason is None or verdict.reason == case.reason)


def test_the_set_is_large_and_covers_every_category():
    assert len(CASES) >= 150
    assert REQUIRED_CATEGORIES <= {case.category for case in CASES}
    for category in {case.category for case in CASES} - {"truncated responses"}:
        verdicts = {case.correct for case in CASES if case.category == category}
        assert verdicts == {True, False}, f"{category} needs both right and wrong-but-similar answers"


def test_graders_are_right_on_every_labelled_case():
    with GradingPool(workers=2, timeout_s=10.0) as pool:
        verdicts = pool.grade_many(GradeCase(c.grader, c.response, c.gold, c.finish_reason) for c in CASES)
    misses = [(case, verdict) for case, verdict in zip(CASES, verdicts) if not _is_right(case, verdict)]
    table = _table("glm-eval graders on the labelled set", Counter(case.category for case, _ in misses))
    print("\n" + table)
    details = "\n".join(
        f"- [{c.category}] gold={c.gold!r} expected correct={c.correct} got {v}\n  ...{c.response[-80:]!r}"
        for c, v in misses
    )
    assert not misses, f"{len(misses)} of {len(CASES)} cases misgraded\n{table}\n{details}"


def test_cached_and_shortcut_judgements_equal_a_fresh_math_verify_reading_on_every_case():
    """judge() caches (gold, answer) pairs and judges an answer that reads as its gold as the gold
    itself; neither may change a verdict. The reference reads both strings anew (no cache), so
    math-verify parses and compares them exactly as it did before either existed."""
    pairs = [(c.gold, final_answer(strip_reasoning(c.response))) for c in CASES if c.grader == "math"]
    pairs = [(gold, answer) for gold, answer in pairs if answer is not None]
    judge.cache_clear()
    read.cache_clear()
    shortcuts = 0
    for gold, answer in pairs:
        fresh_answer = read.__wrapped__(answer)
        expected = (equivalent(read.__wrapped__(gold), fresh_answer), canonical(fresh_answer))
        assert judge(gold, answer) == expected, (gold, answer)
        assert judge(gold, answer) == expected, (gold, answer)  # from the cache
        shortcuts += answer != gold and read(answer) == read(gold)
    assert len(pairs) > 150 and shortcuts >= 5  # the set exercises the shortcut (30° for 30^\circ, ...)


@pytest.mark.parametrize("wrap_gold", [False, True], ids=["gold as given", "gold in $...$"])
def test_plain_math_verify_misgrades_part_of_the_set(wrap_gold):
    """The figure the closing note quotes: math-verify alone, default settings, on the same set.

    ``verify(parse(gold), parse(response))`` is math-verify's documented use; its README wraps a
    LaTeX gold in ``$...$`` (without that, golds such as ``\\frac38`` are not found at all), so the
    count is given both ways. It has no notion of finish_reason or of letters, so truncated and
    multiple-choice cases count as the verdict it gives.
    """
    from math_verify import parse, verify

    logging.getLogger("math_verify").setLevel(logging.ERROR)
    wrong: Counter[str] = Counter()
    false_positives = math_wrong = 0
    for case in CASES:
        gold = parse(f"${case.gold}$" if wrap_gold else case.gold)
        said_correct = verify(gold, parse(case.response))
        if said_correct != case.correct:
            wrong[case.category] += 1
            false_positives += said_correct
            math_wrong += case.grader in ("math", "integer")
    math_cases = sum(case.grader in ("math", "integer") for case in CASES)
    print("\n" + _table(f"plain math-verify, {'gold in $...$' if wrap_gold else 'gold as given'}", wrong))
    print(f"wrong on the whole set: {sum(wrong.values())} of {len(CASES)} ({false_positives} false positives); "
          f"on the math and integer cases: {math_wrong} of {math_cases}")
    assert sum(wrong.values()) > 0
