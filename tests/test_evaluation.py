"""Evaluation (crackseg.evaluation.run): the shipped model on ``samples/``, fake segmenters with known answers,
and the stored report round trip."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fake_segmenters import FixedSegmenter
from PIL import Image

from crackseg.core.errors import CrackSegError, DatasetError
from crackseg.datasets.labelled import LabelledImage, YoloDataset, iter_items, mask_folder_items
from crackseg.evaluation.run import EvaluationReport, evaluate, evaluate_yolo_split, ultralytics_map
from crackseg.inference.prediction import CrackPrediction
from crackseg.inference.segmenter import InferenceSettings, Segmenter
from crackseg.metrics.bootstrap import f1_of_counts

REPO = Path(__file__).resolve().parents[1]
SAMPLES_YAML = REPO / "samples" / "data.yaml"
SAMPLE_SIDE = 416


class TruthSegmenter:
    """A fake segmenter that answers each image with its ground truth (or nothing), at full confidence."""

    def __init__(self, items: list[LabelledImage], *, perfect: bool = True) -> None:
        self._truth = {self._key(rgb): truth for _, rgb, truth in iter_items(items)}
        self.perfect = perfect
        self.calls: list[float] = []

    @staticmethod
    def _key(rgb: np.ndarray) -> str:
        return hashlib.sha256(rgb.tobytes()).hexdigest()

    def predict(self, rgb: np.ndarray, settings: InferenceSettings | None = None) -> CrackPrediction:
        self.calls.append(settings.conf if settings else -1.0)
        truth = self._truth[self._key(rgb)]
        if not self.perfect:
            return CrackPrediction.empty((rgb.shape[1], rgb.shape[0]))
        return CrackPrediction.from_masks(truth, np.ones(len(truth), np.float32))

    def info(self) -> dict[str, str]:
        return {"name": "truth", "sha256": "0" * 64, "backend": "fake"}


@pytest.fixture(scope="module")
def sample_items() -> list[LabelledImage]:
    return YoloDataset.from_yaml(SAMPLES_YAML).items("test")


@pytest.fixture(scope="module")
def segmenter() -> Segmenter:
    return Segmenter(backend="torch")


@pytest.fixture(scope="module")
def sample_report(segmenter: Segmenter, sample_items: list[LabelledImage]) -> EvaluationReport:
    return evaluate(segmenter, sample_items, InferenceSettings(conf=0.25), source="samples")


def truth_instance_count(items: list[LabelledImage]) -> int:
    return sum(len([line for line in i.label_path.read_text().splitlines() if line.strip()]) for i in items)


# --- known answers: hand-drawn truth, hand-drawn predictions ----------------------------------------------


def test_evaluation_of_hand_drawn_masks_gives_the_hand_computed_scores(tmp_path: Path) -> None:
    """Image a: truth rows 2-3 (20 px), predicted rows 2-4 (30 px); image b: truth 5 px, nothing predicted.

    Pixels: tp 20, fp 10, fn 5, tn 200 - 35 = 165 -> precision 2/3, recall 4/5, F1 40/55, IoU 20/35.
    Within 2 px every predicted pixel of a is near truth and a's truth is covered; b's truth is missed:
    matched_pred 30/30, matched_truth 20/25 -> F1 8/9 at every threshold up to 0.9 (ODS), per-image best
    F1 1 and 0 -> OIS 0.5. Instances (IoU 20/30 >= 0.5): tp 1, fp 0, fn 1.
    """
    images, masks = tmp_path / "images", tmp_path / "masks"
    images.mkdir(), masks.mkdir()
    truth_a, truth_b = np.zeros((10, 10), bool), np.zeros((10, 10), bool)
    truth_a[2:4], truth_b[0:5, 0] = True, True
    for name, grey, truth in (("a", 50, truth_a), ("b", 100, truth_b)):
        Image.fromarray(np.full((10, 10, 3), grey, np.uint8)).save(images / f"{name}.png")
        Image.fromarray(truth.astype(np.uint8) * 255).save(masks / f"{name}.png")
    predicted_a = np.zeros((1, 10, 10), bool)
    predicted_a[0, 2:5] = True
    segmenter = FixedSegmenter(
        {
            50: CrackPrediction.from_masks(predicted_a, np.array([0.9], np.float32)),
            100: CrackPrediction.empty((10, 10)),
        }
    )
    report = evaluate(segmenter, mask_folder_items(images, masks), InferenceSettings(conf=0.25), tolerance_px=2)
    assert {key: report.pixel[key] for key in ("tp", "fp", "fn", "tn")} == {"tp": 20, "fp": 10, "fn": 5, "tn": 165}
    assert report.pixel["precision"] == pytest.approx(2 / 3)
    assert report.pixel["recall"] == pytest.approx(4 / 5)
    assert report.pixel["f1"] == pytest.approx(40 / 55)
    assert report.pixel["iou"] == pytest.approx(20 / 35)
    assert report.tolerance["f1"] == pytest.approx(8 / 9)
    assert report.ods == pytest.approx(8 / 9) and report.ois == pytest.approx(0.5)
    assert (report.instance["tp"], report.instance["fp"], report.instance["fn"]) == (1, 0, 1)
    assert report.per_image.set_index("image").loc["b.png", "fn_px"] == 5
    # by 32-px cells each 10x10 image is one cell: a found, b missed
    assert (report.cells["tp"], report.cells["fp"], report.cells["fn"]) == (1, 0, 1)
    assert report.cells["f1"] == pytest.approx(2 / 3) and report.region_cells == {}
    assert report.cell_sweep["best_f1"] == pytest.approx(2 / 3) and report.cell_sweep["best_threshold"] == 0.05
    # each photo's own counts, for resampling: a's tolerance counts 30/30 and 20/20, b's 0/0 and 0/5; cells 1-0-0, 0-0-1
    np.testing.assert_array_equal(report.image_counts("tolerance"), [[30, 30, 20, 20], [0, 0, 0, 5]])
    np.testing.assert_array_equal(report.image_counts("pixel"), [[20, 30, 20, 20], [0, 0, 0, 5]])
    np.testing.assert_array_equal(report.image_counts("cells"), [[1, 1, 1, 1], [0, 0, 0, 1]])
    np.testing.assert_array_equal(report.sweep_counts_at("tolerance", 0.9), [[30, 30, 20, 20], [0, 0, 0, 5]])
    np.testing.assert_array_equal(report.sweep_counts_at("tolerance", 0.95), [[0, 0, 0, 20], [0, 0, 0, 5]])
    assert report.sweep_counts_at("cells", 0.33) is None  # not a swept threshold
    intervals = report.intervals(resamples=2000)
    # two photos: a resample is aa, ab or bb; cell F1 1, 2/3 and 0
    assert intervals["cell_f1"].value == pytest.approx(2 / 3)
    assert (intervals["cell_f1"].low, intervals["cell_f1"].high) == (0.0, 1.0)
    assert intervals["tolerance_f1"].value == pytest.approx(report.tolerance["f1"])
    assert report.summary()["intervals"]["pixel_f1"]["value"] == pytest.approx(round(40 / 55, 4))


def test_region_masks_limit_the_cell_scores(tmp_path: Path) -> None:
    """A 64x32 frame: a found crack in the lane (left cell), a false alarm off it (right cell), ignored there."""
    rgb = np.full((32, 64, 3), 70, np.uint8)
    truth, lane = np.zeros((32, 64), bool), np.zeros((32, 64), bool)
    truth[10, 5:20], lane[:, :32] = True, True
    folder = tmp_path / "frame"
    folder.mkdir()
    Image.fromarray(rgb).save(folder / "raw.png")
    Image.fromarray(truth.astype(np.uint8) * 255).save(folder / "crack.png")
    Image.fromarray(lane.astype(np.uint8) * 255).save(folder / "lane.png")
    predicted = np.zeros((2, 32, 64), bool)
    predicted[0, 9:12, 4:21] = True
    predicted[1, 5:8, 40:60] = True  # off the lane
    segmenter = FixedSegmenter({70: CrackPrediction.from_masks(predicted, np.array([0.8, 0.6], np.float32))})
    item = LabelledImage(folder / "raw.png", mask_path=folder / "crack.png", region_path=folder / "lane.png")
    report = evaluate(segmenter, [item], InferenceSettings(conf=0.25))
    assert (report.cells["tp"], report.cells["fp"], report.cells["fn"]) == (1, 1, 0)
    assert (report.region_cells["tp"], report.region_cells["fp"], report.region_cells["fn"]) == (1, 0, 0)
    assert report.summary()["region_cells"]["f1"] == 1.0
    assert report.cell_sweep["f1"][report.cell_sweep["thresholds"].index(0.7)] == 1.0  # scored in the lane


def test_a_finer_cell_grid_runs_the_model_down_to_its_lowest_conf(tmp_path: Path) -> None:
    """A true crack at conf 0.03 and a false alarm at 0.08: the default grid (from 0.05) never sees the crack, the
    street gate's grid (from 0.02) finds it at 0.02-0.03, and the model was run down to 0.02 for it."""
    rgb = np.full((32, 64, 3), 90, np.uint8)
    truth = np.zeros((32, 64), bool)
    truth[10, 5:20] = True
    Image.fromarray(rgb).save(tmp_path / "raw.png")
    Image.fromarray(truth.astype(np.uint8) * 255).save(tmp_path / "crack.png")
    predicted = np.zeros((2, 32, 64), bool)
    predicted[0, 9:12, 4:21] = True  # the crack, at low confidence
    predicted[1, 5:8, 40:60] = True  # a false alarm, a little surer
    answers = {90: CrackPrediction.from_masks(predicted, np.array([0.03, 0.08], np.float32))}
    item = LabelledImage(tmp_path / "raw.png", mask_path=tmp_path / "crack.png")
    default = evaluate(FixedSegmenter(answers), [item], InferenceSettings(conf=0.25))
    assert default.cell_sweep["thresholds"][0] == 0.05 and default.cell_sweep["best_f1"] == 0.0
    confs = (0.02, 0.03, 0.04, 0.05, 0.1)
    fine = evaluate(FixedSegmenter(answers), [item], InferenceSettings(conf=0.25), cell_thresholds=confs)
    assert fine.cell_sweep["thresholds"] == list(confs)
    assert fine.cell_sweep["f1"] == pytest.approx([2 / 3, 2 / 3, 0.0, 0.0, 0.0])
    assert fine.cell_sweep["best_threshold"] == 0.02
    # the other scores are those of the default run: the extra low-conf instance is only in the cell sweep
    assert fine.pixel == default.pixel and fine.instance == default.instance and fine.sweep == default.sweep


