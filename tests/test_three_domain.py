"""The three-domain training set, built from small synthetic copies of the three source layouts."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from crackseg.core.errors import DatasetError
from crackseg.datasets.labelled import YoloDataset, label_path_for, yolo_label_to_masks
from crackseg.datasets.survey_vehicle import split_of, survey_frames
from crackseg.datasets.three_domain import ThreeDomainSettings, ThreeDomainSources, build_three_domain

SURVEY_FRAMES = 20


def write_image(path: Path, width: int, height: int, seed: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    assert cv2.imwrite(str(path), rng.integers(60, 200, (height, width, 3), dtype=np.uint8))


def write_mask(path: Path, mask: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), mask.astype(np.uint8) * 255)


@pytest.fixture
def sources(tmp_path: Path) -> ThreeDomainSources:
    crack_seg = tmp_path / "crack-seg"
    for split, count in (("train", 3), ("valid", 2)):
        for index in range(count):
            write_image(crack_seg / split / "images" / f"{split}{index}.jpg", 64, 64, index)
            if index:  # the first image of each split is crack-free (no label file)
                (crack_seg / split / "labels").mkdir(parents=True, exist_ok=True)
                (crack_seg / split / "labels" / f"{split}{index}.txt").write_text("0 0.1 0.1 0.5 0.1 0.5 0.3\n")
    (crack_seg / "data.yaml").write_text("train: train/images\nval: valid/images\nnames:\n  0: crack\n")

    deepcrack = tmp_path / "deepcrack" / "train"
    for index in range(12):
        write_image(deepcrack / "images" / f"{index:03d}.jpg", 48, 32, 100 + index)
        mask = np.zeros((32, 48), dtype=bool)
        mask[10:14, 5 : 10 + 2 * index] = True
        write_mask(deepcrack / "masks" / f"{index:03d}.png", mask)

    survey = tmp_path / "survey" / "Dataset"
    for index in range(SURVEY_FRAMES):
        name = f"frame{index:02d}"
        write_image(survey / name / f"{name}_RAW.jpg", 1024, 640, 200 + index)
        crack = np.zeros((640, 1024), dtype=bool)
        for x in range(100, 900, 11):  # a dashed transverse crack across the frame
            crack[300:303, x : x + 7] = True
        write_mask(survey / name / f"{name}_CRACK.png", crack)
        write_mask(survey / name / f"{name}_LANE.png", np.ones((640, 1024), dtype=bool))
    return ThreeDomainSources(crack_seg / "data.yaml", deepcrack, tmp_path / "survey")


def test_survey_split_follows_the_name_order_rule() -> None:
    splits = [split_of(index) for index in range(2235)]
    assert (splits.count("test"), splits.count("val"), splits.count("train")) == (224, 223, 1788)


def test_survey_frames_by_split(sources: ThreeDomainSources) -> None:
    test = survey_frames(sources.survey_root, "test")
    assert [frame.name for frame in test] == ["frame00", "frame10"]
    assert [frame.name for frame in survey_frames(sources.survey_root, "val")] == ["frame05", "frame15"]
    assert test[0].lane_mask().all()
    with pytest.raises(DatasetError, match="unknown survey split"):
        survey_frames(sources.survey_root, "valid")


def test_build_mixes_the_three_domains(sources: ThreeDomainSources, tmp_path: Path) -> None:
    out = tmp_path / "combined"
    data_yaml = build_three_domain(sources, out, ThreeDomainSettings(deepcrack_repeat=2))
    dataset = YoloDataset.from_yaml(data_yaml)
    train = [path.name for path in dataset.split_paths("train")]
    val = [path.name for path in dataset.split_paths("val")]
    # crack-seg 3; DeepCrack 12 minus 2 held out (index % 6 == 5), twice; survey 16 train frames x 2 crops.
    assert sum(name.startswith("cs_") for name in train) == 3
    assert sum(name.startswith("dc_") for name in train) == 20
    assert sum(name.startswith("sv_") for name in train) == 32
    assert sorted(name for name in val if name.startswith("dc_")) == ["dc_005.jpg", "dc_011.jpg"]
    assert sum(name.startswith("sv_") for name in val) == 4
    assert not any("frame00" in name or "frame10" in name for name in train + val)  # test frames never written
    assert sorted(p.name for p in (out / "deepcrack-val" / "masks").iterdir()) == ["005.png", "011.png"]

    # The survey crop's label is the dashed crack, joined into one instance, at the crop's own coordinates.
    crop = out / "train" / "images" / "sv_frame01_x384.jpg"
    masks = yolo_label_to_masks(label_path_for(crop), (640, 640))
    assert masks.shape[0] == 1
    assert masks[0, 301, 0:505].all() and not masks[0, :295].any() and not masks[0, 310:].any()
    # A DeepCrack label reproduces its mask; crack-free crack-seg images stay label-free.
    dc_masks = yolo_label_to_masks(out / "train" / "labels" / "dc_r1_003.txt", (48, 32))
    assert dc_masks.shape[0] == 1 and dc_masks[0, 10:14, 5:16].all()
    assert not (out / "train" / "labels" / "cs_train0.txt").exists()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["splits"]["train"]["images"] == {"crack_seg": 3, "deepcrack": 20, "survey_vehicle": 32}


def test_rebuild_replaces_the_previous_build(sources: ThreeDomainSources, tmp_path: Path) -> None:
    out = tmp_path / "combined"
    build_three_domain(sources, out, ThreeDomainSettings(deepcrack_repeat=3))
    build_three_domain(sources, out, ThreeDomainSettings(deepcrack_repeat=1, survey_fraction=0.5))
    names = [path.name for path in (out / "train" / "images").iterdir()]
    assert sum(name.startswith("dc_") for name in names) == 10
    assert sum(name.startswith("sv_") for name in names) == 16


def test_a_close_up_build_has_no_survey_crops_but_is_judged_on_every_domain(
    sources: ThreeDomainSources, tmp_path: Path
) -> None:
    from train.promotion import domains_of

    out = tmp_path / "close-up"
    data_yaml = build_three_domain(sources, out, ThreeDomainSettings(deepcrack_repeat=2, survey_fraction=0))
    train_names = [path.name for path in (out / "train" / "images").iterdir()]
    assert not any(name.startswith("sv_") for name in train_names)
    assert sum(name.startswith("dc_") for name in train_names) == 20
    val_names = [path.name for path in (out / "val" / "images").iterdir()]
    assert val_names and not any(name.startswith("sv_") for name in val_names)
    assert domains_of(data_yaml).survey_root == sources.survey_root  # the domain gate still scores the frames
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["splits"]["train"]["images"] == {"crack_seg": 3, "deepcrack": 20}
    assert manifest["settings"]["survey_fraction"] == 0


@pytest.mark.parametrize("fraction", [-0.1, 1.5])
def test_a_survey_fraction_outside_0_to_1_is_refused(fraction: float) -> None:
    with pytest.raises(ValueError, match="survey_fraction"):
        ThreeDomainSettings(survey_fraction=fraction)


def test_output_inside_a_source_is_refused(sources: ThreeDomainSources) -> None:
    with pytest.raises(DatasetError, match="must not lie inside"):
        build_three_domain(sources, sources.deepcrack_train_dir / "combined")


def test_a_build_names_its_evaluation_sets(sources: ThreeDomainSources, tmp_path: Path) -> None:
    """The promotion finds every domain's validation and test sets from the build's manifest."""
    from crackseg.training.domains import DomainSets
    from train.promotion import domains_of

    out = tmp_path / "combined"
    data_yaml = build_three_domain(sources, out)
    sets = domains_of(data_yaml)
    assert sets == DomainSets(
        crack_seg_yaml=sources.crack_seg_yaml,
        deepcrack_val=(out / "deepcrack-val").resolve(),
        deepcrack_test=sources.deepcrack_train_dir.parent / "test",
        survey_root=sources.survey_root,
    )
    assert domains_of(sources.crack_seg_yaml) is None  # a plain dataset keeps the crack-seg rule
    (out / "manifest.json").write_text("{}")
    with pytest.raises(DatasetError, match="manifest"):
        DomainSets.from_build(out)


def test_the_survey_closing_is_chosen_on_the_command_line(sources: ThreeDomainSources, tmp_path: Path) -> None:
    """`--survey-closing 1` keeps each drawn dash its own instance; the default joins them into one crack."""
    from train.build_dataset import main

    def crop_instances(closing: list[str]) -> np.ndarray:
        out = tmp_path / f"build{len(closing)}"
        argv = ["--out", str(out), "--crack-seg", str(sources.crack_seg_yaml), "--survey", str(sources.survey_root)]
        argv += ["--deepcrack", str(sources.deepcrack_train_dir), *closing]
        assert main(argv) == 0
        return yolo_label_to_masks(out / "train" / "labels" / "sv_frame01_x384.txt", (640, 640))

    dashes = crop_instances(["--survey-closing", "1"])
    # Dashes are drawn at x = 100 + 11 k, 7 px long; the crop (x = 384..1023) holds those ending after 384.
    assert dashes.shape[0] == len([x for x in range(100, 900, 11) if x + 7 > 384])
    assert all(mask.any(axis=0).sum() <= 8 for mask in dashes)  # one dash each, not a joined crack
    joined = crop_instances([])
    assert joined.shape[0] == 1 and joined[0, 301, 2:508].all()


def test_the_lane_margin_paints_the_unlabelled_road_gray(sources: ThreeDomainSources, tmp_path: Path) -> None:
    """`--survey-lane-margin 10`: crops gray beyond 10 px of the lane, and no crack label there."""
    from train.build_dataset import main

    lane = np.zeros((640, 1024), dtype=bool)
    lane[:, :500] = True  # the surveyed lane: the frame's left part
    for folder in (sources.survey_root / "Dataset").iterdir():
        write_mask(folder / f"{folder.name}_LANE.png", lane)
    out = tmp_path / "lane"
    argv = ["--out", str(out), "--crack-seg", str(sources.crack_seg_yaml), "--survey", str(sources.survey_root)]
    argv += ["--deepcrack", str(sources.deepcrack_train_dir), "--survey-lane-margin", "10"]
    assert main(argv) == 0

    crop = cv2.imread(str(out / "train" / "images" / "sv_frame01_x384.jpg")).astype(int)
    # The crop starts at frame x 384: lane up to crop x 115, margin to 125, gray from 126 on.
    assert np.abs(crop[:, 130:] - 114).max() <= 6  # JPEG ringing only
    assert crop[:, :120].std() > 20  # the photographed noise kept inside the lane and its margin
    masks = yolo_label_to_masks(label_path_for(out / "train" / "images" / "sv_frame01_x384.jpg"), (640, 640))
    assert masks.shape[0] == 1
    assert masks[0, 301, 2:120].all() and not masks[0, :, 130:].any()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["settings"]["survey_lane_margin_px"] == 10
    # The other crop lies inside the lane: unchanged but for the few columns beyond x 510.
    left = cv2.imread(str(out / "train" / "images" / "sv_frame01_x0.jpg")).astype(int)
    assert left[:, :500].std() > 20 and np.abs(left[:, 520:] - 114).max() <= 6


def test_an_empty_lane_leaves_nothing_and_a_negative_margin_is_refused() -> None:
    from crackseg.datasets.three_domain import outside_region

    assert outside_region(np.zeros((4, 5), dtype=bool), 3).all()
    region = np.zeros((1, 9), dtype=bool)
    region[0, 0] = True
    assert outside_region(region, 2).tolist() == [[False, False, False] + [True] * 6]
    with pytest.raises(ValueError, match="survey_lane_margin_px"):
        ThreeDomainSettings(survey_lane_margin_px=-1)


class UnsureTruthSegmenter:
    """A fake model that finds every image's true cracks at conf 0.15 and a false band at 0.6 (known images only).

    Top-down F1 is then the same at 0.05, 0.10 and 0.15 and falls to 0 above 0.15 (only the band), so the
    top-down conf chosen on val is 0.15 (ties go to the higher threshold), not the old fixed 0.25.
    """

    def __init__(self, items: list) -> None:
        from crackseg.datasets.labelled import iter_items

        self.truth = {rgb.tobytes(): truth for _, rgb, truth in iter_items(items)}
        self.validations: list[str] = []

    def predict(self, rgb: np.ndarray, settings=None):
        from crackseg.inference.prediction import CrackPrediction

        truth = self.truth.get(rgb.tobytes(), np.zeros((0, *rgb.shape[:2]), bool))
        band = np.zeros((1, *rgb.shape[:2]), bool)
        band[0, -3:] = True
        masks = np.concatenate([truth.any(axis=0, keepdims=True), band]) if len(truth) else band
        confidence = np.array([0.15, 0.6] if len(truth) else [0.6], np.float32)
        return CrackPrediction.from_masks(masks, confidence).with_min_confidence(settings.conf)

    def validate(self, dataset, split: str, imgsz: int) -> dict[str, float]:
        self.validations.append(split)
        return {"mask_map50": 0.5, "mask_map50_95": 0.2}

    def info(self) -> dict[str, str]:
        return {"name": "unsure", "sha256": "0" * 64, "backend": "fake"}


def test_the_domain_evaluation_chooses_the_top_down_conf_on_val_and_keeps_it_for_test(
    sources: ThreeDomainSources, tmp_path: Path
) -> None:
    from crackseg.datasets.labelled import mask_folder_items
    from crackseg.datasets.survey_vehicle import survey_items
    from crackseg.training.domains import choose_top_down_conf, evaluate_domains, f1_at
    from train.promotion import domains_of

    test_dir = sources.deepcrack_train_dir.parent / "test"
    for index in range(3):
        write_image(test_dir / "images" / f"t{index}.jpg", 48, 32, 300 + index)
        mask = np.zeros((32, 48), dtype=bool)
        mask[5:8, 4:30] = True
        write_mask(test_dir / "masks" / f"t{index}.png", mask)
    crack_seg = sources.crack_seg_yaml.parent
    write_image(crack_seg / "test" / "images" / "test0.jpg", 64, 64, 400)
    (crack_seg / "test" / "labels").mkdir()
    (crack_seg / "test" / "labels" / "test0.txt").write_text("0 0.2 0.2 0.6 0.2 0.6 0.4\n")
    sources.crack_seg_yaml.write_text(sources.crack_seg_yaml.read_text() + "test: test/images\n")
    sets = domains_of(build_three_domain(sources, tmp_path / "combined"))
    items = [
        *YoloDataset.from_yaml(sets.crack_seg_yaml).items("val"),
        *YoloDataset.from_yaml(sets.crack_seg_yaml).items("test"),
        *mask_folder_items(sets.deepcrack_val / "images", sets.deepcrack_val / "masks"),
        *mask_folder_items(test_dir / "images", test_dir / "masks"),
        *survey_items(sets.survey_root, "val"),
        *survey_items(sets.survey_root, "test"),
    ]
    segmenter = UnsureTruthSegmenter(items)
    val = evaluate_domains(segmenter, sets, "val")
    assert val.top_down_conf == 0.15 == choose_top_down_conf(val.crack_seg, val.deepcrack)
    # the val reports were scored again at the chosen conf, the mAP kept from the first run (one validation)
    assert val.crack_seg.settings["conf"] == 0.15 and val.deepcrack.settings["conf"] == 0.15
    assert segmenter.validations == ["val"] and val.crack_seg.ultralytics["mask_map50"] == 0.5
    scores = val.scores()
    assert scores["crack_seg_pixel_f1"] == pytest.approx(val.crack_seg.pixel["f1"])
    assert scores["deepcrack_f1_2px"] == pytest.approx(val.deepcrack.tolerance["f1"])
    assert scores["crack_seg_pixel_f1"] > 0.5 and scores["crack_seg_pixel_f1_at_0_25"] == 0.0  # only the band
    assert scores["deepcrack_f1_2px_at_0_25"] == f1_at(val.deepcrack.sweep, 0.25) == 0.0
    test = evaluate_domains(segmenter, sets, "test", street_conf=val.street_conf, top_down_conf=0.15)
    assert test.top_down_conf == 0.15 and test.crack_seg.settings["conf"] == 0.15
    assert test.deepcrack.images == 3 and segmenter.validations == ["val", "test"]  # test chose nothing


def test_paired_gains_put_an_interval_on_each_gate_metrics_difference(
    sources: ThreeDomainSources, tmp_path: Path
) -> None:
    """A model that finds the true cracks against one that finds only a false band: every F1 gain is positive.

    Each gain equals the difference of the two models' gate scores (each at its own chosen conf), and the
    model against itself gains exactly nothing on any resample.
    """
    from crackseg.core.errors import DatasetError
    from crackseg.datasets.labelled import mask_folder_items
    from crackseg.datasets.survey_vehicle import survey_items
    from crackseg.inference.validation import ValidationImageStats
    from crackseg.training.domains import (
        MAP_GAIN_METRIC,
        MEAN_F1_GAIN,
        MEAN_GAIN,
        PAIRED_GAIN_METRICS,
        domain_gate,
        evaluate_domains,
        paired_gains,
    )
    from train.promotion import domains_of

    sets = domains_of(build_three_domain(sources, tmp_path / "combined"))
    items = [
        *YoloDataset.from_yaml(sets.crack_seg_yaml).items("val"),
        *mask_folder_items(sets.deepcrack_val / "images", sets.deepcrack_val / "masks"),
        *survey_items(sets.survey_root, "val"),
    ]
    finder, band_only = UnsureTruthSegmenter(items), UnsureTruthSegmenter([])
    candidate, shipped = evaluate_domains(finder, sets, "val"), evaluate_domains(band_only, sets, "val")
    gains = paired_gains(candidate, shipped, resamples=500)
    new, old = candidate.scores(), shipped.scores()
    assert set(gains) == {*PAIRED_GAIN_METRICS, MEAN_F1_GAIN}
    for metric in PAIRED_GAIN_METRICS:
        assert gains[metric].difference == pytest.approx(new[metric] - old[metric])
        assert gains[metric].difference > 0.5 and gains[metric].low <= gains[metric].difference <= gains[metric].high
    assert gains[MEAN_F1_GAIN].difference == pytest.approx(
        sum(new[metric] - old[metric] for metric in PAIRED_GAIN_METRICS) / len(PAIRED_GAIN_METRICS)
    )
    itself = paired_gains(candidate, candidate, resamples=200)
    assert all((gain.low, gain.difference, gain.high) == (0.0, 0.0, 0.0) for gain in itself.values())
    # with Ultralytics' per-image mask matches on both sides, the mAP50 and the rule's mean over four join in
    assert MAP_GAIN_METRIC not in gains and MEAN_GAIN not in gains  # these stand-ins keep none
    names = ("a.jpg", "b.jpg", "c.jpg")

    def matches(found: list[bool]) -> ValidationImageStats:  # one crack a photo, one prediction each
        return ValidationImageStats(
            names,
            tuple(np.full((1, 10), hit) for hit in found),
            tuple(np.array([0.9]) for _ in found),
            tuple(np.zeros(1) for _ in found),
            tuple(np.zeros(1) for _ in found),
        )

    candidate.crack_seg.map_image_stats, shipped.crack_seg.map_image_stats = matches([True] * 3), matches([1, 0, 0])
    with_map = paired_gains(candidate, shipped, resamples=300)
    map_gain = with_map[MAP_GAIN_METRIC]
    assert map_gain.difference == pytest.approx(matches([True] * 3).mask_map50() - matches([1, 0, 0]).mask_map50())
    assert map_gain.difference > 0.5 and map_gain.low >= 0
    every = [map_gain.difference] + [gains[metric].difference for metric in PAIRED_GAIN_METRICS]
    assert with_map[MEAN_GAIN].difference == pytest.approx(sum(every) / 4)
    # the gate takes the rule's mean gain with its interval: surely above 0 here, exactly 0 for a model against itself
    new_map = new | {MAP_GAIN_METRIC: matches([True] * 3).mask_map50()}
    old_map = old | {MAP_GAIN_METRIC: matches([1, 0, 0]).mask_map50()}
    assert domain_gate(new_map, old_map, with_map[MEAN_GAIN]) == (True, [])
    verdict, reasons = domain_gate(old_map, old_map, paired_gains(shipped, shipped, resamples=200)[MEAN_GAIN])
    assert verdict is False and reasons == [
        "mean gain over the validation sets +0.0000 (95% interval +0.0000 .. +0.0000; higher in 0% of resamples): "
        "its interval does not lie above 0"
    ]
    other = matches([1, 0, 0])
    shipped.crack_seg.map_image_stats = ValidationImageStats(
        ("x.jpg", "b.jpg", "c.jpg"), other.true_positive, other.confidence, other.predicted_class, other.target_class
    )
    with pytest.raises(DatasetError, match="validated on the same photos"):
        paired_gains(candidate, shipped)
    candidate.survey.per_image = candidate.survey.per_image.iloc[::-1]  # another order: not paired
    with pytest.raises(DatasetError, match="same photos"):
        paired_gains(candidate, shipped)


def test_several_models_are_compared_with_the_first_by_paired_intervals(
    sources: ThreeDomainSources, tmp_path: Path, capsys
) -> None:
    """``train/evaluate_domains.py A B``: B's val F1 gains over A, each the difference of their printed scores."""
    from crackseg.core.locations import SHIPPED_MODEL, STREET_MODEL
    from crackseg.metrics.bootstrap import PairedDifference
    from crackseg.training.domains import GATE_METRICS, MEAN_F1_GAIN, MEAN_GAIN, domain_gate
    from train.evaluate_domains import main

    build = build_three_domain(sources, tmp_path / "combined")
    out = tmp_path / "scores.json"
    argv = [str(SHIPPED_MODEL), str(STREET_MODEL), "--three-domain", str(build.parent), "--splits", "val"]
    assert main([*argv, "--out", str(out)]) == 0
    results = json.loads(out.read_text(encoding="utf-8"))
    first, second = results[str(SHIPPED_MODEL)], results[str(STREET_MODEL)]
    assert "val_gains_over_first" not in first
    gains = second["val_gains_over_first"]
    assert set(gains) == {*GATE_METRICS, MEAN_F1_GAIN, MEAN_GAIN}  # real models: Ultralytics' mAP50 too
    for metric in GATE_METRICS:
        assert gains[metric]["difference"] == pytest.approx(second["val"][metric] - first["val"][metric], abs=1e-4)
        assert gains[metric]["low"] <= gains[metric]["difference"] <= gains[metric]["high"]
    # the top-down gate's verdict on B over A, by the same rule and reasons as a promotion
    verdict = second["top_down_gate_over_first"]
    expected = domain_gate(second["val"], first["val"], PairedDifference(**gains[MEAN_GAIN]))
    assert verdict == {"promoted": expected[0], "reasons": expected[1]}
    assert verdict["promoted"] is (gains[MEAN_GAIN]["low"] > 0 and not verdict["reasons"])
    printed = capsys.readouterr().out
    assert "paired bootstrap over the photos" in printed
    assert f"the top-down gate over {SHIPPED_MODEL} " + ("passes" if expected[0] else "fails: ") in printed


