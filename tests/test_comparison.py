"""Preprocessing comparison and the evaluation helpers behind the analysis pages, on the real shipped model."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crackseg.core.errors import CrackSegError
from crackseg.datasets.labelled import LabelledImage, YoloDataset
from crackseg.evaluation.comparison import (
    COMPARED_METRICS,
    compare_preprocessing,
    comparison_table,
    luminance_histogram,
    preview_variants,
    report_scores,
    variants_table,
)
from crackseg.evaluation.run import (
    EvaluationReport,
    error_overlay_for,
    evaluate,
    predict_labelled,
    settings_from_dict,
    worst_images,
)
from crackseg.export.overlays import FN_COLOR_RGB, FP_COLOR_RGB, TP_COLOR_RGB
from crackseg.inference.preprocessing import PreprocessSpec, apply_preprocessing
from crackseg.inference.segmenter import InferenceSettings, Segmenter
from crackseg.training.model_card import STORED_EVALUATION_DIR

SAMPLES_YAML = Path(__file__).resolve().parents[1] / "samples" / "data.yaml"
CLAHE = PreprocessSpec.of("clahe", clip_limit=3.0, tile_grid=8)


@pytest.fixture(scope="module")
def segmenter() -> Segmenter:
    return Segmenter(backend="torch")


@pytest.fixture(scope="module")
def items() -> list[LabelledImage]:
    """Three labelled samples: 1616 (3 cracks), 1722 and 2222."""
    return YoloDataset.from_yaml(SAMPLES_YAML).items("test")[:3]


# --------------------------------------------------------------------------- pure helpers


def test_luminance_histogram_counts_grey_levels() -> None:
    rgb = np.array([[[0, 0, 0], [0, 0, 0]], [[255, 255, 255], [128, 128, 128]]], dtype=np.uint8)
    counts = luminance_histogram(rgb)
    assert counts.shape == (256,) and counts.dtype == np.int64
    assert (counts[0], counts[128], counts[255], counts.sum()) == (2, 1, 1, 4)
    with pytest.raises(ValueError, match="uint8"):
        luminance_histogram(rgb.astype(np.float32))


def _report(scores: dict[str, float], images: int = 5) -> EvaluationReport:
    """A report holding only the numbers ``comparison_table`` reads."""
    return EvaluationReport(
        source="hand-made",
        images=images,
        model={},
        settings={},
        pixel={"f1": scores["pixel_f1"], "iou": scores["pixel_iou"]},
        tolerance={"f1": scores["tolerance_f1"], "tolerance_px": 2},
        instance={"precision": scores["instance_precision"], "recall": scores["instance_recall"]},
        sweep={"ods_f1": scores["ods_f1"], "ods_threshold": 0.3, "ois_f1": 0.0},
        per_image=pd.DataFrame(),
    )


def test_comparison_table_deltas_are_differences_from_none() -> None:
    none = dict.fromkeys(COMPARED_METRICS, 0.5)
    better = dict(none, pixel_f1=0.75, ods_f1=0.625)
    worse = dict(none, instance_recall=0.25)
    table = comparison_table(
        {PreprocessSpec(): _report(none), CLAHE: _report(better), PreprocessSpec("gamma"): _report(worse)}
    )
    assert list(table["method"]) == ["none", "clahe", "gamma"]
    assert list(table["pixel_f1_delta"]) == [0.0, 0.25, 0.0]
    assert list(table["ods_f1_delta"]) == [0.0, 0.125, 0.0]
    assert list(table["instance_recall_delta"]) == [0.0, 0.0, -0.25]
    assert table.loc[1, "preprocessing"] == CLAHE.label


def test_comparison_table_needs_the_baseline() -> None:
    with pytest.raises(ValueError, match="baseline"):
        comparison_table({CLAHE: _report(dict.fromkeys(COMPARED_METRICS, 0.5))})


def test_worst_images_orders_by_f1_then_iou_then_name() -> None:
    per_image = pd.DataFrame({"image": ["a", "b", "c", "d"], "f1": [0.9, 0.2, 0.2, 1.0], "iou": [0.8, 0.3, 0.1, 1.0]})
    assert list(worst_images(per_image, 3)["image"]) == ["c", "b", "a"]
    assert worst_images(per_image, 0).empty


@pytest.mark.parametrize(
    "spec",
    [
        PreprocessSpec(),
        CLAHE,
        PreprocessSpec.of("denoise", method="median", strength=3),
        PreprocessSpec.of("gamma", gamma=0.7),
    ],
    ids=["none", "clahe", "denoise", "gamma"],
)
def test_report_settings_round_trip(spec: PreprocessSpec) -> None:
    settings = InferenceSettings(conf=0.4, iou=0.6, imgsz=640, preprocess=spec, tile="never", tile_size=512)
    assert settings_from_dict(settings.to_dict()) == settings


def test_unknown_report_settings_are_an_error() -> None:
    with pytest.raises(CrackSegError, match="cannot be reused"):
        settings_from_dict({"conf": 0.25, "preprocess": "Sharpen (amount=2)"})


def test_metrics_table_of_the_stored_report() -> None:
    report = EvaluationReport.load(STORED_EVALUATION_DIR)
    table = report.metrics_table()
    value = table.set_index(["level", "metric"])["value"]
    assert value[("pixel", "F1")] == report.pixel["f1"]
    assert value[("tolerance (<= 2 px)", "F1")] == report.tolerance["f1"]
    assert value[("threshold sweep", "OIS F1")] == report.ois
    assert value[("Ultralytics mask", "mAP50")] == report.ultralytics["mask_map50"]
    without_map = dataclasses.replace(report, ultralytics={})
    assert not without_map.metrics_table()["level"].str.startswith("Ultralytics").any()


# --------------------------------------------------------------------------- the real model


def test_compare_preprocessing_runs_evaluate_once_per_method(segmenter: Segmenter, items: list[LabelledImage]) -> None:
    settings = InferenceSettings(conf=0.25, imgsz=416)
    calls: list[tuple[int, int]] = []
    table = compare_preprocessing(
        segmenter, items, [CLAHE], settings, progress=lambda done, total, _label: calls.append((done, total))
    )
    direct = {
        "none": report_scores(evaluate(segmenter, items, settings)),
        "clahe": report_scores(evaluate(segmenter, items, dataclasses.replace(settings, preprocess=CLAHE))),
    }
    assert list(table["method"]) == ["none", "clahe"]  # the baseline is added first
    assert list(table["images"]) == [3, 3]
    for name in COMPARED_METRICS:
        assert table.loc[0, name] == direct["none"][name]
        assert table.loc[1, name] == direct["clahe"][name]
        assert table.loc[1, f"{name}_delta"] == pytest.approx(direct["clahe"][name] - direct["none"][name], abs=1e-12)
        assert table.loc[0, f"{name}_delta"] == 0.0
    done = [count for count, _total in calls]
    assert done == sorted(done) and calls[-1] == (6, 6)  # over both methods, never backwards


def test_preview_variants_show_what_the_model_saw(segmenter: Segmenter, items: list[LabelledImage]) -> None:
    rgb = items[0].load_rgb()
    specs = [PreprocessSpec(), PreprocessSpec("histeq")]
    previews = preview_variants(segmenter, rgb, specs, InferenceSettings())
    np.testing.assert_array_equal(previews[0].rgb, rgb)
    np.testing.assert_array_equal(previews[1].rgb, apply_preprocessing(rgb, "histeq"))
    table = variants_table(previews)
    assert list(table["preprocessing"]) == ["None", "Histogram equalization"]
    for row, preview in zip(table.itertuples(), previews, strict=True):
        assert row.cracks == len(preview.prediction) == preview.measurement.count
        assert row.crack_area_px2 == np.count_nonzero(preview.prediction.union_mask)
        if len(preview.prediction):
            assert row.mean_confidence == pytest.approx(float(preview.prediction.confidence.mean()))
        else:
            assert np.isnan(row.mean_confidence)
    assert previews[0].luminance_histogram.sum() == rgb.shape[0] * rgb.shape[1]


def test_error_overlay_paints_the_pixels_evaluate_counts(segmenter: Segmenter, items: list[LabelledImage]) -> None:
    item, settings = items[2], InferenceSettings()  # 2222: four labelled cracks, found well above conf 0.25
    assert item.image_path.name.startswith("2222")
    row = evaluate(segmenter, [item], settings).per_image.iloc[0]
    result = predict_labelled(segmenter, item, settings)
    pred, truth = result.prediction.union_mask, result.truth_union
    overlay = error_overlay_for(segmenter, item, settings, alpha=1.0)
    assert overlay.shape == result.rgb.shape and overlay.dtype == np.uint8
    for mask, colour, count in (
        (pred & truth, TP_COLOR_RGB, row["tp_px"]),
        (pred & ~truth, FP_COLOR_RGB, row["fp_px"]),
        (~pred & truth, FN_COLOR_RGB, row["fn_px"]),
    ):
        assert np.count_nonzero(mask) == count > 0
        assert (overlay[mask] == colour).all()
    untouched = ~(pred | truth)
    np.testing.assert_array_equal(overlay[untouched], result.rgb[untouched])