class RecordingSegmenter(FixedSegmenter):
    """A fixed segmenter that records the conf it is run at."""

    def __init__(self, answers: dict[int, CrackPrediction]) -> None:
        super().__init__(answers)
        self.confs: list[float] = []

    def predict(self, rgb: np.ndarray, settings: InferenceSettings | None = None) -> CrackPrediction:
        self.confs.append(settings.conf if settings else 0.25)
        return super().predict(rgb, settings)


@pytest.mark.parametrize(
    ("thresholds", "sweep_min_conf", "run_at"),
    [(None, 0.05, 0.05), ((0.02, 0.1), 0.05, 0.02), ((0.1,), 0.1, 0.1), ((0.1,), 0.05, 0.05)],
)
def test_the_model_runs_once_at_the_lowest_conf_the_sweeps_need(
    tmp_path: Path, thresholds: tuple[float, ...] | None, sweep_min_conf: float, run_at: float
) -> None:
    """A sweep's values come from one run at its floor; a run at the conf itself (floor = the one threshold) is
    what the product does there."""
    Image.fromarray(np.full((8, 8, 3), 30, np.uint8)).save(tmp_path / "raw.png")
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "crack.png")
    segmenter = RecordingSegmenter({30: CrackPrediction.empty((8, 8))})
    item = LabelledImage(tmp_path / "raw.png", mask_path=tmp_path / "crack.png")
    evaluate(segmenter, [item], InferenceSettings(conf=0.25), cell_thresholds=thresholds, sweep_min_conf=sweep_min_conf)
    assert segmenter.confs == [run_at]


