"""Predicted crack masks against labelled damage boxes (street-view datasets such as RDD2022).

Boxes say where damage is, not which pixels are crack, and not every crack is
boxed. So three numbers, per class and over all crack classes:

- **recall of boxes**: a box is *found* when predicted crack pixels cover at
  least ``min_coverage`` of its pixels (default ``DEFAULT_MIN_COVERAGE`` = 0.02).
  A crack traced along a box covers about its width over the box's short side:
  RDD crack boxes in 600-640 px photos are 60-250 px across and cracks 2-6 px
  wide, so a fully traced crack covers 2-8 % of its box. 0.02 counts a crack
  traced along most of its box at 2-4 px width, and still needs a few hundred
  crack pixels in a box of 100 x 150 px, which stray false alarms rarely supply.
  The per-box ``coverage`` is kept, so recall at any other threshold follows
  from the same run (``BoxMetricsResult.recall_at``).
- **in-box share**: predicted crack pixels inside any labelled box, over all
  predicted crack pixels (the false-alarm proxy; per class: inside that class's
  boxes). Pixels belong to a box when their centres lie in it.
- **type agreement**: over found crack boxes, the share whose *dominant crack*
  (the predicted instance with the most pixels inside the box) has the box's
  type: D00 longitudinal, D10 transverse, D20 (alligator) network
  (``CRACK_CLASS_TYPES``). Our ``diagonal`` type (20-70 degrees from the
  direction of travel) has no RDD class; it is compared as the nearer of the
  two directions, longitudinal when ``|orientation_deg| < 45`` else transverse
  (``comparable_type``). Boxes of other classes (D40 pothole) get recall and
  in-box share but no type. Needs instances with types; with only a union mask
  it is undefined.

Empty conventions as in ``crackseg.metrics``: in-box share is precision-like
(no predicted pixel: 1.0 without boxes, else 0.0), recall as recall (no box:
1.0 without predicted pixels, else 0.0); type agreement with no compared box is
NaN (``null`` in JSON).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from crackseg.metrics.base import AccumulatingMetric, check_mask, ratio

DEFAULT_MIN_COVERAGE = 0.02
CRACK_CLASS_TYPES: dict[str, str] = {"D00": "longitudinal", "D10": "transverse", "D20": "network"}
ALL_CRACKS, ALL_BOXES = "all_cracks", "all_boxes"
CLASS_COLUMNS = (
    "class_name",
    "crack_type",
    "boxes",
    "found",
    "recall",
    "in_box_px",
    "in_box_share",
    "type_compared",
    "type_matches",
    "type_agreement",
)
BOX_COLUMNS = (
    "image",
    "box_id",
    "class_name",
    "x_min_px",
    "y_min_px",
    "x_max_px",
    "y_max_px",
    "area_px2",
    "crack_px",
    "coverage",
    "found",
    "crack_type",
    "compared_type",
    "type_match",
)
IMAGE_COLUMNS = ("image", "boxes", "found", "predicted_px", "in_box_px", "in_box_share")


def comparable_type(crack_type: str, orientation_deg: float) -> str:
    """Our crack type as compared with RDD classes: ``diagonal`` becomes the nearer direction."""
    if crack_type == "diagonal":
        return "longitudinal" if abs(orientation_deg) < 45.0 else "transverse"
    return crack_type


def box_slices(xyxy: Sequence[float], resolution_wh: tuple[int, int]) -> tuple[slice, slice]:
    """``(rows, cols)`` of the pixels whose centres lie in a box (at least the pixel holding its centre)."""
    width, height = resolution_wh
    x_min, y_min, x_max, y_max = (float(value) for value in xyxy)

    def span(low: float, high: float, size: int) -> slice:
        start, stop = math.ceil(low - 0.5), math.ceil(high - 0.5)
        if stop <= start:  # thinner than a pixel centre: the pixel holding its middle
            start = math.floor((low + high) / 2)
            stop = start + 1
        return slice(min(max(start, 0), size - 1), min(max(stop, 1), size))

    return span(y_min, y_max, height), span(x_min, x_max, width)


@dataclass(frozen=True)
class TypedInstances:
    """Predicted crack instances with their measured types.

    Attributes:
        masks: ``(N, H, W)`` bool, one mask per instance.
        crack_types: ``N`` types (longitudinal, transverse, diagonal, network; ``None``: not measured).
        orientation_deg: ``(N,)`` float, orientation from the direction of travel in (-90, 90].
    """

    masks: np.ndarray
    crack_types: tuple[str | None, ...]
    orientation_deg: np.ndarray

    def __post_init__(self) -> None:
        check_mask("masks", self.masks, 3)
        count = self.masks.shape[0]
        if len(self.crack_types) != count or np.shape(self.orientation_deg) != (count,):
            raise ValueError(
                f"{count} masks need {count} crack types and orientations, got {len(self.crack_types)} and "
                f"{np.shape(self.orientation_deg)}"
            )


@dataclass(frozen=True)
class BoxMetricsResult:
    """Box recall, in-box share and type agreement; tables per class, per box and per image.

    ``per_class`` has ``CLASS_COLUMNS``, one row per class with boxes (by name),
    then ``all_cracks`` (the classes of ``CRACK_CLASS_TYPES``) and ``all_boxes``.
    """

    min_coverage: float
    images: int
    predicted_px: int
    in_box_px: int
    in_box_share: float
    crack_boxes: int
    crack_found: int
    crack_recall: float
    type_compared: int
    type_matches: int
    type_agreement: float
    per_class: pd.DataFrame = field(repr=False)
    per_box: pd.DataFrame = field(repr=False)
    per_image: pd.DataFrame = field(repr=False)

    def to_dict(self) -> dict[str, int | float]:
        """The headline numbers (no tables), plain Python numbers; NaN stays NaN (``to_jsonable`` makes it null)."""
        return {
            key: getattr(self, key)
            for key in (
                "min_coverage",
                "images",
                "predicted_px",
                "in_box_px",
                "in_box_share",
                "crack_boxes",
                "crack_found",
                "crack_recall",
                "type_compared",
                "type_matches",
                "type_agreement",
            )
        }

    def to_pandas(self) -> pd.DataFrame:
        """The per-class table (``CLASS_COLUMNS``)."""
        return self.per_class.copy()

    def recall_at(self, min_coverage: float) -> float:
        """Crack-box recall had a box needed ``min_coverage`` of its pixels covered (from the per-box table)."""
        crack = self.per_box[self.per_box["class_name"].isin(CRACK_CLASS_TYPES)]
        found = int((crack["coverage"] >= min_coverage).sum())
        return float(ratio(found, len(crack), 1.0 if self.predicted_px == 0 else 0.0))


class BoxMetrics(AccumulatingMetric[BoxMetricsResult]):
    """Accumulate predicted crack masks against labelled boxes; ``compute()`` -> ``BoxMetricsResult``.

    Args:
        min_coverage: share of a box's pixels predicted crack for the box to be found, in (0, 1].
        crack_class_types: the crack classes and the type each means (default RDD2022's D00/D10/D20).
    """

    def __init__(
        self, min_coverage: float = DEFAULT_MIN_COVERAGE, crack_class_types: Mapping[str, str] = CRACK_CLASS_TYPES
    ) -> None:
        if isinstance(min_coverage, bool) or not isinstance(min_coverage, (int, float)) or not 0 < min_coverage <= 1:
            raise ValueError(f"min_coverage must be in (0, 1], got {min_coverage!r}")
        self.min_coverage = float(min_coverage)
        self.crack_class_types = dict(crack_class_types)
        super().__init__()

    def _reset_counts(self) -> None:
        self._boxes: list[dict[str, Any]] = []
        self._image_rows: list[dict[str, Any]] = []
        self._in_class_px: dict[str, int] = {}
        self._predicted_px = 0

    def update(
        self,
        pred_mask: np.ndarray,
        boxes_xyxy: np.ndarray,
        box_classes: Sequence[str],
        instances: TypedInstances | None = None,
        *,
        image: str = "",
    ) -> None:
        """Add one image.

        Args:
            pred_mask: ``(H, W)`` bool, every predicted crack pixel (the union of the instances).
            boxes_xyxy: ``(M, 4)`` float boxes in pixels of this image (max exclusive).
            box_classes: ``M`` class names (``"D00"``, ...).
            instances: the instances and their types, for type agreement; ``None``: types unknown.
            image: a name for the per-box and per-image rows.
        """
        pred = check_mask("pred_mask", pred_mask, 2)
        boxes = np.asarray(boxes_xyxy, dtype=np.float64).reshape(-1, 4)
        if len(box_classes) != len(boxes):
            raise ValueError(f"{len(boxes)} boxes need as many class names, got {len(box_classes)}")
        if instances is not None and instances.masks.shape[1:] != pred.shape:
            raise ValueError(f"instance masks {instances.masks.shape} do not match pred_mask {pred.shape}")
        height, width = pred.shape
        inside: dict[str, np.ndarray] = {}  # per class, then the crack classes, then every box: pixels inside
        found = 0
        for box_id, (xyxy, class_name) in enumerate(zip(boxes, box_classes, strict=True), start=1):
            rows, cols = box_slices(xyxy, (width, height))
            for key in (class_name, ALL_BOXES) + ((ALL_CRACKS,) if class_name in self.crack_class_types else ()):
                region = inside.setdefault(key, np.zeros(pred.shape, dtype=bool))
                region[rows, cols] = True
            area = (rows.stop - rows.start) * (cols.stop - cols.start)
            crack_px = int(np.count_nonzero(pred[rows, cols]))
            coverage = crack_px / area
            found += coverage >= self.min_coverage
            crack_type, compared = self._dominant_type(instances, rows, cols)
            expected = self.crack_class_types.get(class_name)
            match = None if expected is None or compared is None else compared == expected
            x_min, y_min, x_max, y_max = (float(value) for value in xyxy)
            self._boxes.append(
                {
                    "image": image,
                    "box_id": box_id,
                    "class_name": class_name,
                    "x_min_px": x_min,
                    "y_min_px": y_min,
                    "x_max_px": x_max,
                    "y_max_px": y_max,
                    "area_px2": area,
                    "crack_px": crack_px,
                    "coverage": coverage,
                    "crack_type": crack_type,
                    "compared_type": compared,
                    "type_match": match,
                }
            )
        predicted = int(np.count_nonzero(pred))
        for key, region in inside.items():
            self._in_class_px[key] = self._in_class_px.get(key, 0) + int(np.count_nonzero(pred & region))
        in_box = int(np.count_nonzero(pred & inside[ALL_BOXES])) if ALL_BOXES in inside else 0
        self._predicted_px += predicted
        self._image_rows.append(
            {
                "image": image,
                "boxes": len(boxes),
                "found": found,
                "predicted_px": predicted,
                "in_box_px": in_box,
                "in_box_share": float(ratio(in_box, predicted, 1.0 if len(boxes) == 0 else 0.0)),
            }
        )
        self._count_image()

    @staticmethod
    def _dominant_type(instances: TypedInstances | None, rows: slice, cols: slice) -> tuple[str | None, str | None]:
        """The raw and compared type of the instance with the most pixels in the box (``None`` if none is there)."""
        if instances is None or len(instances.crack_types) == 0:
            return None, None
        counts = np.count_nonzero(instances.masks[:, rows, cols], axis=(1, 2))
        best = int(np.argmax(counts))
        crack_type = instances.crack_types[best]
        if counts[best] == 0 or crack_type is None:
            return None, None
        return crack_type, comparable_type(crack_type, float(instances.orientation_deg[best]))

    def _compute(self) -> BoxMetricsResult:
        per_box = pd.DataFrame(self._boxes, columns=list(BOX_COLUMNS))
        per_box["found"] = per_box["coverage"] >= self.min_coverage
        per_box["type_match"] = per_box["type_match"].astype(object)
        names = sorted(set(per_box["class_name"]))
        is_crack = per_box["class_name"].isin(self.crack_class_types)
        groups = [(name, per_box["class_name"] == name) for name in names]
        groups += [(ALL_CRACKS, is_crack), (ALL_BOXES, pd.Series(True, index=per_box.index))]
        rows = [self._class_row(name, per_box[selected]) for name, selected in groups]
        per_class = pd.DataFrame(rows, columns=list(CLASS_COLUMNS))
        crack, every = rows[-2], rows[-1]
        return BoxMetricsResult(
            min_coverage=self.min_coverage,
            images=self.images,
            predicted_px=self._predicted_px,
            in_box_px=every["in_box_px"],
            in_box_share=every["in_box_share"],
            crack_boxes=crack["boxes"],
            crack_found=crack["found"],
            crack_recall=crack["recall"],
            type_compared=crack["type_compared"],
            type_matches=crack["type_matches"],
            type_agreement=crack["type_agreement"],
            per_class=per_class,
            per_box=per_box,
            per_image=pd.DataFrame(self._image_rows, columns=list(IMAGE_COLUMNS)),
        )

    def _class_row(self, name: str, boxes: pd.DataFrame) -> dict[str, Any]:
        count, found = len(boxes), int(boxes["found"].sum())
        compared = boxes[boxes["found"] & boxes["type_match"].notna()]
        matches = int(compared["type_match"].astype(bool).sum())
        in_box = self._in_class_px.get(name, 0)
        return {
            "class_name": name,
            "crack_type": self.crack_class_types.get(name, "") if name not in (ALL_CRACKS, ALL_BOXES) else "",
            "boxes": count,
            "found": found,
            "recall": float(ratio(found, count, 1.0 if self._predicted_px == 0 else 0.0)),
            "in_box_px": in_box,
            "in_box_share": float(ratio(in_box, self._predicted_px, 1.0 if count == 0 else 0.0)),
            "type_compared": len(compared),
            "type_matches": matches,
            "type_agreement": float(ratio(matches, len(compared), np.nan)),
        }
