"""A camera profile from lane masks: the lane's two edges give the horizon, its known width the scale.

On a flat, straight road the image of a lane of constant width ``W`` is a trapezoid
whose width in pixels grows linearly with the row: ``width(v) = W cos(pitch) (v - v_h) / h``,
zero at the horizon row ``v_h``. Fitting each edge as a line ``x = a + b v`` over the
rows where the lane is seen gives the vanishing point (where the edges meet) and the
slope of the width; with the lane width known this fixes the camera height for a
given focal length. The focal length cannot be told from one lane (it trades off
against pitch), so it is assumed (a horizontal field of view): lateral scale does not
depend on it, forward distances scale with it. The profile is made in ``points`` mode
from the lane itself (four edge points, near and far), so a camera turned slightly
off the lane's direction is handled.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from crackseg.geometry.camera import CameraProfile, CameraProfileError, GroundRegion


@dataclass(frozen=True)
class LaneFit:
    """The lane's edges fitted as ``x = a + b * row`` (left and right), over rows ``rows``."""

    left: tuple[float, float]
    right: tuple[float, float]
    rows: tuple[int, int]
    image_wh: tuple[int, int]

    @property
    def horizon_row(self) -> float:
        """The row where the two edges meet (the vanishing point's row)."""
        (al, bl), (ar, br) = self.left, self.right
        if abs(br - bl) < 1e-9:
            raise CameraProfileError("lane calibration: the lane edges are parallel in the image (no horizon)")
        return (al - ar) / (br - bl)

    @property
    def width_slope(self) -> float:
        """Growth of the lane's width in pixels per row."""
        return self.right[1] - self.left[1]

    def edges_at(self, row: float) -> tuple[float, float]:
        """Left and right edge columns at ``row``."""
        return self.left[0] + self.left[1] * row, self.right[0] + self.right[1] * row


def fit_lane(mask: np.ndarray, min_rows: int = 20) -> LaneFit:
    """Fit both edges of a lane mask (bool ``(H, W)``); rows touching the frame's sides are left out."""
    mask = np.asarray(mask, dtype=bool)
    height, width = mask.shape
    rows, lefts, rights = [], [], []
    for row in range(height):
        columns = np.flatnonzero(mask[row])
        if len(columns) < 2 or columns[0] == 0 or columns[-1] == width - 1:
            continue
        rows.append(row)
        lefts.append(columns[0])
        rights.append(columns[-1] + 1)
    if len(rows) < min_rows:
        raise CameraProfileError(f"lane calibration: the lane is seen on only {len(rows)} rows inside the frame")
    rows_array = np.asarray(rows, dtype=float)
    left = np.polyfit(rows_array, np.asarray(lefts, float), 1)
    right = np.polyfit(rows_array, np.asarray(rights, float), 1)
    return LaneFit(
        (float(left[1]), float(left[0])), (float(right[1]), float(right[0])), (rows[0], rows[-1]), (width, height)
    )


def mean_lane_mask(masks: Iterable[np.ndarray], image_wh: tuple[int, int], share: float = 0.5) -> np.ndarray:
    """The pixels that are lane in at least ``share`` of the masks of size ``image_wh`` (others are skipped)."""
    total, count = np.zeros((image_wh[1], image_wh[0]), dtype=np.float64), 0
    for mask in masks:
        if mask.shape != (image_wh[1], image_wh[0]):
            continue
        total += mask.astype(bool)
        count += 1
    if count == 0:
        raise CameraProfileError(f"lane calibration: no lane mask of size {image_wh[0]}x{image_wh[1]}")
    return total / count >= share


def profile_from_lane(
    fit: LaneFit,
    *,
    name: str,
    lane_width_m: float = 3.6,
    hfov_deg: float = 60.0,
    near_row: float | None = None,
    far_row: float | None = None,
    mm_per_px: float = 10.0,
    margin_m: float = 0.0,
) -> CameraProfile:
    """A ``points`` profile on the fitted lane between ``near_row`` and ``far_row`` (defaults: the fitted rows).

    The rectangle is the lane (``lane_width_m`` wide); its length and its near edge's distance come from the
    camera the fit implies at the assumed field of view. ``margin_m`` widens the region beyond the lane.
    """
    width, height = fit.image_wh
    horizon = fit.horizon_row
    near = float(fit.rows[1] if near_row is None else near_row)
    far = float(fit.rows[0] if far_row is None else far_row)
    if not horizon < far < near:
        raise CameraProfileError("lane calibration: the rows must lie below the horizon, far above near")
    focal = (width / 2) / math.tan(math.radians(hfov_deg) / 2)
    pitch = math.atan2(height / 2 - horizon, focal)
    camera_height = lane_width_m * math.cos(pitch) / fit.width_slope
    near_m, far_m = (_forward_m(row, horizon, focal, pitch, camera_height) for row in (near, far))
    points = (
        (fit.edges_at(near)[0], near),
        (fit.edges_at(near)[1], near),
        (fit.edges_at(far)[1], far),
        (fit.edges_at(far)[0], far),
    )
    half = lane_width_m / 2 + margin_m
    return CameraProfile(
        name=name,
        image_wh=(width, height),
        points_px=points,
        rectangle_m=(lane_width_m, far_m - near_m),
        near_m=near_m,
        region=GroundRegion((-half, half), (near_m, far_m)),
        mm_per_px=mm_per_px,
        notes=(
            f"from lane masks: horizon row {horizon:.1f}, camera about {camera_height:.2f} m high and "
            f"{math.degrees(pitch):.1f} deg down at an assumed {hfov_deg:g} deg field of view; lane {lane_width_m:g} m"
        ),
    )


def _forward_m(row: float, horizon: float, focal: float, pitch: float, camera_height: float) -> float:
    """Distance ahead on the road of an image row, for a pitched pinhole camera."""
    depth = focal * camera_height / (math.cos(pitch) * (row - horizon))
    return (depth - camera_height * math.sin(pitch)) / math.cos(pitch)
