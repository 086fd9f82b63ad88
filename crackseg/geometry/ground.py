"""The ground view of one frame size: frame pixels <-> metres on the road <-> bird's-eye pixels.

``GroundView.for_frame(profile, (w, h))`` fixes three homographies:

* ``image_to_ground``: frame pixel ``(u, v)`` -> road point ``(x, y)`` in metres
  (x to the right, y forward);
* ``ground_to_top``: road metres -> bird's-eye pixel, the region's far-left corner at
  the top-left, ``mm_per_px`` per pixel on both axes (so forward is up, as a driver sees it);
* ``image_to_top`` = their product, used by ``cv2.warpPerspective``.

The region's outline in the frame (``region_mask``) bounds everything reported:
masks warped back from the top view are cut to it, so nothing at or above the
horizon, or off the region, can ever be marked.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np

from crackseg.geometry.camera import CameraProfile, CameraProfileError, GroundRegion

MAX_TOP_VIEW_PIXELS = 40_000_000  # a 4 x 100 m region at 10 mm/px; more is a profile mistake


@dataclass(frozen=True)
class GroundView:
    """One camera profile applied to frames of one size."""

    profile: CameraProfile
    frame_wh: tuple[int, int]
    image_to_ground: np.ndarray
    region: GroundRegion
    mm_per_px: float
    rescaled: bool = False
    _masks: dict[str, np.ndarray] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def for_frame(cls, profile: CameraProfile, frame_wh: tuple[int, int]) -> GroundView:
        """The view of ``profile`` for frames of ``frame_wh`` (the profile is rescaled when sizes differ)."""
        frame_wh = (int(frame_wh[0]), int(frame_wh[1]))
        scaled = profile.scaled_to(frame_wh)
        homography = _image_to_ground(scaled)
        view = cls(
            scaled, frame_wh, homography, scaled.ground_region, float(scaled.mm_per_px), frame_wh != profile.image_wh
        )
        top_w, top_h = view.top_wh
        if top_w * top_h > MAX_TOP_VIEW_PIXELS:
            raise CameraProfileError(
                f"camera profile: the region at {view.mm_per_px:g} mm/px makes a {top_w}x{top_h} top view; "
                "raise mm_per_px or shrink the region"
            )
        view._check_region_visible()
        return view

    @property
    def note(self) -> str:
        """A one-line note when the frame size differs from the profile's (the profile was rescaled)."""
        if not self.rescaled:
            return ""
        return f"frame {self.frame_wh[0]}x{self.frame_wh[1]} differs from the profile's size: profile rescaled"

    @property
    def top_wh(self) -> tuple[int, int]:
        """Bird's-eye view size in pixels."""
        scale = 1000.0 / self.mm_per_px
        return max(1, round(self.region.width_m * scale)), max(1, round(self.region.length_m * scale))

    @property
    def ground_to_top(self) -> np.ndarray:
        """Road metres -> bird's-eye pixels (far-left corner of the region at (0, 0))."""
        scale = 1000.0 / self.mm_per_px
        x0, y1 = self.region.lateral_m[0], self.region.forward_m[1]
        return np.array([[scale, 0.0, -x0 * scale], [0.0, -scale, y1 * scale], [0.0, 0.0, 1.0]])

    @property
    def image_to_top(self) -> np.ndarray:
        """Frame pixels -> bird's-eye pixels."""
        return self.ground_to_top @ self.image_to_ground

    @property
    def ground_to_image(self) -> np.ndarray:
        """Road metres -> frame pixels."""
        return np.linalg.inv(self.image_to_ground)

    def to_ground(self, points_px: np.ndarray) -> np.ndarray:
        """Frame pixels ``(N, 2)`` -> road metres ``(N, 2)``."""
        return _apply(self.image_to_ground, points_px)

    def to_image(self, points_m: np.ndarray) -> np.ndarray:
        """Road metres ``(N, 2)`` -> frame pixels ``(N, 2)``."""
        return _apply(self.ground_to_image, points_m)

    def top_to_ground(self, points_top: np.ndarray) -> np.ndarray:
        """Bird's-eye pixels ``(N, 2)`` -> road metres ``(N, 2)``."""
        return _apply(np.linalg.inv(self.ground_to_top), points_top)

    def horizon_row(self, column: float | None = None) -> float:
        """The row of the horizon (the image of the road's line at infinity) at ``column`` (default: centre)."""
        line = self.image_to_ground[2]  # points with w = 0 map to infinity
        u = self.frame_wh[0] / 2 if column is None else column
        if abs(line[1]) < 1e-12:
            return -math.inf
        return float(-(line[0] * u + line[2]) / line[1])

    def region_corners_px(self) -> np.ndarray:
        """The region's four corners in the frame: near-left, near-right, far-right, far-left."""
        (x0, x1), (y0, y1) = self.region.lateral_m, self.region.forward_m
        return self.to_image(np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=float))

    def region_mask(self) -> np.ndarray:
        """Boolean ``(H, W)`` mask of the region in the frame (below the horizon by construction); computed once."""
        if "region" in self._masks:
            return self._masks["region"]
        width, height = self.frame_wh
        mask = np.zeros((height, width), dtype=np.uint8)
        corners = np.round(self.region_corners_px() * 16).astype(np.int32)
        cv2.fillPoly(mask, [corners], 1, lineType=cv2.LINE_8, shift=4)
        self._masks["region"] = mask.astype(bool)
        return self._masks["region"]

    def to_top(self, rgb: np.ndarray) -> np.ndarray:
        """Warp the frame's region to the bird's-eye view (area outside the frame is black)."""
        return cv2.warpPerspective(
            rgb, self.image_to_top, self.top_wh, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT
        )

    def top_visible_mask(self) -> np.ndarray:
        """Boolean mask of the bird's-eye pixels that the frame actually shows (inside the frame); computed once."""
        if "visible" in self._masks:
            return self._masks["visible"]
        ones = np.full((self.frame_wh[1], self.frame_wh[0]), 255, dtype=np.uint8)
        warped = cv2.warpPerspective(ones, self.image_to_top, self.top_wh, flags=cv2.INTER_NEAREST, borderValue=0)
        self._masks["visible"] = warped > 0
        return self._masks["visible"]

    def labels_to_frame(self, top_labels: np.ndarray) -> np.ndarray:
        """Warp a bird's-eye label image (0 = nothing, k = instance k; uint16) onto the frame, cut to the region."""
        warped = cv2.warpPerspective(
            top_labels.astype(np.uint16),
            np.linalg.inv(self.image_to_top),
            self.frame_wh,
            flags=cv2.INTER_NEAREST,
            borderValue=0,
        )
        warped[~self.region_mask()] = 0
        return warped

    def masks_to_top(self, masks: np.ndarray) -> np.ndarray:
        """Warp frame masks ``(N, H, W)`` bool onto the bird's-eye view, each with linear interpolation
        (a thin crack in the finely resolved near field is not lost where the top view is coarser)."""
        top_w, top_h = self.top_wh
        out = np.zeros((len(masks), top_h, top_w), dtype=bool)
        for index, mask in enumerate(masks):
            warped = cv2.warpPerspective(
                mask.astype(np.uint8) * 255, self.image_to_top, (top_w, top_h), flags=cv2.INTER_LINEAR, borderValue=0
            )
            out[index] = warped >= 64
        return out

    def resolution_at(self, forward_m: float, lateral_m: float = 0.0) -> tuple[float, float]:
        """Ground size of one frame pixel at a road point: ``(across_mm, along_mm)``.

        ``across`` is the lateral extent of a pixel step along the row, ``along`` the forward
        extent of a pixel step down the column: what the camera really resolves there.
        """
        u, v = self.to_image(np.array([[lateral_m, forward_m]]))[0]
        here = self.to_ground(np.array([[u, v], [u + 1, v], [u, v + 1]]))
        across = float(np.hypot(*(here[1] - here[0]))) * 1000
        along = float(np.hypot(*(here[2] - here[0]))) * 1000
        return across, along

    def resolution_table(
        self, distances_m: tuple[float, ...] = (3, 4, 5, 6, 8, 10, 12, 15, 20, 30)
    ) -> list[dict[str, float]]:
        """Per forward distance on the camera axis: the frame row and the ground size of a pixel (mm)."""
        rows = []
        for distance in distances_m:
            u, v = self.to_image(np.array([[0.0, float(distance)]]))[0]
            if not (0 <= v < self.frame_wh[1]):
                continue
            across, along = self.resolution_at(float(distance))
            rows.append(
                {
                    "forward_m": float(distance),
                    "frame_row_px": round(float(v), 1),
                    "across_mm_per_px": round(across, 1),
                    "along_mm_per_px": round(along, 1),
                }
            )
        return rows

    def to_dict(self) -> dict[str, object]:
        """What is recorded with street-view results: the profile, the frame size and the top view."""
        return {
            "profile": self.profile.to_dict(),
            "frame_wh": list(self.frame_wh),
            "top_wh": list(self.top_wh),
            "horizon_row_px": round(self.horizon_row(), 1),
            "rescaled": self.rescaled,
        }

    def _check_region_visible(self) -> None:
        corners = self.region_corners_px()
        if not np.all(np.isfinite(corners)):
            raise CameraProfileError("camera profile: the region does not project into the frame")
        horizon = self.horizon_row()
        if np.min(corners[:, 1]) <= horizon:
            raise CameraProfileError("camera profile: the region reaches the horizon; shorten region.forward_m")
        if not self.region_mask().any():
            raise CameraProfileError("camera profile: the region lies outside the frame")


