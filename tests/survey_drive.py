"""A synthetic drive for the survey tests: a top-down road texture with cracks at known places, rendered
frame by frame through a known camera into an MP4, with a matching GPX at a known speed (due north)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from crackseg.geometry.camera import CameraProfile, GroundRegion
from crackseg.geometry.ground import GroundView
from crackseg.inference.prediction import CrackPrediction

EARTH_RADIUS_M = 6_371_008.8
TEXTURE_MM = 10.0  # texture resolution
ROAD_HALF_M = 2.5
START_LAT, START_LON = 45.0, 7.0
START_TIME_S = 1_700_000_000.0

PROFILE = CameraProfile(
    name="test-camera",
    image_wh=(480, 270),
    height_m=2.0,
    pitch_deg=23.4,
    hfov_deg=50.0,
    region=GroundRegion((-1.2, 1.2), (3.5, 6.5)),
    mm_per_px=20.0,
)


@dataclass(frozen=True)
class DrawnCrack:
    """A crack drawn on the texture: a polyline in road metres (chainage, lateral) and its width."""

    points: tuple[tuple[float, float], ...]
    width_m: float = 0.06

    @property
    def centre(self) -> tuple[float, float]:
        """Length-weighted centre (chainage, lateral)."""
        pts = np.array(self.points)
        seg = np.hypot(*(pts[1:] - pts[:-1]).T)
        mids = (pts[1:] + pts[:-1]) / 2
        return tuple(np.average(mids, axis=0, weights=seg))


CRACKS = (
    DrawnCrack(((12.3, -0.8), (12.3, 0.8))),  # transverse
    DrawnCrack(((25.0, -0.6), (25.0, 0.9))),  # transverse
    DrawnCrack(((31.0, 0.5), (37.0, 0.5))),  # longitudinal, 6 m: crosses several slices
    DrawnCrack(((44.0, -0.9), (45.2, 0.3))),  # diagonal
    DrawnCrack(((57.5, -0.5), (57.5, 0.7))),  # transverse
)


def road_texture(length_m: float, cracks: tuple[DrawnCrack, ...] = CRACKS, seed: int = 0) -> np.ndarray:
    """RGB texture, rows = chainage (row r at r * 10 mm), cols = lateral from -ROAD_HALF_M."""
    rng = np.random.default_rng(seed)
    rows, cols = int(length_m * 1000 / TEXTURE_MM), int(2 * ROAD_HALF_M * 1000 / TEXTURE_MM)
    grey = (128 + rng.normal(0, 8, (rows, cols))).clip(90, 170).astype(np.uint8)
    texture = np.dstack([grey, grey, grey])
    scale = 1000 / TEXTURE_MM
    for crack in cracks:
        pts = np.array([[(lat + ROAD_HALF_M) * scale, ch * scale] for ch, lat in crack.points], np.int32)
        cv2.polylines(texture, [pts], False, (25, 25, 25), max(1, int(round(crack.width_m * scale))))
    return texture


def render_frame(texture: np.ndarray, view: GroundView, chainage_m: float) -> np.ndarray:
    """The camera's frame with the vehicle at ``chainage_m`` (RGB)."""
    scale = TEXTURE_MM / 1000
    texture_to_ground = np.array([[scale, 0, -ROAD_HALF_M], [0, scale, -chainage_m], [0, 0, 1.0]])
    homography = view.ground_to_image @ texture_to_ground
    width, height = view.frame_wh
    frame = cv2.warpPerspective(texture, homography, (width, height), flags=cv2.INTER_LINEAR, borderValue=(90, 140, 90))
    horizon = int(math.ceil(view.horizon_row())) + 2
    frame[: max(0, horizon)] = (150, 190, 230)
    return frame


def drive_frames(length_m: float = 70.0, speed_mps: float = 10.0, fps: float = 15.0) -> Iterator[np.ndarray]:
    """The drive's RGB frames, one every ``1 / fps`` seconds from chainage 0 to ``length_m``."""
    view = GroundView.for_frame(PROFILE, PROFILE.image_wh)
    texture = road_texture(length_m + 10)
    for k in range(int(round(length_m / speed_mps * fps)) + 1):
        yield render_frame(texture, view, speed_mps * k / fps)


def write_drive(
    folder: Path, length_m: float = 70.0, speed_mps: float = 10.0, fps: float = 15.0, name: str = "drive.mp4"
) -> tuple[Path, Path]:
    """Render the drive into ``folder/drive.mp4`` (mp4v) and its GPX (one fix a second); returns both paths."""
    duration = length_m / speed_mps
    video = folder / name
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), fps, PROFILE.image_wh)
    for frame in drive_frames(length_m, speed_mps, fps):
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    gpx = folder / "drive.gpx"
    gpx.write_text(gpx_text([(START_TIME_S + t, *north_of(speed_mps * t)) for t in range(int(duration) + 1)]))
    return video, gpx


def north_of(distance_m: float) -> tuple[float, float]:
    """The point ``distance_m`` due north of the start (lat, lon)."""
    return START_LAT + math.degrees(distance_m / EARTH_RADIUS_M), START_LON


def gpx_text(fixes: list[tuple[float, float, float]]) -> str:
    from datetime import datetime, timezone

    points = "".join(
        f'<trkpt lat="{lat:.9f}" lon="{lon:.9f}"><time>'
        f"{datetime.fromtimestamp(t, tz=timezone.utc).isoformat().replace('+00:00', 'Z')}</time></trkpt>"
        for t, lat, lon in fixes
    )
    return (
        '<?xml version="1.0"?><gpx version="1.1" creator="test" xmlns="http://www.topografix.com/GPX/1/1">'
        f"<trk><trkseg>{points}</trkseg></trk></gpx>"
    )


class DarkSegmenter:
    """A fake model: every 8-connected component of dark pixels (< 70) is a crack instance."""

    def predict(self, rgb: np.ndarray, settings: object = None) -> CrackPrediction:
        dark = (rgb.mean(axis=2) < 70).astype(np.uint8)
        count, labels = cv2.connectedComponents(dark, connectivity=8)
        masks = [labels == i for i in range(1, count) if (labels == i).sum() >= 8]
        if not masks:
            return CrackPrediction.empty((rgb.shape[1], rgb.shape[0]))
        return CrackPrediction.from_masks(np.stack(masks))

    def info(self) -> dict[str, str]:
        return {"model": "dark-pixel test segmenter"}
