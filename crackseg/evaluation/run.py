"""Evaluation: the segmenter over a labelled dataset, compared with ground truth, as one report.

The model runs once per image at the lowest confidence the threshold sweep
needs; the report's main metrics keep only instances at or above the chosen
``conf``, and the sweep re-thresholds the same instances. The report saves to
and loads from a folder (``report.json`` + ``per_image.csv``) so the app can
show a stored evaluation without rerunning the model.
"""

from __future__ import annotations

import dataclasses
import json
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from crackseg.core.errors import CrackSegError, DatasetError
from crackseg.core.json_values import dumps, to_jsonable
from crackseg.datasets.labelled import LabelledImage, YoloDataset
from crackseg.export.overlays import draw_error_overlay
from crackseg.inference.prediction import CrackPrediction, merge_duplicate_instances
from crackseg.inference.preprocessing import PREPROCESSORS, PreprocessSpec
from crackseg.inference.segmenter import InferenceSettings, Segmenter
from crackseg.inference.validation import ValidationImageStats
from crackseg.metrics.bootstrap import DEFAULT_RESAMPLES, DEFAULT_SEED, Interval, f1_interval
from crackseg.metrics.cells import DEFAULT_CELL_PX, CellMetrics, CellSweep
from crackseg.metrics.instance import InstanceMetrics
from crackseg.metrics.pixel import PixelMetrics
from crackseg.metrics.sweep import DEFAULT_THRESHOLDS, ThresholdSweep
from crackseg.metrics.tolerance import ToleranceMetrics

