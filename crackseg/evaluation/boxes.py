"""Evaluation against box labels: a folder of street-view photos with YOLO or VOC damage boxes, as one report.

The predictions come from a caller-supplied ``predict(rgb) -> (CrackPrediction,
ImageMeasurement)``, so any view plugs in: ``top_down_predict`` (today's path:
the segmenter on the whole frame, then ``measure_prediction``) or a street-view
pipeline that warps, predicts and measures in a bird's-eye view and returns the
masks in the frame's pixels. The contract: ``prediction.masks`` are at the
frame's size, and ``measurement.cracks[k].crack_id - 1`` indexes them (as
``measure_prediction`` numbers them), so each instance's type is known.

What is counted is ``crackseg.metrics.boxes``' docstring: box recall at a
coverage share, in-box share of predicted pixels, type agreement.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from crackseg.core.errors import CrackSegError, DatasetError
from crackseg.core.json_values import dumps, to_jsonable
from crackseg.datasets.box_labels import BoxLabelledImage
from crackseg.inference.prediction import CrackPrediction
from crackseg.inference.segmenter import InferenceSettings, Segmenter
from crackseg.measurement.measure import ImageMeasurement, MeasurementSettings, measure_prediction
from crackseg.metrics.boxes import DEFAULT_MIN_COVERAGE, BoxMetrics, BoxMetricsResult, TypedInstances

BoxPredictFn = Callable[[np.ndarray], tuple[CrackPrediction, ImageMeasurement]]
ProgressCallback = Callable[[int, int, str], None]
BOX_REPORT_JSON = "box_report.json"
BOX_CLASSES_CSV = "box_classes.csv"
BOXES_CSV = "boxes.csv"
BOX_IMAGES_CSV = "box_images.csv"


def top_down_predict(
    segmenter: Segmenter,
    settings: InferenceSettings | None = None,
    measurement_settings: MeasurementSettings | None = None,
) -> BoxPredictFn:
    """Today's view: the segmenter over the whole RGB ``(H, W, 3)`` uint8 frame, then its cracks measured."""
    settings = settings or InferenceSettings()
    measurement_settings = measurement_settings or MeasurementSettings()

    def predict(rgb: np.ndarray) -> tuple[CrackPrediction, ImageMeasurement]:
        prediction = segmenter.predict(rgb, settings)
        return prediction, measure_prediction(prediction, measurement_settings)

    return predict


def typed_instances(prediction: CrackPrediction, measurement: ImageMeasurement) -> TypedInstances:
    """The prediction's instances with the type and orientation its measurement gave each (``None``: unmeasured)."""
    count = len(prediction)
    types: list[str | None] = [None] * count
    orientation = np.zeros(count, dtype=np.float64)
    for crack in measurement.cracks:
        index = crack.crack_id - 1
        if not 0 <= index < count:
            raise ValueError(f"crack_id {crack.crack_id} does not index the prediction's {count} instances")
        types[index], orientation[index] = crack.crack_type, crack.orientation_deg
    return TypedInstances(prediction.masks, tuple(types), orientation)


@dataclass
class BoxEvaluationReport:
    """A box evaluation: the metric result, where it came from, and the images that could not be used."""

    source: str
    result: BoxMetricsResult
    settings: dict[str, Any] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """Headline numbers and the per-class table as one JSON-ready object (the CLI's ``--json``)."""
        out = {"source": self.source, **self.result.to_dict(), "settings": self.settings}
        out["per_class"] = self.result.per_class.to_dict(orient="records")
        out["recall_by_min_coverage"] = {
            f"{share:g}": self.result.recall_at(share) for share in (0.01, 0.02, 0.05, 0.1, 0.2)
        }
        if self.failures:
            out["failures"] = list(self.failures)
        return to_jsonable(out)

    def save(self, folder: Path | str) -> Path:
        """Write ``box_report.json`` (the summary) and the per-class, per-box and per-image CSVs into ``folder``."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / BOX_REPORT_JSON).write_text(dumps(self.summary()), encoding="utf-8")
        self.result.per_class.to_csv(folder / BOX_CLASSES_CSV, index=False)
        self.result.per_box.to_csv(folder / BOXES_CSV, index=False)
        self.result.per_image.to_csv(folder / BOX_IMAGES_CSV, index=False)
        return folder


def evaluate_boxes(
    items: Sequence[BoxLabelledImage],
    predict: BoxPredictFn,
    *,
    min_coverage: float = DEFAULT_MIN_COVERAGE,
    source: str = "",
    settings: dict[str, Any] | None = None,
    progress: ProgressCallback | None = None,
) -> BoxEvaluationReport:
    """Predict every item with ``predict`` and score its crack pixels against the item's boxes.

    An image that cannot be read, whose labels are malformed, or whose
    prediction fails with a ``CrackSegError`` is listed in ``failures`` (one
    line) and skipped; an evaluation with no usable image raises ``DatasetError``.
    ``settings`` (what produced the predictions) is recorded with the report.
    """
    metric = BoxMetrics(min_coverage)
    failures = []
    for index, item in enumerate(items):
        if progress is not None:
            progress(index, len(items), item.name)
        try:
            rgb = item.load_rgb()
            resolution_wh = (rgb.shape[1], rgb.shape[0])
            boxes = item.boxes(resolution_wh)
            prediction, measurement = predict(rgb)
        except CrackSegError as error:
            failures.append(str(error))
            continue
        if prediction.resolution_wh != resolution_wh:
            raise ValueError(f"{item.name}: prediction is {prediction.resolution_wh}, the image {resolution_wh}")
        instances = typed_instances(prediction, measurement)
        metric.update(prediction.union_mask, boxes.xyxy, boxes.class_names, instances, image=item.name)
    if progress is not None:
        progress(len(items), len(items), "")
    if metric.images == 0:
        reason = f": {failures[0]}" if failures else ""
        raise DatasetError(f"{source or 'box evaluation'}: no image could be evaluated{reason}")
    return BoxEvaluationReport(source, metric.compute(), dict(settings or {}), failures)
