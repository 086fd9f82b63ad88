"""Evaluation: the segmenter over a labelled dataset, compared with ground truth, as one report.

The model runs once per image at the lowest confidence the threshold sweep
needs; the report's main metrics keep only instances at or above the chosen
``conf``, and the sweep re-thresholds the same instances. The report saves to
and loads from a folder (``report.json`` + ``per_image.csv``) so the app can
show a stored evaluation without rerunning the model.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from crackseg.datasets import LabelledImage, YoloDataset
from crackseg.errors import CrackSegError, DatasetError
from crackseg.metrics import (
    InstanceMetrics,
    PixelMetrics,
    ThresholdSweep,
    ToleranceMetrics,
    translate_ultralytics_metrics,
)
from crackseg.segmenter import InferenceSettings, Segmenter

ProgressCallback = Callable[[int, int, str], None]
REPORT_JSON = "report.json"
PER_IMAGE_CSV = "per_image.csv"
SWEEP_MIN_CONF = 0.05


@dataclass
class EvaluationReport:
    """Every metric of one evaluation run, plus what produced it."""

    source: str
    images: int
    model: dict[str, Any]
    settings: dict[str, Any]
    pixel: dict[str, Any]
    tolerance: dict[str, Any]
    instance: dict[str, Any]
    sweep: dict[str, Any]
    per_image: pd.DataFrame
    ultralytics: dict[str, float] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)

    @property
    def ods(self) -> float:
        return float(self.sweep["ods_f1"])

    @property
    def ois(self) -> float:
        return float(self.sweep["ois_f1"])

    def pixel_confusion(self) -> np.ndarray:
        """Pixel confusion matrix ``[[TN, FP], [FN, TP]]`` (rows: truth background, crack)."""
        p = self.pixel
        return np.array([[p["tn"], p["fp"]], [p["fn"], p["tp"]]], dtype=np.int64)

    def instance_confusion(self) -> np.ndarray:
        """Instance confusion matrix ``[[0, FP], [FN, TP]]`` (background-background is undefined)."""
        i = self.instance
        return np.array([[0, i["fp"]], [i["fn"], i["tp"]]], dtype=np.int64)

    def summary(self) -> dict[str, Any]:
        """The headline numbers as one flat JSON object (the CLI's ``evaluate --json``)."""
        out: dict[str, Any] = {
            "source": self.source,
            "images": self.images,
            "conf": self.settings.get("conf"),
            "pixel": {key: self.pixel[key] for key in ("precision", "recall", "f1", "iou", "tp", "fp", "fn", "tn")},
            "tolerance": {"px": self.tolerance["tolerance_px"]}
            | {key: self.tolerance[key] for key in ("precision", "recall", "f1")},
            "instance": {key: self.instance[key] for key in ("tp", "fp", "fn", "precision", "recall", "f1")},
            "ods": self.ods,
            "ods_threshold": float(self.sweep["ods_threshold"]),
            "ois": self.ois,
        }
        out.update(self.ultralytics)
        if self.failures:
            out["failures"] = list(self.failures)
        return _json_safe(out)

    def save(self, folder: Path | str) -> Path:
        """Write ``report.json`` and ``per_image.csv`` into ``folder``; returns the folder."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        payload = {
            "source": self.source,
            "images": self.images,
            "model": self.model,
            "settings": self.settings,
            "pixel": self.pixel,
            "tolerance": self.tolerance,
            "instance": self.instance,
            "sweep": self.sweep,
            "ultralytics": self.ultralytics,
            "failures": self.failures,
        }
        (folder / REPORT_JSON).write_text(json.dumps(_json_safe(payload), indent=2), encoding="utf-8")
        self.per_image.to_csv(folder / PER_IMAGE_CSV, index=False)
        return folder

    @classmethod
    def load(cls, folder: Path | str) -> EvaluationReport:
        """Read a report written by ``save``; a missing or damaged file is a ``CrackSegError``."""
        folder = Path(folder)
        try:
            payload = json.loads((folder / REPORT_JSON).read_text(encoding="utf-8"))
            per_image = pd.read_csv(folder / PER_IMAGE_CSV)
            return cls(
                source=payload["source"],
                images=int(payload["images"]),
                model=payload.get("model", {}),
                settings=payload.get("settings", {}),
                pixel=payload["pixel"],
                tolerance=payload["tolerance"],
                instance=payload["instance"],
                sweep=payload["sweep"],
                per_image=per_image,
                ultralytics=payload.get("ultralytics", {}),
                failures=payload.get("failures", []),
            )
        except (OSError, ValueError, KeyError, TypeError, pd.errors.ParserError) as error:
            raise CrackSegError(f"{folder}: no readable evaluation report ({type(error).__name__}: {error})") from None


def evaluate(
    segmenter: Segmenter,
    items: Sequence[LabelledImage],
    settings: InferenceSettings | None = None,
    *,
    tolerance_px: int = 2,
    source: str = "",
    progress: ProgressCallback | None = None,
) -> EvaluationReport:
    """Run ``segmenter`` over ``items`` and compare with their ground truth.

    Images that cannot be read, or whose labels are malformed, are listed in
    ``failures`` (one line each) and skipped; an evaluation with no usable image
    raises ``DatasetError``.
    """
    settings = settings or InferenceSettings()
    pixel, tolerance = PixelMetrics(), ToleranceMetrics(tolerance_px=tolerance_px)
    instance, sweep = InstanceMetrics(iou_threshold=0.5), ThresholdSweep(tolerance_px=tolerance_px)
    rows, failures = [], []
    for index, item in enumerate(items):
        if progress is not None:
            progress(index, len(items), item.name)
        try:
            result = predict_labelled(segmenter, item, settings)
        except CrackSegError as error:
            failures.append(str(error))
            continue
        prediction, truth = result.prediction, result.truth
        truth_union, pred_union = result.truth_union, prediction.union_mask
        pixel.update(pred_union, truth_union)
        tolerance.update(pred_union, truth_union)
        instance.update(prediction.masks, truth, prediction.confidence)
        sweep.update(result.all_instances.masks, result.all_instances.confidence, truth_union)
        rows.append(_per_image_row(item.name, pred_union, truth_union, len(prediction), len(truth)))
    if progress is not None:
        progress(len(items), len(items), "")
    if not rows:
        raise DatasetError(f"{source or 'dataset'}: no image could be evaluated" + (f" ({failures[0]})" if failures else ""))
    return EvaluationReport(
        source=source,
        images=len(rows),
        model=segmenter.info(),
        settings=settings.to_dict() | {"tolerance_px": tolerance_px},
        pixel=pixel.compute().to_dict(),
        tolerance=tolerance.compute().to_dict(),
        instance=instance.compute().to_dict(),
        sweep=sweep.compute().to_dict(),
        per_image=pd.DataFrame(rows),
        failures=failures,
    )


def evaluate_yolo_split(
    segmenter: Segmenter,
    data_yaml: Path | str,
    split: str,
    settings: InferenceSettings | None = None,
    *,
    tolerance_px: int = 2,
    with_map: bool = True,
    progress: ProgressCallback | None = None,
) -> EvaluationReport:
    """``evaluate`` over a YOLO split, plus Ultralytics' box and mask mAP50 / mAP50-95."""
    dataset = YoloDataset.from_yaml(data_yaml)
    items = dataset.items(split)
    report = evaluate(
        segmenter,
        items,
        settings,
        tolerance_px=tolerance_px,
        source=f"{dataset.yaml_path}:{split}",
        progress=progress,
    )
    if with_map:
        report.ultralytics = ultralytics_map(segmenter, dataset.yaml_path, split, (settings or InferenceSettings()).imgsz)
    return report


def ultralytics_map(segmenter: Segmenter, data_yaml: Path, split: str, imgsz: int) -> dict[str, float]:
    """Ultralytics' own validator (conf 0.001, NMS IoU 0.7) on a split: box and mask mAP.

    Runs in a temporary project folder so nothing is written beside the code.
    """
    from ultralytics.utils import LOGGER

    split = {"valid": "val", "validation": "val"}.get(split, split)
    previous_level = LOGGER.level
    LOGGER.setLevel(logging.WARNING)  # keep stdout clean for `evaluate --json`
    with (
        tempfile.TemporaryDirectory(prefix="crackseg-val-") as workdir,
        segmenter._lock,
        contextlib.redirect_stdout(sys.stderr),
    ):
        metrics = segmenter._model.val(
            data=str(data_yaml),
            split=split,
            imgsz=imgsz,
            batch=16,
            conf=0.001,
            iou=0.7,
            device=segmenter.device,
            plots=False,
            save_json=False,
            project=workdir,
            name="val",
            verbose=False,
            workers=0,
        )
    LOGGER.setLevel(previous_level)
    return translate_ultralytics_metrics(metrics.results_dict)


def _per_image_row(name: str, pred: np.ndarray, truth: np.ndarray, n_pred: int, n_true: int) -> dict[str, Any]:
    """One row of the per-image table: counts and the pixel metrics of this image alone."""
    single = PixelMetrics()
    single.update(pred, truth)
    result = single.compute()
    return {
        "image": name,
        "pred_cracks": n_pred,
        "true_cracks": n_true,
        "tp_px": result.tp,
        "fp_px": result.fp,
        "fn_px": result.fn,
        "precision": round(result.precision, 4),
        "recall": round(result.recall, 4),
        "f1": round(result.f1, 4),
        "iou": round(result.iou, 4),
    }


def _settings_fields(settings: InferenceSettings) -> dict[str, Any]:
    return {name: getattr(settings, name) for name in settings.__dataclass_fields__}


def _json_safe(value: Any) -> Any:
    """Convert numpy scalars/arrays and NaN into JSON-friendly values."""
    if isinstance(value, dict):
        return {str(key): _json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(item) for item in value]
    if isinstance(value, np.ndarray):
        return [_json_safe(item) for item in value.tolist()]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
