"""Build the three-domain training set: crack-seg + DeepCrack + survey-vehicle frames, as one YOLO dataset.

Why: the shipped model only knew top-down close-ups (crack-seg). This writes one
Ultralytics dataset that mixes the three ways cracks are photographed, outside the
repository and never inside ``../shared`` (source images are linked, not copied;
only converted labels and the survey crops are written).

Layout of ``out_dir``::

    data.yaml                 train: train/images, val: val/images (all three domains' validation images)
    train/images, labels      cs_* crack-seg train, dc_* DeepCrack train (repeated to weight it), sv_* survey crops
    val/images, labels        crack-seg valid, DeepCrack held-out val, survey val crops
                              (no survey crops in either split when ``survey_fraction`` is 0)
    deepcrack-val/images, masks   the DeepCrack validation split as image/mask folders (for evaluation)
    manifest.json             sources, settings and counts

Splits: crack-seg keeps its own; DeepCrack train is split by sorted name, every
6th image (index % 6 == 5) held out for validation (50 of 300); the survey frames
use ``survey_vehicle.split_of``. Test splits are never written here.

Survey frames (1024x640) are cut into two 640x640 crops (x = 0 and x = 384): the
scale that the product's 640-px tiles see. Their dashed crack masks are joined by
a 7x7 elliptical closing before conversion (``ConversionSettings.closing_px``).
The frames label cracks only inside the surveyed lane; ``survey_lane_margin_px``
can paint the rest of each crop gray (Ultralytics' letterbox 114), so that cracks
outside the lane, real but unlabelled, are not taught as background.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np
import yaml

from crackseg.core.errors import DatasetError
from crackseg.datasets.labelled import YoloDataset, label_path_for, mask_folder_items, read_binary_mask
from crackseg.datasets.mask_to_yolo import ConversionSettings, close_dashes, mask_to_yolo_lines
from crackseg.datasets.survey_vehicle import survey_frames
from crackseg.io.image_io import load_image

DEEPCRACK_VAL_EVERY = 6
SURVEY_CROP_SIZE = 640
SURVEY_CLOSING_PX = 7
OUTSIDE_LANE_GRAY = 114


@dataclass(frozen=True)
class ThreeDomainSources:
    """Where the three source datasets lie."""

    crack_seg_yaml: Path
    deepcrack_train_dir: Path  # holds images/ and masks/
    survey_root: Path  # the survey-vehicle dataset (folder of frame folders, or its parent)


@dataclass(frozen=True)
class ThreeDomainSettings:
    """How the domains are mixed.

    deepcrack_repeat: each DeepCrack train image appears this many times per epoch
        (250 images against 3717 crack-seg ones would otherwise barely count).
    survey_fraction: share of the survey train frames used (1.0: all), taken evenly by name;
        0 builds the close-up domains only (train and val; the top-down model, now that the street
        view has its own), and the manifest's sets still have it judged on every domain.
    survey_lane_margin_px: None keeps the survey crops as photographed; an integer >= 0 paints
        gray every pixel farther than that from the frame's labelled lane (train and val crops).
    close_ups: False leaves crack-seg and DeepCrack out of train and val (the street model's
        training set, the survey crops alone); DeepCrack's held-out val folder is still made, so the
        manifest names every evaluation set as before.
    """

    deepcrack_repeat: int = 1
    survey_fraction: float = 1.0
    deepcrack_conversion: ConversionSettings = field(default_factory=ConversionSettings)
    survey_conversion: ConversionSettings = field(
        default_factory=lambda: ConversionSettings(closing_px=SURVEY_CLOSING_PX)
    )
    survey_lane_margin_px: int | None = None
    close_ups: bool = True

    def __post_init__(self) -> None:
        if self.deepcrack_repeat < 1 or not 0 <= self.survey_fraction <= 1:
            raise ValueError(
                "deepcrack_repeat >= 1 and 0 <= survey_fraction <= 1 expected, "
                f"got {self.deepcrack_repeat}, {self.survey_fraction}"
            )
        if self.survey_lane_margin_px is not None and self.survey_lane_margin_px < 0:
            raise ValueError(f"survey_lane_margin_px must be None or >= 0, got {self.survey_lane_margin_px}")
        if not self.close_ups and self.survey_fraction == 0:
            raise ValueError("without the close-up domains survey_fraction must be above 0: nothing would be built")


@dataclass
class SplitCounts:
    """Images and labelled instances written per domain for one split."""

    images: dict[str, int] = field(default_factory=dict)
    instances: dict[str, int] = field(default_factory=dict)
    empty: dict[str, int] = field(default_factory=dict)

    def add(self, domain: str, instance_count: int) -> None:
        self.images[domain] = self.images.get(domain, 0) + 1
        self.instances[domain] = self.instances.get(domain, 0) + instance_count
        self.empty[domain] = self.empty.get(domain, 0) + (instance_count == 0)


def build_three_domain(
    sources: ThreeDomainSources,
    out_dir: Path,
    settings: ThreeDomainSettings | None = None,
    progress: Callable[[str], None] = lambda message: None,
) -> Path:
    """Write the combined dataset into ``out_dir`` (made if missing, refilled if present) and return its data.yaml."""
    settings = settings or ThreeDomainSettings()
    out_dir = Path(out_dir).resolve()
    _refuse_inside(out_dir, [sources.crack_seg_yaml.parent, sources.deepcrack_train_dir, sources.survey_root])
    counts = {"train": SplitCounts(), "val": SplitCounts()}
    crack_seg = YoloDataset.from_yaml(sources.crack_seg_yaml)
    for split, source_split in (("train", "train"), ("val", "val")):
        target = fresh_split(out_dir / split)
        progress(f"crack-seg {source_split}")
        for image_path in crack_seg.split_paths(source_split) if settings.close_ups else ():
            label = label_path_for(image_path)
            instance_count = _link_labelled(
                image_path, label if label.is_file() else None, target, f"cs_{image_path.stem}"
            )
            counts[split].add("crack_seg", instance_count)

    progress("DeepCrack")
    deepcrack_items = mask_folder_items(sources.deepcrack_train_dir / "images", sources.deepcrack_train_dir / "masks")
    deepcrack_val = fresh_split(out_dir / "deepcrack-val", labels="masks")
    for index, item in enumerate(deepcrack_items):
        lines = mask_to_yolo_lines(read_binary_mask(item.mask_path), settings.deepcrack_conversion)
        if index % DEEPCRACK_VAL_EVERY == DEEPCRACK_VAL_EVERY - 1:
            _link(item.image_path, deepcrack_val / "images" / item.image_path.name)
            _link(item.mask_path, deepcrack_val / "masks" / item.mask_path.name)
            if settings.close_ups:
                _write_labelled(item.image_path, lines, out_dir / "val", f"dc_{item.image_path.stem}")
                counts["val"].add("deepcrack", len(lines))
            continue
        for repeat in range(settings.deepcrack_repeat if settings.close_ups else 0):
            stem = f"dc_{item.image_path.stem}" if repeat == 0 else f"dc_r{repeat}_{item.image_path.stem}"
            _write_labelled(item.image_path, lines, out_dir / "train", stem)
            counts["train"].add("deepcrack", len(lines))

    for split in ("train", "val") if settings.survey_fraction > 0 else ():
        frames = survey_frames(sources.survey_root, split)
        if split == "train" and settings.survey_fraction < 1:
            keep = np.unique(np.linspace(0, len(frames) - 1, round(len(frames) * settings.survey_fraction)).astype(int))
            frames = [frames[i] for i in keep]
        progress(f"survey {split} ({len(frames)} frames)")
        for frame in frames:
            outside_lane = (
                None
                if settings.survey_lane_margin_px is None
                else outside_region(frame.lane_mask(), settings.survey_lane_margin_px)
            )
            for stem, crop_rgb, crop_lines in _survey_crops(
                frame.image_path, frame.crack_mask(), settings.survey_conversion, outside_lane
            ):
                write_crop(crop_rgb, crop_lines, out_dir / split, f"sv_{stem}")
                counts[split].add("survey_vehicle", len(crop_lines))

    data_yaml = out_dir / "data.yaml"
    data_yaml.write_text(
        yaml.safe_dump({"path": str(out_dir), "train": "train/images", "val": "val/images", "names": {0: "crack"}}),
        encoding="utf-8",
    )
    manifest = {
        "sources": {key: str(value) for key, value in asdict(sources).items()},
        "settings": asdict(settings),
        "splits": {split: asdict(split_counts) for split, split_counts in counts.items()},
        "deepcrack_val_dir": str(deepcrack_val),
    }
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return data_yaml


def outside_region(region: np.ndarray, margin_px: int) -> np.ndarray:
    """``(H, W)`` bool: pixels farther than ``margin_px`` (Euclidean) from every pixel of ``region``.

    An empty region leaves nothing to keep, so every pixel is outside.
    """
    if not region.any():
        return np.ones(region.shape, dtype=bool)
    distance = cv2.distanceTransform((~region).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    return distance > margin_px


def _survey_crops(
    image_path: Path,
    crack_mask: np.ndarray,
    conversion: ConversionSettings,
    outside_lane: np.ndarray | None = None,
) -> Iterable[tuple[str, np.ndarray, list[str]]]:
    """The frame's square crops (left and right, full height) with their label lines.

    ``outside_lane``: ``(H, W)`` bool pixels to paint gray (and whose crack labels are dropped), or None.
    """
    rgb = load_image(image_path)
    height, width = rgb.shape[:2]
    if crack_mask.shape != (height, width):
        raise DatasetError(
            f"{image_path}: crack mask is {crack_mask.shape[1]}x{crack_mask.shape[0]}, frame {width}x{height}"
        )
    if outside_lane is not None:
        if outside_lane.shape != (height, width):
            raise DatasetError(
                f"{image_path}: lane mask is {outside_lane.shape[1]}x{outside_lane.shape[0]}, frame {width}x{height}"
            )
        rgb = rgb.copy()
        rgb[outside_lane] = OUTSIDE_LANE_GRAY
        crack_mask = crack_mask & ~outside_lane
    size = min(SURVEY_CROP_SIZE, height, width)
    # Close the dashes on the whole frame, so a crack cut by the crop edge is joined the same in both crops.
    closed = close_dashes(crack_mask, conversion.closing_px)
    crop_settings = ConversionSettings(
        closing_px=0, min_area_px=conversion.min_area_px, simplify_px=conversion.simplify_px
    )
    stem = image_path.stem.removesuffix("_RAW")
    for x0 in sorted({0, width - size}):
        crop = closed[:size, x0 : x0 + size]
        yield f"{stem}_x{x0}", rgb[:size, x0 : x0 + size], mask_to_yolo_lines(crop, crop_settings)


def fresh_split(folder: Path, labels: str = "labels") -> Path:
    """Empty ``folder/images`` and ``folder/<labels>`` (only files this builder wrote are there)."""
    for sub in ("images", labels):
        path = folder / sub
        path.mkdir(parents=True, exist_ok=True)
        for entry in path.iterdir():
            if entry.is_file() or entry.is_symlink():
                entry.unlink()
    for cache in folder.glob("*.cache"):
        cache.unlink()
    return folder


def _link(source: Path, target: Path) -> None:
    """Symlink ``target`` -> ``source`` (sources stay where they are; nothing is copied)."""
    if target.is_symlink() or target.exists():
        target.unlink()
    os.symlink(source.resolve(), target)


def _link_labelled(image_path: Path, label_path: Path | None, split_dir: Path, stem: str) -> int:
    """Link a YOLO-labelled image and its label file; return its instance count."""
    _link(image_path, split_dir / "images" / f"{stem}{image_path.suffix.lower()}")
    if label_path is None:
        return 0
    _link(label_path, split_dir / "labels" / f"{stem}.txt")
    return sum(1 for line in label_path.read_text(encoding="utf-8").splitlines() if line.strip())


def _write_labelled(image_path: Path, lines: list[str], split_dir: Path, stem: str) -> None:
    """Link an image and write its converted label lines (no file for a crack-free image)."""
    _link(image_path, split_dir / "images" / f"{stem}{image_path.suffix.lower()}")
    if lines:
        (split_dir / "labels" / f"{stem}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_crop(rgb: np.ndarray, lines: list[str], split_dir: Path, stem: str) -> None:
    """Write a crop as JPEG (quality 95) and its label lines."""
    if not cv2.imwrite(str(split_dir / "images" / f"{stem}.jpg"), rgb[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 95]):
        raise DatasetError(f"{split_dir}: cannot write {stem}.jpg")
    if lines:
        (split_dir / "labels" / f"{stem}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _refuse_inside(out_dir: Path, sources: list[Path]) -> None:
    """The output never goes into a source dataset (``../shared`` is read-only)."""
    for source in sources:
        source = Path(source).resolve()
        if out_dir == source or source in out_dir.parents:
            raise DatasetError(f"{out_dir}: the output folder must not lie inside the source dataset {source}")