# --- the shipped model on the samples ---------------------------------------------------------------------


def test_report_numbers_are_consistent(sample_report: EvaluationReport, sample_items: list[LabelledImage]) -> None:
    report = sample_report
    pixel = report.pixel
    assert report.images == 8 and len(report.per_image) == 8
    assert pixel["tp"] + pixel["fp"] + pixel["fn"] + pixel["tn"] == 8 * SAMPLE_SIDE * SAMPLE_SIDE
    per_image = report.per_image
    assert per_image["tp_px"].sum() == pixel["tp"] and per_image["fp_px"].sum() == pixel["fp"]
    assert per_image["fn_px"].sum() == pixel["fn"]
    instance = report.instance
    assert instance["tp"] + instance["fn"] == truth_instance_count(sample_items) == per_image["true_cracks"].sum()
    assert instance["tp"] + instance["fp"] == per_image["pred_cracks"].sum()
    np.testing.assert_array_equal(report.pixel_confusion(), [[pixel["tn"], pixel["fp"]], [pixel["fn"], pixel["tp"]]])
    # the per-image tolerance and cell counts add up to the report's
    tolerance = report.image_counts("tolerance").sum(axis=0)
    assert tuple(tolerance) == tuple(report.tolerance[key] for key in _TOLERANCE_KEYS)
    cells = report.image_counts("cells").sum(axis=0)
    assert (cells[0], cells[1] - cells[0], cells[3] - cells[0]) == tuple(
        report.cells[key] for key in ("tp", "fp", "fn")
    )
    # and each sweep's per-image counts add up to the sweep's scores at every threshold
    for level, sweep in (("tolerance", report.sweep), ("pixel", report.pixel_sweep), ("cells", report.cell_sweep)):
        summed = report.sweep_image_counts[level].sum(axis=0)
        assert summed.shape == (len(sweep["thresholds"]), 4)
        np.testing.assert_allclose(f1_of_counts(summed), sweep["f1"])


