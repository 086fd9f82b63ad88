"""Does preprocessing help? The same model and settings, one preprocessing method at a time.

Two questions, two functions:

- on one photo, ``preview_variants`` shows what each method does to the image
  and to the prediction (counts, area, length, confidence);
- on a labelled split, ``compare_preprocessing`` runs ``crackseg.evaluation.run.evaluate``
  once per method (the one evaluation path) and tabulates each headline metric
  with its change against no preprocessing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import pandas as pd

from crackseg.datasets.labelled import LabelledImage
from crackseg.evaluation.run import EvaluationReport, ProgressCallback, evaluate
from crackseg.inference.prediction import CrackPrediction
from crackseg.inference.preprocessing import PreprocessSpec, apply_preprocessing
from crackseg.inference.segmenter import InferenceSettings, Segmenter
from crackseg.measurement.measure import ImageMeasurement, MeasurementSettings, measure_prediction

BASELINE = PreprocessSpec()
COMPARED_METRICS: tuple[str, ...] = (
    "pixel_f1",
    "pixel_iou",
    "tolerance_f1",
    "instance_precision",
    "instance_recall",
    "ods_f1",
)
"""Columns of ``comparison_table``; each also gets a ``<name>_delta`` column (method minus baseline)."""


# --------------------------------------------------------------------------- one image


@dataclass(frozen=True)
class VariantPreview:
    """One preprocessing method applied to one photo, and what the model found on it.

    Attributes:
        spec: the method and its parameters.
        rgb: the preprocessed image, ``(H, W, 3)`` uint8 (what the model saw).
        prediction: the model's cracks on it (masks at the image size).
        measurement: those cracks measured.
    """

    spec: PreprocessSpec
    rgb: np.ndarray
    prediction: CrackPrediction
    measurement: ImageMeasurement

    @property
    def mean_confidence(self) -> float:
        """Mean instance confidence; NaN when nothing was found."""
        return float(np.mean(self.prediction.confidence)) if len(self.prediction) else float("nan")

    @property
    def luminance_histogram(self) -> np.ndarray:
        """``(256,)`` int64 pixel counts of the preprocessed image's luminance (``luminance_histogram``)."""
        return luminance_histogram(self.rgb)


def luminance_histogram(rgb: np.ndarray) -> np.ndarray:
    """``(256,)`` int64: how many pixels of an RGB ``uint8 (H, W, 3)`` image have each luminance (Y of YCrCb)."""
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"expected RGB uint8 (H, W, 3), got shape {rgb.shape} dtype {rgb.dtype}")
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    return np.bincount(gray.ravel(), minlength=256).astype(np.int64)


def preview_variants(
    segmenter: Segmenter,
    rgb: np.ndarray,
    specs: Sequence[PreprocessSpec],
    settings: InferenceSettings | None = None,
    measurement_settings: MeasurementSettings | None = None,
) -> list[VariantPreview]:
    """Predict ``rgb`` once per preprocessing spec (other settings unchanged) and measure each result."""
    settings = settings or InferenceSettings()
    measurement_settings = measurement_settings or MeasurementSettings()
    previews = []
    for spec in specs:
        prediction = segmenter.predict(rgb, dataclasses.replace(settings, preprocess=spec))
        previews.append(
            VariantPreview(
                spec=spec,
                rgb=apply_preprocessing(rgb, spec),
                prediction=prediction,
                measurement=measure_prediction(prediction, measurement_settings),
            )
        )
    return previews


def variants_table(previews: Sequence[VariantPreview]) -> pd.DataFrame:
    """One row per variant: ``preprocessing, cracks, crack_area_px2, total_length_px, mean_confidence``."""
    return pd.DataFrame(
        {
            "preprocessing": [preview.spec.label for preview in previews],
            "cracks": [preview.measurement.count for preview in previews],
            "crack_area_px2": [preview.measurement.crack_area_px for preview in previews],
            "total_length_px": [preview.measurement.total_length_px for preview in previews],
            "mean_confidence": [preview.mean_confidence for preview in previews],
        }
    )


# --------------------------------------------------------------------------- a labelled split


def report_scores(report: EvaluationReport) -> dict[str, float]:
    """The ``COMPARED_METRICS`` of one evaluation report, as floats."""
    return {
        "pixel_f1": float(report.pixel["f1"]),
        "pixel_iou": float(report.pixel["iou"]),
        "tolerance_f1": float(report.tolerance["f1"]),
        "instance_precision": float(report.instance["precision"]),
        "instance_recall": float(report.instance["recall"]),
        "ods_f1": report.ods,
    }


def comparison_table(reports: Mapping[PreprocessSpec, EvaluationReport]) -> pd.DataFrame:
    """One row per spec: ``preprocessing, method, images``, each metric and its change against the baseline.

    The baseline is the spec with method ``"none"``; ``reports`` must hold it.
    ``<metric>_delta = <metric> - <metric of the baseline>`` (so the baseline's deltas are 0).
    Rows keep the order of ``reports``.
    """
    baseline = next((report for spec, report in reports.items() if spec.method == BASELINE.method), None)
    if baseline is None:
        raise ValueError("comparison_table needs the report of the 'none' (no preprocessing) baseline")
    reference = report_scores(baseline)
    rows = []
    for spec, report in reports.items():
        scores = report_scores(report)
        row: dict[str, object] = {"preprocessing": spec.label, "method": spec.method, "images": report.images}
        for name in COMPARED_METRICS:
            row[name] = scores[name]
            row[f"{name}_delta"] = scores[name] - reference[name]
        rows.append(row)
    return pd.DataFrame(rows)


def compare_preprocessing(
    segmenter: Segmenter,
    items: Sequence[LabelledImage],
    specs: Sequence[PreprocessSpec],
    settings: InferenceSettings | None = None,
    *,
    tolerance_px: int = 2,
    progress: ProgressCallback | None = None,
) -> pd.DataFrame:
    """Evaluate ``items`` once per preprocessing spec; returns ``comparison_table`` of the reports.

    The no-preprocessing baseline is evaluated first, added if ``specs`` lacks
    it; repeated specs are evaluated once. Every other setting comes from
    ``settings``. ``progress(done, total, label)`` counts images over all specs.
    Raises ``DatasetError`` when no image can be evaluated.
    """
    settings = settings or InferenceSettings()
    ordered = [BASELINE, *(spec for spec in dict.fromkeys(specs) if spec != BASELINE)]
    total = len(ordered) * len(items)
    reports: dict[PreprocessSpec, EvaluationReport] = {}
    for position, spec in enumerate(ordered):
        offset = position * len(items)

        def step(done: int, _count: int, name: str, offset: int = offset, label: str = spec.label) -> None:
            if progress is not None:
                progress(offset + done, total, f"{label}: {name}" if name else label)

        reports[spec] = evaluate(
            segmenter,
            items,
            dataclasses.replace(settings, preprocess=spec),
            tolerance_px=tolerance_px,
            progress=step,
        )
    return comparison_table(reports)
