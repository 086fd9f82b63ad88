"""Figures draw exactly the numbers they are given: confusion matrices, curves, histories, histograms."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crackseg.training.runs import RunHistory, concat_stages
from ui.plots import (
    confusion_figure,
    delta_figure,
    f1_confidence_figure,
    histogram_figure,
    history_figure,
    normalize_rows,
    pr_curve_figure,
)

NAN = float("nan")


@pytest.mark.parametrize(
    ("matrix", "undefined", "expected"),
    [
        ([[90, 10], [30, 70]], (), [[0.9, 0.1], [0.3, 0.7]]),
        ([[0, 5], [3, 1]], [(0, 0)], [[NAN, 1.0], [0.75, 0.25]]),  # instance matrix: TN undefined
        ([[0, 0], [2, 2]], (), [[NAN, NAN], [0.5, 0.5]]),  # a class never present
    ],
    ids=["pixels", "instances", "empty-row"],
)
def test_normalize_rows_gives_the_share_of_each_true_class(matrix, undefined, expected) -> None:
    np.testing.assert_allclose(normalize_rows(np.array(matrix), undefined), np.array(expected))


def test_confusion_counts_are_drawn_as_given_with_matrix_orientation() -> None:
    figure = confusion_figure(np.array([[1_349_889, 11_760], [6_811, 15_988]]), title="Pixels")
    heatmap = figure.data[0]
    assert [list(row) for row in heatmap.z] == [[1_349_889, 11_760], [6_811, 15_988]]
    assert [list(row) for row in heatmap.text] == [["1,349,889", "11,760"], ["6,811", "15,988"]]
    assert list(heatmap.y) == ["background", "crack"] and list(heatmap.x) == ["background", "crack"]
    assert figure.layout.yaxis.autorange == "reversed"  # row 0 (truth background) on top


def test_undefined_cells_show_na_in_both_modes() -> None:
    for normalize, crack_row in ((False, ["7", "21"]), (True, ["25.0%", "75.0%"])):
        heatmap = confusion_figure(
            np.array([[0, 4], [7, 21]]), title="I", normalize=normalize, undefined=[(0, 0)]
        ).data[0]
        assert heatmap.z[0][0] is None or np.isnan(heatmap.z[0][0])
        assert heatmap.text[0][0] == "n/a"
        assert list(heatmap.text[1]) == crack_row


def test_confusion_needs_a_two_by_two_matrix() -> None:
    with pytest.raises(ValueError, match=r"\(2, 2\)"):
        confusion_figure(np.zeros((3, 3), int), title="x")


def test_histogram_bars_are_the_counts() -> None:
    counts = np.zeros(256, np.int64)
    counts[[0, 128, 255]] = [2, 1, 1]
    bars = histogram_figure(counts).data[0]
    assert list(bars.y) == list(counts) and list(bars.x) == list(range(256))
    with pytest.raises(ValueError, match=r"\(256,\)"):
        histogram_figure(np.zeros(10))


def _history(name: str, map50: list[float]) -> RunHistory:
    """Two stages (3 + 2 epochs) with a mask mAP50 column and a train loss column."""
    stage_a = pd.DataFrame({"epoch": [1, 2, 3], "metrics/mAP50(M)": map50[:3], "train/box_loss": [3.0, 2.0, 1.5]})
    stage_b = pd.DataFrame({"epoch": [1, 2], "metrics/mAP50(M)": map50[3:], "train/box_loss": [1.4, 1.3]})
    return RunHistory(name=name, table=concat_stages([("scratch", stage_a), ("finetune", stage_b)]))


def _vlines(figure) -> list[tuple[float, str]]:
    return sorted((shape.x0, shape.line.dash) for shape in figure.layout.shapes)


def test_history_marks_stage_boundary_and_best_epoch() -> None:
    run = _history("r1", [0.1, 0.3, 0.2, 0.5, 0.4])  # best at global epoch 4
    figure = history_figure([run], ["metrics/mAP50(M)", "metrics/mAP50(B)"], title="mAP50", y_title="mAP50")
    assert len(figure.data) == 1  # the box column is absent from this run
    assert list(figure.data[0].x) == [1, 2, 3, 4, 5]
    assert list(figure.data[0].y) == [0.1, 0.3, 0.2, 0.5, 0.4]
    assert _vlines(figure) == [(3.5, "dot"), (4, "dashdot")]


def test_history_overlays_runs_in_their_own_colours() -> None:
    runs = [_history("r1", [0.1, 0.2, 0.3, 0.4, 0.5]), _history("r2", [0.5, 0.4, 0.3, 0.2, 0.1])]
    figure = history_figure(runs, ["train/box_loss", "metrics/mAP50(M)"], title="t", y_title="y", log_y=True)
    assert [trace.name for trace in figure.data] == [
        "r1 · train/box_loss",
        "r1 · metrics/mAP50(M)",
        "r2 · train/box_loss",
        "r2 · metrics/mAP50(M)",
    ]
    assert figure.data[0].line.color == figure.data[1].line.color != figure.data[2].line.color
    assert (figure.data[0].line.dash, figure.data[1].line.dash) == ("solid", "dash")
    assert [x for x, dash in _vlines(figure) if dash == "dashdot"] == [1, 5]  # best epochs of r2 and r1
    assert figure.layout.yaxis.type == "log"


def test_history_without_any_column_has_no_traces() -> None:
    figure = history_figure([_history("r1", [0.1] * 5)], ["lr/pg0"], title="lr", y_title="lr")
    assert len(figure.data) == 0 and not figure.layout.shapes


SWEEP = {
    "thresholds": [0.1, 0.2, 0.3, 0.4],
    "precision": [0.5, 0.6, 0.8, 0.9],
    "recall": [0.9, 0.8, 0.7, 0.3],
    "f1": [0.64, 0.69, 0.75, 0.45],
}


def test_pr_curve_stars_the_chosen_threshold_and_marks_the_best_f1() -> None:
    figure = pr_curve_figure(SWEEP, chosen_conf=0.22)
    curve, chosen, best = figure.data
    assert list(curve.x) == SWEEP["recall"] and list(curve.y) == SWEEP["precision"]
    assert (chosen.x[0], chosen.y[0]) == (0.8, 0.6)  # nearest threshold 0.2
    assert chosen.name == "chosen conf 0.20"
    assert (best.x[0], best.y[0]) == (0.7, 0.8)  # F1 peaks at 0.3


def test_f1_confidence_curve_draws_the_three_scores_and_the_chosen_threshold() -> None:
    figure = f1_confidence_figure(SWEEP, chosen_conf=0.25)
    assert {trace.name: list(trace.y) for trace in figure.data} == {
        "F1": SWEEP["f1"],
        "precision": SWEEP["precision"],
        "recall": SWEEP["recall"],
    }
    assert [shape.x0 for shape in figure.layout.shapes] == [0.25]


def test_sweep_lists_of_different_lengths_are_refused() -> None:
    with pytest.raises(ValueError, match="one length"):
        pr_curve_figure({**SWEEP, "f1": [0.1]}, 0.25)


def test_delta_figure_draws_each_method_against_none() -> None:
    table = pd.DataFrame(
        {
            "preprocessing": ["None", "CLAHE", "Gamma"],
            "method": ["none", "clahe", "gamma"],
            "pixel_f1_delta": [0.0, 0.05, -0.1],
            "ods_f1_delta": [0.0, 0.02, -0.03],
        }
    )
    figure = delta_figure(table, ["pixel_f1", "ods_f1"])
    assert [(bar.name, list(bar.y)) for bar in figure.data] == [("CLAHE", [0.05, 0.02]), ("Gamma", [-0.1, -0.03])]
