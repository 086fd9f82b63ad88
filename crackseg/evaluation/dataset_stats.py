"""Ground-truth statistics of a labelled split: instances, crack area and crack sizes per image.

``dataset_statistics`` reads the images one at a time (bounded memory),
rasterises their ground truth with ``LabelledImage.truth_masks`` and measures
every truth instance with ``crackseg.measurement.measure`` (skeleton length, mean and
max width in pixels), exactly as predicted cracks are measured. An image that
cannot be read, or whose label file is malformed, is listed in ``failures``
(one line each) and the rest are still counted.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from crackseg.core.errors import CrackSegError
from crackseg.datasets.labelled import LabelledImage
from crackseg.inference.prediction import CrackPrediction
from crackseg.measurement.measure import MeasurementSettings, measure_prediction

ProgressCallback = Callable[[int, int, str], None]  # (done, total, current image name)

IMAGE_COLUMNS = ("image", "width_px", "height_px", "instances", "crack_area_px2", "crack_area_pct", "total_length_px")
INSTANCE_COLUMNS = (
    "image",
    "crack_id",
    "area_px2",
    "length_px",
    "mean_width_px",
    "max_width_px",
    "orientation_deg",
    "crack_type",
)


@dataclass(frozen=True)
class DatasetStats:
    """Ground-truth statistics of a list of labelled images.

    Attributes:
        per_image: one row per readable image, columns ``IMAGE_COLUMNS``; ``crack_area_px2`` counts pixels
            covered by any instance (overlaps once), ``crack_area_pct`` is that area over ``width * height``,
            in percent.
        per_instance: one row per measured truth instance, columns ``INSTANCE_COLUMNS``; ``crack_id`` is the
            instance's 1-based position in its label file (or mask's components), as overlays number them.
        summary: totals in plain JSON types (see ``summarise``).
        failures: one line per image that could not be read or whose ground truth is malformed.
    """

    per_image: pd.DataFrame
    per_instance: pd.DataFrame
    summary: dict[str, Any]
    failures: tuple[str, ...] = ()


def dataset_statistics(
    items: Sequence[LabelledImage],
    *,
    progress: ProgressCallback | None = None,
    max_images: int | None = None,
) -> DatasetStats:
    """Measure the ground truth of ``items`` (at most the first ``max_images``), one image at a time.

    ``progress(done, total, name)`` is called before each image and once at the end.
    Raises ``ValueError`` for ``max_images < 1``; data problems never raise, they are listed in ``failures``.
    """
    if max_images is not None and (isinstance(max_images, bool) or int(max_images) != max_images or max_images < 1):
        raise ValueError(f"max_images must be None or an integer >= 1, got {max_images!r}")
    chosen = list(items) if max_images is None else list(items)[: int(max_images)]
    settings = MeasurementSettings()  # pixels only: truth statistics need no calibration
    image_rows: list[dict[str, Any]] = []
    instance_rows: list[dict[str, Any]] = []
    failures: list[str] = []
    for index, item in enumerate(chosen):
        if progress is not None:
            progress(index, len(chosen), item.name)
        try:
            rgb = item.load_rgb()
            height, width = rgb.shape[:2]
            del rgb  # only the size is needed; keep one image in memory at a time
            truth = item.truth_masks((width, height))
        except CrackSegError as error:
            failures.append(f"{item.name}: {error}")
            continue
        measurement = measure_prediction(CrackPrediction.from_masks(truth), settings)
        image_rows.append(
            {
                "image": item.name,
                "width_px": int(width),
                "height_px": int(height),
                "instances": int(truth.shape[0]),
                "crack_area_px2": measurement.crack_area_px,
                "crack_area_pct": float(measurement.crack_area_pct),
                "total_length_px": float(measurement.total_length_px),
            }
        )
        instance_rows.extend(
            {
                "image": item.name,
                "crack_id": crack.crack_id,
                "area_px2": crack.area_px,
                "length_px": float(crack.length_px),
                "mean_width_px": float(crack.mean_width_px),
                "max_width_px": float(crack.max_width_px),
                "orientation_deg": float(crack.orientation_deg),
                "crack_type": crack.crack_type,
            }
            for crack in measurement.cracks
        )
    if progress is not None:
        progress(len(chosen), len(chosen), "")
    per_image = pd.DataFrame(image_rows, columns=list(IMAGE_COLUMNS))
    per_instance = pd.DataFrame(instance_rows, columns=list(INSTANCE_COLUMNS))
    summary = summarise(per_image, per_instance, listed=len(items), failed=len(failures))
    return DatasetStats(per_image=per_image, per_instance=per_instance, summary=summary, failures=tuple(failures))


def summarise(per_image: pd.DataFrame, per_instance: pd.DataFrame, *, listed: int, failed: int) -> dict[str, Any]:
    """Totals of the two tables as plain JSON types; a mean or median over no rows is ``None``.

    Keys: ``listed`` (images in the split), ``images`` (measured), ``failed``, ``skipped`` (left out by
    ``max_images``), ``images_without_cracks``, ``instances``, ``instances_per_image_mean``,
    ``crack_area_pct_mean``, ``crack_area_pct_max``, ``total_length_px``, ``length_px_median``,
    ``mean_width_px_median``.
    """

    def _stat(column: pd.Series, how: str) -> float | None:
        return None if column.empty else float(getattr(column, how)())

    images = len(per_image)
    return {
        "listed": int(listed),
        "images": images,
        "failed": int(failed),
        "skipped": max(int(listed) - images - int(failed), 0),
        "images_without_cracks": int(np.count_nonzero(per_image["instances"].to_numpy() == 0)),
        "instances": int(per_image["instances"].sum()),
        "instances_per_image_mean": _stat(per_image["instances"], "mean"),
        "crack_area_pct_mean": _stat(per_image["crack_area_pct"], "mean"),
        "crack_area_pct_max": _stat(per_image["crack_area_pct"], "max"),
        "total_length_px": float(per_image["total_length_px"].sum()),
        "length_px_median": _stat(per_instance["length_px"], "median"),
        "mean_width_px_median": _stat(per_instance["mean_width_px"], "median"),
    }


def select_images(
    per_image: pd.DataFrame,
    *,
    instances: tuple[int, int] | None = None,
    crack_area_pct: tuple[float, float] | None = None,
    sort_by: str = "image",
    descending: bool = False,
) -> pd.DataFrame:
    """Rows of ``per_image`` whose instance count and crack area share (percent) lie in the closed ranges given, sorted.

    ``None`` leaves that column unfiltered. Sorting is stable with the image name as tie-breaker, so equal
    rows keep a predictable order. Raises ``ValueError`` for an unknown ``sort_by`` column.
    """
    if sort_by not in per_image.columns:
        raise ValueError(f"sort_by must be one of {list(per_image.columns)}, got {sort_by!r}")
    keep = np.ones(len(per_image), dtype=bool)
    if instances is not None:
        keep &= per_image["instances"].between(*instances).to_numpy()
    if crack_area_pct is not None:
        keep &= per_image["crack_area_pct"].between(*crack_area_pct).to_numpy()
    chosen = per_image[keep].sort_values("image", kind="stable")
    return chosen.sort_values(sort_by, ascending=not descending, kind="stable").reset_index(drop=True)
