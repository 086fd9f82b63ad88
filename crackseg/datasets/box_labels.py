"""Damage boxes of street-view datasets: YOLO box labels and Pascal VOC XML, paired with their images.

Street-view datasets such as RDD2022 label damage with boxes, not masks. Both
formats are read into ``LabelledBoxes``: ``xyxy`` ``(M, 4)`` float64 in pixels of
the image (exclusive max) and one class name per box.

- YOLO: one ``class cx cy w h`` line per box, normalised to [0, 1]; class ids
  are named by ``class_names`` (default RDD2022's: 0 D00, 1 D10, 2 D20, 3 D40;
  an id outside it is named ``class_<id>``). An image without a label file
  has no boxes (the YOLO convention).
- Pascal VOC: ``<object><name>D00</name><bndbox><xmin>..`` with 1-based,
  inclusive pixel corners, parsed with ``defusedxml`` only: a DTD, entity
  declarations or external references are refused with one line. A ``<size>``
  that differs from the image's scales the boxes to the image.

Every problem is a one-line ``DatasetError`` naming the file (and line for YOLO).
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ElementTree
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring as safe_fromstring

from crackseg.core.errors import DatasetError
from crackseg.datasets.labelled import list_images
from crackseg.io.image_io import load_image

RDD_CLASS_NAMES: dict[int, str] = {0: "D00", 1: "D10", 2: "D20", 3: "D40"}
BOX_FORMATS = ("auto", "yolo", "voc")
LABEL_SUFFIXES = {"yolo": ".txt", "voc": ".xml"}
MAX_LABEL_BYTES = 1_000_000  # a label file of one image is a few KB; refuse anything absurd before parsing


@dataclass(frozen=True)
class LabelledBoxes:
    """The damage boxes of one image.

    Attributes:
        xyxy: ``(M, 4)`` float64 ``x_min, y_min, x_max, y_max`` in pixels of the image (max exclusive).
        class_names: ``M`` class names (``"D00"``, ...), one per box.
    """

    xyxy: np.ndarray
    class_names: tuple[str, ...]

    def __post_init__(self) -> None:
        count = len(self.class_names)
        if self.xyxy.shape != (count, 4):
            raise ValueError(f"xyxy must be ({count}, 4) for {count} class names, got {self.xyxy.shape}")

    @classmethod
    def empty(cls) -> LabelledBoxes:
        return cls(np.zeros((0, 4), dtype=np.float64), ())

    def __len__(self) -> int:
        return len(self.class_names)


def parse_yolo_boxes(
    path: Path, resolution_wh: tuple[int, int], class_names: Mapping[int, str] = RDD_CLASS_NAMES
) -> LabelledBoxes:
    """A YOLO box label file (``class cx cy w h`` normalised) as boxes in pixels of a ``resolution_wh`` image.

    Blank lines are skipped. A non-numeric field, a wrong field count, a class
    id that is not a non-negative integer, a centre outside [0, 1] or a size
    outside (0, 1] raises ``DatasetError`` naming file and line. Boxes reaching
    past the image edge are clipped to it.
    """
    try:
        text = _read_label_bytes(path).decode("utf-8")
    except UnicodeDecodeError:
        raise DatasetError(f"{path}: label file is not UTF-8 text") from None
    width, height = resolution_wh
    boxes, names = [], []
    for line_number, line in enumerate(text.splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        where = f"{path}:{line_number}"
        if len(fields) != 5:
            raise DatasetError(f"{where}: expected 'class cx cy w h' (5 fields), got {len(fields)}")
        try:
            values = [float(field) for field in fields]
        except ValueError:
            raise DatasetError(f"{where}: non-numeric value in box line") from None
        class_id, cx, cy, box_w, box_h = values
        if not math.isfinite(class_id) or class_id != int(class_id) or class_id < 0:
            raise DatasetError(f"{where}: class id must be a non-negative integer, got {fields[0]}")
        if not all(math.isfinite(value) for value in values[1:]):
            raise DatasetError(f"{where}: coordinates must be finite numbers")
        if not (0.0 <= cx <= 1.0 and 0.0 <= cy <= 1.0 and 0.0 < box_w <= 1.0 and 0.0 < box_h <= 1.0):
            raise DatasetError(f"{where}: centre must be in [0, 1] and size in (0, 1] (normalised YOLO box)")
        x_min, x_max = (cx - box_w / 2) * width, (cx + box_w / 2) * width
        y_min, y_max = (cy - box_h / 2) * height, (cy + box_h / 2) * height
        boxes.append((max(x_min, 0.0), max(y_min, 0.0), min(x_max, float(width)), min(y_max, float(height))))
        names.append(class_names.get(int(class_id), f"class_{int(class_id)}"))
    return _boxes(boxes, names)


def parse_voc_boxes(path: Path, resolution_wh: tuple[int, int]) -> LabelledBoxes:
    """A Pascal VOC XML file as boxes in pixels of a ``resolution_wh`` image.

    VOC corners are 1-based and inclusive: ``xmin=1, xmax=10`` is the first ten
    pixel columns, ``x_min=0, x_max=10`` here. ``<size>`` (when its width and
    height are positive) is the size the boxes were drawn on; if it differs from
    ``resolution_wh`` the boxes are scaled to the image. Raises ``DatasetError``
    for XML that is not well formed, has a DTD or entities (refused, never
    expanded), or an object without a name or with a bad ``bndbox``.
    """
    data = _read_label_bytes(path)
    try:
        root = safe_fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as error:
        raise DatasetError(
            f"{path}: XML with a DTD, entities or external references refused ({type(error).__name__})"
        ) from None
    except ElementTree.ParseError as error:
        raise DatasetError(f"{path}: not well-formed XML ({error})") from None
    width, height = resolution_wh
    scale_x, scale_y = _voc_scale(path, root, resolution_wh)
    boxes, names = [], []
    for index, element in enumerate(root.iter("object"), start=1):
        name = (element.findtext("name") or "").strip()
        if not name:
            raise DatasetError(f"{path}: object {index} has no <name>")
        bndbox = element.find("bndbox")
        if bndbox is None:
            raise DatasetError(f"{path}: object {index} ({name}) has no <bndbox>")
        try:
            x_min, y_min, x_max, y_max = (float(bndbox.findtext(key) or "") for key in ("xmin", "ymin", "xmax", "ymax"))
        except ValueError:
            raise DatasetError(f"{path}: object {index} ({name}) needs numeric xmin, ymin, xmax, ymax") from None
        if not all(math.isfinite(value) for value in (x_min, y_min, x_max, y_max)) or x_max < x_min or y_max < y_min:
            raise DatasetError(f"{path}: object {index} ({name}) has an empty or inverted box")
        boxes.append(
            (
                max((x_min - 1) * scale_x, 0.0),
                max((y_min - 1) * scale_y, 0.0),
                min(x_max * scale_x, float(width)),
                min(y_max * scale_y, float(height)),
            )
        )
        names.append(name)
    return _boxes(boxes, names)


@dataclass(frozen=True)
class BoxLabelledImage:
    """One image and its box label file (``None``: no label file, so no boxes)."""

    image_path: Path
    label_path: Path | None
    box_format: str  # "yolo" or "voc"
    class_names: tuple[tuple[int, str], ...] = tuple(RDD_CLASS_NAMES.items())  # YOLO ids (hashable for caches)

    @property
    def name(self) -> str:
        return self.image_path.name

    def load_rgb(self) -> np.ndarray:
        """The image as RGB uint8 ``(H, W, 3)``, through the one safe loader."""
        return load_image(self.image_path)

    def boxes(self, resolution_wh: tuple[int, int]) -> LabelledBoxes:
        """The image's boxes in pixels of a ``resolution_wh`` image."""
        if self.label_path is None:
            return LabelledBoxes.empty()
        if self.box_format == "voc":
            return parse_voc_boxes(self.label_path, resolution_wh)
        return parse_yolo_boxes(self.label_path, resolution_wh, dict(self.class_names))