ProgressCallback = Callable[[int, int, str], None]
REPORT_JSON = "report.json"
PER_IMAGE_CSV = "per_image.csv"
SWEEP_COUNTS_NPZ = "sweep_counts.npz"
SWEEP_LEVELS = {"tolerance": "sweep", "pixel": "pixel_sweep", "cells": "cell_sweep"}  # counts key -> sweep field
SWEEP_MIN_CONF = 0.05
_PER_IMAGE_COUNT_COLUMNS = {
    "pixel": ("tp_px", "fp_px", "fn_px"),
    "tolerance": ("tolerance_matched_pred_px", "tolerance_pred_px", "tolerance_matched_truth_px", "tolerance_truth_px"),
    "cells": ("cell_tp", "cell_fp", "cell_fn"),
}
_PRF_IOU = (("precision", "precision"), ("recall", "recall"), ("f1", "F1"), ("iou", "IoU"))
_SETTING_KINDS = (
    ("conf", float),
    ("iou", float),
    ("imgsz", int),
    ("tile", str),
    ("tile_size", int),
    ("tile_overlap", float),
    ("merge_overlap", float),
    ("flip_tta", bool),
)
_ULTRALYTICS_ROWS = (
    ("box_map50", "mAP50"),
    ("box_map50_95", "mAP50-95"),
    ("mask_map50", "mAP50"),
    ("mask_map50_95", "mAP50-95"),
)


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
    cells: dict[str, Any] = field(default_factory=dict)
    region_cells: dict[str, Any] = field(default_factory=dict)  # inside the items' regions; empty without regions
    cell_sweep: dict[str, Any] = field(default_factory=dict)  # cell F1 per conf (in the regions where given)
    pixel_sweep: dict[str, Any] = field(default_factory=dict)  # exact pixel F1 per conf (``sweep`` at 0 px)
    # each image's counts at every swept conf, ``(images, T, 4)``, keys "tolerance", "pixel", "cells" (as the
    # sweeps' ``image_counts``), images in ``per_image``'s order; for paired bootstrap intervals at a chosen
    # conf (``training.domains``, the street gate). ``save`` writes them to ``sweep_counts.npz``.
    sweep_image_counts: dict[str, np.ndarray] = field(default_factory=dict, repr=False, compare=False)
    # Ultralytics' mask matches image by image, from the run that gave ``ultralytics`` (``evaluate_yolo_split``
    # with a segmenter that keeps them): for a bootstrap interval of the mask mAP50. In memory only.
    map_image_stats: ValidationImageStats | None = field(default=None, repr=False, compare=False)

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

    def metrics_table(self) -> pd.DataFrame:
        """The headline metrics as rows ``level, metric, value`` (value float, unrounded) for display.

        Ultralytics' box/mask rows appear only when the report has them.
        """
        tolerance_px = self.tolerance["tolerance_px"]
        rows = [("pixel", name, self.pixel[key]) for key, name in _PRF_IOU]
        rows += [(f"tolerance (<= {tolerance_px} px)", name, self.tolerance[key]) for key, name in _PRF_IOU[:3]]
        iou_threshold = self.instance.get("iou_threshold", 0.5)
        rows += [(f"instance (mask IoU >= {iou_threshold})", name, self.instance[key]) for key, name in _PRF_IOU[:3]]
        rows.append(("threshold sweep", f"ODS F1 (conf {float(self.sweep['ods_threshold']):.2f})", self.ods))
        rows.append(("threshold sweep", "OIS F1", self.ois))
        for level, cells in (("cells", self.cells), ("cells in region", self.region_cells)):
            if cells:
                name = f"{level} ({cells['cell_px']} px)"
                rows += [(name, label, cells[key]) for key, label in _PRF_IOU[:3]]
        for key, name in _ULTRALYTICS_ROWS:
            if key in self.ultralytics:
                rows.append(("Ultralytics " + key.split("_")[0], name, self.ultralytics[key]))
        return pd.DataFrame(
            [(level, metric, float(value)) for level, metric, value in rows], columns=["level", "metric", "value"]
        )

    def summary(self) -> dict[str, Any]:
        """The headline numbers as one flat JSON object (the CLI's ``evaluate --json``)."""
        out: dict[str, Any] = {
            "source": self.source,
            "images": self.images,
            "conf": self.settings.get("conf"),
            "flip_tta": bool(self.settings.get("flip_tta", False)),
            "pixel": {key: self.pixel[key] for key in ("precision", "recall", "f1", "iou", "tp", "fp", "fn", "tn")},
            "tolerance": {"px": self.tolerance["tolerance_px"]}
            | {key: self.tolerance[key] for key in ("precision", "recall", "f1")},
            "instance": {key: self.instance[key] for key in ("tp", "fp", "fn", "precision", "recall", "f1")},
            "ods": self.ods,
            "ods_threshold": float(self.sweep["ods_threshold"]),
            "ois": self.ois,
        }
        for key in ("cells", "region_cells"):
            cells = getattr(self, key)
            if cells:
                out[key] = {name: cells[name] for name in ("cell_px", "precision", "recall", "f1", "tp", "fp", "fn")}
        if self.cell_sweep:
            out["cell_best_conf"] = self.cell_sweep["best_threshold"]
            out["cell_best_f1"] = self.cell_sweep["best_f1"]
        intervals = self.intervals()
        if intervals:
            out["intervals"] = {name: interval.to_dict() for name, interval in intervals.items()}
        out.update(self.ultralytics)
        if self.failures:
            out["failures"] = list(self.failures)
        return to_jsonable(out)

    def image_counts(self, level: str) -> np.ndarray | None:
        """Each image's counts at the report's conf, ``(images, 4)`` int64, or ``None`` where not recorded.

        ``level``: "pixel", "tolerance" or "cells" (in an item's region where it has one, else the whole image).
        Rows are ``(matched_pred, total_pred, matched_truth, total_truth)`` (``metrics.bootstrap``'s
        form), read from ``per_image``; a report saved before these columns existed has none.
        """
        columns = _PER_IMAGE_COUNT_COLUMNS.get(level)
        if columns is None:
            raise ValueError(f"level must be one of {sorted(_PER_IMAGE_COUNT_COLUMNS)}, got {level!r}")
        if self.per_image.empty or not set(columns) <= set(self.per_image.columns):
            return None
        values = self.per_image[list(columns)].to_numpy()
        if level in ("pixel", "cells"):  # tp, fp, fn
            tp, fp, fn = values.T
            values = np.stack([tp, tp + fp, tp, tp + fn], axis=1)
        return values.astype(np.int64)

    def sweep_counts_at(self, level: str, conf: float) -> np.ndarray | None:
        """Each image's counts ``(images, 4)`` at the swept threshold ``conf`` of sweep ``level``, or ``None``.

        ``level``: a key of ``SWEEP_LEVELS``. ``None`` when the report holds no per-image sweep counts (saved
        before they were kept) or ``conf`` is not one of that sweep's thresholds (to 4 decimals).
        """
        counts = self.sweep_image_counts.get(level)
        sweep = getattr(self, SWEEP_LEVELS[level])
        if counts is None or not sweep:
            return None
        thresholds = [round(float(value), 4) for value in sweep["thresholds"]]
        if round(float(conf), 4) not in thresholds or counts.shape[:2] != (self.images, len(thresholds)):
            return None
        return counts[:, thresholds.index(round(float(conf), 4)), :]

    def intervals(self, resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED) -> dict[str, Interval]:
        """95 % bootstrap intervals over the photos of pixel F1, tolerance F1 and cell F1 at the report's conf.

        How much a figure could move on another draw of as many photos (``metrics.bootstrap``).
        Keys ``pixel_f1``, ``tolerance_f1``, ``cell_f1`` (in the regions where the items have them);
        a level without per-image counts (an old saved report) is left out.
        """
        out = {}
        for level, name in (("pixel", "pixel_f1"), ("tolerance", "tolerance_f1"), ("cells", "cell_f1")):
            counts = self.image_counts(level)
            if counts is not None:
                out[name] = f1_interval(counts, resamples=resamples, seed=seed)
        return out

    def save(self, folder: Path | str) -> Path:
        """Write ``report.json``, ``per_image.csv`` and (when kept) ``sweep_counts.npz`` into ``folder``; returns it."""
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
            "cells": self.cells,
            "region_cells": self.region_cells,
            "cell_sweep": self.cell_sweep,
            "pixel_sweep": self.pixel_sweep,
        }
        (folder / REPORT_JSON).write_text(dumps(payload), encoding="utf-8")
        self.per_image.to_csv(folder / PER_IMAGE_CSV, index=False)
        if self.sweep_image_counts:
            np.savez_compressed(folder / SWEEP_COUNTS_NPZ, **self.sweep_image_counts)
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
                cells=payload.get("cells", {}),
                region_cells=payload.get("region_cells", {}),
                cell_sweep=payload.get("cell_sweep", {}),
                pixel_sweep=payload.get("pixel_sweep", {}),
                sweep_image_counts=_load_sweep_counts(folder / SWEEP_COUNTS_NPZ),
            )
        except (OSError, ValueError, KeyError, TypeError, EOFError, pd.errors.ParserError, zipfile.BadZipFile) as error:
            raise CrackSegError(f"{folder}: no readable evaluation report ({type(error).__name__}: {error})") from None


