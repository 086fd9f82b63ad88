"""Geometry of crack masks: length, width, orientation, type and severity.

Everything here works on plain ``(H, W)`` bool masks (or a ``CrackPrediction``)
and returns frozen dataclasses; nothing is drawn and no input is changed.

How each number is made (pixel units; ``*_mm`` is ``*_px * mm_per_px`` and
areas use ``mm_per_px ** 2``, all ``None`` when uncalibrated):

* **area_px** - the raw count of mask pixels (no smoothing, no closing).
* **Skeleton** - ``skimage.morphology.skeletonize`` (Zhang-Suen thinning) of
  the mask cropped to its bounding box plus 1 px, so a 4000 x 3000 image costs
  no more than its crack. The mask is not smoothed: Zhang-Suen gives a straight
  skeleton for straight bars without the corner forks of a medial axis. Spurs
  are pruned once: a branch from an endpoint to a junction shorter than the
  crack's full width at the junction (``2 * edt``) is a bump of a ragged
  boundary, not a branch crack.
* **length_px** - the skeleton as an 8-connected graph: each 4-neighbour link
  counts 1, each diagonal link sqrt(2), except a diagonal whose two pixels also
  share a skeleton 4-neighbour (the staircase corner: the path already runs
  through that neighbour). Thinning stops about half a width short of the
  crack's ends, so each endpoint adds ``edt - 0.5`` (its distance to the
  boundary, measured to the pixel edge). A single pixel thus measures 1, a
  200 x 6 bar 200 and a one-pixel line along an axis or a diagonal its length
  exactly (tested). Known limit of link counting: a straight crack between the
  axes and the diagonals reads long, because its staircase is counted step by
  step: worst at 22.5 (and 67.5) degrees, where a one-pixel crack reads 8.2 %
  long (the bound ``sqrt(4 - 2 sqrt(2)) = 1.082``; tested every 2.5 degrees).
* **width** - from the Euclidean distance transform ``edt`` of the mask
  (distance from a pixel centre to the nearest background pixel centre). At a
  skeleton pixel ``p`` the full width is ``edt(p) + max edt(q)`` over the
  4-neighbour pairs ``q`` lying across the skeleton (both off it), clipped to
  ``[2 edt(p) - 1, 2 edt(p)]``. That is ``2 edt - 1`` when ``p`` sits on the
  crack's centre line (odd widths: 1, 3, 5 px read exactly) and ``2 edt`` when
  the centre line falls between ``p`` and its neighbour (even widths: 2, 6 px
  read exactly), where plain ``2 edt - 1`` reads one pixel short.
  ``mean_width_px`` and ``max_width_px`` are the mean and maximum over the
  skeleton pixels outside the end caps, a disc of radius ``edt(endpoint)``
  round each endpoint (caps are thinner than the crack and thinning bends
  there); if that leaves nothing, all skeleton pixels are used.
* **orientation_deg** - principal axis of the mask pixels' second moments,
  measured from the image vertical (taken as the direction of travel), in
  ``(-90, 90]``: 0 along travel, +-90 across, positive when the top of the crack
  leans to +x. A shape with no principal direction (a single pixel, a disc, a
  square) gets 0.
* **crack_type** - ``"network"`` when the crack encloses at least one cell: a
  hole (background component not connected to the outside) of at least
  ``max(4, mean_width_px ** 2)`` px, so a pinhole from a noisy mask does not
  count but a block of pavement ringed by cracks does (ASTM D6433 block and
  alligator cracking are closed cells). Otherwise by orientation with
  ``type_tolerance_deg``: ``"longitudinal"`` when ``|orientation| <= tol``,
  ``"transverse"`` when ``|orientation| >= 90 - tol``, else ``"diagonal"``. A
  tiny blob is still typed by its orientation (0 when isotropic, hence
  longitudinal).
* **severity** - from ``mean_width_mm``: ``"low"`` below the low threshold,
  ``"high"`` above the high one, ``"medium"`` in between (both ends
  inclusive); ``"unknown"`` without ``mm_per_px``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import ndimage
from skimage.morphology import skeletonize

from crackseg.inference.prediction import CrackPrediction
from crackseg.measurement import skeleton as skeleton_graph
from crackseg.measurement.classification import (
    CRACK_TYPES,
    SEVERITIES,
    SEVERITY_RANK,
    crack_type_of,
    orientation_deg,
    severity_of,
)

_EIGHT_CONNECTED = np.ones((3, 3), dtype=bool)


def _is_real(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


@dataclass(frozen=True)
class MeasurementSettings:
    """How masks are turned into physical measurements.

    Attributes:
        mm_per_px: ground sampling distance; ``None`` means uncalibrated (no mm values, severity ``"unknown"``).
        severity_thresholds_mm: ``(low, high)`` mean-width limits in mm; ASTM D6433 defaults
            ``low < 10 mm <= medium <= 75 mm < high``.
        type_tolerance_deg: cracks within this angle of the travel direction are longitudinal, within it of
            the perpendicular transverse (AASHTO R 85 uses 20 degrees).
    """

    mm_per_px: float | None = None
    severity_thresholds_mm: tuple[float, float] = (10.0, 75.0)
    type_tolerance_deg: float = 20.0

    def __post_init__(self) -> None:
        if self.mm_per_px is not None and not (_is_real(self.mm_per_px) and 0 < self.mm_per_px < math.inf):
            raise ValueError(f"mm_per_px must be None or a finite number > 0, got {self.mm_per_px!r}")
        thresholds = self.severity_thresholds_mm
        if (
            not isinstance(thresholds, (tuple, list))
            or len(thresholds) != 2
            or not all(_is_real(value) and math.isfinite(value) for value in thresholds)
            or not 0 < thresholds[0] < thresholds[1]
        ):
            raise ValueError(f"severity_thresholds_mm must be (low, high) with 0 < low < high, got {thresholds!r}")
        object.__setattr__(self, "severity_thresholds_mm", (float(thresholds[0]), float(thresholds[1])))
        if not (_is_real(self.type_tolerance_deg) and 0 < self.type_tolerance_deg < 45):
            raise ValueError(f"type_tolerance_deg must be in (0, 45), got {self.type_tolerance_deg!r}")


@dataclass(frozen=True)
class CrackMeasurement:
    """Measurements of one crack instance (see the module docstring for how each is made)."""

    crack_id: int
    area_px: int
    length_px: float
    mean_width_px: float
    max_width_px: float
    orientation_deg: float
    crack_type: str
    severity: str
    confidence: float | None
    area_mm2: float | None
    length_mm: float | None
    mean_width_mm: float | None
    max_width_mm: float | None

    def __post_init__(self) -> None:
        if self.crack_type not in CRACK_TYPES:
            raise ValueError(f"crack_type must be one of {CRACK_TYPES}, got {self.crack_type!r}")
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity must be one of {SEVERITIES}, got {self.severity!r}")
        if self.area_px < 1:
            raise ValueError(f"area_px must be >= 1, got {self.area_px}")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types; lengths, widths, areas and angles to 2 decimals, confidence to 3."""
        return {
            "crack_id": int(self.crack_id),
            "length_px": _round(self.length_px),
            "length_mm": _round(self.length_mm),
            "mean_width_px": _round(self.mean_width_px),
            "mean_width_mm": _round(self.mean_width_mm),
            "max_width_px": _round(self.max_width_px),
            "max_width_mm": _round(self.max_width_mm),
            "area_px2": int(self.area_px),
            "area_mm2": _round(self.area_mm2),
            "orientation_deg": _round(self.orientation_deg),
            "crack_type": self.crack_type,
            "severity": self.severity,
            "confidence": _round(self.confidence, 3),
        }