def box_label_items(
    images_dir: Path | str,
    labels_dir: Path | str,
    box_format: str = "auto",
    class_names: Mapping[int, str] = RDD_CLASS_NAMES,
) -> list[BoxLabelledImage]:
    """Pair the images of a folder with box label files by file stem (``x.jpg`` -> ``x.txt`` or ``x.xml``).

    ``box_format`` ``"auto"`` takes the format of the label files found (``.txt``
    YOLO, ``.xml`` VOC); a folder holding both is an error, so is one holding
    neither or no image. An image without a label file has no boxes.
    """
    if box_format not in BOX_FORMATS:
        raise DatasetError(f"box format must be one of {', '.join(BOX_FORMATS)}, got {box_format!r}")
    images_dir, labels_dir = Path(images_dir), Path(labels_dir)
    images = list_images(images_dir)
    if not images:
        raise DatasetError(f"{images_dir}: no images")
    if not labels_dir.is_dir():
        raise DatasetError(f"{labels_dir}: folder not found")
    by_format = {
        fmt: {p.stem: p for p in labels_dir.iterdir() if p.is_file() and p.suffix.lower() == suffix}
        for fmt, suffix in LABEL_SUFFIXES.items()
    }
    if box_format == "auto":
        found = [fmt for fmt, labels in by_format.items() if labels]
        if len(found) != 1:
            what = "both .txt and .xml" if found else "no .txt or .xml"
            raise DatasetError(f"{labels_dir}: {what} label files (say which with the box format)")
        box_format = found[0]
    labels = by_format[box_format]
    if not labels:
        raise DatasetError(f"{labels_dir}: no {LABEL_SUFFIXES[box_format]} label files ({box_format} format)")
    names = tuple(sorted((int(key), str(value)) for key, value in class_names.items()))
    return [BoxLabelledImage(image, labels.get(image.stem), box_format, names) for image in images]


