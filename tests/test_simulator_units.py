"""The simulator's parts without a server: profiles, the answer key, answer forms, calibration."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from math_verify import parse, verify

from harness.simulator import DEFAULT_PROFILES, Faults, KeyItem, ProfileError, load_profiles
from harness.simulator.answers import Responder
from harness.simulator.calibration import _sigmoid, item_z, solve_offset
from harness.simulator.draws import Draws
from harness.simulator.forms import MCQ_ENDINGS, NO_ANSWER_ENDINGS, integer_equivalents, math_equivalents, math_near_miss, tentative
from harness.simulator.judging import stated_letter
from harness.simulator.key import AnswerKey, gold_letter, parse_options
from harness.simulator.protocol import RequestError, parse_chat_request
from harness.simulator.text import _REASONING, _SOLUTION, reasoning_pieces

# Reference answers in the shapes MATH-500 uses (written here, not copied from the set).
GOLDS = [
    "\\frac{14}{3}", "-\\frac{35}{9}", "\\frac43", "\\dfrac{17}{50}", "9", "-50", "0", "1.25",
    ".0000672", "0.15", "x=5", "90^\\circ", "25\\%", "\\text{Evelyn}", "10,\\!080", "11\\sqrt2",
    "\\left( 3, \\frac{\\pi}{2} \\right)", "3\\sqrt{13}", "6 - 5i", "p - q", "\\pi", "(3,4]",
    "1 \\pm \\sqrt{19}", "x^5 - x^4 + x^3 - x^2 + x - 1", "52_8", "\\frac{270}7\\text{ degrees}",
    "\\begin{pmatrix} -1/3 \\\\ 2/3 \\\\ 5/3 \\end{pmatrix}", "(2,\\infty)", "\\cot x", "1,-2",
]


def _same(gold: str, answer: str) -> bool:
    return verify(parse(f"$\\boxed{{{gold}}}$"), parse(f"$\\boxed{{{answer}}}$"))


# -- profiles ----------------------------------------------------------------------------------


def test_shipped_profiles_follow_the_published_table() -> None:
    profiles = load_profiles(DEFAULT_PROFILES)
    assert set(profiles.variants) == {"glm-4.5", "glm-4.5-air", "glm-4.5-x", "glm-4.5-airx", "glm-4.5-flash"}
    flagship = profiles.variants["glm-4.5"]
    assert flagship.accuracy_for("math500") == pytest.approx(0.982)
    assert flagship.accuracy_for("aime24") == pytest.approx(0.910)
    assert flagship.accuracy_for("gpqa_diamond") == pytest.approx(0.791)
    assert flagship.accuracy_for("aime25") < flagship.accuracy_for("aime24")
    for task in ("math500", "aime24", "aime25", "gpqa_diamond", "my_own_task"):
        acc = {name: v.accuracy_for(task) for name, v in profiles.variants.items()}
        assert acc["glm-4.5-air"] < acc["glm-4.5"] and acc["glm-4.5-flash"] == min(acc.values())
    assert profiles.variants["glm-4.5-x"].tokens_per_s > flagship.tokens_per_s
    assert "NOT measurements" in DEFAULT_PROFILES.read_text()


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (("ttft_s: 0.5", "ttf_s: 0.5"), ["variants.glm-4.5-x.ttf_s: unknown field; allowed:", "ttft_s"]),
        (("item_sigma:", "item_sigm:"), ["item_sigm: unknown field; allowed: item_sigma, providers, variants"]),
        (("aime24: 0.700", "aime24: 70.0"), ["variants.glm-4.5-flash.accuracy", "fraction in 0..1"]),
        (("default: 0.620}", "}"), ["glm-4.5-flash.accuracy", "needs a 'default' entry"]),
    ],
)
def test_profile_typos_name_file_field_and_allowed_values(tmp_path: Path, edit: tuple[str, str],
                                                          expected: list[str]) -> None:
    path = tmp_path / "profiles.yaml"
    path.write_text(DEFAULT_PROFILES.read_text().replace(*edit, 1))
    with pytest.raises(ProfileError) as caught:
        load_profiles(path)
    message = str(caught.value)
    assert message.startswith(str(path))
    for part in expected:
        assert part in message


# -- the answer key ----------------------------------------------------------------------------


def test_key_finds_the_question_in_any_template() -> None:
    key = AnswerKey([
        KeyItem("t", "Find the number of ordered pairs of integers with a property.\nGive it.", "3", "math"),
        KeyItem("t", "Find the number of ordered pairs of integers with a property.\nAnother twist here, please.", "4", "math"),
        KeyItem("t", "Compute $7!$.", "5040", "math"),
    ])
    # The shared first line identifies neither question; the distinct second one does.
    assert key.lookup("Solve this.\n\n  Another twist here, please.  \n\nBox it.") == 1
    assert key.lookup("Find the number of ordered pairs of integers with a property.\nGive it.") is None
    assert key.lookup("Q:\nCompute $7!$.\nA:") == 2  # a question with only short lines
    assert key.lookup("Something else entirely, not in the key.") is None


def test_options_in_the_three_usual_layouts() -> None:
    question = "Which one?\nA. a distractor inside the question text\n"
    for layout in ("{l}) {t}", "({l}) {t}", "{l}. {t}"):
        texts = ["  the wrong one", "the right one", "another", "a fourth choice"]
        block = "\n".join(layout.format(l=letter, t=text) for letter, text in zip("ABCD", texts))
        options = parse_options(f"{question}\n{block}\nThink step by step.")
        assert list(options) == list("ABCD")
        assert gold_letter(options, "the  right one") == "B"
        assert gold_letter(options, "a fourth choice") == "D"  # the trailing instruction ignored
        assert gold_letter(options, "not offered") is None


# -- answer forms ------------------------------------------------------------------------------


def test_rewrites_keep_the_value_and_near_misses_change_it() -> None:
    for n, gold in enumerate(GOLDS):
        forms = math_equivalents(gold)
        assert forms[0] == gold
        for form in forms[1:]:
            assert _same(gold, form), (gold, form)
        miss = math_near_miss(gold, Draws(bytes([n])))
        assert not _same(gold, miss), (gold, miss)
    assert "\\dfrac{1}{2}" in math_equivalents("\\frac{1}{2}")
    assert {"\\tfrac12", "0.5", "1/2"} <= set(math_equivalents("\\frac{1}{2}"))
    assert "0.3333" not in " ".join(math_equivalents("\\frac{1}{3}"))  # no decimal unless exact
    assert "x=3" in math_equivalents("3")
    assert "25" in math_equivalents("25\\%")


def test_aime_forms_and_misses_stay_integers_in_range() -> None:
    assert integer_equivalents("025") == ["025", "25"]
    assert integer_equivalents("70") == ["70", "070"]
    for n in range(50):
        miss = math_near_miss("999" if n % 2 else "0", Draws(bytes([n])), bounded=True)
        assert 0 <= int(miss) <= 999 and miss not in ("999", "0")


# -- calibration and determinism ---------------------------------------------------------------


def test_offset_makes_the_mean_probability_the_target() -> None:
    zs = [item_z(f"question {i}") for i in range(300)]
    for target in (0.05, 0.5, 0.91, 0.995):
        a = solve_offset(zs, 1.5, target)
        assert sum(_sigmoid(a + 1.5 * z) for z in zs) / len(zs) == pytest.approx(target, abs=1e-6)
    assert item_z("same question") == item_z("same question")


def test_the_same_request_is_planned_the_same_way() -> None:
    profiles = load_profiles(DEFAULT_PROFILES)
    item = KeyItem("aime24", "How many positive divisors does the number in question have, exactly?", "12", "integer")
    responder = Responder(profiles, AnswerKey([item]))
    body = {"model": "glm-4.5", "messages": [{"role": "user", "content": item.question}], "seed": 1}
    first, again = (responder.plan(parse_chat_request(body), 0.0) for _ in range(2))
    assert first == again
    other = responder.plan(parse_chat_request({**body, "seed": 2}), 0.0)
    assert other.reasoning != first.reasoning


def test_bad_fields_are_refused_by_name() -> None:
    base = {"model": "glm-4.5", "messages": [{"role": "user", "content": "hi"}]}
    for field, value in (("temperature", 3), ("max_tokens", 0), ("messages", []), ("stream", "yes"),
                         ("thinking", {"type": "maybe"}), ("reasoning", {"effort": "extreme"}), ("n", 2)):
        with pytest.raises(RequestError) as caught:
            parse_chat_request({**base, field: value})
        assert caught.value.status == 400 and field in caught.value.body["error"]["message"]


def test_fault_rates_must_leave_room_for_one_fault_per_attempt() -> None:
    with pytest.raises(ValueError, match="add up to"):
        Faults(http_500=0.6, http_503=0.6)
    with pytest.raises(ValueError):
        Faults.model_validate({"http_5OO": 0.1})


def test_one_token_is_one_word_even_past_the_end_of_the_filler() -> None:
    for n in (1, 7, 50_000):
        text = "".join(reasoning_pieces(n, Draws(b"wrap")))
        assert len(text.split()) == n and text == text.lstrip()


def test_filler_text_gives_a_lenient_extractor_nothing() -> None:
    for sentence in (*_REASONING, *_SOLUTION, *NO_ANSWER_ENDINGS):
        assert not re.search(r"\b[A-D]\b|\d", sentence), sentence
        assert not re.search(r"answer|boxed", sentence, re.IGNORECASE), sentence


def test_the_simulated_judge_reads_the_letters_the_simulator_writes() -> None:
    """Its own rules, not glm-eval's graders: every phrasing the simulator ends with, the last one
    stated when the reasoning named another on the way, and nothing from an ending that names none."""
    assert [stated_letter("Some working.\n\n" + ending % "C") for ending in MCQ_ENDINGS] == ["C"] * len(MCQ_ENDINGS)
    assert stated_letter(tentative("mcq", "B") + " On reflection...\n\nANSWER: D") == "D"
    assert [stated_letter(ending) for ending in NO_ANSWER_ENDINGS] == [None] * len(NO_ANSWER_ENDINGS)
