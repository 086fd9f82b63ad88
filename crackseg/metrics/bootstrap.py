"""How sure is an F1 over a few hundred photos? Bootstrap intervals over the photos.

Why: a gate that compares two models on 200 validation photos sees gains of 0.01-0.03
that a different draw of 200 photos would not repeat. Resampling the photos with
replacement (the dataset is the random part; the model is fixed) gives an interval for
a dataset-level F1, and, with the *same* resample for both models (paired), an interval
for the difference between them, which is much narrower than two separate intervals
because both models find the same photos hard.

Counts, not per-photo F1s, are resampled: a dataset-level F1 sums each count over the
photos first (a photo with one crack pixel weighs less than one with ten thousand), and
so does every resample here. A photo's counts are a row ``(matched_pred, total_pred,
matched_truth, total_truth)``, the form the sweeps keep (``matched_pred == matched_truth
== tp`` for exact pixel or cell matching), scored with the package's empty conventions
(``base.precision_recall_f1``).

A statistic that is not a sum of per-photo counts (Ultralytics' mask mAP50 ranks every
prediction of every photo together) is resampled through ``StatisticPair``: a function of
the photos' indices per model, called once per resample.

Intervals are percentile intervals (the 2.5th and 97.5th percentiles of the resampled
values for 95 %). Random draws come from a seeded generator, so a report is reproducible.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from crackseg.metrics.base import precision_recall_f1

DEFAULT_RESAMPLES = 2000
DEFAULT_CONFIDENCE = 0.95
DEFAULT_SEED = 0


@dataclass(frozen=True)
class Interval:
    """A dataset-level F1 and its bootstrap interval.

    Attributes:
        value: the F1 over all photos as measured.
        low, high: the interval's ends (``confidence`` of the resampled F1s lie between).
        confidence: e.g. 0.95.
        resamples: how many resamples of the photos were drawn.
        images: photos in the set.
    """

    value: float
    low: float
    high: float
    confidence: float
    resamples: int
    images: int

    def to_dict(self) -> dict[str, float | int]:
        """JSON-friendly, values rounded to 4 places."""
        return {
            "value": round(self.value, 4),
            "low": round(self.low, 4),
            "high": round(self.high, 4),
            "confidence": self.confidence,
            "resamples": self.resamples,
            "images": self.images,
        }


@dataclass(frozen=True)
class PairedDifference:
    """Candidate minus incumbent on the same photos, with its paired bootstrap interval.

    Attributes:
        difference: the measured difference (candidate's value minus incumbent's).
        low, high: the interval's ends.
        share_above_zero: the share of resamples in which the candidate scored higher;
            near 1 a gain the photos support, near 0.5 a coin toss.
        confidence, resamples: as ``Interval``.
    """

    difference: float
    low: float
    high: float
    share_above_zero: float
    confidence: float
    resamples: int

    def to_dict(self) -> dict[str, float | int]:
        """JSON-friendly, values rounded to 4 places."""
        return {
            "difference": round(self.difference, 4),
            "low": round(self.low, 4),
            "high": round(self.high, 4),
            "share_above_zero": round(self.share_above_zero, 4),
            "confidence": self.confidence,
            "resamples": self.resamples,
        }

    def describe(self) -> str:
        """One line, e.g. ``+0.0112 (95 % interval -0.0031 .. +0.0254; higher in 93 % of resamples)``."""
        return (
            f"{self.difference:+.4f} ({self.confidence:.0%} interval {self.low:+.4f} .. {self.high:+.4f}; "
            f"higher in {self.share_above_zero:.0%} of resamples)"
        )


Statistic = Callable[[np.ndarray], float]
"""A dataset-level score of the photos at the given indices ``(n,)`` int (repeats allowed)."""


@dataclass(frozen=True)
class StatisticPair:
    """Two models' score on one photo set, each computed from any draw of its photos (same photos, same order)."""

    images: int
    candidate: Statistic
    incumbent: Statistic


def f1_of_counts(counts: np.ndarray) -> np.ndarray:
    """F1 of count rows ``(..., 4)`` = ``(matched_pred, total_pred, matched_truth, total_truth)``: shape ``(...)``."""
    values = np.asarray(counts)
    return precision_recall_f1(values[..., 0], values[..., 1], values[..., 2], values[..., 3])[2]


