"""Box evaluation with known answers: hand-drawn crack masks against hand-made boxes.

The image is 200 x 100 px. The D10 box (20, 40)-(120, 60) holds 100 x 20 = 2000 pixels;
a two-row bar across it covers 200 of them (coverage 0.1).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from crackseg.core.errors import DatasetError
from crackseg.datasets.box_labels import box_label_items
from crackseg.evaluation.boxes import evaluate_boxes, top_down_predict, typed_instances
from crackseg.inference.prediction import CrackPrediction
from crackseg.measurement.measure import measure_prediction
from crackseg.metrics.boxes import (
    CLASS_COLUMNS,
    DEFAULT_MIN_COVERAGE,
    BoxMetrics,
    TypedInstances,
    box_slices,
    comparable_type,
)

H, W = 100, 200
D10_BOX = np.array([[20.0, 40.0, 120.0, 60.0]])


def bar(rows: slice, cols: slice) -> np.ndarray:
    mask = np.zeros((H, W), dtype=bool)
    mask[rows, cols] = True
    return mask


IN_BOX_BAR = bar(slice(49, 51), slice(20, 120))  # 200 px, all inside the D10 box
OUTSIDE_BAR = bar(slice(90, 92), slice(0, 200))  # 400 px, outside it
SHORT_BAR = bar(slice(49, 50), slice(20, 50))  # 30 px: coverage 0.015
EMPTY = np.zeros((H, W), dtype=bool)


def one(mask: np.ndarray, crack_type: str, orientation_deg: float) -> TypedInstances:
    return TypedInstances(mask[None], (crack_type,), np.array([orientation_deg]))


@pytest.mark.parametrize(
    ("pred", "boxes", "classes", "expected"),
    [
        # scenario: (recall, in-box share, found)
        (IN_BOX_BAR, D10_BOX, ("D10",), (1.0, 1.0, 1)),
        (EMPTY, D10_BOX, ("D10",), (0.0, 0.0, 0)),
        (OUTSIDE_BAR, D10_BOX, ("D10",), (0.0, 0.0, 0)),
        (IN_BOX_BAR | OUTSIDE_BAR, D10_BOX, ("D10",), (1.0, 1 / 3, 1)),
        (SHORT_BAR, D10_BOX, ("D10",), (0.0, 1.0, 0)),
        (EMPTY, np.zeros((0, 4)), (), (1.0, 1.0, 0)),
        (OUTSIDE_BAR, np.zeros((0, 4)), (), (0.0, 0.0, 0)),
    ],
    ids=["perfect", "missed", "false-alarm", "half-false-alarm", "below-coverage", "empty", "no-box-false-alarm"],
)
def test_recall_and_in_box_share(
    pred: np.ndarray, boxes: np.ndarray, classes: tuple[str, ...], expected: tuple[float, float, int]
) -> None:
    metric = BoxMetrics()
    metric.update(pred, boxes, classes)
    result = metric.compute()
    recall, share, found = expected
    assert result.crack_recall == pytest.approx(recall)
    assert result.in_box_share == pytest.approx(share)
    assert result.crack_found == found and result.predicted_px == np.count_nonzero(pred)
    assert result.type_compared == 0 and math.isnan(result.type_agreement)  # no instances: types unknown
    assert list(result.per_class.columns) == list(CLASS_COLUMNS)


def test_coverage_exactly_at_the_threshold_counts_as_found() -> None:
    metric = BoxMetrics(min_coverage=0.015)
    metric.update(SHORT_BAR, D10_BOX, ("D10",))
    result = metric.compute()
    assert result.per_box["coverage"].tolist() == [pytest.approx(0.015)] and result.crack_found == 1
    assert DEFAULT_MIN_COVERAGE == 0.02 and result.recall_at(0.02) == 0.0 and result.recall_at(0.01) == 1.0


@pytest.mark.parametrize(
    ("box_class", "crack_type", "orientation_deg", "match"),
    [
        ("D10", "transverse", 90.0, True),
        ("D00", "longitudinal", 3.0, True),
        ("D20", "network", 0.0, True),
        ("D10", "longitudinal", 0.0, False),
        ("D20", "transverse", 88.0, False),
        ("D00", "diagonal", 30.0, True),  # nearer to the direction of travel
        ("D10", "diagonal", -60.0, True),  # nearer to across
        ("D10", "diagonal", 30.0, False),
        ("D00", "diagonal", 45.0, False),  # exactly between: counted as transverse
    ],
)
def test_type_agreement_of_one_found_box(box_class: str, crack_type: str, orientation_deg: float, match: bool) -> None:
    metric = BoxMetrics()
    metric.update(IN_BOX_BAR, D10_BOX, (box_class,), one(IN_BOX_BAR, crack_type, orientation_deg))
    result = metric.compute()
    assert result.type_compared == 1 and result.type_matches == int(match)
    assert result.type_agreement == float(match)
    assert result.per_box.loc[0, "crack_type"] == crack_type


def test_the_dominant_crack_in_a_box_gives_its_type() -> None:
    long_part = bar(slice(40, 60), slice(30, 37))  # 140 px in the box
    across = bar(slice(55, 57), slice(60, 90))  # 60 px in the box
    instances = TypedInstances(np.stack([across, long_part]), ("transverse", "longitudinal"), np.array([90.0, 0.0]))
    metric = BoxMetrics()
    metric.update(across | long_part, D10_BOX, ("D10",), instances)
    result = metric.compute()
    assert result.per_box.loc[0, "crack_px"] == 200 and result.per_box.loc[0, "crack_type"] == "longitudinal"
    assert result.type_matches == 0 and result.type_compared == 1


def test_missed_boxes_and_potholes_are_not_typed() -> None:
    pothole_box = np.array([[150.0, 0.0, 200.0, 20.0]])
    metric = BoxMetrics()
    metric.update(IN_BOX_BAR, np.vstack([D10_BOX, pothole_box]), ("D10", "D40"), one(IN_BOX_BAR, "transverse", 90))
    metric.update(EMPTY, D10_BOX, ("D00",), TypedInstances(np.zeros((0, H, W), bool), (), np.zeros(0)))
    result = metric.compute()
    table = result.per_class.set_index("class_name")
    assert table.loc["D40", "boxes"] == 1 and table.loc["D40", "found"] == 0 and table.loc["D40", "crack_type"] == ""
    assert table.loc["D40", "type_compared"] == 0
    assert (table.loc["all_cracks", "boxes"], table.loc["all_cracks", "found"]) == (2, 1)
    assert (table.loc["all_boxes", "boxes"], table.loc["all_boxes", "found"]) == (3, 1)
    assert table.loc["D00", "recall"] == 0.0 and table.loc["D10", "recall"] == 1.0
    assert result.crack_recall == 0.5 and result.type_agreement == 1.0
    assert result.per_image["in_box_share"].tolist() == [1.0, 0.0]


def test_in_box_share_per_class_counts_overlapping_boxes_once_overall() -> None:
    boxes = np.array([[20.0, 40.0, 70.0, 60.0], [50.0, 40.0, 120.0, 60.0]])  # overlap on columns 50-69
    metric = BoxMetrics()
    metric.update(IN_BOX_BAR | OUTSIDE_BAR, boxes, ("D00", "D10"))
    table = metric.compute().per_class.set_index("class_name")
    assert table.loc["D00", "in_box_px"] == 100 and table.loc["D10", "in_box_px"] == 140
    assert table.loc["all_boxes", "in_box_px"] == 200
    assert table.loc["all_boxes", "in_box_share"] == pytest.approx(200 / 600)


def test_box_pixels_are_those_whose_centres_lie_inside() -> None:
    assert box_slices((0.4, 0.6, 2.6, 1.4), (10, 10)) == (slice(1, 2), slice(0, 3))
    assert box_slices((-5, -5, 20, 20), (10, 10)) == (slice(0, 10), slice(0, 10))
    assert box_slices((9.9, 9.9, 10.0, 10.0), (10, 10)) == (slice(9, 10), slice(9, 10))
    assert comparable_type("diagonal", -44.9) == "longitudinal" and comparable_type("network", 70) == "network"


def test_bad_inputs_raise_value_error() -> None:
    with pytest.raises(ValueError, match="min_coverage must be in"):
        BoxMetrics(min_coverage=0)
    metric = BoxMetrics()
    with pytest.raises(ValueError, match="1 boxes need as many class names"):
        metric.update(IN_BOX_BAR, D10_BOX, ())
    with pytest.raises(ValueError, match="must be a bool mask"):
        metric.update(IN_BOX_BAR.astype(np.uint8), D10_BOX, ("D10",))
    with pytest.raises(ValueError, match="1 masks need 1 crack types"):
        TypedInstances(IN_BOX_BAR[None], (), np.zeros(1))
    with pytest.raises(ValueError, match="before any update"):
        metric.compute()


# --- the evaluation run: images and label files, a caller's predict function, measured types -------------


def _folder(tmp_path: Path) -> Path:
    """Two 200 x 100 images with YOLO labels: a D10 box and a D00 box; a third image is not an image."""
    images, labels = tmp_path / "images", tmp_path / "labels"
    images.mkdir()
    labels.mkdir()
    for value, name in enumerate(("across", "along")):
        Image.fromarray(np.full((H, W, 3), value, dtype=np.uint8)).save(images / f"{name}.png")
    (labels / "across.txt").write_text("1 0.35 0.5 0.5 0.2\n")  # (20, 40)-(120, 60): D10
    (labels / "along.txt").write_text("0 0.5 0.5 0.1 0.8\n")  # (90, 10)-(110, 90): D00, 1600 px
    (images / "broken.png").write_bytes(b"not a png")
    return tmp_path


def _hand_drawn(rgb: np.ndarray) -> CrackPrediction:
    """What a model might answer: a bar across the first image (value 0), a bar along the second plus a false alarm."""
    if rgb[0, 0, 0] == 0:
        return CrackPrediction.from_masks(IN_BOX_BAR[None])
    return CrackPrediction.from_masks(np.stack([bar(slice(10, 90), slice(99, 102)), OUTSIDE_BAR]))


def test_evaluate_boxes_with_measured_types_and_a_broken_image(tmp_path: Path) -> None:
    root = _folder(tmp_path)
    items = box_label_items(root / "images", root / "labels")
    assert [item.name for item in items] == ["across.png", "along.png", "broken.png"]

    def predict(rgb: np.ndarray) -> tuple[CrackPrediction, object]:
        prediction = _hand_drawn(rgb)
        return prediction, measure_prediction(prediction)

    report = evaluate_boxes(items, predict, source="hand-drawn", settings={"view": "test"})
    result = report.result
    assert len(report.failures) == 1 and "broken.png" in report.failures[0]
    # across: 200 px in the D10 box (transverse); along: 240 px in the D00 box (longitudinal) + 400 outside
    assert (result.crack_boxes, result.crack_found) == (2, 2)
    assert result.in_box_share == pytest.approx(440 / 840)
    assert (result.type_compared, result.type_matches) == (2, 2)
    summary = report.summary()
    assert summary["source"] == "hand-drawn" and summary["settings"] == {"view": "test"}
    assert summary["per_class"][0]["class_name"] == "D00"  # coverage: D00 240 / 1600 = 0.15, D10 200 / 2000 = 0.1
    assert summary["recall_by_min_coverage"] == {"0.01": 1.0, "0.02": 1.0, "0.05": 1.0, "0.1": 1.0, "0.2": 0.0}
    saved = report.save(tmp_path / "out")
    assert sorted(path.name for path in saved.iterdir()) == [
        "box_classes.csv",
        "box_images.csv",
        "box_report.json",
        "boxes.csv",
    ]


def test_typed_instances_follow_crack_ids_and_refuse_a_mismatch() -> None:
    prediction = CrackPrediction.from_masks(np.stack([EMPTY, IN_BOX_BAR]))  # the empty one is not measured
    instances = typed_instances(prediction, measure_prediction(prediction))
    assert instances.crack_types == (None, "transverse")
    with pytest.raises(ValueError, match="does not index"):
        typed_instances(prediction[np.array([1])], measure_prediction(prediction))


def test_nothing_usable_is_a_dataset_error(tmp_path: Path) -> None:
    root = _folder(tmp_path)
    (root / "labels" / "across.txt").write_text("1 0.5 0.5 0.2\n")
    items = [item for item in box_label_items(root / "images", root / "labels") if item.name != "along.png"]

    def never(rgb: np.ndarray) -> tuple[CrackPrediction, object]:
        raise AssertionError("no image should reach the model")

    with pytest.raises(DatasetError, match="no image could be evaluated") as caught:
        evaluate_boxes(items, never, source="bad")
    assert "across.txt:1" in str(caught.value)
    assert callable(top_down_predict)
