"""Sections: the route cut every ``section_m`` metres, each with its measures and condition rating.

Sections are cut per run (a GPS jump ends one), from the run's start; a tail
shorter than a tenth of ``section_m`` joins the section before it. A finding
belongs to the section holding its chainage; a grid cell to the section holding
its centre. Columns (``SECTION_COLUMNS``, fixed, in every run):

* ``length_m`` - the section's length along the track (haversine chainage);
  ``surveyed_length_m`` - how much of it the samples' slices cover;
  ``surveyed_area_m2`` - that times the region's width.
* ``crack_count`` and ``<type>_count``; ``crack_length_m`` and ``<type>_length_m``.
* ``crack_area_m2`` - crack pixels' area; ``cracked_cells_one`` /
  ``cracked_cells_two_plus`` and ``cracking_ratio_pct`` by the grid method (``rating``).
* ``max_width_mm``, ``worst_severity`` (ASTM D6433 width classes).
* ``mci_cracking`` (MCI1), ``rating_class``, ``rating_colour``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from crackseg.geometry.camera import GroundRegion
from crackseg.measurement.classification import CRACK_TYPES
from crackseg.survey.findings import CELL_M, Finding, worst_severity
from crackseg.survey.rating import RATING_COLOURS, RatingScheme, cell_weights, mci_cracking
from crackseg.survey.route import Route
from crackseg.survey.sampling import Sample

TAIL_SHARE = 0.1
SECTION_COLUMNS = [
    "section_id",
    "run_id",
    "start_chainage_m",
    "end_chainage_m",
    "length_m",
    "surveyed_length_m",
    "surveyed_area_m2",
    "samples",
    "crack_count",
    *[f"{name}_count" for name in CRACK_TYPES],
    "crack_length_m",
    *[f"{name}_length_m" for name in CRACK_TYPES],
    "crack_area_m2",
    "cracked_cells_one",
    "cracked_cells_two_plus",
    "cracking_ratio_pct",
    "max_width_mm",
    "worst_severity",
    "mci_cracking",
    "rating_class",
    "rating_colour",
    "start_lat",
    "start_lon",
    "end_lat",
    "end_lon",
]


@dataclass(frozen=True)
class Section:
    section_id: int
    run_id: int
    start_m: float
    end_m: float


def cut_sections(route: Route, section_m: float) -> list[Section]:
    """Sections of ``section_m`` metres along each run; a short tail joins the previous section."""
    if not section_m > 0:
        raise ValueError(f"section_m must be > 0, got {section_m}")
    sections: list[Section] = []
    for run in route.runs():
        bounds = list(np.arange(run.start_m, run.end_m, section_m)) + [run.end_m]
        if len(bounds) > 2 and bounds[-1] - bounds[-2] < TAIL_SHARE * section_m:
            del bounds[-2]
        for start, end in zip(bounds, bounds[1:], strict=False):
            if end > start:
                sections.append(Section(len(sections), run.run_id, float(start), float(end)))
    return sections


def section_of(chainage_m: float, sections: Sequence[Section]) -> int | None:
    """The id of the section holding ``chainage_m`` (its end belongs to the last section of a run)."""
    for section in sections:
        if section.start_m <= chainage_m < section.end_m:
            return section.section_id
    for section in sections:
        if np.isclose(chainage_m, section.end_m):
            return section.section_id
    return None


def sections_table(
    route: Route,
    sections: Sequence[Section],
    samples: Sequence[Sample],
    findings: Sequence[Finding],
    region: GroundRegion,
    scheme: RatingScheme = RatingScheme(),
    cell_m: float = CELL_M,
) -> pd.DataFrame:
    """One row per section, columns ``SECTION_COLUMNS``."""
    covered = [(s.chainage_m + region.forward_m[0], s.chainage_m + region.forward_m[0] + s.slice_m) for s in samples]
    located = {f.finding_id: section_of(f.chainage_m, sections) for f in findings}
    cell_cracks: dict[int, dict[tuple[int, int], set[int]]] = {s.section_id: {} for s in sections}
    network: dict[int, set[tuple[int, int]]] = {s.section_id: set() for s in sections}
    for finding in findings:
        for cell in finding.cells:
            owner = section_of((cell[0] + 0.5) * cell_m, sections)
            if owner is None:
                continue
            cell_cracks[owner].setdefault(cell, set()).add(finding.finding_id)
            if finding.crack_type == "network":
                network[owner].add(cell)
    rows = []
    for section in sections:
        mine = [f for f in findings if located[f.finding_id] == section.section_id]
        surveyed = sum(max(0.0, min(b, section.end_m) - max(a, section.start_m)) for a, b in covered)
        area = surveyed * region.width_m
        weights = cell_weights(cell_cracks[section.section_id], network[section.section_id])
        ratio = 100.0 * sum(weights.values()) * cell_m**2 / area if area > 0 else None
        index = mci_cracking(ratio) if ratio is not None else None
        rating = scheme.classify(index)
        ends = route.at_chainage(np.array([section.start_m, section.end_m]))
        row = {
            "section_id": section.section_id,
            "run_id": section.run_id,
            "start_chainage_m": round(section.start_m, 3),
            "end_chainage_m": round(section.end_m, 3),
            "length_m": round(section.end_m - section.start_m, 3),
            "surveyed_length_m": round(surveyed, 3),
            "surveyed_area_m2": round(area, 3),
            "samples": sum(1 for s in samples if section.start_m <= s.chainage_m < section.end_m),
            "crack_count": len(mine),
            **{f"{t}_count": sum(1 for f in mine if f.crack_type == t) for t in CRACK_TYPES},
            "crack_length_m": _length_m(mine),
            **{f"{t}_length_m": _length_m([f for f in mine if f.crack_type == t]) for t in CRACK_TYPES},
            "crack_area_m2": round(sum(f.area_mm2 for f in mine) / 1e6, 4),
            "cracked_cells_one": sum(1 for w in weights.values() if w < 1.0),
            "cracked_cells_two_plus": sum(1 for w in weights.values() if w >= 1.0),
            "cracking_ratio_pct": None if ratio is None else round(ratio, 3),
            "max_width_mm": round(max((f.max_width_mm for f in mine), default=0.0), 2),
            "worst_severity": worst_severity(f.severity for f in mine),
            "mci_cracking": None if index is None else round(index, 2),
            "rating_class": rating,
            "rating_colour": RATING_COLOURS[rating],
            "start_lat": _coordinate(ends[0][0]),
            "start_lon": _coordinate(ends[1][0]),
            "end_lat": _coordinate(ends[0][1]),
            "end_lon": _coordinate(ends[1][1]),
        }
        rows.append(row)
    return pd.DataFrame(rows, columns=SECTION_COLUMNS)


def _length_m(findings: Sequence[Finding]) -> float:
    return round(sum(f.length_mm for f in findings) / 1000, 3)


def _coordinate(value: float) -> float | None:
    return None if not np.isfinite(value) else round(float(value), 7)
