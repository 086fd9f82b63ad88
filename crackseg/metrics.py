"""Segmentation metrics for cracks: pixel, tolerance, instance and threshold-sweep.

Every metric accumulates over a dataset: ``update(...)`` per image, ``reset()``,
``compute()`` -> a frozen result dataclass with ``to_dict()`` and ``to_pandas()``.
``compute()`` before any ``update()`` raises ``ValueError`` (an empty dataset is
not a perfect score).

Masks are numpy ``bool`` arrays; shapes must match. Crack-free images are
normal, so every ratio is defined when its denominator is zero (the *empty
conventions*, shared by all metrics here):

- precision = matched predictions / predictions; with no prediction it is 1.0
  when there is also no truth, else 0.0;
- recall = matched truths / truths; with no truth it is 1.0 when there is also
  no prediction, else 0.0;
- F1 and IoU are 1.0 when prediction and truth are both empty, else computed
  (0.0 when nothing matches).

Metrics are for the crack class only: no background class inflates a mean IoU.
Ultralytics metric names are translated in one place,
``translate_ultralytics_metrics``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import cv2
import numpy as np
import pandas as pd

__all__ = [
    "ULTRALYTICS_KEY_FOR_METRIC",
    "ULTRALYTICS_METRIC_KEYS",
    "InstanceMetrics",
    "InstanceMetricsResult",
    "PixelMetrics",
    "PixelMetricsResult",
    "SweepResult",
    "ThresholdSweep",
    "ToleranceMetrics",
    "ToleranceMetricsResult",
    "mask_iou_matrix",
    "pixel_counts",
    "translate_ultralytics_key",
    "translate_ultralytics_metrics",
]

DEFAULT_THRESHOLDS: np.ndarray = np.round(np.arange(0.05, 0.96, 0.05), 2)
"""``(19,)`` float64 confidence thresholds 0.05, 0.10, ..., 0.95 used by ``ThresholdSweep``."""

_IOU_CHUNK_BYTES = 64 * 2**20  # memory bound for one float32 block in ``mask_iou_matrix``


# --------------------------------------------------------------------------- validation and ratios


def _check_mask(name: str, mask: np.ndarray, ndim: int) -> np.ndarray:
    """Return ``mask`` as an ndarray after checking it is bool with ``ndim`` dimensions."""
    array = np.asarray(mask)
    if array.dtype != bool:
        raise ValueError(f"{name} must be a bool mask, got dtype {array.dtype}")
    if array.ndim != ndim:
        axes = "(H, W)" if ndim == 2 else "(N, H, W)"
        raise ValueError(f"{name} must be {axes}, got shape {array.shape}")
    return array


def _check_pair(pred_mask: np.ndarray, truth_mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Validate two ``(H, W)`` bool masks of the same shape."""
    pred = _check_mask("pred_mask", pred_mask, 2)
    truth = _check_mask("truth_mask", truth_mask, 2)
    if pred.shape != truth.shape:
        raise ValueError(f"pred_mask shape {pred.shape} does not match truth_mask shape {truth.shape}")
    return pred, truth


def _check_tolerance(tolerance_px: int) -> int:
    if isinstance(tolerance_px, bool) or not isinstance(tolerance_px, (int, np.integer)) or tolerance_px < 0:
        raise ValueError(f"tolerance_px must be an integer >= 0, got {tolerance_px!r}")
    return int(tolerance_px)


def _ratio(numerator: np.ndarray, denominator: np.ndarray, empty_value: np.ndarray) -> np.ndarray:
    """``numerator / denominator`` as float64, ``empty_value`` where the denominator is 0."""
    numerator = np.asarray(numerator, dtype=np.float64)
    denominator = np.asarray(denominator, dtype=np.float64)
    out = np.array(np.broadcast_to(empty_value, np.broadcast(numerator, denominator).shape), dtype=np.float64)
    return np.divide(numerator, denominator, out=out, where=denominator > 0)


