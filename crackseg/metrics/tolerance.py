"""Tolerance (boundary-style) pixel scores: a predicted pixel counts if a truth pixel lies within ``tolerance_px``."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from crackseg.metrics.base import (
    AccumulatingMetric,
    MetricResult,
    check_pair,
    check_tolerance,
    precision_recall_f1,
    within_tolerance,
)

# --------------------------------------------------------------------------- tolerance (boundary-style) level


@dataclass(frozen=True)
class ToleranceMetricsResult(MetricResult):
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


class ToleranceMetrics(AccumulatingMetric[ToleranceMetricsResult]):
    """Accumulate tolerance-matched pixel counts; ``compute()`` -> ``ToleranceMetricsResult``.

    Args:
        tolerance_px: integer ``>= 0``; a pixel matches if a pixel of the other
            mask lies at Euclidean distance ``<= tolerance_px`` (so 1 admits the 4
            direct neighbours but not diagonals, which are at ``sqrt(2)``).
    """

    def __init__(self, tolerance_px: int = 2) -> None:
        self.tolerance_px = check_tolerance(tolerance_px)
        super().__init__()

    def _reset_counts(self) -> None:
        self._counts = np.zeros(4, dtype=np.int64)  # matched_pred, total_pred, matched_truth, total_truth

    def update(self, pred_mask: np.ndarray, truth_mask: np.ndarray) -> None:
        """Add one image: ``(H, W)`` bool prediction and truth of the same shape."""
        pred, truth = check_pair(pred_mask, truth_mask)
        matched_pred = np.count_nonzero(pred & within_tolerance(truth, self.tolerance_px))
        matched_truth = np.count_nonzero(truth & within_tolerance(pred, self.tolerance_px))
        self._counts += (matched_pred, np.count_nonzero(pred), matched_truth, np.count_nonzero(truth))
        self._count_image()

    def _compute(self) -> ToleranceMetricsResult:
        matched_pred, total_pred, matched_truth, total_truth = (int(count) for count in self._counts)
        precision, recall, f1 = precision_recall_f1(matched_pred, total_pred, matched_truth, total_truth)
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