_TOLERANCE_KEYS = ("matched_pred", "total_pred", "matched_truth", "total_truth")


def test_ods_is_the_best_threshold_of_the_sweep(sample_report: EvaluationReport) -> None:
    sweep = sample_report.sweep
    assert len(sweep["thresholds"]) == len(sweep["f1"]) >= 10
    assert all(sample_report.ods >= f1 - 1e-12 for f1 in sweep["f1"])
    assert sample_report.ods in sweep["f1"]
    assert sweep["f1"][sweep["thresholds"].index(sweep["ods_threshold"])] == sample_report.ods
    # at the report's own conf the sweep re-thresholds the same instances: same tolerance F1
    at_conf = sweep["thresholds"].index(0.25)
    assert sweep["f1"][at_conf] == pytest.approx(sample_report.tolerance["f1"])


def test_report_summary_has_the_cli_keys(sample_report: EvaluationReport) -> None:
    summary = sample_report.summary()
    assert summary["images"] == 8 and summary["source"] == "samples"
    assert set(summary["pixel"]) >= {"precision", "recall", "f1", "iou"}
    assert set(summary["tolerance"]) >= {"px", "precision", "recall", "f1"} and summary["tolerance"]["px"] == 2
    assert set(summary["instance"]) >= {"tp", "fp", "fn", "precision", "recall"}
    assert {"ods", "ois"} <= set(summary)
    json.dumps(summary, allow_nan=False)


def test_save_and_load_round_trip(sample_report: EvaluationReport, tmp_path: Path) -> None:
    folder = sample_report.save(tmp_path / "report")
    loaded = EvaluationReport.load(folder)
    assert loaded.summary() == sample_report.summary()
    assert loaded.sweep == json.loads(json.dumps(sample_report.sweep))
    assert loaded.model == sample_report.model and loaded.settings == sample_report.settings
    pd.testing.assert_frame_equal(loaded.per_image, sample_report.per_image, check_dtype=False)
    assert set(loaded.sweep_image_counts) == {"tolerance", "pixel", "cells"}
    for level, counts in sample_report.sweep_image_counts.items():
        np.testing.assert_array_equal(loaded.sweep_image_counts[level], counts)
    assert loaded.summary()["intervals"] == sample_report.summary()["intervals"]


def test_a_report_saved_before_per_image_counts_loads_without_intervals(
    sample_report: EvaluationReport, tmp_path: Path
) -> None:
    folder = sample_report.save(tmp_path / "report")
    (folder / "sweep_counts.npz").unlink()
    per_image = pd.read_csv(folder / "per_image.csv")
    per_image[["image", "pred_cracks", "true_cracks", "tp_px", "fp_px", "fn_px"]].to_csv(
        folder / "per_image.csv", index=False
    )
    loaded = EvaluationReport.load(folder)
    assert loaded.sweep_image_counts == {} and loaded.sweep_counts_at("cells", 0.25) is None
    assert loaded.image_counts("tolerance") is None and set(loaded.intervals()) == {"pixel_f1"}


