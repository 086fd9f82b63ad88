"""Cracks on the road: each frame's cracks cut to the slice of road it owns, then stitched across frames.

A sample owns the road from its region's near edge forward ``slice_m`` metres
(``sampling``); successive samples' slices tile the road, so each ground area is
looked at once however many frames show it. From each frame's bird's-eye
prediction only the rows of that slice are kept: a crack seen in five frames
yields pixels from one of them. A crack crossing a slice boundary leaves a piece
touching the far edge of one slice and a piece touching the near edge of the
next; pieces whose lateral spans there overlap (within ``STITCH_LATERAL_M``) are
one crack. Each crack is located by its length-weighted centroid: chainage
(the vehicle's chainage when the frame was taken plus the forward distance) and
lateral offset (metres right of the camera axis).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from crackseg.core.grouping import linked_groups
from crackseg.geometry.ground import GroundView
from crackseg.inference.prediction import CrackPrediction
from crackseg.measurement.classification import CRACK_TYPES, SEVERITY_RANK, severity_of
from crackseg.measurement.measure import MeasurementSettings, measure_crack_mask
from crackseg.survey.sampling import Sample

CELL_M = 0.5
EDGE_PX = 3
STITCH_LATERAL_M = 0.15


@dataclass(frozen=True)
class CrackPiece:
    """The part of one frame's crack inside the frame's slice, measured on the top view (mm)."""

    sample_index: int
    frame: str
    crack_id: int
    chainage_m: float
    lateral_m: float
    length_mm: float
    mean_width_mm: float
    max_width_mm: float
    area_mm2: float
    orientation_deg: float
    crack_type: str
    confidence: float | None
    near_span_m: tuple[float, float] | None
    far_span_m: tuple[float, float] | None
    cells: tuple[tuple[int, int], ...]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values (one line of the resumable ``pieces.jsonl``)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> CrackPiece:
        values = dict(values)
        for key in ("near_span_m", "far_span_m"):
            values[key] = None if values[key] is None else tuple(values[key])
        values["cells"] = tuple(tuple(cell) for cell in values["cells"])
        return cls(**values)


@dataclass(frozen=True)
class Finding:
    """One crack on the road (possibly seen across several slices)."""

    finding_id: int
    chainage_m: float
    lateral_m: float
    crack_type: str
    length_mm: float
    mean_width_mm: float
    max_width_mm: float
    area_mm2: float
    severity: str
    confidence: float | None
    frame: str
    sample_index: int
    pieces: int
    cells: tuple[tuple[int, int], ...]


def frame_pieces(
    top_prediction: CrackPrediction,
    view: GroundView,
    sample: Sample,
    measurement_settings: MeasurementSettings | None = None,
    *,
    cell_m: float = CELL_M,
) -> list[CrackPiece]:
    """The cracks of one frame's top view ``(N, H, W)`` bool, cut to the sample's slice and measured in mm.

    Cells are ``(row, col)`` of the ``cell_m`` road grid: row ``floor(chainage / cell_m)``, col
    ``floor((lateral - region's left edge) / cell_m)``.
    """
    if len(top_prediction) == 0 or sample.slice_m <= 0:
        return []
    settings = MeasurementSettings(
        mm_per_px=view.mm_per_px,
        severity_thresholds_mm=(measurement_settings or MeasurementSettings()).severity_thresholds_mm,
        type_tolerance_deg=(measurement_settings or MeasurementSettings()).type_tolerance_deg,
    )
    scale = 1000.0 / view.mm_per_px
    x0 = view.region.lateral_m[0]
    far_y, near = view.region.forward_m[1], view.region.forward_m[0]
    top_h = top_prediction.masks.shape[1]
    first_row = max(0, math.ceil((far_y - near - sample.slice_m) * scale - 0.5))
    pieces = []
    for index in range(len(top_prediction)):
        mask = top_prediction.masks[index].copy()
        mask[:first_row] = False
        rows, cols = np.nonzero(mask)
        if len(rows) == 0:
            continue
        crack = measure_crack_mask(mask, settings, crack_id=index + 1)
        lateral = x0 + (cols + 0.5) / scale
        forward = far_y - (rows + 0.5) / scale
        chainage = sample.chainage_m + forward
        cells = np.unique(
            np.stack([np.floor(chainage / cell_m), np.floor((lateral - x0) / cell_m)], axis=1).astype(np.int64), axis=0
        )
        pieces.append(
            CrackPiece(
                sample_index=sample.index,
                frame=sample.name,
                crack_id=index + 1,
                chainage_m=float(chainage.mean()),
                lateral_m=float(lateral.mean()),
                length_mm=float(crack.length_mm or 0.0),
                mean_width_mm=float(crack.mean_width_mm or 0.0),
                max_width_mm=float(crack.max_width_mm or 0.0),
                area_mm2=float(crack.area_mm2 or 0.0),
                orientation_deg=float(crack.orientation_deg),
                crack_type=crack.crack_type,
                confidence=float(top_prediction.confidence[index]),
                near_span_m=_span(lateral[rows >= top_h - EDGE_PX]),
                far_span_m=_span(lateral[rows < first_row + EDGE_PX]),
                cells=tuple((int(r), int(c)) for r, c in cells),
            )
        )
    return pieces


def merge_pieces(
    pieces: Iterable[CrackPiece],
    samples: Sequence[Sample],
    severity_thresholds_mm: tuple[float, float] = MeasurementSettings().severity_thresholds_mm,
) -> list[Finding]:
    """Stitch pieces across adjacent slices into findings, ordered by chainage (ids from 1)."""
    pieces = list(pieces)
    by_sample: dict[int, list[int]] = {}
    for number, piece in enumerate(pieces):
        by_sample.setdefault(piece.sample_index, []).append(number)
    links = []
    for current, following in zip(samples, samples[1:], strict=False):
        touching = following.run_id == current.run_id and math.isclose(
            current.chainage_m + current.slice_m, following.chainage_m, abs_tol=1e-6
        )
        if not touching:
            continue
        for a in by_sample.get(current.index, []):
            for b in by_sample.get(following.index, []):
                if _overlap(pieces[a].far_span_m, pieces[b].near_span_m):
                    links.append((a, b))
    groups = linked_groups(len(pieces), links)
    findings = [_merged([pieces[i] for i in group], severity_thresholds_mm) for group in groups]
    findings.sort(key=lambda f: (f.chainage_m, f.lateral_m))
    return [_with_id(f, number) for number, f in enumerate(findings, start=1)]


def _merged(group: list[CrackPiece], thresholds: tuple[float, float]) -> Finding:
    weights = np.array([max(p.length_mm, 1e-9) for p in group])
    length = float(sum(p.length_mm for p in group))
    mean_width = float(np.average([p.mean_width_mm for p in group], weights=weights))
    by_type = dict.fromkeys(CRACK_TYPES, 0.0)
    for piece in group:
        by_type[piece.crack_type] += piece.length_mm
    crack_type = "network" if by_type["network"] > 0 else max(by_type, key=lambda name: by_type[name])
    main = max(group, key=lambda p: p.length_mm)
    confidences = [p.confidence for p in group if p.confidence is not None]
    severity = severity_of(mean_width, thresholds)
    return Finding(
        finding_id=0,
        chainage_m=float(np.average([p.chainage_m for p in group], weights=weights)),
        lateral_m=float(np.average([p.lateral_m for p in group], weights=weights)),
        crack_type=crack_type,
        length_mm=length,
        mean_width_mm=mean_width,
        max_width_mm=float(max(p.max_width_mm for p in group)),
        area_mm2=float(sum(p.area_mm2 for p in group)),
        severity=severity,
        confidence=max(confidences) if confidences else None,
        frame=main.frame,
        sample_index=main.sample_index,
        pieces=len(group),
        cells=tuple(sorted({cell for p in group for cell in p.cells})),
    )


def worst_severity(severities: Iterable[str]) -> str:
    """The highest of ``low``/``medium``/``high``; ``none`` when empty."""
    ranked = [s for s in severities if s in SEVERITY_RANK]
    return max(ranked, key=lambda s: SEVERITY_RANK[s]) if ranked else "none"


def _with_id(finding: Finding, number: int) -> Finding:
    return Finding(**{**asdict(finding), "finding_id": number, "cells": finding.cells})


def _span(lateral: np.ndarray) -> tuple[float, float] | None:
    return (float(lateral.min()), float(lateral.max())) if len(lateral) else None


def _overlap(a: tuple[float, float] | None, b: tuple[float, float] | None) -> bool:
    if a is None or b is None:
        return False
    return a[0] - STITCH_LATERAL_M <= b[1] and b[0] - STITCH_LATERAL_M <= a[1]