def _image_to_ground(profile: CameraProfile) -> np.ndarray:
    """The frame -> road homography of a profile (already at the frame's size)."""
    if profile.mode == "points":
        assert profile.points_px is not None and profile.rectangle_m is not None
        width, length = profile.rectangle_m
        near = profile.near_m
        ground = np.array(
            [[-width / 2, near], [width / 2, near], [width / 2, near + length], [-width / 2, near + length]],
            dtype=np.float64,
        )
        image = np.array(profile.points_px, dtype=np.float64)
        homography = cv2.getPerspectiveTransform(image.astype(np.float32), ground.astype(np.float32)).astype(np.float64)
        return homography / homography[2, 2] if abs(homography[2, 2]) > 1e-12 else homography
    assert profile.height_m is not None
    focal, pitch, height = profile.focal, profile.pitch_rad, float(profile.height_m)
    cx, cy = profile.image_wh[0] / 2, profile.image_wh[1] / 2
    intrinsics = np.array([[focal, 0.0, cx], [0.0, focal, cy], [0.0, 0.0, 1.0]])
    sin, cos = math.sin(pitch), math.cos(pitch)
    # Road point (x, y, 0) seen from a camera at height h pitched down: camera right = x,
    # camera down = -y sin + h cos, camera forward = y cos + h sin.
    ground_to_camera = np.array([[1.0, 0.0, 0.0], [0.0, -sin, height * cos], [0.0, cos, height * sin]])
    ground_to_image = intrinsics @ ground_to_camera
    homography = np.linalg.inv(ground_to_image)
    return homography / homography[2, 2] if abs(homography[2, 2]) > 1e-12 else homography


def _apply(homography: np.ndarray, points: np.ndarray) -> np.ndarray:
    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    homogeneous = np.hstack([points, np.ones((len(points), 1))]) @ homography.T
    with np.errstate(divide="ignore", invalid="ignore"):
        return homogeneous[:, :2] / homogeneous[:, 2:3]
