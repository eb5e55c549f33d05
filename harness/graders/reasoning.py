"""Separating a response's reasoning from its answer part.

Nothing a model writes while it reasons is an answer: reasoning models state candidate values
("so the answer is 9/256", a box) on their way, and a response cut off inside its reasoning has
not answered at all. Two markings are recognised, the ``<think>`` tags of DeepSeek-R1, Qwen3 and
GLM and the ``<|begin_of_thought|>`` markers of the Sky-T1 / OpenThoughts format (whose answer
part sits between ``<|begin_of_solution|>`` markers, dropped here as mere wrapping).

A chat template may open the block in the prompt, so that the response starts inside its
reasoning and carries only the closing marker, or, when cut off, no marker at all. Only the
caller can know that for a response without markers; :func:`template_opens_reasoning` reads the
evidence a file of responses gives about the template that produced them.

Everything here is linear in the length of the response.
"""

from __future__ import annotations

from collections.abc import Iterable

_BLOCKS = (("<think>", "</think>"), ("<|begin_of_thought|>", "<|end_of_thought|>"))
_WRAPPERS = ("<|begin_of_solution|>", "<|end_of_solution|>")


def strip_reasoning(text: str, *, opened: bool = False) -> str:
    """The answer part of a response: what follows the last closing marker, up to any block opened after it.

    A closing marker without an opening one means the template opened the block in the prompt,
    so everything before it is reasoning. An opening marker that never closes means the model
    was still reasoning when it stopped, so nothing after it is an answer. With ``opened`` the
    response is known to start inside a block: without a closing marker it is all reasoning.
    """
    end = max((text.rfind(close) + len(close) for _, close in _BLOCKS if close in text), default=-1)
    if end >= 0:
        text = text[end:]
    elif opened:
        return ""
    start = min((text.find(open_) for open_, _ in _BLOCKS if open_ in text), default=-1)
    if start >= 0:
        text = text[:start]
    for wrapper in _WRAPPERS:
        text = text.replace(wrapper, "")
    return text


def template_opens_reasoning(responses: Iterable[str]) -> bool:
    """Whether these responses, all from one template, start inside a reasoning block it opened:
    some close a block and none opens one.

    A single response closing an unopened block is not enough: models that write their own
    opening marker skip it now and then (Sky-T1 does in 2 of 500 MATH-500 responses), and reading
    their unmarked but finished responses as cut-off reasoning would lose their answers.
    """
    closes = [False] * len(_BLOCKS)
    opens = [False] * len(_BLOCKS)
    for text in responses:
        for i, (open_, close) in enumerate(_BLOCKS):
            closes[i] = closes[i] or close in text
            opens[i] = opens[i] or open_ in text
    return any(closed and not opened for closed, opened in zip(closes, opens))