def f1_interval(
    counts: np.ndarray,
    *,
    resamples: int = DEFAULT_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
    seed: int = DEFAULT_SEED,
) -> Interval:
    """The dataset-level F1 of per-photo ``counts`` ``(n, 4)`` and its percentile bootstrap interval."""
    rows = _checked_counts(counts, "counts")
    _check_settings(resamples, confidence)
    draws = np.random.default_rng(seed).integers(0, rows.shape[0], size=(resamples, rows.shape[0]))
    resampled = f1_of_counts(rows[draws].sum(axis=1))
    low, high = _percentiles(resampled, confidence)
    return Interval(float(f1_of_counts(rows.sum(axis=0))), low, high, confidence, resamples, rows.shape[0])


def paired_f1_difference(
    candidate: np.ndarray,
    incumbent: np.ndarray,
    *,
    resamples: int = DEFAULT_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
    seed: int = DEFAULT_SEED,
) -> PairedDifference:
    """Candidate's F1 minus the incumbent's, each from per-photo counts ``(n, 4)`` of the same photos in one order."""
    return paired_mean_difference([(candidate, incumbent)], resamples=resamples, confidence=confidence, seed=seed)


def paired_mean_difference(
    pairs: Sequence[tuple[np.ndarray, np.ndarray] | StatisticPair],
    *,
    resamples: int = DEFAULT_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
    seed: int = DEFAULT_SEED,
) -> PairedDifference:
    """The mean over several photo sets of (candidate F1 - incumbent F1), with a paired bootstrap interval.

    Each pair holds the two models' per-photo counts on one set (same photos, same
    order), or is a ``StatisticPair``. Every resample draws each set's photos
    independently (the sets share no photo) and uses one draw for both models of a set.
    """
    if not pairs:
        raise ValueError("paired_mean_difference needs at least one pair of count tables")
    _check_settings(resamples, confidence)
    rng = np.random.default_rng(seed)
    measured, resampled = [], np.zeros(resamples, dtype=np.float64)
    for index, pair in enumerate(pairs):
        if isinstance(pair, StatisticPair):
            if pair.images < 1:
                raise ValueError(f"set {index}: a statistic pair needs at least one photo")
            everything = np.arange(pair.images)
            draws = rng.integers(0, pair.images, size=(resamples, pair.images))
            measured.append(float(pair.candidate(everything) - pair.incumbent(everything)))
            resampled += [pair.candidate(draw) - pair.incumbent(draw) for draw in draws]
            continue
        candidate, incumbent = pair
        new, old = _checked_counts(candidate, f"candidate[{index}]"), _checked_counts(incumbent, f"incumbent[{index}]")
        if new.shape != old.shape:
            raise ValueError(
                f"set {index}: the two models' counts cover different photos ({new.shape[0]} vs {old.shape[0]} rows)"
            )
        draws = rng.integers(0, new.shape[0], size=(resamples, new.shape[0]))
        measured.append(float(f1_of_counts(new.sum(axis=0)) - f1_of_counts(old.sum(axis=0))))
        resampled += f1_of_counts(new[draws].sum(axis=1)) - f1_of_counts(old[draws].sum(axis=1))
    resampled /= len(pairs)
    low, high = _percentiles(resampled, confidence)
    share = float(np.count_nonzero(resampled > 0)) / resamples
    return PairedDifference(float(np.mean(measured)), low, high, share, confidence, resamples)


def _checked_counts(counts: np.ndarray, name: str) -> np.ndarray:
    rows = np.asarray(counts)
    if rows.ndim != 2 or rows.shape[1] != 4 or rows.shape[0] == 0:
        raise ValueError(f"{name} must be per-photo count rows of shape (n >= 1, 4), got shape {rows.shape}")
    if not np.issubdtype(rows.dtype, np.integer) or np.any(rows < 0):
        raise ValueError(f"{name} must hold non-negative integer counts")
    return rows.astype(np.int64, copy=False)


def _check_settings(resamples: int, confidence: float) -> None:
    if not isinstance(resamples, int) or resamples < 1:
        raise ValueError(f"resamples must be a positive integer, got {resamples!r}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie strictly between 0 and 1, got {confidence!r}")


def _percentiles(values: np.ndarray, confidence: float) -> tuple[float, float]:
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)