@dataclass(frozen=True)
class ImageMeasurement:
    """All cracks measured on one image.

    Attributes:
        cracks: one ``CrackMeasurement`` per crack.
        resolution_wh: ``(width, height)`` of the image.
        mm_per_px: the calibration used, ``None`` when uncalibrated.
        union_area_px: pixels covered by any crack (overlaps counted once); ``None`` means the cracks do not
            overlap and the sum of their ``area_px`` is used.
    """

    cracks: tuple[CrackMeasurement, ...]
    resolution_wh: tuple[int, int]
    mm_per_px: float | None
    union_area_px: int | None = None

    def __post_init__(self) -> None:
        if len(self.resolution_wh) != 2 or min(self.resolution_wh) < 1:
            raise ValueError(f"resolution_wh must be positive (width, height), got {self.resolution_wh}")
        width, height = self.resolution_wh
        if self.mm_per_px is not None and not 0 < self.mm_per_px < math.inf:
            raise ValueError(f"mm_per_px must be None or a finite number > 0, got {self.mm_per_px!r}")
        if self.union_area_px is not None and not 0 <= self.union_area_px <= width * height:
            raise ValueError(f"union_area_px must be in [0, {width * height}], got {self.union_area_px}")

    @property
    def count(self) -> int:
        return len(self.cracks)

    @property
    def crack_area_px(self) -> int:
        """Pixels covered by any crack, overlapping instances counted once."""
        if self.union_area_px is not None:
            return int(self.union_area_px)
        return int(sum(crack.area_px for crack in self.cracks))

    @property
    def crack_area_mm2(self) -> float | None:
        return None if self.mm_per_px is None else self.crack_area_px * self.mm_per_px**2

    @property
    def crack_area_pct(self) -> float:
        """Share of the image covered by cracks, in percent (0-100): the one name and scale used everywhere."""
        width, height = self.resolution_wh
        return 100.0 * self.crack_area_px / (width * height)

    @property
    def total_length_px(self) -> float:
        return float(sum(crack.length_px for crack in self.cracks))

    @property
    def total_length_mm(self) -> float | None:
        return None if self.mm_per_px is None else self.total_length_px * self.mm_per_px

    @property
    def max_width_px(self) -> float:
        """Widest point over all cracks; 0 when there are none."""
        return max((crack.max_width_px for crack in self.cracks), default=0.0)

    @property
    def max_width_mm(self) -> float | None:
        return None if self.mm_per_px is None else self.max_width_px * self.mm_per_px

    @property
    def worst_severity(self) -> str:
        """``"none"`` without cracks, ``"unknown"`` uncalibrated, else the highest crack severity."""
        if not self.cracks:
            return "none"
        if self.mm_per_px is None:
            return "unknown"
        return max((crack.severity for crack in self.cracks), key=lambda severity: SEVERITY_RANK[severity])

    @property
    def type_counts(self) -> dict[str, int]:
        """Number of cracks of each type, every type listed (0 when absent)."""
        counts = dict.fromkeys(CRACK_TYPES, 0)
        for crack in self.cracks:
            counts[crack.crack_type] += 1
        return counts

    def summary(self) -> dict[str, Any]:
        """Per-image totals as plain JSON types, named as the images table's columns (``export.schema``)."""
        return {
            "width_px": int(self.resolution_wh[0]),
            "height_px": int(self.resolution_wh[1]),
            "mm_per_px": None if self.mm_per_px is None else float(self.mm_per_px),
            "crack_count": self.count,
            "total_length_px": _round(self.total_length_px),
            "total_length_mm": _round(self.total_length_mm),
            "crack_area_px2": self.crack_area_px,
            "crack_area_mm2": _round(self.crack_area_mm2),
            "crack_area_pct": round(float(self.crack_area_pct), 4),
            "max_width_px": _round(self.max_width_px),
            "max_width_mm": _round(self.max_width_mm),
            "worst_severity": self.worst_severity,
            **{f"{name}_count": count for name, count in self.type_counts.items()},
        }

    def to_dict(self) -> dict[str, Any]:
        """``{"cracks": [...], "totals": summary()}`` in plain JSON types."""
        return {"cracks": [crack.to_dict() for crack in self.cracks], "totals": self.summary()}


