"""Confidence-threshold sweep: pixel and tolerance scores at every threshold, ODS and OIS."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np
import pandas as pd

from crackseg.metrics.base import (
    AccumulatingMetric,
    check_mask,
    check_tolerance,
    disk,
    precision_recall_f1,
    within_tolerance,
)

DEFAULT_THRESHOLDS: np.ndarray = np.round(np.arange(0.05, 0.96, 0.05), 2)
"""``(19,)`` float64 confidence thresholds 0.05, 0.10, ..., 0.95 used by ``ThresholdSweep``."""

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
        image_counts: ``(images, T, 4)`` int64, each image's counts ``(matched_pred, total_pred,
            matched_truth, total_truth)`` at each threshold, in the order the images came (for
            bootstrap intervals, ``metrics.bootstrap``); not part of ``to_dict``.
    """

    thresholds: np.ndarray
    precision: np.ndarray
    recall: np.ndarray
    f1: np.ndarray
    ods_f1: float
    ods_threshold: float
    ois_f1: float
    images: int
    image_counts: np.ndarray = field(
        default_factory=lambda: np.zeros((0, 0, 4), dtype=np.int64), repr=False, compare=False
    )

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


class ThresholdSweep(AccumulatingMetric[SweepResult]):
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
        self.tolerance_px = check_tolerance(tolerance_px)
        self.disk = disk(self.tolerance_px)
        super().__init__()

    def _reset_counts(self) -> None:
        # rows: matched_pred, total_pred, matched_truth, total_truth; one column per threshold
        self._counts = np.zeros((4, self.thresholds.size), dtype=np.int64)
        self._best_f1: list[float] = []
        self._image_counts: list[np.ndarray] = []  # (T, 4) per image

    def update(self, pred_masks: np.ndarray, pred_confidence: np.ndarray, truth_mask: np.ndarray) -> None:
        """Add one image.

        Args:
            pred_masks: ``(N, H, W)`` bool predicted instances.
            pred_confidence: ``(N,)`` scores.
            truth_mask: ``(H, W)`` bool crack truth.
        """
        masks = check_mask("pred_masks", pred_masks, 3)
        truth = check_mask("truth_mask", truth_mask, 2)
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
        near_truth = within_tolerance(truth, self.tolerance_px)
        pred_scores = np.sort(score_map[score_map > -np.inf])
        matched_pred_scores = np.sort(score_map[near_truth & (score_map > -np.inf)])
        # Recall side: a truth pixel matches at t iff the best score within the disk is >= t.
        reach = cv2.dilate(score_map, self.disk, borderType=cv2.BORDER_CONSTANT, borderValue=-np.inf)
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
        self._image_counts.append(counts.T.copy())
        self._best_f1.append(float(np.max(precision_recall_f1(*counts)[2])))
        self._count_image()

    def _compute(self) -> SweepResult:
        precision, recall, f1 = precision_recall_f1(*self._counts)
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
            image_counts=np.stack(self._image_counts),
        )


def _count_at_least(sorted_scores: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """``(T,)`` int64: how many of ``sorted_scores`` are ``>= t`` for each threshold."""
    return (sorted_scores.size - np.searchsorted(sorted_scores, thresholds, side="left")).astype(np.int64)
