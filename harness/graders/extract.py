"""Finding the final answer in a model's response.

A reasoning model states many candidate values on its way to an answer; grading any of them
but the final one moves scores at random. The order of preference is therefore fixed:

1. the last ``\\boxed{}`` / ``\\fbox{}`` (with nested braces), together with boxes placed right
   before it as a list (``\\boxed{2}`` and ``\\boxed{3}``);
2. the last explicit final-answer phrase ("the final answer is", "the answer is", "Answer:",
   a "**Final Answer**" heading) that is not reported speech ("the hint says the answer is 16")
   nor inside quotation marks; of a whole sentence after it ("Answer: There are 3 such
   integers"), only its one number or formula is graded;
3. a closing "Therefore ... is X." sentence (optionally followed by "I think that's the answer."),
   whose X is one number or formula;
4. a closing line, or closing display formula, that holds nothing but a formula or a number.

Anything else is "no answer": a number from the middle of the reasoning is never graded.
Reasoning is removed before any of this (:mod:`harness.graders.reasoning`).

Everything here runs in linear time on any input, because the cheap graders (mcq, integer,
exact) run without a time limit.
"""

from __future__ import annotations

import re

_BOX_COMMAND = re.compile(r"\\(?:boxed|fbox)[ \t]*\{")
# What may stand between two boxes that together form one list of answers.
_BOX_JOINER = re.compile(r"(?:\s|\$|\\[()\[\]]|[,;&]|\\q?quad\b|\\text\{ ?(?:and|or) ?\}|\band\b|\bor\b)*")


_BRACE_TOKEN = re.compile(r"\\.|[{}]", re.DOTALL)  # an escaped character, or a brace


def _closing_braces(text: str, start: int) -> dict[int, int]:
    """Position of the closing brace for every opening brace from ``start`` on (``\\{`` does not count)."""
    closing: dict[int, int] = {}
    stack: list[int] = []
    for token in _BRACE_TOKEN.finditer(text, start):
        char = token.group()
        if char == "{":
            stack.append(token.start())
        elif char == "}" and stack:
            closing[stack.pop()] = token.start()
    return closing


def boxed_answers(text: str) -> list[tuple[int, int, str]]:
    """Every complete box as (start, end, content); an unclosed box (a cut-off response) is skipped."""
    commands = list(_BOX_COMMAND.finditer(text))
    if not commands:
        return []
    closing = _closing_braces(text, commands[0].start())
    boxes = []
    for match in commands:
        close = closing.get(match.end() - 1)
        if close is not None:
            boxes.append((match.start(), close + 1, text[match.end() : close].strip()))
    return boxes


def last_boxed(text: str) -> str | None:
    """Content of the last box, joined with the boxes listed right before it (``a, b``)."""
    outer: list[tuple[int, int, str]] = []
    for box in boxed_answers(text):
        if outer and box[0] < outer[-1][1]:
            continue  # a box inside a box is part of its content
        if box[2]:
            outer.append(box)
    if not outer:
        return None
    first = len(outer) - 1
    while first > 0 and _BOX_JOINER.fullmatch(text, outer[first - 1][1], outer[first][0]):
        first -= 1
    return ", ".join(dict.fromkeys(content for _, _, content in outer[first:]))  # in order, once each


