"""Cell scores on hand-drawn masks: a cell is cracked when it holds a crack pixel; regions limit what counts."""

from __future__ import annotations

import numpy as np
import pytest

from crackseg.metrics.cells import CellMetrics, CellSweep, cell_grid


def test_cell_grid_marks_cells_holding_any_pixel_and_keeps_partial_edge_cells() -> None:
    mask = np.zeros((10, 9), dtype=bool)
    mask[0, 0] = mask[9, 8] = True
    grid = cell_grid(mask, 4)
    assert grid.shape == (3, 3)
    assert grid.tolist() == [[True, False, False], [False, False, False], [False, False, True]]


def test_dashed_truth_and_a_solid_prediction_agree_by_cells() -> None:
    """Sparse dashes along a crack (pixel IoU low) and a solid prediction of it: every cell agrees."""
    truth = np.zeros((64, 64), dtype=bool)
    truth[10, 0:64:8] = True  # one dash pixel every 8 px
    pred = np.zeros((64, 64), dtype=bool)
    pred[9:12, :] = True
    metrics = CellMetrics(cell_px=16)
    metrics.update(pred, truth)
    result = metrics.compute()
    assert (result.tp, result.fp, result.fn, result.tn) == (4, 0, 0, 12)
    assert result.f1 == 1.0


def test_counts_and_scores_by_scenario() -> None:
    truth = np.zeros((32, 32), dtype=bool)
    pred = np.zeros((32, 32), dtype=bool)
    truth[0, 0] = truth[0, 20] = True  # cells (0, 0) and (0, 1) of 16 px
    pred[1, 1] = pred[20, 20] = True  # cells (0, 0) and (1, 1)
    metrics = CellMetrics(cell_px=16)
    metrics.update(pred, truth)
    result = metrics.compute()
    assert (result.tp, result.fp, result.fn, result.tn) == (1, 1, 1, 1)
    assert (result.precision, result.recall, result.f1) == (0.5, 0.5, 0.5)


def test_region_ignores_what_lies_outside_it() -> None:
    truth = np.zeros((32, 64), dtype=bool)
    pred = np.zeros((32, 64), dtype=bool)
    region = np.zeros((32, 64), dtype=bool)
    region[:, :32] = True  # the lane: left half
    truth[5, 5] = pred[5, 6] = True  # inside: a hit
    pred[5, 40] = True  # outside: a false alarm in the sky, ignored
    truth[20, 50] = True  # outside: a missed crack in another lane, ignored
    metrics = CellMetrics(cell_px=16)
    metrics.update(pred, truth, region)
    result = metrics.compute()
    assert (result.tp, result.fp, result.fn, result.tn) == (1, 0, 0, 3)  # 4 cells touch the lane
    metrics.reset()
    metrics.update(pred, truth)
    assert (metrics.compute().fp, metrics.compute().fn) == (1, 1)


def test_empty_images_and_bad_input() -> None:
    metrics = CellMetrics(cell_px=8)
    with pytest.raises(ValueError, match="before any update"):
        metrics.compute()
    metrics.update(np.zeros((16, 16), bool), np.zeros((16, 16), bool))
    assert metrics.compute().f1 == 1.0 and metrics.compute().tn == 4  # crack-free road, nothing found: perfect
    with pytest.raises(ValueError, match="cell_px"):
        CellMetrics(cell_px=0)
    with pytest.raises(ValueError, match="region shape"):
        metrics.update(np.zeros((16, 16), bool), np.zeros((16, 16), bool), np.zeros((8, 8), bool))


def test_cell_sweep_scores_every_threshold_from_one_pass() -> None:
    """Truth in cells (0,0) and (0,1); instance A (0.9) covers (0,0), B (0.3) covers (0,1) and (1,1)."""
    truth = np.zeros((32, 32), dtype=bool)
    truth[2, 2] = truth[2, 20] = True
    masks = np.zeros((2, 32, 32), dtype=bool)
    masks[0, 0:4, 0:4] = True
    masks[1, 0:4, 18:22] = masks[1, 20:24, 20:24] = True
    confidence = np.array([0.9, 0.3], dtype=np.float32)
    sweep = CellSweep(np.array([0.2, 0.5, 0.95]), cell_px=16)
    sweep.update(masks, confidence, truth, None)
    result = sweep.compute()
    assert result.precision.tolist() == pytest.approx([2 / 3, 1.0, 0.0])
    assert result.recall.tolist() == pytest.approx([1.0, 0.5, 0.0])
    assert result.f1.tolist() == pytest.approx([0.8, 2 / 3, 0.0])
    assert (result.best_threshold, result.best_f1) == (0.2, pytest.approx(0.8))
    # each threshold agrees with CellMetrics on the union of the instances kept at that threshold
    for index, threshold in enumerate(result.thresholds):
        single = CellMetrics(cell_px=16)
        single.update(masks[confidence >= threshold].any(axis=0), truth)
        assert single.compute().f1 == pytest.approx(result.f1[index])


def test_cell_sweep_region_drops_detections_outside_it() -> None:
    truth = np.zeros((32, 32), dtype=bool)
    masks = np.zeros((1, 32, 32), dtype=bool)
    masks[0, 20:24, 20:24] = True  # a false alarm in the bottom-right cell
    region = np.zeros((32, 32), dtype=bool)
    region[:16] = True  # the lane is the top row of cells
    sweep = CellSweep(np.array([0.5]), cell_px=16)
    sweep.update(masks, np.array([0.8], np.float32), truth, region)
    assert sweep.compute().f1.tolist() == [1.0]  # nothing in the lane, nothing predicted there
