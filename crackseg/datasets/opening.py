"""Labelled data a user named in the app: a YOLO split or image/mask folders, after the allowed-path checks."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from crackseg.core.errors import DatasetError
from crackseg.datasets.box_labels import BoxLabelledImage, box_dataset_folders, box_label_items
from crackseg.datasets.labelled import LabelledImage, YoloDataset, mask_folder_items, with_regions
from crackseg.io.allowed_paths import allowed_data_roots, resolve_allowed_path


@dataclass(frozen=True)
class LabelledData:
    """Labelled images a user named, after the path checks.

    Attributes:
        items: the images and where their truth lies.
        source: a one-line description for reports (``"<data.yaml>:<split>"`` for YOLO data).
        yaml_path: the resolved ``data.yaml`` of a YOLO dataset, ``None`` for mask folders.
        split: the split read from ``yaml_path`` (``""`` for mask folders).
    """

    items: tuple[LabelledImage, ...]
    source: str
    yaml_path: Path | None = None
    split: str = ""


def open_labelled_data(
    data_text: str,
    split: str = "test",
    masks_text: str | None = None,
    *,
    allowed_roots: Sequence[Path] | None = None,
    regions_text: str | None = None,
) -> LabelledData:
    """Labelled images named by a user, checked against ``allowed_roots`` (default ``allowed_data_roots()``).

    - ``masks_text`` given: ``data_text`` is an image folder and ``masks_text``
      its binary-mask folder (paired by file stem); ``regions_text`` optionally a
      folder of region masks (where the truth is complete), paired the same way;
    - ``data_text`` a ``.yaml`` file, or a folder holding ``data.yaml``: a YOLO
      dataset, of which ``split`` is read. The split's image folder must also
      lie inside an allowed root (a data.yaml cannot point elsewhere).

    Raises ``CrackSegError`` / ``DatasetError`` with a one-line message.
    """
    roots = list(allowed_roots) if allowed_roots is not None else allowed_data_roots()
    path = resolve_allowed_path(data_text, roots)
    if masks_text is not None:
        masks = resolve_allowed_path(masks_text, roots)
        items = mask_folder_items(path, masks)
        if regions_text:
            regions = resolve_allowed_path(regions_text, roots)
            return LabelledData(
                tuple(with_regions(items, regions)), f"images {path} + masks {masks} + regions {regions}"
            )
        return LabelledData(tuple(items), f"images {path} + masks {masks}")
    yaml_path = path / "data.yaml" if path.is_dir() else path
    if path.is_dir() and not yaml_path.is_file():
        raise DatasetError(f"{data_text}: a folder without data.yaml (give a data.yaml, or image and mask folders)")
    if yaml_path.suffix.lower() not in (".yaml", ".yml"):
        raise DatasetError(f"{data_text}: expected a data.yaml file or a dataset folder")
    dataset = YoloDataset.from_yaml(yaml_path)
    resolve_allowed_path(str(dataset.images_dir(split)), roots)
    return LabelledData(tuple(dataset.items(split)), f"{dataset.yaml_path}:{split}", dataset.yaml_path, split)


def open_report_data(source: str, *, allowed_roots: Sequence[Path] | None = None) -> LabelledData:
    """Re-open the YOLO split an evaluation report names as ``"<data.yaml>:<split>"`` (same path checks).

    Raises ``CrackSegError`` when the source is not in that form, lies outside
    the allowed folders, or is not available on this machine.
    """
    yaml_text, separator, split = source.rpartition(":")
    if not separator or not yaml_text or not split or "/" in split or "\\" in split:
        raise DatasetError(f"{source}: not a '<data.yaml>:<split>' evaluation source")
    return open_labelled_data(yaml_text, split, allowed_roots=allowed_roots)


def open_box_data(
    images_text: str,
    labels_text: str = "",
    box_format: str = "auto",
    *,
    allowed_roots: Sequence[Path] | None = None,
) -> tuple[BoxLabelledImage, ...]:
    """Box-labelled images named by a user, checked against ``allowed_roots`` (default ``allowed_data_roots()``).

    With ``labels_text`` empty, ``images_text`` is a dataset folder holding
    ``images/`` and ``labels/`` (or ``annotations/xmls/``); else the image
    folder and the label folder. Both folders must lie inside an allowed root.
    Raises ``CrackSegError`` / ``DatasetError`` with a one-line message.
    """
    roots = list(allowed_roots) if allowed_roots is not None else allowed_data_roots()
    path = resolve_allowed_path(images_text, roots)
    if labels_text.strip():
        images, labels = path, resolve_allowed_path(labels_text, roots)
    else:
        images, labels = box_dataset_folders(path)
        images, labels = (resolve_allowed_path(str(folder), roots) for folder in (images, labels))
    return tuple(box_label_items(images, labels, box_format))