# "the answer is", "the final answer is", "the answer to part (b) is", "Answer:", "**Final Answer:**",
# and a "Final Answer" heading ("**Final Answer**", "## Final Answer") whose answer is on the next line.
_PHRASE = re.compile(
    r"(?i)\b(?:final\s+answer|answer)\b"
    r"(?:"
    r"(?:\s+to\s+[^.\n:]{1,40}?)?\s+(?:is|would\s+be|should\s+be|will\s+be)\b(?:\s*:)?"
    r"|(?:\*\*|__)?[ \t]*[:：]"
    r")"
    r"|(?im:^[ \t]*(?:\*\*|__|\#{1,6})[ \t]*final\s+answer[ \t]*(?:(?:\*\*|__)[ \t]*)?$)",
)
# Words that show "the answer is ..." is talk about an answer, not a statement of one.
_NOT_A_STATEMENT = re.compile(
    r"(?i)(?:correct|right|wrong|incorrect|not|that|this|which|what|clearly|probably|likely|indeed|"
    r"still|also|consistent|reasonable|valid|plausible|as|in|to|because|since|given|obtained|found)\b"
)
# A phrase right after a verb of saying ("the hint says the answer is 16") reports an answer given
# elsewhere; only the few words before a phrase are read, so any response is scanned in linear time.
_SAYING = frozenset(
    "say says said claim claims claimed state states stated think thinks believe believes suggest suggests "
    "suggested argue argues argued mention mentions mentioned write writes wrote report reports reported".split()
)
_FILLERS = frozenset("that the a an its their his her final".split())
_QUOTE = re.compile("[\"\u201c\u201d]")
_LOOKBACK = 80
_MATH_SPANS = (("$$", "$$"), ("\\[", "\\]"), ("\\(", "\\)"), ("$", "$"))
_SENTENCE_END = re.compile(r"\.(?=\s|$)|\s(?:because|since|which|as)\s")
_DECORATION = " \t\r*_"


def _undecorated(line: str) -> str:
    return line.lstrip(_DECORATION + ":").rstrip(_DECORATION)


def _leading_math_span(text: str) -> str | None:
    """The content of a math span that ``text`` starts with, e.g. ``$\\frac12$`` -> ``\\frac12``."""
    for opener, closer in _MATH_SPANS:
        if text.startswith(opener):
            end = text.find(closer, len(opener))
            while closer == "$" and end > 0 and text[end - 1] == "\\":
                end = text.find(closer, end + 1)
            if end > len(opener):
                return text[len(opener) : end].strip()
    return None


# A stated answer fits in this many characters; reading no further after each phrase keeps a
# response with thousands of "the answer is" phrases linear to scan.
_STATEMENT_CHARS = 500


def _line_at(text: str, start: int) -> tuple[str, int]:
    """The rest of the line starting at ``start`` (at most _STATEMENT_CHARS), and where the next line starts."""
    end = text.find("\n", start, start + _STATEMENT_CHARS)
    if end < 0:
        end = min(len(text), start + _STATEMENT_CHARS)
        return text[start:end], end
    return text[start:end], end + 1


def _statement_after(text: str, start: int) -> str | None:
    """The answer stated right after a final-answer phrase: a math span, else the rest of its sentence."""
    line, next_start = _line_at(text, start)
    line = _undecorated(line)
    while not line and next_start < len(text):  # "**Final Answer**" alone: the answer follows
        line, next_start = _line_at(text, next_start)
        line = _undecorated(line)
    if not line:
        return None
    span = _leading_math_span(line)
    if span is not None:
        return span or None
    end = _SENTENCE_END.search(line)
    statement = (line[: end.start()] if end else line).strip().rstrip(",;").strip()
    return _undecorated(statement) or None


def _reported(text: str, start: int) -> bool:
    """Whether the phrase at ``start`` reports someone else's answer or sits inside a quotation."""
    window = text[max(0, start - _LOOKBACK) : start]
    window = window[window.rfind("\n") + 1 :]
    if len(_QUOTE.findall(window)) % 2 == 1:
        return True
    words = [word.strip(",:;") for word in window.lower().split()[-6:]]
    while words and words[-1] in _FILLERS:
        words.pop()
    return bool(words) and (words[-1] in _SAYING or words[-2:] == ["according", "to"])


def phrase_answer(text: str) -> str | None:
    """What follows the last final-answer phrase, or None when no phrase states anything."""
    for match in reversed(list(_PHRASE.finditer(text))):
        statement = _statement_after(text, match.end())
        if statement and not _NOT_A_STATEMENT.match(statement) and not _reported(text, match.start()):
            return statement
    return None


_BARE_ANSWER = re.compile(r"[-+−]?(?:\d[\d,]*(?:\.\d+)?|\.\d+)(?: ?\\?%)?")


def _closing_display_block(text: str) -> str | None:
    """A display formula that ends the response on lines of its own (``\\[`` ... ``\\]``)."""
    for opener, closer in (("\\[", "\\]"), ("$$", "$$")):
        if text.endswith(closer):
            start = text.rfind(opener, 0, len(text) - len(closer))
            if start >= 0 and (start == 0 or text[start - 1] == "\n"):
                return text[start + len(opener) : len(text) - len(closer)].strip() or None
    return None


