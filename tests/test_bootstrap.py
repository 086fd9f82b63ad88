"""Bootstrap intervals over the photos (crackseg.metrics.bootstrap): known resample sets, pairing, checks."""

from __future__ import annotations

import numpy as np
import pytest

from crackseg.metrics.base import count_scores
from crackseg.metrics.bootstrap import (
    StatisticPair,
    f1_interval,
    f1_of_counts,
    paired_f1_difference,
    paired_mean_difference,
)


def pixel_rows(tp_fp_fn: list[tuple[int, int, int]]) -> np.ndarray:
    """Per-photo ``(tp, fp, fn)`` as the module's rows ``(matched_pred, total_pred, matched_truth, total_truth)``."""
    return np.array([(tp, tp + fp, tp, tp + fn) for tp, fp, fn in tp_fp_fn], dtype=np.int64)


def test_f1_of_count_rows_is_the_pixel_f1() -> None:
    rows = pixel_rows([(20, 10, 5), (0, 0, 0), (0, 3, 0), (7, 0, 9)])
    expected = [count_scores(*triple)[2] for triple in [(20, 10, 5), (0, 0, 0), (0, 3, 0), (7, 0, 9)]]
    np.testing.assert_allclose(f1_of_counts(rows), expected)
    assert f1_of_counts(rows.sum(axis=0)) == pytest.approx(2 * 27 / (2 * 27 + 13 + 14))


def test_two_photos_give_the_three_possible_resamples_as_the_interval_ends() -> None:
    """Photo A alone scores F1 0.8, photo B alone 0: a resample is AA, AB/BA or BB (each end with chance 1/4).

    The dataset's F1 (A and B summed) is 16 / 30; the 95 % interval runs from BB's 0 to AA's 0.8.
    """
    rows = np.array([[8, 10, 8, 10], [0, 5, 0, 5]])
    interval = f1_interval(rows, resamples=4000, seed=3)
    assert interval.value == pytest.approx(16 / 30)
    assert (interval.low, interval.high) == (pytest.approx(0.0), pytest.approx(0.8))
    assert interval.images == 2 and interval.resamples == 4000 and interval.confidence == 0.95
    narrow = f1_interval(rows, resamples=4000, seed=3, confidence=0.4)  # the middle 40 %: all AB/BA
    assert narrow.low == pytest.approx(16 / 30) and narrow.high == pytest.approx(16 / 30)


def test_a_model_against_itself_differs_by_exactly_nothing() -> None:
    rows = pixel_rows([(20, 10, 5), (3, 40, 2), (0, 0, 8), (50, 5, 5)])
    same = paired_f1_difference(rows, rows.copy())
    assert (same.difference, same.low, same.high, same.share_above_zero) == (0.0, 0.0, 0.0, 0.0)


def test_pairing_sees_a_small_gain_on_every_photo_that_separate_intervals_hide() -> None:
    """Photos of very different difficulty; the candidate finds 2 more crack pixels on each, nothing else changes.

    Each model's own interval is wide (the photos differ), but on every resample the candidate is higher, so
    the paired interval lies above 0 and inside the width of either model's own interval.
    """
    rng = np.random.default_rng(7)
    truth = rng.integers(20, 400, size=60)
    found = (truth * rng.uniform(0.2, 0.9, size=60)).astype(int)
    false_alarms = rng.integers(0, 150, size=60)
    incumbent = pixel_rows(list(zip(found, false_alarms, truth - found, strict=True)))
    candidate = pixel_rows(list(zip(found + 2, false_alarms, truth - found - 2, strict=True)))
    paired = paired_f1_difference(candidate, incumbent)
    alone = f1_interval(incumbent)
    assert paired.difference == pytest.approx(f1_of_counts(candidate.sum(0)) - f1_of_counts(incumbent.sum(0)))
    assert 0 < paired.low <= paired.difference <= paired.high
    assert paired.share_above_zero == 1.0
    assert paired.high - paired.low < (alone.high - alone.low) / 10
    assert alone.low < alone.value < alone.high