@dataclass(frozen=True)
class LabelledPrediction:
    """One labelled image, predicted as ``evaluate`` predicts it.

    Attributes:
        rgb: the image, ``(H, W, 3)`` uint8.
        truth: ground-truth instances ``(M, H, W)`` bool.
        all_instances: every instance down to the sweep's lowest confidence.
        prediction: the instances at or above the chosen ``conf``.
    """

    rgb: np.ndarray
    truth: np.ndarray
    all_instances: CrackPrediction
    prediction: CrackPrediction

    @property
    def truth_union(self) -> np.ndarray:
        """``(H, W)`` bool: every ground-truth crack pixel."""
        return self.truth.any(axis=0) if len(self.truth) else np.zeros(self.rgb.shape[:2], dtype=bool)


def predict_labelled(
    segmenter: Segmenter,
    item: LabelledImage,
    settings: InferenceSettings | None = None,
    sweep_min_conf: float = SWEEP_MIN_CONF,
) -> LabelledPrediction:
    """Load ``item``, read its truth and predict it: the one per-image step of ``evaluate``.

    The model runs once at ``min(conf, sweep_min_conf)`` without merging
    duplicates; ``prediction`` keeps the instances scoring at least
    ``settings.conf`` and then merges duplicates as ``Segmenter.predict`` does
    at that ``conf``. Raises ``CrackSegError`` when the image or its labels
    cannot be read.
    """
    settings = settings or InferenceSettings()
    rgb = item.load_rgb()
    truth = item.truth_masks((rgb.shape[1], rgb.shape[0]))
    sweep_settings = dataclasses.replace(settings, conf=min(settings.conf, sweep_min_conf), merge_overlap=None)
    all_instances = segmenter.predict(rgb, sweep_settings)
    prediction = all_instances.with_min_confidence(settings.conf)
    if settings.merge_overlap is not None:
        prediction = merge_duplicate_instances(prediction, settings.merge_overlap)
    return LabelledPrediction(rgb, truth, all_instances, prediction)


