"""Labelled datasets: YOLO segmentation (``data.yaml`` + polygon labels) and image/mask folder pairs.

Both readers yield ``LabelledImage`` items whose ``truth_masks()`` gives the
ground-truth instances as ``(N, H, W)`` bool at the image's own size, so
evaluation compares like with like. Problems are ``DatasetError`` messages
that name the file (and line, for label files).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np
import yaml

from crackseg.core.errors import DatasetError, ImageLoadError
from crackseg.io.image_io import IMAGE_SUFFIXES, load_image

MASK_SUFFIXES = (".png", ".bmp", ".tif", ".tiff", ".jpg", ".jpeg")
SPLIT_ALIASES = {"valid": "val", "validation": "val"}


@dataclass(frozen=True)
class LabelledImage:
    """One image and where its ground truth lies (a YOLO label file or a binary mask)."""

    image_path: Path
    label_path: Path | None = None
    mask_path: Path | None = None
    region_path: Path | None = None  # a mask of where the truth is complete (the surveyed lane); None: everywhere

    @property
    def name(self) -> str:
        return self.image_path.name

    def load_rgb(self) -> np.ndarray:
        """The image as RGB uint8 ``(H, W, 3)``, through the one safe loader."""
        return load_image(self.image_path)

    def truth_masks(self, resolution_wh: tuple[int, int]) -> np.ndarray:
        """Ground-truth instances, ``(N, H, W)`` bool, for an image of ``resolution_wh``."""
        if self.label_path is not None:
            return yolo_label_to_masks(self.label_path, resolution_wh)
        if self.mask_path is not None:
            return binary_mask_to_instances(read_binary_mask(self.mask_path, resolution_wh))
        width, height = resolution_wh
        return np.zeros((0, height, width), dtype=bool)

    def region_mask(self, resolution_wh: tuple[int, int]) -> np.ndarray | None:
        """Where scores count, ``(H, W)`` bool, or ``None`` for the whole image."""
        return None if self.region_path is None else read_binary_mask(self.region_path, resolution_wh)


def parse_yolo_label(path: Path) -> list[np.ndarray]:
    """Polygons of a YOLO segmentation label file, each ``(K, 2)`` float in [0, 1] (x, y).

    A line is ``class x1 y1 x2 y2 ...`` with at least 3 points. Blank lines are
    skipped; anything else malformed raises ``DatasetError`` naming file and line.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DatasetError(f"{path}: label file not found") from None
    except (OSError, UnicodeDecodeError) as error:
        raise DatasetError(f"{path}: cannot read label file ({error})") from None
    polygons = []
    for line_number, line in enumerate(text.splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        try:
            values = [float(field) for field in fields]
        except ValueError:
            raise DatasetError(f"{path}:{line_number}: non-numeric value in label line") from None
        coordinates = values[1:]
        if not math.isfinite(values[0]) or values[0] != int(values[0]) or values[0] < 0:
            raise DatasetError(f"{path}:{line_number}: class id must be a non-negative integer")
        if len(coordinates) == 4:
            raise DatasetError(f"{path}:{line_number}: box label, expected a polygon (segmentation labels)")
        if len(coordinates) < 6 or len(coordinates) % 2:
            raise DatasetError(
                f"{path}:{line_number}: expected class and >= 3 x y pairs, got {len(coordinates)} coordinates"
            )
        polygon = np.asarray(coordinates, dtype=np.float64).reshape(-1, 2)
        if not np.all(np.isfinite(polygon)) or polygon.min() < -0.01 or polygon.max() > 1.01:
            raise DatasetError(f"{path}:{line_number}: coordinates must be normalised to [0, 1]")
        polygons.append(np.clip(polygon, 0.0, 1.0))
    return polygons


def polygons_to_masks(polygons: list[np.ndarray], resolution_wh: tuple[int, int]) -> np.ndarray:
    """Rasterise normalised polygons into ``(N, H, W)`` bool masks of ``resolution_wh``."""
    width, height = resolution_wh
    masks = np.zeros((len(polygons), height, width), dtype=bool)
    scale = np.array([width, height], dtype=np.float64)
    for index, polygon in enumerate(polygons):
        canvas = np.zeros((height, width), dtype=np.uint8)
        points = np.rint(polygon * scale - 0.5).astype(np.int32)
        cv2.fillPoly(canvas, [points], 1)
        masks[index] = canvas.astype(bool)
    return masks


def yolo_label_to_masks(path: Path, resolution_wh: tuple[int, int]) -> np.ndarray:
    """A YOLO label file as ``(N, H, W)`` bool instance masks."""
    return polygons_to_masks(parse_yolo_label(path), resolution_wh)


def read_binary_mask(path: Path, resolution_wh: tuple[int, int] | None = None) -> np.ndarray:
    """A ground-truth mask image as ``(H, W)`` bool.

    A pixel is crack when its brightest channel is over half the mask's maximum,
    so 0/255 masks, 0/1 masks (common in public benchmarks) and JPEG masks with
    compression noise all read correctly; an all-black mask has no crack.
    Raises ``DatasetError`` if it cannot be read or its size differs from
    ``resolution_wh`` (masks are never silently resized).
    """
    try:
        rgb = load_image(path)
    except ImageLoadError as error:
        raise DatasetError(f"{path}: mask {error}") from None
    value = rgb.max(axis=2)
    peak = int(value.max(initial=0))
    mask = value > peak / 2 if peak > 0 else np.zeros(value.shape, dtype=bool)
    if resolution_wh is not None:
        height, width = mask.shape
        if (width, height) != tuple(resolution_wh):
            raise DatasetError(
                f"{path}: mask is {width}x{height} but its image is {resolution_wh[0]}x{resolution_wh[1]}"
            )
    return mask


def binary_mask_to_instances(mask: np.ndarray) -> np.ndarray:
    """Split a ``(H, W)`` bool mask into 8-connected instances ``(N, H, W)`` bool."""
    count, labels = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    if count <= 1:
        return np.zeros((0, *mask.shape), dtype=bool)
    return labels[None, :, :] == np.arange(1, count)[:, None, None]


def list_images(folder: Path) -> list[Path]:
    """Image files directly in ``folder``, sorted by name."""
    if not folder.is_dir():
        raise DatasetError(f"{folder}: folder not found")
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


@dataclass(frozen=True)
class YoloDataset:
    """A YOLO segmentation dataset described by a ``data.yaml``."""

    yaml_path: Path
    root: Path
    splits: dict[str, str]
    class_names: dict[int, str]

    @classmethod
    def from_yaml(cls, yaml_path: Path | str) -> YoloDataset:
        """Read ``data.yaml``; relative split paths resolve against ``path:`` or the file's folder."""
        yaml_path = Path(yaml_path)
        if not yaml_path.is_file():
            raise DatasetError(f"{yaml_path}: data.yaml not found")
        try:
            content = yaml.safe_load(yaml_path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
            first = str(error).splitlines()[0] if str(error) else type(error).__name__
            raise DatasetError(f"{yaml_path}: not valid YAML ({first})") from None
        if not isinstance(content, dict):
            raise DatasetError(f"{yaml_path}: expected a mapping with train/val/test keys")
        splits = {key: content[key] for key in ("train", "val", "test") if isinstance(content.get(key), str)}
        if not splits:
            raise DatasetError(f"{yaml_path}: no train/val/test split paths")
        class_names = _class_names(yaml_path, content.get("names", {0: "crack"}))
        base = Path(content["path"]) if isinstance(content.get("path"), str) else Path(".")
        root = base if base.is_absolute() else (yaml_path.parent / base)
        return cls(yaml_path=yaml_path.resolve(), root=root.resolve(), splits=splits, class_names=class_names)

    def images_dir(self, split: str) -> Path:
        """The images folder of ``split`` (``train``, ``val``/``valid``, ``test``)."""
        key = SPLIT_ALIASES.get(split, split)
        if key not in self.splits:
            raise DatasetError(f"{self.yaml_path}: no '{split}' split (has {', '.join(sorted(self.splits))})")
        folder = Path(self.splits[key])
        folder = folder if folder.is_absolute() else self.root / folder
        if not folder.is_dir():
            raise DatasetError(f"{self.yaml_path}: '{key}' split folder {folder} not found")
        return folder

    def split_paths(self, split: str) -> list[Path]:
        """Image paths of a split; an empty split is an error."""
        images = list_images(self.images_dir(split))
        if not images:
            raise DatasetError(f"{self.images_dir(split)}: no images in the '{split}' split")
        return images

    def items(self, split: str) -> list[LabelledImage]:
        """Labelled images of a split; an image without a label file has no cracks (YOLO convention)."""
        items = []
        for image_path in self.split_paths(split):
            label_path = label_path_for(image_path)
            items.append(LabelledImage(image_path=image_path, label_path=label_path if label_path.is_file() else None))
        return items


def _class_names(yaml_path: Path, names: object) -> dict[int, str]:
    """``names:`` of a data.yaml (a list, or a mapping of integer ids) as ``{id: name}``."""
    if isinstance(names, list):
        return {index: str(name) for index, name in enumerate(names)}
    if isinstance(names, dict):
        try:
            return {int(key): str(value) for key, value in names.items()}
        except (TypeError, ValueError):
            pass
    raise DatasetError(f"{yaml_path}: 'names' must be a list or a mapping of integer class ids to names")


def label_path_for(image_path: Path) -> Path:
    """YOLO convention: ``.../images/x.jpg`` -> ``.../labels/x.txt``."""
    parts = list(image_path.parts)
    for index in range(len(parts) - 2, -1, -1):
        if parts[index] == "images":
            parts[index] = "labels"
            break
    return Path(*parts).with_suffix(".txt")


def mask_folder_items(images_dir: Path | str, masks_dir: Path | str) -> list[LabelledImage]:
    """Pair images with binary masks by file stem (CrackForest/CRACK500/DeepCrack layout).

    A mask may carry a suffix such as ``_mask`` or ``_label`` after the stem.
    An image without a mask raises ``DatasetError`` naming it.
    """
    images_dir, masks_dir = Path(images_dir), Path(masks_dir)
    images = list_images(images_dir)
    if not images:
        raise DatasetError(f"{images_dir}: no images")
    masks_by_stem = _masks_by_stem(masks_dir)
    items = []
    for image in images:
        mask = masks_by_stem.get(image.stem)
        if mask is None:
            raise DatasetError(f"{image}: no mask with stem '{image.stem}' in {masks_dir}")
        items.append(LabelledImage(image_path=image, mask_path=mask))
    return items


def iter_items(items: list[LabelledImage]) -> Iterator[tuple[LabelledImage, np.ndarray, np.ndarray]]:
    """Yield ``(item, rgb, truth_masks)`` one image at a time (bounded memory)."""
    for item in items:
        rgb = item.load_rgb()
        yield item, rgb, item.truth_masks((rgb.shape[1], rgb.shape[0]))


def _masks_by_stem(masks_dir: Path) -> dict[str, Path]:
    """Mask files of a folder by the image stem they belong to (``x_mask.png`` -> ``x``)."""
    if not masks_dir.is_dir():
        raise DatasetError(f"{masks_dir}: folder not found")
    masks_by_stem: dict[str, Path] = {}
    for mask in sorted(masks_dir.iterdir()):
        if mask.is_file() and mask.suffix.lower() in MASK_SUFFIXES:
            stem = mask.stem
            for tail in ("_mask", "_label", "_gt", "-mask", "_lab", "_region", "_lane"):
                if stem.endswith(tail):
                    stem = stem[: -len(tail)]
                    break
            masks_by_stem.setdefault(stem, mask)
    return masks_by_stem


def with_regions(items: list[LabelledImage], regions_dir: Path | str) -> list[LabelledImage]:
    """The same items with a region mask each (where scores count), paired by image stem as masks are."""
    regions = _masks_by_stem(Path(regions_dir))
    missing = [item.image_path.name for item in items if item.image_path.stem not in regions]
    if missing:
        raise DatasetError(f"{missing[0]}: no region mask with stem '{Path(missing[0]).stem}' in {regions_dir}")
    return [replace(item, region_path=regions[item.image_path.stem]) for item in items]
