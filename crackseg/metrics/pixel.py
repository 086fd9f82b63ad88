"""Pixel-level crack scores: TP/FP/FN/TN counts, precision, recall, F1, IoU."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from crackseg.metrics.base import (
    AccumulatingMetric,
    MetricResult,
    check_pair,
    count_scores,
)

# --------------------------------------------------------------------------- pixel level


def pixel_counts(pred_mask: np.ndarray, truth_mask: np.ndarray) -> tuple[int, int, int, int]:
    """Count ``(tp, fp, fn, tn)`` crack pixels of one image.

    Args:
        pred_mask: ``(H, W)`` bool, True where a crack is predicted.
        truth_mask: ``(H, W)`` bool, True where the ground truth has a crack.

    Raises:
        ValueError: a mask is not 2-D bool, or the shapes differ.
    """
    pred, truth = check_pair(pred_mask, truth_mask)
    tp = int(np.count_nonzero(pred & truth))
    fp = int(np.count_nonzero(pred)) - tp
    fn = int(np.count_nonzero(truth)) - tp
    return tp, fp, fn, int(pred.size) - tp - fp - fn


@dataclass(frozen=True)
class PixelMetricsResult(MetricResult):
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
        precision, recall, f1, iou = count_scores(tp, fp, fn)
        return cls(int(tp), int(fp), int(fn), int(tn), precision, recall, f1, iou)

    def confusion_matrix(self) -> np.ndarray:
        """``(2, 2)`` int64, rows truth ``[background, crack]``, columns prediction: ``[[tn, fp], [fn, tp]]``."""
        return np.array([[self.tn, self.fp], [self.fn, self.tp]], dtype=np.int64)


class PixelMetrics(AccumulatingMetric[PixelMetricsResult]):
    """Accumulate crack-pixel TP/FP/FN/TN over images; ``compute()`` -> ``PixelMetricsResult``."""

    def __init__(self) -> None:
        super().__init__()

    def _reset_counts(self) -> None:
        self._counts = np.zeros(4, dtype=np.int64)

    def update(self, pred_mask: np.ndarray, truth_mask: np.ndarray) -> None:
        """Add one image: ``(H, W)`` bool prediction and truth of the same shape."""
        self._counts += pixel_counts(pred_mask, truth_mask)
        self._count_image()

    def _compute(self) -> PixelMetricsResult:
        return PixelMetricsResult.from_counts(*(int(count) for count in self._counts))