def _precision_recall_f1(
    matched_pred: np.ndarray, total_pred: np.ndarray, matched_truth: np.ndarray, total_truth: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Precision, recall, F1 (float64, broadcast shape) with the module's empty conventions.

    F1 is the harmonic mean ``2PR / (P + R)``: 1.0 when both totals are 0, 0.0 when ``P + R == 0``.
    """
    total_pred = np.asarray(total_pred)
    total_truth = np.asarray(total_truth)
    precision = _ratio(matched_pred, total_pred, np.where(total_truth == 0, 1.0, 0.0))
    recall = _ratio(matched_truth, total_truth, np.where(total_pred == 0, 1.0, 0.0))
    both_empty = (total_pred == 0) & (total_truth == 0)
    f1 = _ratio(2.0 * precision * recall, precision + recall, np.where(both_empty, 1.0, 0.0))
    return precision, recall, f1


def _count_scores(tp: int, fp: int, fn: int) -> tuple[float, float, float, float]:
    """Precision, recall, F1 = 2TP / (2TP + FP + FN), IoU = TP / (TP + FP + FN), empty conventions."""
    precision, recall, _ = _precision_recall_f1(tp, tp + fp, tp, tp + fn)
    empty = 1.0 if tp + fp + fn == 0 else 0.0
    f1 = _ratio(2 * tp, 2 * tp + fp + fn, empty)
    iou = _ratio(tp, tp + fp + fn, empty)
    return float(precision), float(recall), float(f1), float(iou)


def _disk(radius_px: int) -> np.ndarray:
    """``(2r+1, 2r+1)`` uint8 kernel of offsets with ``dy**2 + dx**2 <= r**2`` (Euclidean disk)."""
    offsets = np.arange(-radius_px, radius_px + 1)
    return ((offsets[:, None] ** 2 + offsets[None, :] ** 2) <= radius_px**2).astype(np.uint8)


def _within_tolerance(target: np.ndarray, tolerance_px: int) -> np.ndarray:
    """``(H, W)`` bool: pixels whose Euclidean distance to a ``target`` pixel is ``<= tolerance_px``.

    Uses OpenCV's exact distance transform (``DIST_L2``, ``DIST_MASK_PRECISE``) of ``~target``.
    """
    if not target.any():
        return np.zeros(target.shape, dtype=bool)
    distance = cv2.distanceTransform((~target).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    # distances are square roots of integers; comparing squares avoids float32 rounding at the boundary
    return distance.astype(np.float64) ** 2 <= tolerance_px**2 + 0.5


# --------------------------------------------------------------------------- pixel level


def pixel_counts(pred_mask: np.ndarray, truth_mask: np.ndarray) -> tuple[int, int, int, int]:
    """Count ``(tp, fp, fn, tn)`` crack pixels of one image.

    Args:
        pred_mask: ``(H, W)`` bool, True where a crack is predicted.
        truth_mask: ``(H, W)`` bool, True where the ground truth has a crack.

    Raises:
        ValueError: a mask is not 2-D bool, or the shapes differ.
    """
    pred, truth = _check_pair(pred_mask, truth_mask)
    tp = int(np.count_nonzero(pred & truth))
    fp = int(np.count_nonzero(pred)) - tp
    fn = int(np.count_nonzero(truth)) - tp
    return tp, fp, fn, int(pred.size) - tp - fp - fn


@dataclass(frozen=True)
class PixelMetricsResult:
    """Crack-class pixel counts and scores over a dataset (empty conventions in the module docstring).

    ``precision = tp / (tp + fp)``, ``recall = tp / (tp + fn)``,
    ``f1 = 2 tp / (2 tp + fp + fn)``, ``iou = tp / (tp + fp + fn)``.
    """

    tp: int
    fp: int
    fn: int
    tn: int
    precision: float
    recall: float
    f1: float
    iou: float

    @classmethod
    def from_counts(cls, tp: int, fp: int, fn: int, tn: int) -> PixelMetricsResult:
        """Scores computed from the four counts."""
        precision, recall, f1, iou = _count_scores(tp, fp, fn)
        return cls(int(tp), int(fp), int(fn), int(tn), precision, recall, f1, iou)

    def confusion_matrix(self) -> np.ndarray:
        """``(2, 2)`` int64, rows truth ``[background, crack]``, columns prediction: ``[[tn, fp], [fn, tp]]``."""
        return np.array([[self.tn, self.fp], [self.fn, self.tp]], dtype=np.int64)

    def to_dict(self) -> dict[str, int | float]:
        """Fields as plain Python numbers (JSON-friendly)."""
        return asdict(self)

    def to_pandas(self) -> pd.DataFrame:
        """One-row DataFrame, one column per field."""
        return pd.DataFrame([self.to_dict()])


class PixelMetrics:
    """Accumulate crack-pixel TP/FP/FN/TN over images; ``compute()`` -> ``PixelMetricsResult``."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Forget every image seen so far."""
        self._counts = np.zeros(4, dtype=np.int64)
        self._images = 0

    def update(self, pred_mask: np.ndarray, truth_mask: np.ndarray) -> None:
        """Add one image: ``(H, W)`` bool prediction and truth of the same shape."""
        self._counts += pixel_counts(pred_mask, truth_mask)
        self._images += 1

    def compute(self) -> PixelMetricsResult:
        """Scores over every image since the last ``reset()``; ``ValueError`` if there was none."""
        if self._images == 0:
            raise ValueError("PixelMetrics.compute() called before any update()")
        return PixelMetricsResult.from_counts(*(int(count) for count in self._counts))


# --------------------------------------------------------------------------- tolerance (boundary-style) level


@dataclass(frozen=True)
class ToleranceMetricsResult:
    """Pixel scores that forgive small offsets (empty conventions in the module docstring).

    ``precision = matched_pred / total_pred``: predicted crack pixels within
    ``tolerance_px`` (Euclidean) of a truth pixel. ``recall = matched_truth /
    total_truth``: truth pixels within ``tolerance_px`` of a predicted pixel.
    ``f1`` is their harmonic mean. ``tolerance_px = 0`` equals pixel level.
    """

    tolerance_px: int
    precision: float
    recall: float
    f1: float
    matched_pred: int
    total_pred: int
    matched_truth: int
    total_truth: int

    def to_dict(self) -> dict[str, int | float]:
        """Fields as plain Python numbers (JSON-friendly)."""
        return asdict(self)

    def to_pandas(self) -> pd.DataFrame:
        """One-row DataFrame, one column per field."""
        return pd.DataFrame([self.to_dict()])


class ToleranceMetrics:
    """Accumulate tolerance-matched pixel counts; ``compute()`` -> ``ToleranceMetricsResult``.

    Args:
        tolerance_px: integer ``>= 0``; a pixel matches if a pixel of the other
            mask lies at Euclidean distance ``<= tolerance_px`` (so 1 admits the 4
            direct neighbours but not diagonals, which are at ``sqrt(2)``).
    """

    def __init__(self, tolerance_px: int = 2) -> None:
        self.tolerance_px = _check_tolerance(tolerance_px)
        self.reset()

    def reset(self) -> None:
        """Forget every image seen so far."""
        self._counts = np.zeros(4, dtype=np.int64)  # matched_pred, total_pred, matched_truth, total_truth
        self._images = 0

    def update(self, pred_mask: np.ndarray, truth_mask: np.ndarray) -> None:
        """Add one image: ``(H, W)`` bool prediction and truth of the same shape."""
        pred, truth = _check_pair(pred_mask, truth_mask)
        matched_pred = np.count_nonzero(pred & _within_tolerance(truth, self.tolerance_px))
        matched_truth = np.count_nonzero(truth & _within_tolerance(pred, self.tolerance_px))
        self._counts += (matched_pred, np.count_nonzero(pred), matched_truth, np.count_nonzero(truth))
        self._images += 1

    def compute(self) -> ToleranceMetricsResult:
        """Scores over every image since the last ``reset()``; ``ValueError`` if there was none."""
        if self._images == 0:
            raise ValueError("ToleranceMetrics.compute() called before any update()")
        matched_pred, total_pred, matched_truth, total_truth = (int(count) for count in self._counts)
        precision, recall, f1 = _precision_recall_f1(matched_pred, total_pred, matched_truth, total_truth)
        return ToleranceMetricsResult(
            self.tolerance_px,
            float(precision),
            float(recall),
            float(f1),
            matched_pred,
            total_pred,
            matched_truth,
            total_truth,
        )


# --------------------------------------------------------------------------- instance level


def mask_iou_matrix(pred_masks: np.ndarray, truth_masks: np.ndarray) -> np.ndarray:
    """IoU of every predicted mask with every truth mask.

    Args:
        pred_masks: ``(N, H, W)`` bool.
        truth_masks: ``(M, H, W)`` bool, same ``H, W``.

    Returns:
        ``(N, M)`` float64, ``|p & t| / |p | t|``; two empty masks have IoU 1.0
        (the module's empty convention), an empty and a non-empty one 0.0.

    Intersections are matrix products of float32 0/1 blocks, restricted to the
    pixels covered by some prediction *and* some truth (thin cracks leave few)
    and split into column chunks so memory stays bounded on large images.
    """
    pred = _check_mask("pred_masks", pred_masks, 3)
    truth = _check_mask("truth_masks", truth_masks, 3)
    if pred.shape[1:] != truth.shape[1:]:
        raise ValueError(f"pred_masks shape {pred.shape} and truth_masks shape {truth.shape} differ in (H, W)")
    n, m = pred.shape[0], truth.shape[0]
    pixels = int(np.prod(pred.shape[1:]))
    pred_flat = pred.reshape(n, pixels)
    truth_flat = truth.reshape(m, pixels)
    intersection = np.zeros((n, m), dtype=np.int64)
    if n and m:
        columns = np.flatnonzero(pred_flat.any(axis=0) & truth_flat.any(axis=0))
        chunk = max(1, min(2**22, _IOU_CHUNK_BYTES // (4 * max(n, m))))
        for start in range(0, columns.size, chunk):
            block = columns[start : start + chunk]
            product = pred_flat[:, block].astype(np.float32) @ truth_flat[:, block].astype(np.float32).T
            intersection += np.rint(product).astype(np.int64)
    pred_area = np.count_nonzero(pred_flat, axis=1)
    truth_area = np.count_nonzero(truth_flat, axis=1)
    union = pred_area[:, None] + truth_area[None, :] - intersection
    return _ratio(intersection, union, 1.0)


def _greedy_match(iou: np.ndarray, order: np.ndarray, iou_threshold: float) -> int:
    """Number of one-to-one matches: each prediction in ``order`` takes the free truth of highest IoU."""
    free = np.ones(iou.shape[1], dtype=bool)
    matched = 0
    for index in order:
        candidates = np.where(free, iou[index], -1.0)
        if candidates.size == 0:
            break
        best = int(np.argmax(candidates))  # ties -> lowest truth index
        if candidates[best] >= iou_threshold:
            free[best] = False
            matched += 1
    return matched


@dataclass(frozen=True)
class InstanceMetricsResult:
    """Instance-level counts and scores (empty conventions in the module docstring).

    A prediction is a true positive when matched one-to-one to a truth instance
    with mask IoU ``>= iou_threshold``; ``f1 = 2 tp / (2 tp + fp + fn)``.
    """

    tp: int
    fp: int
    fn: int
    precision: float
    recall: float
    f1: float
    iou_threshold: float

    def confusion_matrix(self) -> np.ndarray:
        """``(2, 2)`` int64 ``[[0, fp], [fn, tp]]``, rows truth ``[background, crack]``, columns prediction.

        Background-background is undefined for instances (nothing is counted there), so it is 0.
        """
        return np.array([[0, self.fp], [self.fn, self.tp]], dtype=np.int64)

    def to_dict(self) -> dict[str, int | float]:
        """Fields as plain Python numbers (JSON-friendly)."""
        return asdict(self)

    def to_pandas(self) -> pd.DataFrame:
        """One-row DataFrame, one column per field."""
        return pd.DataFrame([self.to_dict()])


class InstanceMetrics:
    """Accumulate greedy (COCO-style) instance matches; ``compute()`` -> ``InstanceMetricsResult``.

    Args:
        iou_threshold: in ``(0, 1]``; the lowest mask IoU that counts as a match.
    """

    def __init__(self, iou_threshold: float = 0.5) -> None:
        if not 0.0 < float(iou_threshold) <= 1.0:
            raise ValueError(f"iou_threshold must be in (0, 1], got {iou_threshold!r}")
        self.iou_threshold = float(iou_threshold)
        self.reset()

    def reset(self) -> None:
        """Forget every image seen so far."""
        self._counts = np.zeros(3, dtype=np.int64)  # tp, fp, fn
        self._images = 0

    def update(
        self, pred_masks: np.ndarray, truth_masks: np.ndarray, pred_confidence: np.ndarray | None = None
    ) -> None:
        """Add one image.

        Args:
            pred_masks: ``(N, H, W)`` bool predicted instances.
            truth_masks: ``(M, H, W)`` bool truth instances, same ``H, W``.
            pred_confidence: ``(N,)`` scores; predictions are matched in
                descending score order (stable: ties and ``None`` keep input order).
        """
        iou = mask_iou_matrix(pred_masks, truth_masks)
        n, m = iou.shape
        if pred_confidence is None:
            order = np.arange(n)
        else:
            confidence = np.asarray(pred_confidence, dtype=np.float64)
            if confidence.shape != (n,):
                raise ValueError(
                    f"pred_confidence must be ({n},) for pred_masks shape {np.shape(pred_masks)}, "
                    f"got {confidence.shape}"
                )
            order = np.argsort(-confidence, kind="stable")
        tp = _greedy_match(iou, order, self.iou_threshold)
        self._counts += (tp, n - tp, m - tp)
        self._images += 1

    def compute(self) -> InstanceMetricsResult:
        """Scores over every image since the last ``reset()``; ``ValueError`` if there was none."""
        if self._images == 0:
            raise ValueError("InstanceMetrics.compute() called before any update()")
        tp, fp, fn = (int(count) for count in self._counts)
        precision, recall, f1, _ = _count_scores(tp, fp, fn)
        return InstanceMetricsResult(tp, fp, fn, precision, recall, f1, self.iou_threshold)


# --------------------------------------------------------------------------- confidence-threshold sweep


@dataclass(frozen=True)
class SweepResult:
    """Tolerance-matched scores at each confidence threshold (as ``ToleranceMetrics``).

    Attributes:
        thresholds, precision, recall, f1: ``(T,)`` float64, dataset-level (counts summed over images).
        ods_f1, ods_threshold: optimal dataset scale, the best dataset-level F1
            and its threshold (the lowest one on ties).
        ois_f1: optimal image scale, the mean over images of each image's best F1
            over the thresholds (a crack-free image scores 1.0 at any threshold
            where it has no prediction).
        images: number of images accumulated.
    """

    thresholds: np.ndarray
    precision: np.ndarray
    recall: np.ndarray
    f1: np.ndarray
    ods_f1: float
    ods_threshold: float
    ois_f1: float
    images: int

    def to_dict(self) -> dict[str, list[float] | float | int]:
        """JSON-friendly: arrays as lists of floats."""
        return {
            "thresholds": [float(v) for v in self.thresholds],
            "precision": [float(v) for v in self.precision],
            "recall": [float(v) for v in self.recall],
            "f1": [float(v) for v in self.f1],
            "ods_f1": float(self.ods_f1),
            "ods_threshold": float(self.ods_threshold),
            "ois_f1": float(self.ois_f1),
            "images": int(self.images),
        }

    def to_pandas(self) -> pd.DataFrame:
        """One row per threshold: ``threshold, precision, recall, f1``."""
        return pd.DataFrame(
            {"threshold": self.thresholds, "precision": self.precision, "recall": self.recall, "f1": self.f1}
        )


class ThresholdSweep:
    """Sweep the confidence threshold; ``compute()`` -> ``SweepResult`` with ODS and OIS F1.

    At threshold ``t`` the prediction is the union of instances with
    ``confidence >= t`` (compared in float32, so a float32 score of 0.35 counts
    at ``t = 0.35``), matched to the truth as ``ToleranceMetrics(tolerance_px)``.

    Args:
        thresholds: strictly increasing finite values; default 0.05, 0.10, ..., 0.95.
        tolerance_px: integer ``>= 0``; 0 is exact pixel matching.
    """

    def __init__(self, thresholds: Sequence[float] | None = None, tolerance_px: int = 2) -> None:
        values = DEFAULT_THRESHOLDS if thresholds is None else np.asarray(thresholds, dtype=np.float64)
        if values.ndim != 1 or values.size == 0 or not np.all(np.isfinite(values)) or np.any(np.diff(values) <= 0):
            raise ValueError(
                f"thresholds must be a non-empty, strictly increasing 1-D list of numbers, got {thresholds}"
            )
        self.thresholds = values.copy()
        self.tolerance_px = _check_tolerance(tolerance_px)
        self._disk = _disk(self.tolerance_px)
        self.reset()

    def reset(self) -> None:
        """Forget every image seen so far."""
        # rows: matched_pred, total_pred, matched_truth, total_truth; one column per threshold
        self._counts = np.zeros((4, self.thresholds.size), dtype=np.int64)
        self._best_f1: list[float] = []

    def update(self, pred_masks: np.ndarray, pred_confidence: np.ndarray, truth_mask: np.ndarray) -> None:
        """Add one image.

        Args:
            pred_masks: ``(N, H, W)`` bool predicted instances.
            pred_confidence: ``(N,)`` scores.
            truth_mask: ``(H, W)`` bool crack truth.
        """
        masks = _check_mask("pred_masks", pred_masks, 3)
        truth = _check_mask("truth_mask", truth_mask, 2)
        if masks.shape[1:] != truth.shape:
            raise ValueError(f"pred_masks shape {masks.shape} does not match truth_mask shape {truth.shape}")
        confidence = np.asarray(pred_confidence, dtype=np.float32)
        if confidence.shape != (masks.shape[0],):
            raise ValueError(
                f"pred_confidence must be ({masks.shape[0]},) for pred_masks shape {masks.shape}, "
                f"got {confidence.shape}"
            )
        # Each pixel's best score: pixel is in the union at t  <=>  score_map >= t.
        score_map = np.full(truth.shape, -np.inf, dtype=np.float32)
        for index in np.argsort(confidence, kind="stable"):  # ascending: higher scores overwrite
            score_map[masks[index]] = confidence[index]
        thresholds = self.thresholds.astype(np.float32)
        # Precision side: truth distance transform once per image.
        near_truth = _within_tolerance(truth, self.tolerance_px)
        pred_scores = np.sort(score_map[score_map > -np.inf])
        matched_pred_scores = np.sort(score_map[near_truth & (score_map > -np.inf)])
        # Recall side: a truth pixel matches at t iff the best score within the disk is >= t.
        reach = cv2.dilate(score_map, self._disk, borderType=cv2.BORDER_CONSTANT, borderValue=-np.inf)
        truth_scores = np.sort(reach[truth])
        counts = np.stack(
            [
                _count_at_least(matched_pred_scores, thresholds),
                _count_at_least(pred_scores, thresholds),
                _count_at_least(truth_scores, thresholds),
                np.full(thresholds.size, truth_scores.size, dtype=np.int64),
            ]
        )
        self._counts += counts
        self._best_f1.append(float(np.max(_precision_recall_f1(*counts)[2])))

    def compute(self) -> SweepResult:
        """Scores over every image since the last ``reset()``; ``ValueError`` if there was none."""
        if not self._best_f1:
            raise ValueError("ThresholdSweep.compute() called before any update()")
        precision, recall, f1 = _precision_recall_f1(*self._counts)
        best = int(np.argmax(f1))
        return SweepResult(
            thresholds=self.thresholds.copy(),
            precision=precision,
            recall=recall,
            f1=f1,
            ods_f1=float(f1[best]),
            ods_threshold=float(self.thresholds[best]),
            ois_f1=float(np.mean(self._best_f1)),
            images=len(self._best_f1),
        )


def _count_at_least(sorted_scores: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """``(T,)`` int64: how many of ``sorted_scores`` are ``>= t`` for each threshold."""
    return (sorted_scores.size - np.searchsorted(sorted_scores, thresholds, side="left")).astype(np.int64)


# --------------------------------------------------------------------------- Ultralytics metric names

ULTRALYTICS_METRIC_KEYS: dict[str, str] = {
    "metrics/precision(B)": "box_precision",
    "metrics/recall(B)": "box_recall",
    "metrics/mAP50(B)": "box_map50",
    "metrics/mAP50-95(B)": "box_map50_95",
    "metrics/precision(M)": "mask_precision",
    "metrics/recall(M)": "mask_recall",
    "metrics/mAP50(M)": "mask_map50",
    "metrics/mAP50-95(M)": "mask_map50_95",
}
"""Ultralytics metric key -> CrackSeg name. The one table; ``fitness`` and other keys are not translated."""

ULTRALYTICS_KEY_FOR_METRIC: dict[str, str] = {name: key for key, name in ULTRALYTICS_METRIC_KEYS.items()}
"""Reverse lookup: CrackSeg name (``"mask_map50"``) -> Ultralytics key (``"metrics/mAP50(M)"``)."""


def translate_ultralytics_key(key: str) -> str | None:
    """CrackSeg name for one Ultralytics key (surrounding spaces ignored), or ``None`` if unknown."""
    return ULTRALYTICS_METRIC_KEYS.get(key.strip())


def translate_ultralytics_metrics(results_dict: Mapping[str, float]) -> dict[str, float]:
    """Rename Ultralytics metrics (``metrics/mAP50(M)`` -> ``mask_map50``), values as float.

    Accepts ``model.val().results_dict`` or a ``results.csv`` row, whose old
    versions pad keys with spaces. ``fitness``, losses and unknown keys are dropped.
    """
    translated: dict[str, float] = {}
    for key, value in results_dict.items():
        name = translate_ultralytics_key(str(key))
        if name is not None:
            translated[name] = float(value)
    return translated