@pytest.mark.parametrize(
    "damage",
    ["no folder", "no json", "no csv", "bad json", "json list", "missing key", "bad csv", "bad npz", "npz shape"],
)
def test_damaged_report_folder_is_a_crackseg_error(
    sample_report: EvaluationReport, tmp_path: Path, damage: str
) -> None:
    folder = sample_report.save(tmp_path / "report")
    report_json, per_image_csv = folder / "report.json", folder / "per_image.csv"
    if damage == "no folder":
        shutil.rmtree(folder)
    elif damage == "no json":
        report_json.unlink()
    elif damage == "no csv":
        per_image_csv.unlink()
    elif damage == "bad json":
        report_json.write_text('{"source": "x", "images": ')
    elif damage == "json list":
        report_json.write_text("[1, 2, 3]")
    elif damage == "missing key":
        payload = json.loads(report_json.read_text())
        del payload["pixel"]
        report_json.write_text(json.dumps(payload))
    elif damage == "bad csv":
        per_image_csv.write_bytes(b"")
    elif damage == "bad npz":
        (folder / "sweep_counts.npz").write_bytes(b"PK\x03\x04 not a zip archive")
    elif damage == "npz shape":
        np.savez(folder / "sweep_counts.npz", cells=np.zeros((2, 3), dtype=np.int64))
    with pytest.raises(CrackSegError) as caught:
        EvaluationReport.load(folder)
    assert str(caught.value).startswith(str(folder)) and "\n" not in str(caught.value)


# --- fake segmenters with known answers ------------------------------------------------------------------


def test_perfect_segmenter_scores_one(sample_items: list[LabelledImage]) -> None:
    fake = TruthSegmenter(sample_items)
    progress: list[tuple[int, int, str]] = []
    settings = InferenceSettings(conf=0.25, merge_overlap=None)  # truth instances overlap: keep every one
    report = evaluate(fake, sample_items, settings, progress=lambda *call: progress.append(call))
    assert report.pixel["f1"] == 1.0 and report.pixel["iou"] == 1.0
    assert report.pixel["fp"] == 0 and report.pixel["fn"] == 0
    assert report.tolerance["f1"] == 1.0
    truths = truth_instance_count(sample_items)
    assert (report.instance["tp"], report.instance["fp"], report.instance["fn"]) == (truths, 0, 0)
    assert report.ods == 1.0 and report.ois == 1.0
    assert (report.per_image["f1"] == 1.0).all()
    assert report.model["name"] == "truth"
    assert progress[0] == (0, 8, sample_items[0].name) and progress[-1] == (8, 8, "") and len(progress) == 9
    assert fake.calls == [0.05] * 8  # one model call per image, at the sweep's lowest conf


def test_segmenter_that_finds_nothing(sample_items: list[LabelledImage]) -> None:
    report = evaluate(TruthSegmenter(sample_items, perfect=False), sample_items)
    assert report.pixel["tp"] == 0 and report.pixel["recall"] == 0.0 and report.pixel["fp"] == 0
    assert report.instance["tp"] == 0 and report.instance["fn"] == truth_instance_count(sample_items)
    crack_free = report.per_image.set_index("image").loc["3513.rf.782300f38d0a008b3340e54b643e713e.jpg"]
    assert crack_free["f1"] == 1.0  # nothing predicted on a crack-free road is right


def test_unreadable_items_are_listed_and_skipped(sample_items: list[LabelledImage], tmp_path: Path) -> None:
    bad_label = tmp_path / "labels" / "x.txt"
    bad_label.parent.mkdir()
    bad_label.write_text("0 0.1 0.2 0.3\n")
    broken = [
        LabelledImage(image_path=tmp_path / "missing.jpg"),
        LabelledImage(image_path=sample_items[0].image_path, label_path=bad_label),
    ]
    report = evaluate(TruthSegmenter(sample_items), [*broken, *sample_items[1:3]])
    assert report.images == 2 and len(report.failures) == 2
    assert report.failures[0] == "missing.jpg: file not found"
    assert report.failures[1].startswith(f"{bad_label}:1: ")
    assert report.summary()["failures"] == report.failures
    with pytest.raises(DatasetError, match="no image could be evaluated"):
        evaluate(TruthSegmenter(sample_items), broken, source="broken set")