def closing_line_answer(text: str) -> str | None:
    """The closing line when it holds only a formula (``$$x=5$$``) or a number, else None.

    A closing line with words in it ("so we get 12 apples in the first box") is reasoning, not a
    stated answer, and is not graded.
    """
    text = text.strip().rstrip(".").rstrip()
    block = _closing_display_block(text)
    if block is not None:
        return block
    last = _undecorated(text.rsplit("\n", 1)[-1]).rstrip(".").strip()
    for opener, closer in _MATH_SPANS:
        if last.startswith(opener) and last.endswith(closer) and len(last) > len(opener) + len(closer):
            inner = last[len(opener) : -len(closer)]
            if closer not in inner.replace("\\" + closer, ""):
                return inner.strip() or None
    return last if _BARE_ANSWER.fullmatch(last) else None


_WORD = re.compile(r"(?<![\\a-zA-Z])[a-zA-Z]{2,}")  # a word; "\\frac" is a command, not a word
_INLINE_MATH = re.compile(r"\$\$[^$]*\$\$|\$[^$]*\$|\\\((?:[^\\]|\\(?!\)))*\\\)|\\\[(?:[^\\]|\\(?!\]))*\\\]")
_NUMBER = re.compile(r"(?<![\w.])[-+\u2212]?\d[\d,]*(?:\.\d+)?(?![\w])")
_PROSE_WORDS = 3


def answer_span(statement: str) -> str | None:
    """The answer in a stated answer: all of it, unless it is a sentence of prose, then its one
    number or formula ("There are 3 such integers" -> "3"), or None when it has none or several.

    A statement of a few words keeps its units ("12 square inches") for the grader to read.
    """
    if len(_WORD.findall(_INLINE_MATH.sub(" ", statement))) < _PROSE_WORDS:
        return statement
    formulas = [m.group() for m in _INLINE_MATH.finditer(statement)]
    numbers = _NUMBER.findall(_INLINE_MATH.sub(" ", statement))
    if len(formulas) + len(numbers) != 1:
        return None
    if numbers:
        return numbers[0]
    return _leading_math_span(formulas[0]) or None


# "Therefore, the value of $n$ is $7$." closing a response: its last sentence draws the conclusion.
_CONCLUSION = re.compile(
    r"(?:^|[.!?]\s+|\n)[ \t*_]*(?:therefore|thus|hence|so)\b[^.\n]{0,200}?"
    r"\b(?:is|equals|simplifies to|comes to)\s+(?P<answer>\$[^$\n]{1,80}\$|\\\((?:[^\\\n]|\\(?!\)))+\\\)"
    r"|[-\u2212]?\d[\d,]*(?:\.\d+)?(?:/\d+)?)[ \t*_]*\.?$",
    re.IGNORECASE,
)
# What may follow the conclusion: "I think that's the answer."
_AFTERWORD = re.compile(r"(?:\s*(?:I think )?(?:that's|that is|this is) (?:the|my) (?:final )?answer[.!]?)+\s*$", re.IGNORECASE)
_CONCLUSION_CHARS = 400


def concluding_answer(text: str) -> str | None:
    """The X of a closing "Therefore ... is X." sentence, or None."""
    text = text.rstrip()
    afterword = _AFTERWORD.search(text, max(0, len(text) - 100))
    if afterword:
        text = text[: afterword.start()].rstrip()
    match = _CONCLUSION.search(text, max(0, len(text) - _CONCLUSION_CHARS))
    if match is None:
        return None
    answer = match.group("answer")
    return _leading_math_span(answer) or answer


def final_answer(response: str) -> str | None:
    """The model's final answer as written (LaTeX, without the box), or None if it gave none.

    ``response`` must already be free of reasoning (see :func:`~harness.graders.reasoning.strip_reasoning`).
    """
    boxed = last_boxed(response)
    if boxed:
        return boxed
    stated = phrase_answer(response)
    return (stated and answer_span(stated)) or concluding_answer(response) or closing_line_answer(response)
