"""The condition rating: the cracking term of Japan's Maintenance Control Index (MCI), from a grid cracking ratio.

The MCI (Ministry of Construction, Japan, 1981; used by MLIT and the Japan Road
Association's *Pavement Survey and Test Methods Handbook*, 舗装調査・試験法便覧,
2007) rates asphalt pavements 0-10 from cracking ratio C (%), rut depth D (mm) and
flatness sigma (mm). Its cracking-only form is ``MCI1 = 10 - 2.23 * C ** 0.3``;
the full form is ``MCI = 10 - 1.48 C^0.3 - 0.29 D^0.7 - 0.47 sigma^0.2``. A video
survey measures cracking only, so the rating here is MCI1.

The cracking ratio follows the handbook's grid method: the surveyed area is cut
into 0.5 m x 0.5 m cells; a cell holding one crack counts 0.15 m2 (60 %), a cell
holding two or more cracks, or any part of a network (alligator/block) crack,
counts 0.25 m2 (100 %); C = counted area / surveyed area x 100.

Management levels used with the MCI: >= 5 no action needed, <= 4 repair needed,
<= 3 repair urgently. The default classes follow them: good (>= 5), fair
([4, 5)), poor ([3, 4)), very poor (< 3); the thresholds are configurable.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

MCI_CRACK_COEFFICIENT = 2.23
MCI_CRACK_EXPONENT = 0.3
ONE_CRACK_WEIGHT = 0.6  # 0.15 m2 of a 0.25 m2 cell
TWO_PLUS_WEIGHT = 1.0
RATING_CLASSES = ("good", "fair", "poor", "very poor")
RATING_COLOURS = {"good": "#1a9850", "fair": "#fee08b", "poor": "#fc8d59", "very poor": "#d73027", "none": "#9e9e9e"}
INDEX_NAME = "MCI1 (cracking term of the Maintenance Control Index, Japan)"


@dataclass(frozen=True)
class RatingScheme:
    """Lower bounds of good, fair and poor on the MCI scale (below the last: very poor)."""

    thresholds: tuple[float, float, float] = (5.0, 4.0, 3.0)

    def __post_init__(self) -> None:
        values = tuple(float(v) for v in self.thresholds)
        if len(values) != 3 or not (10 >= values[0] > values[1] > values[2] >= 0):
            raise ValueError(f"rating thresholds must be three numbers 10 >= good > fair > poor >= 0, got {values}")
        object.__setattr__(self, "thresholds", values)

    def classify(self, index: float | None) -> str:
        """The rating class of an MCI value (``none`` when nothing was surveyed)."""
        if index is None or not math.isfinite(index):
            return "none"
        for name, bound in zip(RATING_CLASSES, self.thresholds, strict=False):
            if index >= bound:
                return name
        return RATING_CLASSES[-1]


def mci_cracking(cracking_ratio_pct: float) -> float:
    """``10 - 2.23 * C ** 0.3``, floored at 0."""
    ratio = max(0.0, float(cracking_ratio_pct))
    return max(0.0, 10.0 - MCI_CRACK_COEFFICIENT * ratio**MCI_CRACK_EXPONENT)


def cell_weights(cell_cracks: dict[tuple[int, int], set[int]], network_cells: Iterable[tuple[int, int]]) -> dict:
    """Weight of each cracked cell: 1.0 with two or more cracks or a network crack, else 0.6."""
    network = set(network_cells)
    return {
        cell: TWO_PLUS_WEIGHT if len(ids) >= 2 or cell in network else ONE_CRACK_WEIGHT
        for cell, ids in cell_cracks.items()
    }
