"""The GLM-4.5 family as configs/models.yaml lists it: which variants there are, in what order
they are shown, and the colour each keeps in every chart.

The file is the one place these facts live, so that adding a variant (or a user's own models.yaml
under GLM_EVAL_HOME) changes the demo, every table's order and every chart's colours together.
It is read once per process: reports and the gate ask for the order many times over.
"""

from __future__ import annotations

from functools import cache

from harness.config import load_models


@cache
def variants() -> tuple[str, ...]:
    """The variants in the family's own order (flagship first), as the file lists them."""
    return tuple(load_models())


@cache
def colours() -> dict[str, str]:
    """Each variant's own chart colour; variants the file gives none are coloured by the palette."""
    return {name: model.colour for name, model in load_models().items() if model.colour}
