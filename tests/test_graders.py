"""grade(): the contract every caller relies on, answer extraction, and keys for majority voting."""

from __future__ import annotations

import time

import pytest

from harness.graders import GRADERS, Verdict, grade
from harness.graders.extract import final_answer
from harness.graders.math import canonical, equivalent, judge, read
from harness.graders.reasoning import strip_reasoning


def test_graders_are_the_documented_five():
    assert GRADERS == ("math", "integer", "mcq", "exact", "regex")


def test_unknown_grader_is_refused_with_the_valid_names():
    with pytest.raises(ValueError, match="math, integer, mcq, exact, regex"):
        grade("maths", r"\boxed{1}", "1")


def test_verdict_explains_itself():
    verdict = grade("math", r"First $x = 2$, so the answer is $\boxed{\dfrac{1}{2}}$.", r"\frac{1}{2}")
    assert verdict == Verdict(True, r"\dfrac{1}{2}", "1/2", r"\frac{1}{2}", "match")


@pytest.mark.parametrize("grader, response, gold", [
    ("math", r"\boxed{42}", "42"),
    ("integer", r"\boxed{042}", "42"),
    ("mcq", "ANSWER: C", "C"),
    ("exact", "Answer: Paris", "Paris"),
    ("regex", "Answer: 42", r"4\d"),
])
def test_truncated_response_is_wrong_but_keeps_what_it_said(grader, response, gold):
    verdict = grade(grader, response, gold, finish_reason="length")
    assert not verdict.correct
    assert verdict.reason == "truncated: finish_reason=length"
    assert verdict.extracted is not None and verdict.normalized is not None


def test_other_finish_reasons_grade_normally():
    assert grade("math", r"\boxed{42}", "42", finish_reason="stop").correct


@pytest.mark.parametrize("response, answer_part", [
    ("<think>try 7</think>The answer is 8.", "The answer is 8."),
    ("reasoning with a template-opened block</think>\n\\boxed{8}", "\n\\boxed{8}"),
    ("<think>still thinking \\boxed{7}", ""),
    ("no tags at all", "no tags at all"),
    ("<|begin_of_thought|>try 7<|end_of_thought|>\n\n<|begin_of_solution|>It is 8.<|end_of_solution|>", "\n\nIt is 8."),
    ("opened by the template<|end_of_thought|>It is 8.", "It is 8."),
    ("<|begin_of_thought|>so the answer is 7, but let me check", ""),
])
def test_reasoning_is_never_the_answer(response, answer_part):
    assert strip_reasoning(response) == answer_part


@pytest.mark.parametrize("response, answer_part", [
    ("cut off in a block the template opened: so the answer is 9/256", ""),
    ("reasoning</think>The answer is 8.", "The answer is 8."),
    ("reasoning<|end_of_thought|>The answer is 8.", "The answer is 8."),
])
def test_a_response_known_to_start_inside_its_reasoning_answers_only_after_closing_it(response, answer_part):
    assert strip_reasoning(response, opened=True) == answer_part


def test_reasoning_open_makes_a_cut_off_response_no_answer_and_leaves_answers_alone():
    cut_off = r"Okay, so the product telescopes. Then the answer is \boxed{\frac{9}{256}}, wait, let me"
    assert grade("math", cut_off, r"\frac{9}{256}").correct  # graded whole, a mid-reasoning box counts
    verdict = grade("math", cut_off, r"\frac{9}{256}", reasoning_open=True)
    assert (verdict.correct, verdict.reason) == (False, "no answer found")
    assert grade("math", cut_off + "</think>\n\nSo $\\boxed{9/256}$.", "9/256", reasoning_open=True).correct
    assert grade("mcq", "Option C looks right...</think>ANSWER: C", "C", reasoning_open=True).correct


def test_unclosed_think_means_no_answer():
    verdict = grade("math", r"<think>so it is \boxed{7}", "7")
    assert (verdict.correct, verdict.reason, verdict.extracted) == (False, "no answer found", None)