def error_overlay_for(
    segmenter: Segmenter, item: LabelledImage, settings: InferenceSettings | None = None, *, alpha: float = 0.6
) -> np.ndarray:
    """``item`` drawn with its true-positive, false-positive and missed crack pixels in three colours.

    Predicts as ``evaluate`` does (``predict_labelled``) and returns a new
    ``(H, W, 3)`` uint8 RGB image (``crackseg.export.draw_error_overlay``).
    """
    result = predict_labelled(segmenter, item, settings)
    return draw_error_overlay(result.rgb, result.prediction.union_mask, result.truth_union, alpha=alpha)


def worst_images(per_image: pd.DataFrame, count: int) -> pd.DataFrame:
    """The ``count`` rows of a per-image table with the lowest F1 (then IoU, then name), worst first."""
    if count < 0:
        raise ValueError(f"count must be >= 0, got {count}")
    ordered = per_image.sort_values(["f1", "iou", "image"], kind="stable")
    return ordered.head(count).reset_index(drop=True)


def settings_from_dict(values: Mapping[str, Any]) -> InferenceSettings:
    """Rebuild ``InferenceSettings`` from a report's ``settings`` (as written by ``InferenceSettings.to_dict``).

    The preprocessing is stored as its label (``"CLAHE (clip_limit=3.0, tile_grid=8)"``)
    and parsed back. Raises ``CrackSegError`` when a value cannot be understood.
    """
    try:
        fields = {name: kind(values[name]) for name, kind in _SETTING_KINDS if values.get(name) is not None}
        return InferenceSettings(**fields, preprocess=_spec_from_label(str(values.get("preprocess", "None"))))
    except (TypeError, ValueError) as error:
        raise CrackSegError(f"the report's settings cannot be reused ({error})") from None


def _spec_from_label(label: str) -> PreprocessSpec:
    """Inverse of ``PreprocessSpec.label``: ``"Gamma (gamma=1.5)"`` -> ``PreprocessSpec.of("gamma", gamma=1.5)``."""
    head, _, inner = label.partition(" (")
    for name, method in PREPROCESSORS.items():
        if method.label != head:
            continue
        kinds = {parameter.name: type(parameter.default) for parameter in method.parameters}
        params: dict[str, Any] = {}
        for part in filter(None, (piece.strip() for piece in inner.rstrip(")").split(","))):
            key, _, text = part.partition("=")
            if key not in kinds:
                raise ValueError(f"{method.label} has no parameter {key!r}")
            params[key] = kinds[key](text)
        return PreprocessSpec.of(name, **params)
    raise ValueError(f"unknown preprocessing {label!r}")