def measure_crack_mask(
    mask: np.ndarray,
    settings: MeasurementSettings = MeasurementSettings(),
    *,
    crack_id: int = 1,
    confidence: float | None = None,
) -> CrackMeasurement:
    """Measure one crack given as an ``(H, W)`` bool (or integer, nonzero = crack) mask.

    The mask is treated as a single crack even if it has several pieces. Raises
    ``ValueError`` for an empty mask, a non-2-D array or a float array (threshold
    probabilities first).
    """
    mask = _as_bool_mask(mask)
    box = _bounding_slices(mask)
    if box is None:
        raise ValueError("mask is empty: there is no crack to measure")
    return _measure_crop(mask[box], settings, crack_id=crack_id, confidence=confidence)


def measure_prediction(
    prediction: CrackPrediction, settings: MeasurementSettings = MeasurementSettings()
) -> ImageMeasurement:
    """Measure every instance of ``prediction`` (``masks`` ``(N, H, W)`` bool).

    Instance ``i`` gets ``crack_id = i + 1`` and its confidence. An instance whose mask is empty (possible
    after resizing a model's tiny mask) is skipped, so ids always match prediction order. The union of the
    masks gives ``crack_area_px``, so overlapping instances are counted once.
    """
    cracks = []
    for index in range(len(prediction)):
        instance = prediction.masks[index]
        box = _bounding_slices(instance)
        if box is None:
            continue
        cracks.append(
            _measure_crop(instance[box], settings, crack_id=index + 1, confidence=float(prediction.confidence[index]))
        )
    return ImageMeasurement(
        cracks=tuple(cracks),
        resolution_wh=prediction.resolution_wh,
        mm_per_px=settings.mm_per_px,
        union_area_px=int(np.count_nonzero(prediction.union_mask)),
    )


