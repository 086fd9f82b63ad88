"""Shared pieces of every metric: input checks, ratios with the empty conventions, the accumulate contract."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import asdict
from typing import Generic, TypeVar

import cv2
import numpy as np
import pandas as pd

# --------------------------------------------------------------------------- validation and ratios


def check_mask(name: str, mask: np.ndarray, ndim: int) -> np.ndarray:
    """Return ``mask`` as an ndarray after checking it is bool with ``ndim`` dimensions."""
    array = np.asarray(mask)
    if array.dtype != bool:
        raise ValueError(f"{name} must be a bool mask, got dtype {array.dtype}")
    if array.ndim != ndim:
        axes = "(H, W)" if ndim == 2 else "(N, H, W)"
        raise ValueError(f"{name} must be {axes}, got shape {array.shape}")
    return array


def check_pair(pred_mask: np.ndarray, truth_mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Validate two ``(H, W)`` bool masks of the same shape."""
    pred = check_mask("pred_mask", pred_mask, 2)
    truth = check_mask("truth_mask", truth_mask, 2)
    if pred.shape != truth.shape:
        raise ValueError(f"pred_mask shape {pred.shape} does not match truth_mask shape {truth.shape}")
    return pred, truth


def check_tolerance(tolerance_px: int) -> int:
    if isinstance(tolerance_px, bool) or not isinstance(tolerance_px, (int, np.integer)) or tolerance_px < 0:
        raise ValueError(f"tolerance_px must be an integer >= 0, got {tolerance_px!r}")
    return int(tolerance_px)


def ratio(numerator: np.ndarray, denominator: np.ndarray, empty_value: np.ndarray) -> np.ndarray:
    """``numerator / denominator`` as float64, ``empty_value`` where the denominator is 0."""
    numerator = np.asarray(numerator, dtype=np.float64)
    denominator = np.asarray(denominator, dtype=np.float64)
    out = np.array(np.broadcast_to(empty_value, np.broadcast(numerator, denominator).shape), dtype=np.float64)
    return np.divide(numerator, denominator, out=out, where=denominator > 0)


def precision_recall_f1(
    matched_pred: np.ndarray, total_pred: np.ndarray, matched_truth: np.ndarray, total_truth: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Precision, recall, F1 (float64, broadcast shape) with the module's empty conventions.

    F1 is the harmonic mean ``2PR / (P + R)``: 1.0 when both totals are 0, 0.0 when ``P + R == 0``.
    """
    total_pred = np.asarray(total_pred)
    total_truth = np.asarray(total_truth)
    precision = ratio(matched_pred, total_pred, np.where(total_truth == 0, 1.0, 0.0))
    recall = ratio(matched_truth, total_truth, np.where(total_pred == 0, 1.0, 0.0))
    both_empty = (total_pred == 0) & (total_truth == 0)
    f1 = ratio(2.0 * precision * recall, precision + recall, np.where(both_empty, 1.0, 0.0))
    return precision, recall, f1


def count_scores(tp: int, fp: int, fn: int) -> tuple[float, float, float, float]:
    """Precision, recall, F1 = 2TP / (2TP + FP + FN), IoU = TP / (TP + FP + FN), empty conventions."""
    precision, recall, _ = precision_recall_f1(tp, tp + fp, tp, tp + fn)
    empty = 1.0 if tp + fp + fn == 0 else 0.0
    f1 = ratio(2 * tp, 2 * tp + fp + fn, empty)
    iou = ratio(tp, tp + fp + fn, empty)
    return float(precision), float(recall), float(f1), float(iou)


def disk(radius_px: int) -> np.ndarray:
    """``(2r+1, 2r+1)`` uint8 kernel of offsets with ``dy**2 + dx**2 <= r**2`` (Euclidean disk)."""
    offsets = np.arange(-radius_px, radius_px + 1)
    return ((offsets[:, None] ** 2 + offsets[None, :] ** 2) <= radius_px**2).astype(np.uint8)


def within_tolerance(target: np.ndarray, tolerance_px: int) -> np.ndarray:
    """``(H, W)`` bool: pixels whose Euclidean distance to a ``target`` pixel is ``<= tolerance_px``.

    Uses OpenCV's exact distance transform (``DIST_L2``, ``DIST_MASK_PRECISE``) of ``~target``.
    """
    if not target.any():
        return np.zeros(target.shape, dtype=bool)
    distance = cv2.distanceTransform((~target).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    # distances are square roots of integers; comparing squares avoids float32 rounding at the boundary
    return distance.astype(np.float64) ** 2 <= tolerance_px**2 + 0.5


# --------------------------------------------------------------------------- the shared accumulate/compute contract


class MetricResult:
    """A frozen result dataclass of a metric: plain numbers out, as a dict or a one-row table."""

    def to_dict(self) -> dict[str, int | float]:
        """Fields as plain Python numbers (JSON-friendly)."""
        return asdict(self)  # type: ignore[call-overload]

    def to_pandas(self) -> pd.DataFrame:
        """One-row DataFrame, one column per field."""
        return pd.DataFrame([self.to_dict()])


ResultT = TypeVar("ResultT")


class AccumulatingMetric(ABC, Generic[ResultT]):
    """``update(...)`` per image, ``reset()``, ``compute()``; computing before any update is an error.

    An empty dataset is not a perfect score, so ``compute()`` with no image seen
    raises ``ValueError`` naming the metric; subclasses keep their counts in
    ``_reset_counts`` and call ``_count_image()`` once per ``update``.
    """

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Forget every image seen so far."""
        self._images = 0
        self._reset_counts()

    def compute(self) -> ResultT:
        """Scores over every image since the last ``reset()``; ``ValueError`` if there was none."""
        if self._images == 0:
            raise ValueError(f"{type(self).__name__}.compute() called before any update()")
        return self._compute()

    @property
    def images(self) -> int:
        """Images added since the last ``reset()``."""
        return self._images

    def _count_image(self) -> None:
        self._images += 1

    @abstractmethod
    def _reset_counts(self) -> None:
        """Zero the metric's own accumulators."""

    @abstractmethod
    def _compute(self) -> ResultT:
        """The result from the accumulators (at least one image seen)."""
