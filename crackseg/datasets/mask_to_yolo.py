"""Binary crack masks -> YOLO segmentation polygons (one polygon per crack instance).

Why: DeepCrack and the survey-vehicle frames come as image/mask pairs, while
Ultralytics trains on polygon label files. A polygon cannot hold a hole and a
crack can be one pixel wide, so the conversion is done with care:

- instances are the 8-connected components of the mask (optionally after a
  morphological closing that joins dashed annotations into whole cracks);
- components smaller than ``min_area_px`` are dropped (annotation specks);
- a component with holes (a crack loop, an alligator cell) becomes one polygon
  whose outline walks into each hole and back along a zero-width bridge, with
  the hole traced the opposite way round, so filling the polygon leaves the
  hole empty;
- a one-pixel-wide crack keeps a there-and-back outline: filling it draws the
  crack's pixels, and simplification never reduces an outline below 3 points.

Coordinates are written as YOLO wants them: normalised to [0, 1] with pixel
``x`` at ``(x + 0.5) / width``, the convention ``labelled.polygons_to_masks``
reads back (tested by round trips on hand-drawn masks).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

DEFAULT_MIN_AREA_PX = 12
DEFAULT_SIMPLIFY_PX = 1.0


@dataclass(frozen=True)
class ConversionSettings:
    """How masks become polygons.

    closing_px: side of the elliptical closing kernel that joins dashed strokes into
        one crack (0: none). The survey-vehicle masks are dashes and specks along each
        crack; 7 joins gaps of up to 4 px between 3-px strokes (tested) without
        merging cracks that lie apart. It does not join every fragment: on 20
        survey frames it cuts the component count by about 40 %.
    min_area_px: components with fewer pixels (after closing) are dropped.
    simplify_px: Douglas-Peucker tolerance of the outlines, in pixels.
    """

    closing_px: int = 0
    min_area_px: int = DEFAULT_MIN_AREA_PX
    simplify_px: float = DEFAULT_SIMPLIFY_PX

    def __post_init__(self) -> None:
        if self.closing_px < 0 or self.min_area_px < 1 or self.simplify_px < 0:
            raise ValueError(
                "closing_px >= 0, min_area_px >= 1 and simplify_px >= 0 expected, got "
                f"{self.closing_px}, {self.min_area_px}, {self.simplify_px}"
            )


def close_dashes(mask: np.ndarray, closing_px: int) -> np.ndarray:
    """Join dashed strokes of a ``(H, W)`` bool mask with an elliptical closing of side ``closing_px``."""
    if closing_px <= 1:
        return mask.astype(bool)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (closing_px, closing_px))
    padded = cv2.copyMakeBorder(
        mask.astype(np.uint8), closing_px, closing_px, closing_px, closing_px, cv2.BORDER_CONSTANT
    )
    closed = cv2.morphologyEx(padded, cv2.MORPH_CLOSE, kernel)
    return closed[closing_px:-closing_px, closing_px:-closing_px].astype(bool)


def mask_to_polygons(mask: np.ndarray, settings: ConversionSettings | None = None) -> list[np.ndarray]:
    """Crack instances of a ``(H, W)`` bool mask as polygons, each ``(K, 2)`` float64 pixel ``(x, y)``, K >= 3."""
    if mask.ndim != 2:
        raise ValueError(f"mask must be (H, W), got shape {mask.shape}")
    settings = settings or ConversionSettings()
    closed = close_dashes(mask, settings.closing_px).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(closed, connectivity=8)
    polygons = []
    for label in range(1, count):
        if stats[label, cv2.CC_STAT_AREA] < settings.min_area_px:
            continue
        x, y, w, h = (
            int(stats[label, key]) for key in (cv2.CC_STAT_LEFT, cv2.CC_STAT_TOP, cv2.CC_STAT_WIDTH, cv2.CC_STAT_HEIGHT)
        )
        component = np.pad((labels[y : y + h, x : x + w] == label).astype(np.uint8), 1)
        polygon = _component_polygon(component, settings.simplify_px)
        polygons.append(polygon + np.array([x - 1, y - 1], dtype=np.float64))
    return polygons


def _component_polygon(component: np.ndarray, simplify_px: float) -> np.ndarray:
    """One 8-connected component (zero-padded uint8) as a single polygon with its holes bridged in."""
    contours, hierarchy = cv2.findContours(component, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_NONE)
    # RETR_CCOMP: top-level contours are outer boundaries (one here), their children are holes.
    outer_index = next(i for i, node in enumerate(hierarchy[0]) if node[3] < 0)
    outer = _oriented(_simplified(contours[outer_index], simplify_px), clockwise=True)
    holes = [
        _oriented(_simplified(contours[i], simplify_px), clockwise=False)
        for i, node in enumerate(hierarchy[0])
        if node[3] == outer_index and len(contours[i]) >= 3
    ]
    return _bridge_holes(outer, holes)


def _simplified(contour: np.ndarray, simplify_px: float) -> np.ndarray:
    """Douglas-Peucker simplification that keeps at least 3 points (thin cracks stay drawable)."""
    points = contour.reshape(-1, 2).astype(np.float64)
    if simplify_px > 0 and len(points) > 3:
        reduced = cv2.approxPolyDP(contour, simplify_px, closed=True).reshape(-1, 2).astype(np.float64)
        if len(reduced) >= 3:
            return reduced
        # A straight one-pixel line reduces to its two ends: keep the far end between them.
        far = int(np.argmax(np.linalg.norm(points - points[0], axis=1)))
        return points[[0, far // 2, far]] if 0 < far // 2 < far else points[[0, far, len(points) - 1]]
    if len(points) >= 3:
        return points
    return np.vstack([points, points[-1:]] * (3 - len(points) + 1))[:3]


def _oriented(points: np.ndarray, *, clockwise: bool) -> np.ndarray:
    """``points`` in the requested turning direction (image coordinates, y down)."""
    x, y = points[:, 0], points[:, 1]
    signed_area = 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(np.roll(x, -1), y))
    is_clockwise = signed_area > 0  # y points down, so a positive shoelace area turns clockwise on screen
    return points if is_clockwise == clockwise else points[::-1].copy()


def _bridge_holes(outer: np.ndarray, holes: list[np.ndarray]) -> np.ndarray:
    """Splice each hole into the outline at its nearest outer vertex, going in and back out."""
    insertions: dict[int, list[np.ndarray]] = {}
    for hole in holes:
        distances = np.linalg.norm(outer[:, None, :] - hole[None, :, :], axis=2)
        outer_at, hole_at = np.unravel_index(int(np.argmin(distances)), distances.shape)
        loop = np.vstack([np.roll(hole, -int(hole_at), axis=0), hole[hole_at : hole_at + 1]])
        insertions.setdefault(int(outer_at), []).append(loop)
    if not insertions:
        return outer
    pieces = []
    for index, point in enumerate(outer):
        pieces.append(point[None, :])
        for loop in insertions.get(index, []):
            pieces.append(loop)
            pieces.append(point[None, :])
    return np.vstack(pieces)


def polygons_to_yolo_lines(polygons: list[np.ndarray], resolution_wh: tuple[int, int], class_id: int = 0) -> list[str]:
    """YOLO label lines ``class x1 y1 x2 y2 ...`` for pixel polygons of an image of ``resolution_wh``."""
    width, height = resolution_wh
    lines = []
    for polygon in polygons:
        normalised = np.clip((polygon + 0.5) / np.array([width, height], dtype=np.float64), 0.0, 1.0)
        lines.append(" ".join([str(class_id), *(f"{value:.6f}" for value in normalised.reshape(-1))]))
    return lines


def mask_to_yolo_lines(mask: np.ndarray, settings: ConversionSettings | None = None, class_id: int = 0) -> list[str]:
    """A ``(H, W)`` bool mask straight to YOLO label lines (empty list: a crack-free image)."""
    height, width = mask.shape
    return polygons_to_yolo_lines(mask_to_polygons(mask, settings), (width, height), class_id)
