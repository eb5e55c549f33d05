"""Z.ai's glm-simple-evals as it actually runs, rule by rule: the `zai-kit` protocol.

The published GLM-4.5 figures come from that kit (zai-org/glm-simple-evals at db7fdc8; the file and
line of each rule are cited below). What it sends and grades differs from what its README says in
ways that move scores, so glm-eval reproduces it point by point beside its own strict rules and
records each sample's verdict after every rule in turn: the report's gap breakdown is then exact
arithmetic (the parts add up to the difference) rather than a guess.

Requests (harness/runspec.py, tasks/*.yaml): the same prompts (evals/math_eval.py 18-23; the bare GPQA
question, evals/gpqa_eval.py 31-44), temperature 0.6 (samplers/zai_sampler.py 91), thinking on
(zai_sampler.py 59-61), streamed, 81,920 new tokens (eval_example.sh), and no top_p: it is computed
but never passed on the streaming path (zai_sampler.py 49-70, samplers/openai_sampler.py 55-69).

Where glm-eval departs from the kit, on purpose, and what it costs:
- a request that fails every retry scores 0 in the kit (the samplers return "": zai_sampler.py 78-82);
  here it stays unanswered and the run incomplete, so a rerun fills it in instead of scoring it;
- glm-eval still sends its per-sample seed where the provider takes one (the kit sends none): a seed
  fixes which answer is drawn, not the distribution, so it moves no expected score;
- the kit's rule grader (evals/grading/grader.py, PRM800K's) is replaced by the task's own grader
  on the same extracted text;
- the kit's random letter (gpqa_eval.py 85-86) is drawn from the sample's key, so a regrade draws
  the same letter.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

REASONING_TAIL_CHARS = 512
"""Empty content: the reasoning minus its last 512 characters is the answer (zai_sampler.py 84-87,
openai_sampler.py 88-92)."""
GPQA_TAIL_CHARS = 1024
"""GPQA reads only the response's last 1,024 characters (gpqa_eval.py 65-66)."""
CHOICE_LINES = 5
"""The checker sees the last five non-empty lines (evals/common.py 372-374)."""
LETTERS = "ABCD"

# The checker model's prompts, verbatim: the math one of evals/math_eval.py 26-82 (AIME imports it,
# evals/aime_eval.py 14-19), the letter one of evals/common.py 315-333.
EQUALITY_TEMPLATE = r"""Look at the following two expressions (answers to a math problem) and judge whether they are equivalent. Only perform trivial simplifications

Examples:

    Expression 1: $2x+3$
    Expression 2: $3+2x$

Yes

    Expression 1: 3/2
    Expression 2: 1.5

Yes

    Expression 1: $x^2+2x+1$
    Expression 2: $y^2+2y+1$

No

    Expression 1: $x^2+2x+1$
    Expression 2: $(x+1)^2$

Yes

    Expression 1: 3245/5
    Expression 2: 649

No
(these are actually equal, don't mark them equivalent if you need to do nontrivial simplifications)

    Expression 1: 2/(-3)
    Expression 2: -2/3

Yes
(trivial simplifications are allowed)

    Expression 1: 72 degrees
    Expression 2: 72

Yes
(give benefit of the doubt to units)

    Expression 1: 64
    Expression 2: 64 square feet

Yes
(give benefit of the doubt to units)

---

YOUR TASK


Respond with only "Yes" or "No" (without quotes). Do not include a rationale.

    Expression 1: %(expression1)s
    Expression 2: %(expression2)s"""

CHOICE_TEMPLATE = """
We have a multiple-choice question with several choices (in ## Question). We also have an answer to this question (in ## Answer). Please determine which choice is selected based on the answer and the choices in the question.

## Question: 
{question}

## Answer: 
{answer}

Put the selected choice in the format of the following example: 

<CHOICE>: <your answer>

Example:
<CHOICE>: A
<CHOICE>: B
<CHOICE>: C
<CHOICE>: D
"""
EQUALITY_HEADER = EQUALITY_TEMPLATE.split("\n", 1)[0]
CHOICE_HEADER = CHOICE_TEMPLATE.strip().split("\n", 1)[0]

# The rules in the order the breakdown applies them, each with the words the report uses. The
# first step is glm-eval's strict verdict of the kit's own responses; each later one adds one rule.
STRICT = "strict"
BOXED = "boxed_only"
CUT_OFF = "cut_off_graded"
JUDGE_FALLBACK = "judge_fallback"
CHECKER_LETTER = "checker_letter"
RANDOM_LETTER = "random_letter"
MATH_STEPS = (STRICT, BOXED, CUT_OFF, JUDGE_FALLBACK)
CHOICE_STEPS = (STRICT, CUT_OFF, CHECKER_LETTER, RANDOM_LETTER)
RULES = {
    STRICT: "glm-eval's rules on the kit's responses",
    BOXED: "only the last \\boxed{} is read (math_eval.py 85-127)",
    CUT_OFF: "cut-off responses graded: the content as cut, or the reasoning minus its last 512 characters (zai_sampler.py 84-87)",
    JUDGE_FALLBACK: "the checker model asked when the rules say different; any reply containing \"yes\" counts (math_eval.py 130-141, 154-157)",
    CHECKER_LETTER: "the letter read by the checker model from the last 1,024 characters (gpqa_eval.py 65-87, common.py 371-397)",
    RANDOM_LETTER: "a random letter when the checker names none (gpqa_eval.py 85-86)",
}