def evaluate(
    segmenter: Segmenter,
    items: Sequence[LabelledImage],
    settings: InferenceSettings | None = None,
    *,
    tolerance_px: int = 2,
    cell_px: int = DEFAULT_CELL_PX,
    cell_thresholds: Sequence[float] | None = None,
    sweep_min_conf: float = SWEEP_MIN_CONF,
    source: str = "",
    progress: ProgressCallback | None = None,
) -> EvaluationReport:
    """Run ``segmenter`` over ``items`` and compare with their ground truth.

    Besides pixel, tolerance, instance and sweep metrics (the sweep both within ``tolerance_px`` and
    pixel-exact, to choose the top-down view's ``conf`` on validation data) it scores ``cell_px`` cells
    (a cell is cracked when it holds a crack pixel): over the whole image, and inside
    each item's region mask where items have one (the surveyed lane), plus the cell F1
    at every confidence threshold (in the regions where given) to choose a view's
    default ``conf`` on validation data: at ``cell_thresholds`` (default 0.05, 0.10, ..., 0.95). The model
    runs once, at the lowest of ``sweep_min_conf``, the lowest threshold and ``conf``, and the sweeps come
    from that run; instances merged across tiles then hold pieces found below a threshold, so a sweep's
    value differs from a run at that conf. ``sweep_min_conf=conf, cell_thresholds=(conf,)`` scores ``conf``
    exactly as the product runs it.
    Images that cannot be read, or whose labels
    are malformed, are listed in ``failures`` (one line each) and skipped; an
    evaluation with no usable image raises ``DatasetError``.
    """
    settings = settings or InferenceSettings()
    pixel, tolerance = PixelMetrics(), ToleranceMetrics(tolerance_px=tolerance_px)
    instance, sweep = InstanceMetrics(iou_threshold=0.5), ThresholdSweep(tolerance_px=tolerance_px)
    pixel_sweep = ThresholdSweep(tolerance_px=0)
    cells, region_cells = CellMetrics(cell_px), CellMetrics(cell_px)
    cell_sweep = CellSweep(DEFAULT_THRESHOLDS if cell_thresholds is None else cell_thresholds, cell_px)
    run_conf = min(sweep_min_conf, float(cell_sweep.thresholds.min()))
    rows, failures = [], []
    for index, item in enumerate(items):
        if progress is not None:
            progress(index, len(items), item.name)
        try:
            result = predict_labelled(segmenter, item, settings, run_conf)
            region = item.region_mask((result.rgb.shape[1], result.rgb.shape[0]))
        except CrackSegError as error:
            failures.append(str(error))
            continue
        prediction, truth = result.prediction, result.truth
        truth_union, pred_union = result.truth_union, prediction.union_mask
        pixel.update(pred_union, truth_union)
        tolerance.update(pred_union, truth_union)
        instance.update(prediction.masks, truth, prediction.confidence)
        sweep.update(result.all_instances.masks, result.all_instances.confidence, truth_union)
        pixel_sweep.update(result.all_instances.masks, result.all_instances.confidence, truth_union)
        cells.update(pred_union, truth_union)
        if region is not None:
            region_cells.update(pred_union, truth_union, region)
        cell_sweep.update(result.all_instances.masks, result.all_instances.confidence, truth_union, region)
        rows.append(
            _per_image_row(
                item.name, pred_union, truth_union, len(prediction), len(truth), region, tolerance_px, cell_px
            )
        )
    if progress is not None:
        progress(len(items), len(items), "")
    if not rows:
        raise DatasetError(
            f"{source or 'dataset'}: no image could be evaluated" + (f" ({failures[0]})" if failures else "")
        )
    swept = {"tolerance": sweep.compute(), "pixel": pixel_sweep.compute()}
    cell_swept = cell_sweep.compute()
    return EvaluationReport(
        source=source,
        images=len(rows),
        model=segmenter.info(),
        settings=settings.to_dict() | {"tolerance_px": tolerance_px},
        pixel=pixel.compute().to_dict(),
        tolerance=tolerance.compute().to_dict(),
        instance=instance.compute().to_dict(),
        sweep=swept["tolerance"].to_dict(),
        per_image=pd.DataFrame(rows),
        failures=failures,
        cells=cells.compute().to_dict(),
        region_cells=region_cells.compute().to_dict() if region_cells.images else {},
        cell_sweep=cell_swept.to_dict(),
        pixel_sweep=swept["pixel"].to_dict(),
        sweep_image_counts={name: result.image_counts for name, result in swept.items()}
        | {"cells": cell_swept.image_counts},
    )


