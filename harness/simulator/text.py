"""Filler text for the simulated reasoning and solutions, as token pieces.

One simulated token is one whitespace-separated word, so that token counts, byte sizes and
truncation behave like the real thing. Text is kept as pieces (a word with the whitespace before
it): joining any run of pieces gives valid text, which lets streaming and max_tokens cut anywhere
without re-tokenising. The pieces come from one corpus built at import, and a response takes a
slice of it, so a long reasoning costs a list slice rather than text generation.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence

from .draws import Draws

# No digits, no lone letter A-D, no 'answer' or '\boxed': a lenient answer extractor that
# strays into the reasoning or the solution must find nothing there.
_REASONING = (
    "Okay, let me work through this carefully.",
    "First, I should restate what is being asked.",
    "Let me set up the relevant quantities and see how they relate.",
    "Hmm, that does not look right, so let me recompute this part.",
    "Wait, I need to double-check the previous step.",
    "So the expression simplifies once the common factor is removed.",
    "Let me consider the cases separately.",
    "That matches the earlier estimate, which is reassuring.",
    "Alternatively, I could approach this from the other direction.",
    "Let me verify this by substituting back into the original condition.",
    "Now combine the two partial results.",
    "I should be careful with the signs here.",
    "The constraint rules out the remaining possibilities.",
    "Let me recount to make sure nothing was missed.",
    "This is consistent with the symmetry of the problem.",
    "Maybe there is a simpler way to see this.",
)
_SOLUTION = (
    "We begin by writing down the given conditions.",
    "Simplifying the expression step by step gives a cleaner form.",
    "Checking each case confirms that the result is consistent.",
    "Substituting back verifies the computation.",
    "Combining these observations leads to the result below.",
    "The key observation is that the quantities are related by a simple identity.",
    "The other possibilities are excluded by the constraints.",
)

_PIECE = re.compile(r"\s*\S+")


def pieces_of(text: str) -> list[str]:
    """Token pieces of a text: each word with the whitespace that precedes it."""
    return _PIECE.findall(text)


def _corpus(sentences: Sequence[str], words: int, seed: int) -> tuple[str, ...]:
    rng = random.Random(seed)
    paragraphs, count = [], 0
    while count < words:
        paragraph = " ".join(rng.sample(sentences, rng.randint(3, 6)))
        paragraphs.append(paragraph)
        count += len(paragraph.split())
    # Every piece, the first included, starts with whitespace, so a slice that wraps around the
    # end of the corpus still joins into separate words.
    return tuple(pieces_of("".join("\n\n" + paragraph for paragraph in paragraphs)))


_REASONING_CORPUS = _corpus(_REASONING, 20_000, seed=1)
_SOLUTION_CORPUS = _corpus(_SOLUTION, 5_000, seed=2)


def _take(corpus: tuple[str, ...], n: int, start: int) -> list[str]:
    if n <= 0:
        return []
    taken = list(corpus[start : start + n])
    while len(taken) < n:  # longer than what is left of the corpus: wrap around
        taken += corpus[: n - len(taken)]
    taken[0] = taken[0].lstrip()
    return taken


def reasoning_pieces(n: int, draws: Draws) -> list[str]:
    return _take(_REASONING_CORPUS, n, int(draws.uniform("reasoning-start") * len(_REASONING_CORPUS)))


def solution_pieces(n: int, draws: Draws) -> list[str]:
    return _take(_SOLUTION_CORPUS, n, int(draws.uniform("solution-start") * len(_SOLUTION_CORPUS)))