def box_dataset_folders(root: Path | str) -> tuple[Path, Path]:
    """``(images, labels)`` of a box-labelled dataset folder: ``images/`` beside ``labels/`` (YOLO) or
    ``annotations/xmls/`` or ``Annotations/`` (VOC, as RDD2022 ships). Raises ``DatasetError`` otherwise."""
    root = Path(root)
    images = root / "images"
    if not images.is_dir():
        raise DatasetError(f"{root}: no images/ folder (give the image and label folders instead)")
    for labels in (root / "labels", root / "annotations" / "xmls", root / "Annotations", root / "annotations"):
        if labels.is_dir():
            return images, labels
    raise DatasetError(f"{root}: no labels/, annotations/xmls/ or Annotations/ folder beside images/")


def _read_label_bytes(path: Path) -> bytes:
    try:
        size = path.stat().st_size
        if size > MAX_LABEL_BYTES:
            raise DatasetError(f"{path}: label file of {size:,} bytes, more than {MAX_LABEL_BYTES:,}")
        return path.read_bytes()
    except FileNotFoundError:
        raise DatasetError(f"{path}: label file not found") from None
    except OSError as error:
        raise DatasetError(f"{path}: cannot read label file ({type(error).__name__})") from None


def _voc_scale(path: Path, root: ElementTree.Element, resolution_wh: tuple[int, int]) -> tuple[float, float]:
    """Image pixels per annotation pixel, from ``<size>``; (1, 1) when it is absent, zero or equal."""
    size = root.find("size")
    if size is None:
        return 1.0, 1.0
    try:
        drawn_w, drawn_h = float(size.findtext("width") or 0), float(size.findtext("height") or 0)
    except ValueError:
        raise DatasetError(f"{path}: <size> needs numeric width and height") from None
    if not (math.isfinite(drawn_w) and math.isfinite(drawn_h)) or drawn_w <= 0 or drawn_h <= 0:
        return 1.0, 1.0
    return resolution_wh[0] / drawn_w, resolution_wh[1] / drawn_h


def _boxes(boxes: Sequence[tuple[float, float, float, float]], names: Sequence[str]) -> LabelledBoxes:
    xyxy = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return LabelledBoxes(xyxy, tuple(names))
