"""Instance-level scores: masks matched one-to-one by IoU, greedily by confidence."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from crackseg.metrics.base import (
    AccumulatingMetric,
    MetricResult,
    check_mask,
    count_scores,
    ratio,
)

_IOU_CHUNK_BYTES = 64 * 2**20  # memory bound for one float32 block in ``mask_iou_matrix``

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
    pred = check_mask("pred_masks", pred_masks, 3)
    truth = check_mask("truth_masks", truth_masks, 3)
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
    return ratio(intersection, union, 1.0)


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
class InstanceMetricsResult(MetricResult):
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


class InstanceMetrics(AccumulatingMetric[InstanceMetricsResult]):
    """Accumulate greedy (COCO-style) instance matches; ``compute()`` -> ``InstanceMetricsResult``.

    Args:
        iou_threshold: in ``(0, 1]``; the lowest mask IoU that counts as a match.
    """

    def __init__(self, iou_threshold: float = 0.5) -> None:
        if not 0.0 < float(iou_threshold) <= 1.0:
            raise ValueError(f"iou_threshold must be in (0, 1], got {iou_threshold!r}")
        self.iou_threshold = float(iou_threshold)
        super().__init__()

    def _reset_counts(self) -> None:
        self._counts = np.zeros(3, dtype=np.int64)  # tp, fp, fn

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
        self._count_image()

    def _compute(self) -> InstanceMetricsResult:
        tp, fp, fn = (int(count) for count in self._counts)
        precision, recall, f1, _ = count_scores(tp, fp, fn)
        return InstanceMetricsResult(tp, fp, fn, precision, recall, f1, self.iou_threshold)
