"""Synthetic roads for the street-view and survey tests: a top-down texture with cracks of known size,
rendered into a perspective frame through a known camera, and a segmenter that finds dark lines.

The renderer is the inverse of what the street pipeline does (frame -> top view), computed with
the same ``GroundView`` homographies, so a crack drawn at a known place and size on the road must
come back there, at that size, in millimetres.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy import ndimage

from crackseg.geometry.ground import GroundView
from crackseg.inference.prediction import CrackPrediction


@dataclass(frozen=True)
class RoadTexture:
    """A top-down road image: ``mm_per_px`` per pixel, covering ``lateral_m`` x ``forward_m``."""

    rgb: np.ndarray
    mm_per_px: float
    lateral_m: tuple[float, float]
    forward_m: tuple[float, float]

    @property
    def ground_to_texture(self) -> np.ndarray:
        """Road metres -> texture pixels (far-left corner at (0, 0), forward is up)."""
        scale = 1000.0 / self.mm_per_px
        return np.array(
            [[scale, 0.0, -self.lateral_m[0] * scale], [0.0, -scale, self.forward_m[1] * scale], [0.0, 0.0, 1.0]]
        )

    def to_px(self, lateral: float, forward: float) -> tuple[int, int]:
        """The texture pixel of a road point."""
        point = self.ground_to_texture @ np.array([lateral, forward, 1.0])
        return int(round(point[0])), int(round(point[1]))


def asphalt(
    lateral_m: tuple[float, float], forward_m: tuple[float, float], mm_per_px: float, seed: int = 0
) -> RoadTexture:
    """Light grey asphalt with mild noise (never as dark as a crack)."""
    rng = np.random.default_rng(seed)
    width = round((lateral_m[1] - lateral_m[0]) * 1000 / mm_per_px)
    height = round((forward_m[1] - forward_m[0]) * 1000 / mm_per_px)
    grey = rng.integers(150, 190, size=(height, width), dtype=np.uint8)
    grey = cv2.GaussianBlur(grey, (3, 3), 0)
    return RoadTexture(np.dstack([grey, grey, grey]), mm_per_px, lateral_m, forward_m)


def draw_crack(texture: RoadTexture, start_m: tuple[float, float], end_m: tuple[float, float], width_mm: float) -> None:
    """A straight dark crack from ``start_m`` to ``end_m`` (lateral, forward) of ``width_mm`` on the texture."""
    thickness = max(1, round(width_mm / texture.mm_per_px))
    cv2.line(texture.rgb, texture.to_px(*start_m), texture.to_px(*end_m), (20, 20, 20), thickness, lineType=cv2.LINE_8)


def render_frame(texture: RoadTexture, view: GroundView, sky: tuple[int, int, int] = (200, 220, 250)) -> np.ndarray:
    """The frame the view's camera takes of the texture lying on the road; sky above the horizon."""
    width, height = view.frame_wh
    texture_to_image = view.ground_to_image @ np.linalg.inv(texture.ground_to_texture)
    frame = cv2.warpPerspective(
        texture.rgb, texture_to_image, (width, height), flags=cv2.INTER_AREA, borderValue=(120, 130, 110)
    )
    horizon = int(np.ceil(view.horizon_row())) + 1
    if horizon > 0:
        frame[: min(horizon, height)] = sky
    return frame


class DarkLineSegmenter:
    """A stand-in model with the ``Segmenter.predict`` interface: each 8-connected dark component is a crack."""

    def __init__(self, threshold: int = 80, min_area_px: int = 6) -> None:
        self.threshold = threshold
        self.min_area_px = min_area_px
        self.calls: list[tuple[int, int]] = []

    def predict(self, rgb: np.ndarray, settings: object = None) -> CrackPrediction:
        """Dark pixels, one instance per connected component of at least ``min_area_px``."""
        self.calls.append((rgb.shape[1], rgb.shape[0]))
        dark = rgb.max(axis=2) < self.threshold
        labels, count = ndimage.label(dark, structure=np.ones((3, 3), dtype=bool))
        masks = [labels == index for index in range(1, count + 1)]
        masks = [mask for mask in masks if mask.sum() >= self.min_area_px]
        if not masks:
            return CrackPrediction.empty((rgb.shape[1], rgb.shape[0]))
        return CrackPrediction.from_masks(np.stack(masks), np.full(len(masks), 0.9, dtype=np.float32))