def steps_for(grader: str) -> tuple[str, ...]:
    return CHOICE_STEPS if grader == "mcq" else MATH_STEPS


def kit_text(content: str | None, reasoning: str | None) -> str:
    """What the kit's sampler returns: the content, or, when there is none (a response cut off in
    its reasoning), the reasoning minus its last 512 characters (zai_sampler.py 84-87)."""
    if content:
        return content
    return reasoning[:-REASONING_TAIL_CHARS].strip() if reasoning else ""


def last_boxed(text: str) -> str | None:
    """The inside of the last \\boxed{...} (or \\fbox{...}), braces matched; None without one or when
    it is not closed (math_eval.py 85-127: `last_boxed_only_string` then `remove_boxed`, which
    accepts only the `\\boxed{` spelling)."""
    start = text.rfind("\\boxed")
    if start < 0:
        start = text.rfind("\\fbox")
        if start < 0:
            return None
    depth = 0
    for i in range(start, len(text)):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                boxed = text[start : i + 1]
                return boxed[len("\\boxed{") : -1] if boxed.startswith("\\boxed{") else None
    return None


def equality_prompt(gold: str, candidate: str) -> str:
    """The checker's math question: Expression 1 is the gold, 2 the answer (math_eval.py 157)."""
    return EQUALITY_TEMPLATE % {"expression1": gold, "expression2": candidate}


def says_equal(reply: str) -> bool:
    """The kit accepts any reply containing "yes", anywhere (math_eval.py 141, aime_eval.py 35)."""
    return "yes" in reply.lower().strip()


_BOX = re.compile(r"\\box\{([^{}]*(?:\{[^{}]*\})*[^{}]*)\}")
_BOXED = re.compile(r"\\boxed\{([^{}]*(?:\{[^{}]*\})*[^{}]*)\}")


def choice_answer(text: str) -> str:
    """What the checker is shown of a GPQA response: its last 1,024 characters (gpqa_eval.py 65-66),
    of those the last five non-empty lines, and of those the last box's inside when there is one
    (common.py 371-383; `\\box{` is tried before `\\boxed{`, as there)."""
    tail = text[-GPQA_TAIL_CHARS:]
    lines = [line for line in tail.strip().split("\n") if line.strip()]
    answer = "\n".join(lines[-CHOICE_LINES:])
    if "\\box" in answer:
        found = _BOX.findall(answer) or _BOXED.findall(answer)
        if found:
            return found[-1].strip()
    return answer


def choice_prompt(question: str, text: str) -> str:
    return CHOICE_TEMPLATE.format(question=question, answer=choice_answer(text))


def read_choice(reply: str) -> str:
    """The letter as the kit takes it from the checker's reply: the tag removed, then the first
    character of anything longer (common.py 394, gpqa_eval.py 83-84). It may be no letter at all."""
    answer = reply.replace("<CHOICE>: ", "").strip()
    return answer[0] if len(answer) > 1 else answer


def is_letter(choice: str) -> bool:
    """The kit's test `extracted_answer not in "ABCD"` (gpqa_eval.py 85): a substring test, so an
    empty reply passes as a "letter" and scores 0 rather than drawing a random one."""
    return choice in LETTERS


def random_letter(key: str) -> str:
    """The kit's `random.choice("ABCD")` (gpqa_eval.py 86), drawn from the sample's key so that
    regrading draws the same letter."""
    return random.Random(key).choice(LETTERS)


@dataclass(frozen=True)
class KitVerdict:
    """One sample's verdict after each rule (`steps`, in order), the text the kit extracted, and
    what the checker was asked about and said (None when it was not asked)."""

    steps: dict[str, bool]
    extracted: str | None
    checker_reply: str | None = None

    @property
    def correct(self) -> bool:
        return list(self.steps.values())[-1]

    @property
    def decided_by(self) -> str:
        """The last rule that changed the verdict ("strict" when none did): the sample's reason."""
        values = list(self.steps.values())
        changed = [name for i, name in enumerate(self.steps) if i and values[i] != values[i - 1]]
        return changed[-1] if changed else STRICT


def math_verdict(strict: bool, boxed: bool, cut_off: bool, extracted: str | None, reply: str | None) -> KitVerdict:
    """`boxed`: the last box of an answer that was not cut off matches by the rules; `cut_off`: the
    same on the kit's text of every response, cut off or not; `reply`: the checker's, when asked."""
    judged = cut_off or (reply is not None and says_equal(reply))
    steps = {STRICT: strict, BOXED: boxed, CUT_OFF: cut_off, JUDGE_FALLBACK: judged}
    return KitVerdict(steps, extracted, reply)


def choice_verdict(strict: bool, cut_off: bool, gold: str, reply: str | None, key: str) -> KitVerdict:
    """`cut_off`: glm-eval's letter rules on the kit's text; `reply`: the checker's (None: it never
    answered, which the kit scores 0: common.py 388-395, with the sampler's "" on failure)."""
    choice = read_choice(reply) if reply is not None else ""
    drawn = choice if is_letter(choice) else random_letter(key)
    steps = {
        STRICT: strict,
        CUT_OFF: cut_off,
        CHECKER_LETTER: is_letter(choice) and choice == gold,
        RANDOM_LETTER: drawn == gold,
    }
    return KitVerdict(steps, drawn or None, reply)
