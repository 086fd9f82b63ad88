"""Metrics on small hand-drawn masks whose answers are worked out by hand here.

Masks are drawn as rows of text: ``#`` is crack, ``.`` is background.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from crackseg.metrics.instance import InstanceMetrics, mask_iou_matrix
from crackseg.metrics.pixel import PixelMetrics, pixel_counts
from crackseg.metrics.sweep import ThresholdSweep
from crackseg.metrics.tolerance import ToleranceMetrics
from crackseg.metrics.ultralytics_keys import (
    ULTRALYTICS_KEY_FOR_METRIC,
    ULTRALYTICS_METRIC_KEYS,
    translate_ultralytics_key,
    translate_ultralytics_metrics,
)


def draw(*rows: str) -> np.ndarray:
    """``(H, W)`` bool mask from text rows."""
    return np.array([[char == "#" for char in row] for row in rows], dtype=bool)


def stack(*masks: np.ndarray, shape: tuple[int, int] | None = None) -> np.ndarray:
    """``(N, H, W)`` bool; ``shape`` gives ``(H, W)`` when there is no mask."""
    if not masks:
        return np.zeros((0, *shape), dtype=bool)
    return np.stack(masks)


EMPTY_3X4 = draw("....", "....", "....")
LINE_3X4 = draw("..#.", "..#.", "..#.")

# --------------------------------------------------------------------------- pixel level

# scenario: pred, truth, (tp, fp, fn, tn), (precision, recall, f1, iou)
PIXEL_CASES = {
    "perfect": (LINE_3X4, LINE_3X4, (3, 0, 0, 9), (1.0, 1.0, 1.0, 1.0)),
    "missed": (EMPTY_3X4, LINE_3X4, (0, 0, 3, 9), (0.0, 0.0, 0.0, 0.0)),
    "false positive": (draw("#...", "#...", "...."), EMPTY_3X4, (0, 2, 0, 10), (0.0, 0.0, 0.0, 0.0)),
    "both empty": (EMPTY_3X4, EMPTY_3X4, (0, 0, 0, 12), (1.0, 1.0, 1.0, 1.0)),
    # pred covers (0,0) (0,1) (1,0) (1,1); truth column 0: tp=2 fp=2 fn=1 tn=7
    # precision 2/4, recall 2/3, f1 = 2*2 / (2*2 + 2 + 1) = 4/7, iou = 2 / (2 + 2 + 1)
    "partial overlap": (
        draw("##..", "##..", "...."),
        draw("#...", "#...", "#..."),
        (2, 2, 1, 7),
        (0.5, 2 / 3, 4 / 7, 2 / 5),
    ),
    # disjoint: tp=0 -> every score 0
    "disjoint": (draw("#...", "....", "...."), draw("....", "....", "...#"), (0, 1, 1, 10), (0.0, 0.0, 0.0, 0.0)),
}


@pytest.mark.parametrize(("pred", "truth", "counts", "scores"), PIXEL_CASES.values(), ids=PIXEL_CASES.keys())
def test_pixel_metrics_table(pred, truth, counts, scores):
    assert pixel_counts(pred, truth) == counts
    metrics = PixelMetrics()
    metrics.update(pred, truth)
    result = metrics.compute()
    assert (result.tp, result.fp, result.fn, result.tn) == counts
    assert (result.precision, result.recall, result.f1, result.iou) == pytest.approx(scores)


def test_pixel_confusion_matrix_layout():
    pred, truth, _, _ = PIXEL_CASES["partial overlap"]
    metrics = PixelMetrics()
    metrics.update(pred, truth)
    matrix = metrics.compute().confusion_matrix()
    assert matrix.dtype == np.int64
    # rows truth [background, crack], columns prediction [background, crack]
    np.testing.assert_array_equal(matrix, [[7, 2], [1, 2]])


def test_pixel_accumulates_over_updates_and_resets():
    metrics = PixelMetrics()
    partial_pred, partial_truth, _, _ = PIXEL_CASES["partial overlap"]
    metrics.update(partial_pred, partial_truth)  # 2, 2, 1, 7
    metrics.update(EMPTY_3X4, LINE_3X4)  # 0, 0, 3, 9
    result = metrics.compute()
    assert (result.tp, result.fp, result.fn, result.tn) == (2, 2, 4, 16)
    assert result.precision == pytest.approx(2 / 4)
    assert result.recall == pytest.approx(2 / 6)
    assert result.f1 == pytest.approx(4 / 10)
    assert result.iou == pytest.approx(2 / 8)

    metrics.reset()
    metrics.update(LINE_3X4, LINE_3X4)
    assert metrics.compute().to_dict() == {
        "tp": 3,
        "fp": 0,
        "fn": 0,
        "tn": 9,
        "precision": 1.0,
        "recall": 1.0,
        "f1": 1.0,
        "iou": 1.0,
    }


def test_pixel_result_tables_are_json_friendly():
    metrics = PixelMetrics()
    metrics.update(LINE_3X4, LINE_3X4)
    result = metrics.compute()
    json.dumps(result.to_dict())
    frame = result.to_pandas()
    assert list(frame.columns) == ["tp", "fp", "fn", "tn", "precision", "recall", "f1", "iou"]
    assert len(frame) == 1 and frame.loc[0, "tp"] == 3


@pytest.mark.parametrize("metric", [PixelMetrics(), ToleranceMetrics(), InstanceMetrics(), ThresholdSweep()])
def test_compute_before_update_raises(metric):
    with pytest.raises(ValueError, match="before any update"):
        metric.compute()


# --------------------------------------------------------------------------- validation


def test_shape_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"\(3, 4\).*\(4, 3\)"):
        pixel_counts(EMPTY_3X4, np.zeros((4, 3), dtype=bool))
    with pytest.raises(ValueError, match=r"\(3, 4\).*\(4, 3\)"):
        ToleranceMetrics().update(EMPTY_3X4, np.zeros((4, 3), dtype=bool))
    with pytest.raises(ValueError, match=r"\(1, 3, 4\).*\(1, 4, 3\)"):
        InstanceMetrics().update(LINE_3X4[None], np.zeros((1, 4, 3), dtype=bool))
    with pytest.raises(ValueError, match=r"\(1, 3, 4\).*\(4, 3\)"):
        ThresholdSweep().update(LINE_3X4[None], np.array([0.5]), np.zeros((4, 3), dtype=bool))


@pytest.mark.parametrize(
    ("pred", "truth"),
    [
        (LINE_3X4.astype(np.uint8), LINE_3X4),  # not bool
        (LINE_3X4[None], LINE_3X4),  # (1, H, W) where (H, W) is expected
    ],
    ids=["uint8 mask", "wrong ndim"],
)
def test_pixel_rejects_bad_masks(pred, truth):
    with pytest.raises(ValueError):
        PixelMetrics().update(pred, truth)


@pytest.mark.parametrize("tolerance_px", [-1, 1.5, True])
def test_tolerance_must_be_non_negative_integer(tolerance_px):
    with pytest.raises(ValueError, match="tolerance_px"):
        ToleranceMetrics(tolerance_px)
    with pytest.raises(ValueError, match="tolerance_px"):
        ThresholdSweep(tolerance_px=tolerance_px)


@pytest.mark.parametrize("iou_threshold", [0.0, -0.1, 1.5])
def test_iou_threshold_range(iou_threshold):
    with pytest.raises(ValueError, match="iou_threshold"):
        InstanceMetrics(iou_threshold)


@pytest.mark.parametrize("thresholds", [[], [0.5, 0.3], [0.3, 0.3], [0.2, float("nan")]])
def test_sweep_rejects_bad_thresholds(thresholds):
    with pytest.raises(ValueError, match="thresholds"):
        ThresholdSweep(thresholds)


def test_confidence_length_must_match_masks():
    with pytest.raises(ValueError, match="pred_confidence"):
        InstanceMetrics().update(LINE_3X4[None], LINE_3X4[None], np.array([0.5, 0.4]))
    with pytest.raises(ValueError, match="pred_confidence"):
        ThresholdSweep().update(LINE_3X4[None], np.array([0.5, 0.4]), LINE_3X4)


# --------------------------------------------------------------------------- tolerance


TRUTH_LINE = draw("......", "..#...", "..#...", "..#...", "......")
SHIFTED_LINE = draw("......", "...#..", "...#..", "...#..", "......")  # one pixel to the right


def test_one_pixel_shift_fails_pixel_level():
    metrics = PixelMetrics()
    metrics.update(SHIFTED_LINE, TRUTH_LINE)
    assert metrics.compute().f1 == 0.0


# scenario: pred, truth, tolerance_px, (matched_pred, total_pred, matched_truth, total_truth), (precision, recall, f1)
TOLERANCE_CASES = {
    "1-px shift, k=0 is pixel level": (SHIFTED_LINE, TRUTH_LINE, 0, (0, 3, 0, 3), (0.0, 0.0, 0.0)),
    "1-px shift, k=1": (SHIFTED_LINE, TRUTH_LINE, 1, (3, 3, 3, 3), (1.0, 1.0, 1.0)),
    "1-px shift, k=2": (SHIFTED_LINE, TRUTH_LINE, 2, (3, 3, 3, 3), (1.0, 1.0, 1.0)),
    # k=0 on the partial-overlap masks equals the pixel-level answers above
    "partial overlap, k=0": (
        draw("##..", "##..", "...."),
        draw("#...", "#...", "#..."),
        0,
        (2, 4, 2, 3),
        (0.5, 2 / 3, 4 / 7),
    ),
    # diagonal neighbour lies at sqrt(2): outside k=1, inside k=2 (Euclidean, not chessboard)
    "diagonal, k=1": (draw("#..", "...", "..."), draw("...", ".#.", "..."), 1, (0, 1, 0, 1), (0.0, 0.0, 0.0)),
    "diagonal, k=2": (draw("#..", "...", "..."), draw("...", ".#.", "..."), 2, (1, 1, 1, 1), (1.0, 1.0, 1.0)),
    # two pixels away straight: inside k=2 only
    "2-px gap, k=1": (
        draw(
            "#....",
        ),
        draw(
            "..#..",
        ),
        1,
        (0, 1, 0, 1),
        (0.0, 0.0, 0.0),
    ),
    "2-px gap, k=2": (
        draw(
            "#....",
        ),
        draw(
            "..#..",
        ),
        2,
        (1, 1, 1, 1),
        (1.0, 1.0, 1.0),
    ),
    # long prediction next to a short truth: every truth pixel is found, 1 of 5 predicted pixels is near truth
    # pred row 0 cols 0-4, truth (1,0); k=1 reaches (0,0) only; precision 1/5, recall 1, f1 = 2*(1/5)/(6/5) = 1/3
    "long pred, short truth, k=1": (draw("#####", "....."), draw(".....", "#...."), 1, (1, 5, 1, 1), (0.2, 1.0, 1 / 3)),
    "both empty": (EMPTY_3X4, EMPTY_3X4, 2, (0, 0, 0, 0), (1.0, 1.0, 1.0)),
    "missed": (EMPTY_3X4, LINE_3X4, 2, (0, 0, 0, 3), (0.0, 0.0, 0.0)),
    "false positive": (LINE_3X4, EMPTY_3X4, 2, (0, 3, 0, 0), (0.0, 0.0, 0.0)),
}


@pytest.mark.parametrize(
    ("pred", "truth", "tolerance_px", "counts", "scores"), TOLERANCE_CASES.values(), ids=TOLERANCE_CASES.keys()
)
def test_tolerance_table(pred, truth, tolerance_px, counts, scores):
    metrics = ToleranceMetrics(tolerance_px)
    metrics.update(pred, truth)
    result = metrics.compute()
    assert result.tolerance_px == tolerance_px
    assert (result.matched_pred, result.total_pred, result.matched_truth, result.total_truth) == counts
    assert (result.precision, result.recall, result.f1) == pytest.approx(scores)


def test_tolerance_accumulates_and_resets():
    metrics = ToleranceMetrics(1)
    metrics.update(SHIFTED_LINE, TRUTH_LINE)  # 3, 3, 3, 3
    metrics.update(draw("#####", "....."), draw(".....", "#...."))  # 1, 5, 1, 1
    result = metrics.compute()
    assert (result.matched_pred, result.total_pred, result.matched_truth, result.total_truth) == (4, 8, 4, 4)
    assert (result.precision, result.recall, result.f1) == pytest.approx((0.5, 1.0, 2 / 3))
    assert result.to_pandas().loc[0, "total_pred"] == 8
    metrics.reset()
    metrics.update(EMPTY_3X4, EMPTY_3X4)
    assert metrics.compute().total_pred == 0


# --------------------------------------------------------------------------- instances


def segment(row: int, first: int, last: int, shape: tuple[int, int] = (6, 8)) -> np.ndarray:
    """Bool mask with ``row`` set from column ``first`` to ``last`` inclusive."""
    mask = np.zeros(shape, dtype=bool)
    mask[row, first : last + 1] = True
    return mask


TRUTH_A, TRUTH_B = segment(0, 0, 7), segment(4, 0, 7)  # 6x8 image, 8 px each
GOOD = segment(0, 0, 5)  # IoU with A = 6/8 = 0.75
POOR = segment(4, 0, 2)  # IoU with B = 3/8 = 0.375
SPURIOUS = segment(2, 0, 3)  # touches no truth


def test_mask_iou_matrix_hand_values():
    iou = mask_iou_matrix(stack(GOOD, POOR, SPURIOUS), stack(TRUTH_A, TRUTH_B))
    np.testing.assert_allclose(iou, [[0.75, 0.0], [0.0, 0.375], [0.0, 0.0]])


def test_mask_iou_matrix_overlapping_and_empty_cases():
    both_rows = segment(0, 0, 7) | segment(1, 0, 3)  # 12 px
    iou = mask_iou_matrix(stack(both_rows, np.zeros((6, 8), bool)), stack(segment(1, 0, 7), np.zeros((6, 8), bool)))
    # both_rows vs row 1: inter 4, union 12 + 8 - 4 = 16; empty vs empty is 1.0 by convention
    np.testing.assert_allclose(iou, [[4 / 16, 0.0], [0.0, 1.0]])
    assert mask_iou_matrix(stack(shape=(6, 8)), stack(TRUTH_A)).shape == (0, 1)


def test_mask_iou_matrix_chunks_large_images(monkeypatch):
    monkeypatch.setattr("crackseg.metrics.instance._IOU_CHUNK_BYTES", 64)  # force many small column blocks
    pred = np.zeros((2, 50, 60), dtype=bool)
    truth = np.zeros((1, 50, 60), dtype=bool)
    pred[0, 10:20, :] = True  # 600 px
    pred[1, :, 5] = True  # 50 px
    truth[0, 15:30, :] = True  # 900 px
    # pred 0: inter 5 rows * 60 = 300, union 600 + 900 - 300 = 1200; pred 1: inter 15, union 50 + 900 - 15 = 935
    np.testing.assert_allclose(mask_iou_matrix(pred, truth), [[300 / 1200], [15 / 935]])


def test_instances_good_poor_spurious():
    metrics = InstanceMetrics(iou_threshold=0.5)
    metrics.update(stack(GOOD, POOR, SPURIOUS), stack(TRUTH_A, TRUTH_B), np.array([0.9, 0.8, 0.7]))
    result = metrics.compute()
    assert (result.tp, result.fp, result.fn) == (1, 2, 1)
    assert (result.precision, result.recall, result.f1) == pytest.approx((1 / 3, 1 / 2, 2 / 5))
    np.testing.assert_array_equal(result.confusion_matrix(), [[0, 2], [1, 1]])
    assert result.confusion_matrix().dtype == np.int64
    assert result.to_dict()["iou_threshold"] == 0.5


# Greedy by confidence, 4x10 image: T1 = row 0 (10 px), T2 = row 1 (10 px).
# WIDE = row 0 cols 0-7 + row 1 (18 px): IoU T1 = 8/20 = 0.4, IoU T2 = 10/18 = 0.56 -> prefers T2.
# EXACT = row 1: IoU T2 = 1.0, T1 = 0.
T1, T2 = segment(0, 0, 9, (4, 10)), segment(1, 0, 9, (4, 10))
WIDE = segment(0, 0, 7, (4, 10)) | segment(1, 0, 9, (4, 10))
EXACT = T2.copy()

GREEDY_CASES = {
    # WIDE goes first and takes T2; EXACT then finds T2 taken, T1 is left: one match (not the optimal two)
    "wide more confident": (np.array([0.9, 0.6]), (1, 1, 1)),
    # EXACT takes T2 first, WIDE falls back to T1 (0.4 >= 0.3): two matches
    "exact more confident": (np.array([0.6, 0.9]), (2, 0, 0)),
    # no scores: input order, WIDE first
    "no confidence": (None, (1, 1, 1)),
}


@pytest.mark.parametrize(("confidence", "counts"), GREEDY_CASES.values(), ids=GREEDY_CASES.keys())
def test_instances_greedy_by_confidence(confidence, counts):
    metrics = InstanceMetrics(iou_threshold=0.3)
    metrics.update(stack(WIDE, EXACT), stack(T1, T2), confidence)
    result = metrics.compute()
    assert (result.tp, result.fp, result.fn) == counts


INSTANCE_EMPTY_CASES = {
    # (pred masks, truth masks), (tp, fp, fn), (precision, recall, f1)
    "both empty": ((stack(shape=(6, 8)), stack(shape=(6, 8))), (0, 0, 0), (1.0, 1.0, 1.0)),
    "missed": ((stack(shape=(6, 8)), stack(TRUTH_A)), (0, 0, 1), (0.0, 0.0, 0.0)),
    "false positive": ((stack(GOOD), stack(shape=(6, 8))), (0, 1, 0), (0.0, 0.0, 0.0)),
    "perfect": ((stack(TRUTH_A, TRUTH_B), stack(TRUTH_B, TRUTH_A)), (2, 0, 0), (1.0, 1.0, 1.0)),
}


@pytest.mark.parametrize(("masks", "counts", "scores"), INSTANCE_EMPTY_CASES.values(), ids=INSTANCE_EMPTY_CASES.keys())
def test_instances_empty_conventions(masks, counts, scores):
    metrics = InstanceMetrics()
    metrics.update(*masks)
    result = metrics.compute()
    assert (result.tp, result.fp, result.fn) == counts
    assert (result.precision, result.recall, result.f1) == pytest.approx(scores)


def test_instances_accumulate_and_reset():
    metrics = InstanceMetrics()
    metrics.update(stack(GOOD, POOR, SPURIOUS), stack(TRUTH_A, TRUTH_B))  # 1, 2, 1
    metrics.update(stack(TRUTH_A), stack(TRUTH_A, TRUTH_B))  # 1, 0, 1
    result = metrics.compute()
    assert (result.tp, result.fp, result.fn) == (2, 2, 2)
    assert result.to_pandas().loc[0, "f1"] == pytest.approx(0.5)
    metrics.reset()
    metrics.update(stack(shape=(6, 8)), stack(shape=(6, 8)))
    assert (metrics.compute().tp, metrics.compute().fp, metrics.compute().fn) == (0, 0, 0)


# --------------------------------------------------------------------------- threshold sweep

SWEEP_THRESHOLDS = [0.2, 0.5, 0.7, 0.9]
SWEEP_SHAPE = (5, 10)
SWEEP_TRUTH = segment(2, 0, 9, SWEEP_SHAPE)  # 10 px line on row 2

# Image 1 (tolerance_px=1): A on the truth, B one row below the truth, C two rows above (never matched).
IMAGE_1 = (
    stack(segment(2, 0, 5, SWEEP_SHAPE), segment(3, 6, 9, SWEEP_SHAPE), segment(0, 0, 9, SWEEP_SHAPE)),
    np.array([0.8, 0.6, 0.3], dtype=np.float32),
)
# t=0.2: pred A+B+C = 20 px, 10 near truth; truth all 10 found         -> P 1/2, R 1,    F1 2/3
# t=0.5: pred A+B = 10 px, all near truth; truth all found             -> P 1,   R 1,    F1 1   (image best)
# t=0.7: pred A = 6 px; truth cols 0-5 plus col 6 (1 px from A's end)  -> P 1,   R 7/10, F1 14/17
# t=0.9: nothing predicted, truth not empty                            -> P 0,   R 0,    F1 0

# Image 2: E on the truth (cols 0-4, conf 0.95), F two rows above (conf 0.75).
IMAGE_2 = (
    stack(segment(2, 0, 4, SWEEP_SHAPE), segment(0, 0, 9, SWEEP_SHAPE)),
    np.array([0.95, 0.75], dtype=np.float32),
)
# t=0.2, 0.5, 0.7: pred 15 px, 5 near truth; truth cols 0-5 found     -> P 1/3, R 6/10, F1 3/7
# t=0.9: pred E = 5 px, all near; truth cols 0-5 found                 -> P 1,   R 6/10, F1 3/4 (image best)

# Dataset (matched_pred, total_pred, matched_truth, total_truth=20):
# t=0.2: 15, 35, 16 -> P 3/7,   R 4/5,   F1 24/43
# t=0.5: 15, 25, 16 -> P 3/5,   R 4/5,   F1 24/35  (ODS)
# t=0.7: 11, 21, 13 -> P 11/21, R 13/20, F1 2PR/(P+R) = 286/493
# t=0.9:  5,  5,  6 -> P 1,     R 3/10,  F1 6/13
SWEEP_PRECISION = [3 / 7, 3 / 5, 11 / 21, 1.0]
SWEEP_RECALL = [4 / 5, 4 / 5, 13 / 20, 3 / 10]
SWEEP_F1 = [24 / 43, 24 / 35, 286 / 493, 6 / 13]


def test_sweep_known_best_threshold():
    sweep = ThresholdSweep(SWEEP_THRESHOLDS, tolerance_px=1)
    sweep.update(*IMAGE_1, SWEEP_TRUTH)
    sweep.update(*IMAGE_2, SWEEP_TRUTH)
    result = sweep.compute()
    np.testing.assert_allclose(result.thresholds, SWEEP_THRESHOLDS)
    np.testing.assert_allclose(result.precision, SWEEP_PRECISION)
    np.testing.assert_allclose(result.recall, SWEEP_RECALL)
    np.testing.assert_allclose(result.f1, SWEEP_F1)
    assert result.ods_threshold == pytest.approx(0.5)
    assert result.ods_f1 == pytest.approx(24 / 35)
    assert result.ois_f1 == pytest.approx((1.0 + 3 / 4) / 2)  # image bests: 1.0 at 0.5, 3/4 at 0.9
    assert result.images == 2

    frame = result.to_pandas()
    assert list(frame.columns) == ["threshold", "precision", "recall", "f1"]
    assert len(frame) == 4 and frame.loc[1, "f1"] == pytest.approx(24 / 35)
    as_dict = json.loads(json.dumps(result.to_dict()))
    assert as_dict["ods_threshold"] == pytest.approx(0.5) and as_dict["images"] == 2

    sweep.reset()
    sweep.update(*IMAGE_2, SWEEP_TRUTH)
    assert sweep.compute().ods_threshold == pytest.approx(0.9)
    assert sweep.compute().ois_f1 == pytest.approx(3 / 4)


def test_sweep_single_image_per_threshold_and_image_best():
    sweep = ThresholdSweep(SWEEP_THRESHOLDS, tolerance_px=1)
    sweep.update(*IMAGE_1, SWEEP_TRUTH)
    result = sweep.compute()
    np.testing.assert_allclose(result.f1, [2 / 3, 1.0, 14 / 17, 0.0])
    assert (result.ods_threshold, result.ods_f1, result.ois_f1) == pytest.approx((0.5, 1.0, 1.0))


def test_sweep_crack_free_image():
    # truth empty; one prediction at 0.55: F1 0 at 0.2 and 0.5, 1.0 (both empty) at 0.7 and 0.9
    sweep = ThresholdSweep(SWEEP_THRESHOLDS, tolerance_px=2)
    sweep.update(stack(segment(0, 0, 4, SWEEP_SHAPE)), np.array([0.55]), np.zeros(SWEEP_SHAPE, dtype=bool))
    result = sweep.compute()
    np.testing.assert_allclose(result.precision, [0.0, 0.0, 1.0, 1.0])
    np.testing.assert_allclose(result.recall, [0.0, 0.0, 1.0, 1.0])
    np.testing.assert_allclose(result.f1, [0.0, 0.0, 1.0, 1.0])
    assert (result.ods_threshold, result.ods_f1, result.ois_f1) == pytest.approx((0.7, 1.0, 1.0))


def test_sweep_no_instances():
    sweep = ThresholdSweep(SWEEP_THRESHOLDS)
    sweep.update(stack(shape=SWEEP_SHAPE), np.zeros(0), SWEEP_TRUTH)
    result = sweep.compute()
    np.testing.assert_allclose(result.f1, [0.0] * 4)
    assert (result.ods_threshold, result.ods_f1) == pytest.approx((0.2, 0.0))  # lowest threshold on ties


def test_sweep_float32_score_equal_to_threshold_counts():
    # 0.35 is not exact in binary: as float32 it is just below float64 0.35, yet it must count at t=0.35
    sweep = ThresholdSweep([0.35, 0.4], tolerance_px=0)
    line = segment(2, 0, 9, SWEEP_SHAPE)
    sweep.update(stack(line), np.array([0.35], dtype=np.float32), line)
    np.testing.assert_allclose(sweep.compute().f1, [1.0, 0.0])


def test_sweep_default_thresholds():
    thresholds = ThresholdSweep().thresholds
    assert thresholds.shape == (19,)
    assert thresholds[0] == pytest.approx(0.05) and thresholds[-1] == pytest.approx(0.95)


def test_sweep_matches_tolerance_metrics_at_each_threshold():
    # Consistency of the two code paths (score-map dilation vs per-mask distance transform) on random masks.
    rng = np.random.default_rng(7)
    thresholds = [0.25, 0.5, 0.75]
    for tolerance_px in (0, 1, 2, 3):
        sweep = ThresholdSweep(thresholds, tolerance_px=tolerance_px)
        per_threshold = [ToleranceMetrics(tolerance_px) for _ in thresholds]
        for _ in range(4):
            masks = rng.random((5, 23, 31)) < 0.04
            confidence = rng.random(5).astype(np.float32)
            truth = rng.random((23, 31)) < 0.05
            sweep.update(masks, confidence, truth)
            for threshold, metrics in zip(thresholds, per_threshold, strict=True):
                metrics.update(masks[confidence >= np.float32(threshold)].any(axis=0), truth)
        result = sweep.compute()
        for index, metrics in enumerate(per_threshold):
            expected = metrics.compute()
            assert (result.precision[index], result.recall[index], result.f1[index]) == pytest.approx(
                (expected.precision, expected.recall, expected.f1)
            )


# --------------------------------------------------------------------------- Ultralytics keys


def test_translate_ultralytics_results_dict():
    results_dict = {  # shape of ``model.val().results_dict`` for a segmentation model
        "metrics/precision(B)": 0.81,
        "metrics/recall(B)": 0.72,
        "metrics/mAP50(B)": 0.77,
        "metrics/mAP50-95(B)": 0.41,
        "metrics/precision(M)": 0.79,
        "metrics/recall(M)": 0.68,
        "metrics/mAP50(M)": 0.71,
        "metrics/mAP50-95(M)": 0.33,
        "fitness": 0.36,
    }
    assert translate_ultralytics_metrics(results_dict) == {
        "box_precision": 0.81,
        "box_recall": 0.72,
        "box_map50": 0.77,
        "box_map50_95": 0.41,
        "mask_precision": 0.79,
        "mask_recall": 0.68,
        "mask_map50": 0.71,
        "mask_map50_95": 0.33,
    }


def test_translate_padded_results_csv_row():
    row = {  # older Ultralytics results.csv pads column names with spaces
        "                  epoch": 12,
        "      train/box_loss": 1.234,
        "      train/seg_loss": 2.5,
        "   metrics/precision(B)": 0.5,
        "   metrics/mAP50(M)": np.float64(0.25),
        "metrics/mAP50-95(M)  ": "0.125",
        "        val/seg_loss": 2.9,
        "                 lr/pg0": 0.001,
    }
    translated = translate_ultralytics_metrics(row)
    assert translated == {"box_precision": 0.5, "mask_map50": 0.25, "mask_map50_95": 0.125}
    assert all(type(value) is float for value in translated.values())


def test_metric_key_tables_are_inverse():
    assert len(ULTRALYTICS_METRIC_KEYS) == 8
    assert ULTRALYTICS_KEY_FOR_METRIC["mask_map50_95"] == "metrics/mAP50-95(M)"
    assert ULTRALYTICS_KEY_FOR_METRIC["box_recall"] == "metrics/recall(B)"
    assert all(ULTRALYTICS_METRIC_KEYS[ULTRALYTICS_KEY_FOR_METRIC[name]] == name for name in ULTRALYTICS_KEY_FOR_METRIC)
    assert translate_ultralytics_key("  metrics/recall(M) ") == "mask_recall"
    assert translate_ultralytics_key("fitness") is None