# --- Ultralytics mAP on a YOLO split -----------------------------------------------------------------------


def test_map_uses_the_same_images_as_the_report(
    segmenter: Segmenter, sample_items: list[LabelledImage], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A data.yaml with a relative ``path:`` is read relative to its folder, by us and for Ultralytics."""
    root = tmp_path / "dataset" / "crack"
    for item in sample_items[2:4]:
        for source, folder in ((item.image_path, "images"), (item.label_path, "labels")):
            (root / "test" / folder).mkdir(parents=True, exist_ok=True)
            shutil.copy(source, root / "test" / folder / source.name)
    yaml_path = tmp_path / "dataset" / "data.yaml"
    yaml_path.write_text("path: crack\ntrain: test/images\nval: test/images\ntest: test/images\nnames: [crack]\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # a relative `path:` must not depend on the working directory
    report = evaluate_yolo_split(segmenter, yaml_path, "test", InferenceSettings())
    assert report.images == 2 and report.source.endswith("data.yaml:test")
    keys = {"box_map50", "box_map50_95", "mask_map50", "mask_map50_95"}
    assert keys <= set(report.ultralytics) and keys <= set(report.summary())
    # the same two images named by an absolute path give the same mAP: the relative `path:` read the right images
    absolute = tmp_path / "absolute.yaml"
    absolute.write_text(f"path: {root}\ntrain: test/images\nval: test/images\ntest: test/images\nnames: [crack]\n")
    expected = ultralytics_map(segmenter, absolute, "test", InferenceSettings().imgsz)
    assert {key: report.ultralytics[key] for key in keys} == {key: expected[key] for key in keys}
    assert report.ultralytics["mask_map50"] >= report.ultralytics["mask_map50_95"]
    assert report.ultralytics["box_map50"] >= report.ultralytics["box_map50_95"]
    assert list(elsewhere.iterdir()) == []  # Ultralytics wrote nothing into the working directory
    # the data.yaml's path works as well as the dataset, with the same numbers
    assert ultralytics_map(segmenter, yaml_path, "test", 416) == pytest.approx(report.ultralytics)


def test_the_mask_map50_is_kept_image_by_image_and_recomputed_exactly_from_any_draw(
    segmenter: Segmenter, sample_items: list[LabelledImage]
) -> None:
    """Ultralytics' mask matches per image give back its own mAP50, and a draw of the images another one."""
    from crackseg.inference.validation import ValidationImageStats

    model = segmenter._validation_model
    callbacks_before = None if model is None else len(model.callbacks["on_val_batch_end"])
    report = evaluate_yolo_split(segmenter, SAMPLES_YAML, "test", InferenceSettings())
    stats = report.map_image_stats
    assert stats is not None and stats.images == report.images == 8
    assert sorted(stats.image_names) == sorted(report.per_image["image"])
    assert stats.mask_map50() == pytest.approx(report.ultralytics["mask_map50"], abs=1e-12)
    assert all(tp.shape == (len(conf), 10) for tp, conf in zip(stats.true_positive, stats.confidence, strict=True))
    # the same images in another order score the same; the first image alone scores its own
    assert stats.mask_map50(np.arange(8)[::-1]) == pytest.approx(stats.mask_map50())
    assert stats.mask_map50([0, 0]) == pytest.approx(stats.mask_map50([0]))
    crack_free = stats.image_names.index("3513.rf.782300f38d0a008b3340e54b643e713e.jpg")
    assert stats.mask_map50([crack_free]) == 0.0  # no label: nothing to find
    # the validation left no callback behind on the shared model
    after = len(segmenter._validation_model.callbacks["on_val_batch_end"])
    assert callbacks_before is None or after == callbacks_before
    assert segmenter.validate(SAMPLES_YAML, "test", 416) == pytest.approx(report.ultralytics)
    assert len(segmenter._validation_model.callbacks["on_val_batch_end"]) == after
    with pytest.raises(ValueError, match="unequal lengths"):
        ValidationImageStats(("a.jpg",), (), (), (), ())
