"""Survey-vehicle frames as bird's-eye training crops: the lane region warped as the street view sees it.

Why: the street view can run its model on the frame (cropped to the region) or on the
region warped to the bird's-eye view (``inspect_on`` in the camera profile). A model
trained on frames as they are wins on frames; whether one trained on bird's-eye views
does better there is the question this builder lets a training run answer. Each frame
is warped with the street view's own ``GroundView`` (same homography, same mm per pixel),
its dashed crack mask is closed on the frame first (as for the frame crops, so the
join does not depend on the warp) and warped with the view's ``masks_to_top``, and the
top view is cut into the tiles the product predicts on (``tile_size`` px along the
road, the tiling's overlap), which are converted to YOLO polygons.

Layout of ``out_dir``::

    data.yaml            train: train/images, val: val/images
    train/images, labels svt_<frame>_y<row>.jpg / .txt
    val/images, labels
    manifest.json        profile, settings and counts
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import yaml

from crackseg.core.errors import DatasetError
from crackseg.datasets.mask_to_yolo import ConversionSettings, close_dashes, mask_to_yolo_lines
from crackseg.datasets.survey_vehicle import survey_frames
from crackseg.datasets.three_domain import SURVEY_CLOSING_PX, fresh_split, write_crop
from crackseg.geometry.camera import CameraProfile
from crackseg.geometry.ground import GroundView
from crackseg.inference.tiling import tile_starts
from crackseg.io.image_io import load_image


@dataclass(frozen=True)
class TopViewCropSettings:
    """How the bird's-eye crops are cut.

    tile_px: crop length along the road (the product's tile size); the crop is the view's full width.
    overlap: share of a tile that the next one overlaps (the product's tiling overlap).
    train_crops_per_frame: how many of a frame's tiles go to train (chosen in turn, so every tile position
        is used equally); 0 keeps them all. Val always keeps all.
    closing_px: the closing that joins the dashed labels, applied on the frame before the warp.
    """

    tile_px: int = 640
    overlap: float = 0.2
    train_crops_per_frame: int = 2
    closing_px: int = SURVEY_CLOSING_PX

    def __post_init__(self) -> None:
        if self.tile_px < 64 or not 0 <= self.overlap < 0.9 or self.train_crops_per_frame < 0:
            raise ValueError(f"tile_px >= 64, 0 <= overlap < 0.9 and train_crops_per_frame >= 0 expected, got {self}")


def top_view_crops(
    rgb: np.ndarray, crack_mask: np.ndarray, view: GroundView, settings: TopViewCropSettings
) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """``(row, crop_rgb, crop_mask)`` for each tile of the frame's bird's-eye view, top (far) to bottom (near).

    ``crack_mask`` is the frame's ``(H, W)`` bool label; pixels of the top view that the frame does not show
    are black in the image and never cracked in the mask.
    """
    if crack_mask.shape != rgb.shape[:2]:
        raise DatasetError(f"crack mask is {crack_mask.shape[::-1]}, frame {rgb.shape[1::-1]}")
    top_rgb = view.to_top(rgb)
    closed = close_dashes(crack_mask, settings.closing_px)
    top_mask = view.masks_to_top(closed[None])[0] & view.top_visible_mask()
    height = top_rgb.shape[0]
    tile = min(settings.tile_px, height)
    step = max(1, round(tile * (1.0 - settings.overlap)))
    return [(row, top_rgb[row : row + tile], top_mask[row : row + tile]) for row in tile_starts(height, tile, step)]


def pick_tiles(count: int, frame_index: int, per_frame: int) -> list[int]:
    """Which of a frame's ``count`` tiles to keep: ``per_frame`` consecutive ones (cyclically), starting one
    further for each frame, so that over the frames every tile position is used equally (0: all)."""
    if per_frame <= 0 or per_frame >= count:
        return list(range(count))
    return sorted((frame_index + offset) % count for offset in range(per_frame))


def build_top_view_crops(
    survey_root: Path,
    out_dir: Path,
    profile: CameraProfile,
    settings: TopViewCropSettings | None = None,
    progress: Callable[[str], None] = lambda message: None,
) -> Path:
    """Write the survey train and val frames as bird's-eye crops with YOLO labels; returns ``data.yaml``."""
    settings = settings or TopViewCropSettings()
    out_dir = Path(out_dir)
    conversion = ConversionSettings(closing_px=0)  # the labels were closed on the frame
    counts: dict[str, dict[str, int]] = {}
    views: dict[tuple[int, int], GroundView] = {}
    for split in ("train", "val"):
        frames = survey_frames(survey_root, split)
        progress(f"{split}: {len(frames)} frames")
        split_dir = fresh_split(out_dir / split)
        counts[split] = {"frames": len(frames), "images": 0, "instances": 0, "empty": 0}
        for index, frame in enumerate(frames):
            rgb = load_image(frame.image_path)
            size = (rgb.shape[1], rgb.shape[0])
            view = views.setdefault(size, GroundView.for_frame(profile, size))
            crops = top_view_crops(rgb, frame.crack_mask(), view, settings)
            keep = pick_tiles(len(crops), index, settings.train_crops_per_frame if split == "train" else 0)
            stem = frame.image_path.stem.removesuffix("_RAW")
            for row, crop_rgb, crop_mask in (crops[i] for i in keep):
                lines = mask_to_yolo_lines(crop_mask, conversion)
                write_crop(crop_rgb, lines, split_dir, f"svt_{stem}_y{row}")
                counts[split]["images"] += 1
                counts[split]["instances"] += len(lines)
                counts[split]["empty"] += not lines
    data_yaml = out_dir / "data.yaml"
    data_yaml.write_text(
        yaml.safe_dump({"path": str(out_dir), "train": "train/images", "val": "val/images", "names": {0: "crack"}}),
        encoding="utf-8",
    )
    manifest = {
        "survey_root": str(survey_root),
        "profile": profile.to_dict(),
        "settings": asdict(settings),
        "counts": counts,
    }
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return data_yaml