def measure_binary_mask(mask: np.ndarray, settings: MeasurementSettings = MeasurementSettings()) -> ImageMeasurement:
    """Measure an ``(H, W)`` bool (or integer) mask from any tool, one crack per 8-connected component.

    Components are numbered 1..N in raster order of their first pixel; confidence is ``None``.
    """
    mask = _as_bool_mask(mask)
    labels, _ = ndimage.label(mask, structure=_EIGHT_CONNECTED)
    cracks = []
    for index, box in enumerate(ndimage.find_objects(labels), start=1):
        cracks.append(_measure_crop(labels[box] == index, settings, crack_id=index, confidence=None))
    height, width = mask.shape
    return ImageMeasurement(
        cracks=tuple(cracks),
        resolution_wh=(int(width), int(height)),
        mm_per_px=settings.mm_per_px,
        union_area_px=int(np.count_nonzero(mask)),
    )


# --- internals ---------------------------------------------------------------------------------------------


def _round(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(float(value), digits)


def _as_bool_mask(mask: np.ndarray) -> np.ndarray:
    """``(H, W)`` bool view/copy of ``mask``; never changes the input."""
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f"mask must be (H, W), got shape {mask.shape}")
    if mask.dtype == bool:
        return mask
    if np.issubdtype(mask.dtype, np.integer):
        return mask != 0
    raise ValueError(f"mask must be bool or integer (nonzero = crack), got dtype {mask.dtype}")


def _bounding_slices(mask: np.ndarray) -> tuple[slice, slice] | None:
    """Tight ``(rows, cols)`` slices around the True pixels of a 2-D mask, ``None`` when it is empty."""
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(mask[rows[0] : rows[-1] + 1].any(axis=0))
    return slice(int(rows[0]), int(rows[-1]) + 1), slice(int(cols[0]), int(cols[-1]) + 1)


def _measure_crop(
    crop: np.ndarray, settings: MeasurementSettings, *, crack_id: int, confidence: float | None
) -> CrackMeasurement:
    """Measure a tightly cropped non-empty ``(h, w)`` bool mask (padded by 1 px here)."""
    mask = np.pad(crop, 1)
    edt = skeleton_graph.distance_transform(mask)
    skeleton = skeletonize(mask)
    if not skeleton.any():  # defensive: thinning keeps every component, but never measure nothing
        skeleton = edt == edt.max()
    links = skeleton_graph.skeleton_links(skeleton)
    degree = skeleton_graph.degree(links, skeleton.shape)
    pruned = skeleton_graph.prune_spurs(skeleton, edt, links=links, degree=degree)
    if pruned is not skeleton:  # the graph changed: rebuild it
        skeleton, links = pruned, skeleton_graph.skeleton_links(pruned)
        degree = skeleton_graph.degree(links, skeleton.shape)
    length_px = skeleton_graph.length(links, degree, skeleton, edt)
    widths = skeleton_graph.widths(skeleton, edt)
    body_widths = skeleton_graph.trimmed_widths(skeleton, degree, edt, widths)
    mean_width_px = float(body_widths.mean())
    max_width_px = float(body_widths.max())
    orientation = orientation_deg(mask)
    area_px = int(np.count_nonzero(crop))
    crack_type = crack_type_of(mask, orientation, mean_width_px, settings.type_tolerance_deg)
    scale = settings.mm_per_px
    return CrackMeasurement(
        crack_id=int(crack_id),
        area_px=area_px,
        length_px=length_px,
        mean_width_px=mean_width_px,
        max_width_px=max_width_px,
        orientation_deg=orientation,
        crack_type=crack_type,
        severity=severity_of(None if scale is None else mean_width_px * scale, settings.severity_thresholds_mm),
        confidence=None if confidence is None else float(confidence),
        area_mm2=None if scale is None else area_px * scale**2,
        length_mm=None if scale is None else length_px * scale,
        mean_width_mm=None if scale is None else mean_width_px * scale,
        max_width_mm=None if scale is None else max_width_px * scale,
    )