@pytest.mark.parametrize("response, expected", [
    (r"We get $\boxed{3}$ for the first part and finally $\boxed{\frac{1}{2}}$.", r"\frac{1}{2}"),
    (r"\boxed{\frac{a^{2}}{\sqrt{b_{1}}}}", r"\frac{a^{2}}{\sqrt{b_{1}}}"),
    (r"\fbox{12}", "12"),
    (r"The roots are $\boxed{2}$ and $\boxed{3}$.", "2, 3"),
    ("So $\\boxed{5}$.\n\n**Final Answer**\n$\\boxed{5}$", "5"),
    (r"\boxed{\{1, 2\}}", r"\{1, 2\}"),
    (r"Earlier \boxed{4}, then cut off: \boxed{5", "4"),
    ("In step 2 we had x = 12.\n\nThe final answer is $15$.", "15"),
    ("**Final Answer**\n\n$$\\frac{7}{2}$$", r"\frac{7}{2}"),
    ("Answer: $x = 5$ (checked)", "x = 5"),
    ("The answer is 42 because 6 * 7 = 42.", "42"),
    ("If the answer is correct, then we have more.\n\nAnswer: 9", "9"),
    ("Everything cancels.\n\n\\[\n2\\sqrt{5}\n\\]", r"2\sqrt{5}"),
    ("so the total is\n\n**14**", "14"),
    ("We add 3 and 4 to get 7 apples in the basket", None),
    ("", None),
    # an answer phrase reporting someone else's answer, or quoted, states nothing
    ("Recomputing gives 12.\n\nThe hint says the answer is 16.", None),
    ('Recomputing gives 12. The book\'s key, "the answer is 16", is a misprint.\n\nThe answer is 12.', "12"),
    ("The problem states that the answer is an integer. Answer: 12", "12"),
    # of a sentence after the phrase, only its one number or formula
    ("Answer: There are 3 positive two-digit integers that satisfy both conditions.", "3"),
    (r"Answer: The probability equals $\frac{1}{4}$ in every one of the cases.", r"\frac{1}{4}"),
    ("The final answer will be a relatively simple expression involving the golden ratio.", None),
    ("Answer: Between 3 and 5 of the tiles are red.", None),
    ("The answer is 12 square inches.", "12 square inches"),
    # a closing conclusion
    ("All rows check out.\n\nTherefore, the value of \\( n \\) is \\( 7 \\).", "7"),
    ("So the ratio is 150/200, which simplifies to 3/4.\n\nI think that's the answer.", "3/4"),
    ("Therefore, x is 5. But wait, the second case gives", None),
])
def test_final_answer_extraction(response, expected):
    assert final_answer(response) == expected


@pytest.mark.parametrize("writings", [
    [r"\boxed{\frac12}", r"\boxed{0.5}", r"\boxed{\dfrac{1}{2}}", r"\boxed{\tfrac{2}{4}}", "The answer is 1/2."],
    [r"\boxed{x=3}", r"\boxed{3}", r"\boxed{3.0}", r"\boxed{003}"],
    [r"\boxed{\pm 2}", r"\boxed{2, -2}", r"\boxed{-2 \text{ and } 2}"],
    [r"\boxed{10{,}000}", r"\boxed{10000}", r"\boxed{10,000}", r"\boxed{10\,000}", r"\boxed{10^4}"],
    [r"\boxed{(-2, -14, -7)}", r"\boxed{\begin{pmatrix} -2 \\ -14 \\ -7 \end{pmatrix}}"],
    [r"\boxed{2\sqrt{2}}", r"\boxed{\sqrt{8}}"],
    [r"\boxed{25\%}", r"\boxed{25}"],
    [r"\boxed{4:30 \text{ p.m.}}", r"\boxed{4:30 PM}"],
])
def test_equal_answers_share_one_normalized_form(writings):
    keys = {grade("math", w, "0").normalized for w in writings}
    assert len(keys) == 1, keys


def test_different_answers_have_different_normalized_forms():
    writings = [r"\boxed{\frac12}", r"\boxed{\frac13}", r"\boxed{2}", r"\boxed{-2}", r"\boxed{\pm 2}", r"\boxed{(1,2)}",
                r"\boxed{(2,1)}", r"\boxed{[1,2]}", r"\boxed{\sqrt2}", r"\boxed{x+1}"]
    keys = [grade("math", w, "0").normalized for w in writings]
    assert len(set(keys)) == len(keys), keys


