"""Cell scores: is there a crack in each square of the image, as the prediction and the truth say?

Why: some datasets (the survey-vehicle frames) mark cracks with sparse dashes
that cover only part of each crack, so pixel IoU punishes a correct detection.
Road-condition practice rates grid cells anyway (a cell is cracked or not), so the
image is cut into ``cell_px`` squares (the last row and column may be smaller), a
cell is cracked when it holds at least one crack pixel, and cracked cells are
counted as TP/FP/FN/TN.

With a ``region`` mask (the surveyed lane), crack pixels outside it are ignored
and only cells that touch the region are counted, so sky, verges and other lanes
neither help nor hurt.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from crackseg.metrics.base import (
    AccumulatingMetric,
    MetricResult,
    check_mask,
    check_pair,
    count_scores,
    precision_recall_f1,
)

DEFAULT_CELL_PX = 32


def cell_grid(mask: np.ndarray, cell_px: int) -> np.ndarray:
    """``(ceil(H / cell_px), ceil(W / cell_px))`` bool: whether each cell holds any True pixel of ``mask``."""
    height, width = mask.shape
    rows, cols = -(-height // cell_px), -(-width // cell_px)
    padded = np.zeros((rows * cell_px, cols * cell_px), dtype=bool)
    padded[:height, :width] = mask
    return padded.reshape(rows, cell_px, cols, cell_px).any(axis=(1, 3))


@dataclass(frozen=True)
class CellMetricsResult(MetricResult):
    """Cracked-cell counts and scores (``tn``: counted cells that both call crack-free)."""

    cell_px: int
    tp: int
    fp: int
    fn: int
    tn: int
    precision: float
    recall: float
    f1: float


class CellMetrics(AccumulatingMetric[CellMetricsResult]):
    """Accumulate cracked-cell counts over images; ``compute()`` -> ``CellMetricsResult``.

    Args:
        cell_px: side of the square cells in pixels (>= 1).
    """

    def __init__(self, cell_px: int = DEFAULT_CELL_PX) -> None:
        if isinstance(cell_px, bool) or not isinstance(cell_px, (int, np.integer)) or cell_px < 1:
            raise ValueError(f"cell_px must be an integer >= 1, got {cell_px!r}")
        self.cell_px = int(cell_px)
        super().__init__()

    def _reset_counts(self) -> None:
        self._counts = np.zeros(4, dtype=np.int64)  # tp, fp, fn, tn

    def update(self, pred_mask: np.ndarray, truth_mask: np.ndarray, region: np.ndarray | None = None) -> None:
        """Add one image: ``(H, W)`` bool prediction and truth, optionally an ``(H, W)`` bool region to score in."""
        pred, truth = check_pair(pred_mask, truth_mask)
        counted = np.ones(cell_grid(pred, self.cell_px).shape, dtype=bool)
        if region is not None:
            region = check_mask("region", region, 2)
            if region.shape != pred.shape:
                raise ValueError(f"region shape {region.shape} does not match pred_mask shape {pred.shape}")
            pred, truth = pred & region, truth & region
            counted = cell_grid(region, self.cell_px)
        pred_cells = cell_grid(pred, self.cell_px)
        truth_cells = cell_grid(truth, self.cell_px)
        tp = int(np.count_nonzero(pred_cells & truth_cells & counted))
        fp = int(np.count_nonzero(pred_cells & ~truth_cells & counted))
        fn = int(np.count_nonzero(~pred_cells & truth_cells & counted))
        tn = int(np.count_nonzero(counted)) - tp - fp - fn
        self._counts += (tp, fp, fn, tn)
        self._count_image()

    def _compute(self) -> CellMetricsResult:
        tp, fp, fn, tn = (int(count) for count in self._counts)
        precision, recall, f1, _ = count_scores(tp, fp, fn)
        return CellMetricsResult(self.cell_px, tp, fp, fn, tn, precision, recall, f1)


@dataclass(frozen=True)
class CellSweepResult:
    """Cell precision, recall and F1 at each confidence threshold, and the threshold with the best F1."""

    cell_px: int
    thresholds: np.ndarray
    precision: np.ndarray
    recall: np.ndarray
    f1: np.ndarray
    best_f1: float
    best_threshold: float
    image_counts: np.ndarray = field(
        default_factory=lambda: np.zeros((0, 0, 4), dtype=np.int64), repr=False, compare=False
    )
    """``(images, T, 4)`` int64 per-image counts ``(tp, tp + fp, tp, tp + fn)`` per threshold, in the order the
    images came (for bootstrap intervals, ``metrics.bootstrap``); not part of ``to_dict``."""

    def to_dict(self) -> dict[str, list[float] | float | int]:
        """Arrays as lists (JSON-friendly)."""
        return {
            "cell_px": self.cell_px,
            "thresholds": self.thresholds.tolist(),
            "precision": self.precision.tolist(),
            "recall": self.recall.tolist(),
            "f1": self.f1.tolist(),
            "best_f1": self.best_f1,
            "best_threshold": self.best_threshold,
        }


class CellSweep(AccumulatingMetric[CellSweepResult]):
    """Cell scores at every confidence threshold from one model run: how a view's default ``conf`` is chosen.

    Each image gives its instances and their confidences; a pixel is predicted at
    threshold ``t`` when an instance covering it scores ``>= t``, so one pass over a
    validation split scores every threshold.
    """

    def __init__(self, thresholds: np.ndarray, cell_px: int = DEFAULT_CELL_PX) -> None:
        self.thresholds = np.asarray(thresholds, dtype=np.float64)
        if self.thresholds.ndim != 1 or self.thresholds.size == 0:
            raise ValueError(f"thresholds must be a non-empty 1-D sequence, got shape {self.thresholds.shape}")
        self.cell_px = int(cell_px)
        super().__init__()

    def _reset_counts(self) -> None:
        self._counts = np.zeros((3, self.thresholds.size), dtype=np.int64)  # tp, fp, fn per threshold
        self._image_counts: list[np.ndarray] = []  # (T, 4) per image: tp, tp + fp, tp, tp + fn

    def update(
        self, pred_masks: np.ndarray, pred_confidence: np.ndarray, truth_mask: np.ndarray, region: np.ndarray | None
    ) -> None:
        """Add one image: ``(N, H, W)`` bool instances, ``(N,)`` scores, ``(H, W)`` bool truth, optional region."""
        masks = check_mask("pred_masks", pred_masks, 3)
        truth = check_mask("truth_mask", truth_mask, 2)
        if masks.shape[1:] != truth.shape:
            raise ValueError(f"pred_masks shape {masks.shape} does not match truth_mask shape {truth.shape}")
        score_map = np.full(truth.shape, -np.inf, dtype=np.float32)
        for mask, confidence in zip(masks, np.asarray(pred_confidence, dtype=np.float32), strict=True):
            np.maximum(score_map, np.where(mask, confidence, -np.inf), out=score_map)
        counted = np.ones(cell_grid(truth, self.cell_px).shape, dtype=bool)
        if region is not None:
            region = check_mask("region", region, 2)
            score_map[~region], truth = -np.inf, truth & region
            counted = cell_grid(region, self.cell_px)
        # best score per cell: a cell is predicted at t when its best pixel scores >= t
        height, width = truth.shape
        rows, cols = counted.shape
        padded = np.full((rows * self.cell_px, cols * self.cell_px), -np.inf, dtype=np.float32)
        padded[:height, :width] = score_map
        cell_scores = padded.reshape(rows, self.cell_px, cols, self.cell_px).max(axis=(1, 3))[counted]
        truth_cells = cell_grid(truth, self.cell_px)[counted]
        # compared in float32, as the scores are and as the product's conf filter compares them: a score of
        # exactly t (0.03 as float32 is below 0.03 as float64) counts at t
        predicted = cell_scores[None, :] >= self.thresholds.astype(np.float32)[:, None]
        tp = np.count_nonzero(predicted & truth_cells[None, :], axis=1)
        fp = np.count_nonzero(predicted & ~truth_cells[None, :], axis=1)
        fn = np.count_nonzero(truth_cells) - tp
        self._counts += np.stack([tp, fp, fn])
        self._image_counts.append(np.stack([tp, tp + fp, tp, tp + fn], axis=1).astype(np.int64))
        self._count_image()

    def _compute(self) -> CellSweepResult:
        tp, fp, fn = self._counts
        precision, recall, f1 = precision_recall_f1(tp, tp + fp, tp, tp + fn)
        best = int(np.argmax(f1))
        return CellSweepResult(
            self.cell_px,
            self.thresholds.copy(),
            precision,
            recall,
            f1,
            float(f1[best]),
            float(self.thresholds[best]),
            np.stack(self._image_counts),
        )