def evaluate_yolo_split(
    segmenter: Segmenter,
    data_yaml: Path | str,
    split: str,
    settings: InferenceSettings | None = None,
    *,
    tolerance_px: int = 2,
    cell_px: int = DEFAULT_CELL_PX,
    with_map: bool = True,
    progress: ProgressCallback | None = None,
) -> EvaluationReport:
    """``evaluate`` over a YOLO split, plus Ultralytics' box and mask mAP50 / mAP50-95 (and, from a ``Segmenter``,
    its mask matches image by image in ``map_image_stats``)."""
    dataset = YoloDataset.from_yaml(data_yaml)
    items = dataset.items(split)
    report = evaluate(
        segmenter,
        items,
        settings,
        tolerance_px=tolerance_px,
        cell_px=cell_px,
        source=f"{dataset.yaml_path}:{split}",
        progress=progress,
    )
    if with_map:
        imgsz = (settings or InferenceSettings()).imgsz
        per_image = getattr(segmenter, "validate_per_image", None)  # a Segmenter; not every stand-in has it
        if per_image is not None:
            report.ultralytics, report.map_image_stats = per_image(dataset, split, imgsz)
        else:
            report.ultralytics = ultralytics_map(segmenter, dataset, split, imgsz)
    return report


def ultralytics_map(
    segmenter: Segmenter, dataset: YoloDataset | Path | str, split: str, imgsz: int
) -> dict[str, float]:
    """Ultralytics' own validator (conf 0.001, NMS IoU 0.7) on a split, for a segmenter's model: box and mask mAP.

    ``dataset`` is a ``YoloDataset`` or the path of its data.yaml.
    """
    return segmenter.validate(dataset, split, imgsz)


def _load_sweep_counts(path: Path) -> dict[str, np.ndarray]:
    """The per-image sweep counts ``save`` wrote (none for a report saved without them); arrays only, no pickles."""
    if not path.is_file():
        return {}
    with np.load(path, allow_pickle=False) as stored:
        counts = {name: stored[name] for name in stored.files if name in SWEEP_LEVELS}
    for name, values in counts.items():
        if values.ndim != 3 or values.shape[2] != 4 or not np.issubdtype(values.dtype, np.integer):
            raise ValueError(f"{path.name}: {name} is not an (images, thresholds, 4) integer array")
    return counts


def _per_image_row(
    name: str,
    pred: np.ndarray,
    truth: np.ndarray,
    n_pred: int,
    n_true: int,
    region: np.ndarray | None,
    tolerance_px: int,
    cell_px: int,
) -> dict[str, Any]:
    """One row of the per-image table: counts and the pixel metrics of this image alone.

    Besides the pixel counts it holds the image's tolerance and cell counts (cells in ``region`` when
    given), so that a dataset-level figure can be resampled over the images (``EvaluationReport.intervals``).
    """
    single = PixelMetrics()
    single.update(pred, truth)
    result = single.compute()
    near = ToleranceMetrics(tolerance_px=tolerance_px)
    near.update(pred, truth)
    tolerance = near.compute()
    grid = CellMetrics(cell_px)
    grid.update(pred, truth, region)
    cells = grid.compute()
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
        "tolerance_matched_pred_px": tolerance.matched_pred,
        "tolerance_pred_px": tolerance.total_pred,
        "tolerance_matched_truth_px": tolerance.matched_truth,
        "tolerance_truth_px": tolerance.total_truth,
        "cell_tp": cells.tp,
        "cell_fp": cells.fp,
        "cell_fn": cells.fn,
    }


def _settings_fields(settings: InferenceSettings) -> dict[str, Any]:
    return {name: getattr(settings, name) for name in settings.__dataclass_fields__}
