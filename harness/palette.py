"""One colour and one marker per variant label, the same in every chart of a report and of the
gate's history.

Colours are Okabe and Ito's palette, chosen to stay distinct under the common colour-vision
deficiencies; each known variant keeps its own colour (configs/models.yaml) from report to report,
and markers differ too, so a chart still reads in greyscale.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.family import colours
from harness.runs import Runs

OKABE_ITO = {
    "blue": "#0072B2",
    "orange": "#E69F00",
    "bluish green": "#009E73",
    "reddish purple": "#CC79A7",
    "vermillion": "#D55E00",
    "sky blue": "#56B4E9",
    "black": "#000000",
    "yellow": "#F0E442",  # last: faint on white
}
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")


@dataclass(frozen=True)
class Style:
    colour: str
    marker: str


def styles(runs: Runs) -> dict[str, Style]:
    """A style per label: a variant's own colour for its first label, spare colours for the
    same variant in another run (so two runs of glm-4.5 stay apart), cycling past eight."""
    palette = list(OKABE_ITO.values())
    used: list[str] = []
    chosen: dict[str, str] = {}
    for label in runs.labels:
        own = colours().get(runs.variant_of[label])
        if own and own not in used:
            chosen[label] = own
        else:
            free = [c for c in palette if c not in used and c not in _reserved(runs, label)]
            chosen[label] = free[0] if free else palette[len(used) % len(palette)]
        used.append(chosen[label])
    return {label: Style(chosen[label], MARKERS[i % len(MARKERS)]) for i, label in enumerate(runs.labels)}


def _reserved(runs: Runs, label: str) -> set[str]:
    """Colours of variants still to come, kept for them."""
    later = runs.labels[runs.labels.index(label) + 1 :]
    own = colours()
    return {own[runs.variant_of[other]] for other in later if runs.variant_of[other] in own}