def test_test_is_never_scored_without_val_choosing_the_thresholds(tmp_path: Path, capsys) -> None:
    from train.evaluate_domains import main

    assert main([str(tmp_path / "x.pt"), "--three-domain", str(tmp_path), "--splits", "test"]) == 2
    assert "chosen on val, never on test" in capsys.readouterr().err


def test_a_build_credits_the_datasets_of_its_train_split(sources: ThreeDomainSources, tmp_path: Path) -> None:
    """The card's licence lists every dataset a promoted model trained on, read from the build's manifest."""
    from crackseg.training.dataset_credits import DOMAIN_CREDITS, licence_with_training_set, training_credits

    close_up = build_three_domain(sources, tmp_path / "close-up", ThreeDomainSettings(survey_fraction=0))
    everything = build_three_domain(sources, tmp_path / "all", ThreeDomainSettings())
    names = {key: value["name"] for key, value in DOMAIN_CREDITS.items()}
    assert [c["name"] for c in training_credits(close_up)] == [names["crack_seg"], names["deepcrack"]]
    assert [c["name"] for c in training_credits(everything)] == list(names.values())
    assert {c["use"] for c in training_credits(everything)} == {"training"}

    stage1 = {"model": "AGPL-3.0", "datasets": [{"name": names["crack_seg"], "licence": "AGPL-3.0", "use": "test"}]}
    after_close_up = licence_with_training_set(stage1, close_up)
    assert [(c["name"], c["use"]) for c in after_close_up["datasets"]] == [
        (names["crack_seg"], "test, training"),
        (names["deepcrack"], "training"),
    ]
    after_both = licence_with_training_set(after_close_up, everything)
    assert [c["name"] for c in after_both["datasets"]] == list(names.values())  # added, never dropped
    assert licence_with_training_set(after_both, everything)["datasets"] == after_both["datasets"]
    assert stage1["datasets"][0]["use"] == "test"  # the card read in is not changed in place
    assert "MIT" in after_both["datasets"][2]["licence"]