def test_a_gain_on_some_photos_and_a_loss_on_others_straddles_zero() -> None:
    incumbent = pixel_rows([(50, 10, 10)] * 40)
    candidate = pixel_rows([(60, 10, 0)] * 20 + [(40, 10, 20)] * 20)  # better on half, worse on the other half
    paired = paired_f1_difference(candidate, incumbent, resamples=3000)
    assert paired.low < 0 < paired.high
    assert 0.2 < paired.share_above_zero < 0.8


def test_the_mean_over_sets_is_the_mean_of_the_differences_and_is_reproducible() -> None:
    first = (pixel_rows([(9, 1, 1), (5, 5, 0), (1, 0, 4)]), pixel_rows([(8, 2, 2), (5, 6, 0), (0, 0, 5)]))
    second = (pixel_rows([(3, 3, 3), (6, 0, 1)]), pixel_rows([(4, 3, 2), (6, 1, 1)]))
    mean = paired_mean_difference([first, second], resamples=500, seed=11)
    alone = [paired_f1_difference(*pair).difference for pair in (first, second)]
    assert mean.difference == pytest.approx(np.mean(alone))
    assert mean == paired_mean_difference([first, second], resamples=500, seed=11)
    assert mean.low <= mean.high and mean.to_dict()["resamples"] == 500
    assert "interval" in mean.describe() and mean.describe().startswith(f"{mean.difference:+.4f}")


@pytest.mark.parametrize(
    ("counts", "message"),
    [
        (np.zeros((3, 3), dtype=np.int64), "shape"),
        (np.zeros((0, 4), dtype=np.int64), "shape"),
        (np.array([[1, 2, 1, -2]]), "non-negative integer"),
        (np.array([[1.5, 2, 1, 2]]), "non-negative integer"),
    ],
)
def test_malformed_counts_are_refused_with_the_reason(counts: np.ndarray, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        f1_interval(counts)


def test_the_two_models_must_cover_the_same_photos_and_settings_must_be_sane() -> None:
    three, two = pixel_rows([(1, 0, 0)] * 3), pixel_rows([(1, 0, 0)] * 2)
    with pytest.raises(ValueError, match="different photos"):
        paired_f1_difference(three, two)
    with pytest.raises(ValueError, match="resamples"):
        f1_interval(three, resamples=0)
    with pytest.raises(ValueError, match="confidence"):
        f1_interval(three, confidence=1.0)
    with pytest.raises(ValueError, match="at least one"):
        paired_mean_difference([])


def test_a_statistic_of_the_drawn_photos_is_resampled_like_the_counts() -> None:
    """A score that is no sum of counts (here a median) goes through StatisticPair, with the same draws.

    The candidate scores 0.1 higher on every photo, so its median is 0.1 higher on every draw: the interval is
    the single point 0.1. Mixed with a count pair, the measured mean is the mean of the two measured gains.
    """
    scores = np.random.default_rng(5).uniform(0, 1, size=25)
    pair = StatisticPair(
        25, lambda drawn: float(np.median(scores[drawn] + 0.1)), lambda drawn: float(np.median(scores[drawn]))
    )
    alone = paired_mean_difference([pair], resamples=300)
    assert alone.difference == pytest.approx(0.1)
    assert (alone.low, alone.high, alone.share_above_zero) == (pytest.approx(0.1), pytest.approx(0.1), 1.0)
    counts = (pixel_rows([(9, 1, 1)] * 4), pixel_rows([(8, 2, 2)] * 4))
    mixed = paired_mean_difference([pair, counts], resamples=300)
    assert mixed.difference == pytest.approx((0.1 + paired_f1_difference(*counts).difference) / 2)
    with pytest.raises(ValueError, match="at least one photo"):
        paired_mean_difference([StatisticPair(0, pair.candidate, pair.incumbent)])