def test_a_grader_failure_is_a_verdict_not_an_exception():
    verdict = grade("regex", "Answer: 12", "(unclosed")
    assert not verdict.correct and verdict.reason.startswith("error: gold is not a valid regex")
    assert grade("integer", r"\boxed{12}", "twelve").reason == "error: gold 'twelve' is not an integer"
    assert grade("mcq", "ANSWER: C", "CD").reason.startswith("error: gold 'CD'")


def test_gold_given_as_a_number_is_read_as_text():
    assert grade("integer", r"\boxed{70}", 70).correct  # type: ignore[arg-type]  # aime25 stores ints


@pytest.mark.parametrize("grader, gold", [("mcq", "C"), ("integer", "5"), ("exact", "5")])
@pytest.mark.parametrize("unit", [
    "the answer is correct ", "\\boxed{1} and ", "Answer: (", " ", "\\boxed{", "(A). ", "(A)\n", "Option B is correct. ",
    "which is option D ", "the hint says the answer is 5 ", '"', "Therefore x is 5. ", "A) ", "answer (option ",
])
def test_cheap_graders_stay_linear_on_hostile_input(grader, gold, unit):
    # These graders run without a time limit, so no input may make them backtrack quadratically.
    start = time.perf_counter()
    grade(grader, unit * 40_000 + "x", gold)
    assert time.perf_counter() - start < 30.0  # quadratic backtracking on 200k characters takes hours; linear, milliseconds


def test_mcq_letters_follow_the_gold_beyond_d():
    assert grade("mcq", "ANSWER: F", "F").correct
    assert grade("mcq", "ANSWER: F", "B").reason == "no answer found"  # A-D only when the gold is within A-D


def test_regex_must_match_the_whole_answer():
    assert grade("regex", r"\boxed{42 apples}", r"42( apples)?").correct
    assert not grade("regex", r"\boxed{142}", r"42").correct


@pytest.mark.parametrize("answer, gold", [
    (r"\dfrac{6}{8}", r"\frac34"),  # right, parsed and compared by math-verify
    (r"x^2+2x", r"x(x+3)"),  # wrong: math-verify's slow path
    (r"\begin{pmatrix} 1 \\ 2 \end{pmatrix}", r"(1,2)"),  # right through the vector rescue
    ("7", "7"),  # identical
])
def test_a_repeated_answer_is_judged_once_and_as_if_fresh(answer, gold):
    judge.cache_clear()
    first = grade("math", f"Sample 1. So the answer is $\\boxed{{{answer}}}$.", gold)
    hits = judge.cache_info().hits
    again = grade("math", f"Sample 2 reasons otherwise, and ends with \\boxed{{{answer}}}", gold)
    assert judge.cache_info().hits == hits + 1  # no second parse or comparison
    truncated = grade("math", f"Sample 3. \\boxed{{{answer}}}", gold, finish_reason="length")
    judge.cache_clear()
    read.cache_clear()
    fresh = grade("math", f"\\boxed{{{answer}}}", gold)
    assert first == again == fresh
    assert (truncated.correct, truncated.reason) == (False, "truncated: finish_reason=length")
    assert truncated.normalized == fresh.normalized


@pytest.mark.parametrize("answer, gold", [
    ("2√3", r"2\sqrt3"), ("3π", r"3\pi"), ("(1011)_2", "1011_2"), ("1.5e-3", r"1.5 \times 10^{-3}"),
])
def test_an_answer_that_reads_as_the_gold_skips_its_own_parse(answer, gold):
    judge.cache_clear()
    read.cache_clear()
    assert read(answer) == read(gold) and answer != gold
    fresh_gold, fresh_answer = read.__wrapped__(gold), read.__wrapped__(answer)  # uncached: parsed anew
    assert judge(gold, answer) == (equivalent(fresh_gold, fresh_answer), canonical(fresh_answer))
    assert "parsed" not in vars(read(answer))  # the cached_property was never computed for it