def test_a_training_set_without_a_manifest_is_recorded_as_not_recorded(sources: ThreeDomainSources) -> None:
    from crackseg.training.dataset_credits import training_credits

    (credit,) = training_credits(sources.crack_seg_yaml)
    assert credit["name"] == f"training set {sources.crack_seg_yaml}"
    assert credit["licence"].startswith("not recorded")


def test_a_street_only_build_holds_the_survey_crops_alone(sources: ThreeDomainSources, tmp_path: Path) -> None:
    """The street model's training set: survey crops in train and val, credited to the survey data alone."""
    from crackseg.training.dataset_credits import DOMAIN_CREDITS, training_credits

    out = tmp_path / "street"
    data_yaml = build_three_domain(sources, out, ThreeDomainSettings(close_ups=False, deepcrack_repeat=3))
    for split, crops in (("train", 32), ("val", 4)):
        names = [path.name for path in (out / split / "images").iterdir()]
        assert len(names) == crops and all(name.startswith("sv_") for name in names)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["splits"]["train"]["images"] == {"survey_vehicle": 32}
    assert sorted(p.name for p in (out / "deepcrack-val" / "masks").iterdir()) == ["005.png", "011.png"]
    assert [c["name"] for c in training_credits(data_yaml)] == [DOMAIN_CREDITS["survey_vehicle"]["name"]]
    with pytest.raises(ValueError, match="nothing would be built"):
        ThreeDomainSettings(close_ups=False, survey_fraction=0)
