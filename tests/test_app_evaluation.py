"""The Evaluation page under AppTest: the stored report, and a new evaluation of the samples checked by crackseg."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from crackseg.datasets.labelled import YoloDataset
from crackseg.evaluation.run import EvaluationReport, evaluate
from crackseg.inference.model_loading import view_conf
from crackseg.inference.segmenter import InferenceSettings, Segmenter
from crackseg.io.allowed_paths import DATA_DIRS_ENV_VAR
from crackseg.training.model_card import STORED_EVALUATION_DIR, load_card

ROOT = Path(__file__).resolve().parents[1]
PAGE = str(ROOT / "app_pages" / "evaluation.py")


@pytest.fixture
def page(app_env: None, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.delenv(DATA_DIRS_ENV_VAR, raising=False)
    return AppTest.from_file(PAGE, default_timeout=120)


@pytest.fixture(scope="module")
def samples_report() -> EvaluationReport:
    """crackseg's own evaluation of the samples' test split at the page's default settings (the card's conf)."""
    items = YoloDataset.from_yaml(ROOT / "samples" / "data.yaml").items("test")
    settings = InferenceSettings(conf=view_conf("top-down"))
    return evaluate(Segmenter(backend="torch"), items, settings, tolerance_px=2)


def _heatmaps(at: AppTest) -> dict[str, dict]:
    """Heatmap traces of the page by figure title."""
    out = {}
    for chart in at.get("plotly_chart"):
        spec = json.loads(chart.proto.spec)
        if spec["data"] and spec["data"][0]["type"] == "heatmap":
            out[spec["layout"]["title"]["text"]] = spec["data"][0]
    return out


def _z(heatmap: dict) -> list[list[float | None]]:
    return [[None if value is None else float(value) for value in row] for row in heatmap["z"]]


def _expected_z(report: EvaluationReport) -> dict[str, list[list[float | None]]]:
    pixel = report.pixel_confusion().astype(float).tolist()
    instance = report.instance_confusion().astype(float).tolist()
    instance[0][0] = None  # background-background is undefined for instances
    return {"Pixels": pixel, "Instances (mask IoU ≥ 0.5)": instance}


def _run_samples(at: AppTest) -> AppTest:
    at.run()
    at.radio(key="eval_mode").set_value("new")
    at.run()
    at.button(key="eval_run").click()
    return at.run()


def test_the_stored_report_is_shown_without_running_the_model(page: AppTest) -> None:
    at = page.run()
    assert not at.exception and not at.error
    stored = EvaluationReport.load(STORED_EVALUATION_DIR)
    heatmaps = _heatmaps(at)
    assert {title: _z(heatmap) for title, heatmap in heatmaps.items()} == _expected_z(stored)
    metrics = next(frame.value for frame in at.dataframe if "level" in frame.value.columns)
    shown = metrics.set_index(["level", "metric"])["value"]
    every_dataset = next(frame.value for frame in at.dataframe if "dataset" in frame.value.columns)
    card = load_card()
    assert every_dataset.set_index(["dataset", "metric"]).loc[
        ("DeepCrack", "F1 within 2 px at the top-down conf"), "val"
    ] == pytest.approx(card["domains"]["val"]["deepcrack_f1_2px"])
    assert shown[("pixel", "F1")] == pytest.approx(stored.pixel["f1"])
    assert shown[("Ultralytics mask", "mAP50")] == pytest.approx(stored.ultralytics["mask_map50"])
    per_image = next(frame.value for frame in at.dataframe if "tp_px" in frame.value.columns)
    assert len(per_image) == stored.images
    assert list(per_image["f1"]) == sorted(per_image["f1"])  # worst first by default
    titles = [json.loads(chart.proto.spec)["layout"]["title"]["text"] for chart in at.get("plotly_chart")]
    assert "Precision-recall (tolerance-matched pixels)" in titles
    assert any("not available here" in info.value for info in at.info)  # the test split is not in the repo
    # how sure: the stored per-image counts give each F1 its interval over the stored report's images
    caption = next(caption.value for caption in at.caption if caption.value.startswith("How sure"))
    assert f"over these {stored.images} images" in caption
    for name, interval in stored.intervals().items():
        assert f"{interval.low:.3f} – {interval.high:.3f}" in caption, name
    assert set(stored.intervals()) == {"pixel_f1", "tolerance_f1", "cell_f1"}


def test_a_new_evaluation_of_the_samples_shows_the_matrices_crackseg_computes(
    page: AppTest, samples_report: EvaluationReport
) -> None:
    at = _run_samples(page)
    assert not at.exception and not at.error
    heatmaps = _heatmaps(at)
    assert {title: _z(heatmap) for title, heatmap in heatmaps.items()} == _expected_z(samples_report)
    tp, fp, fn = (samples_report.pixel[key] for key in ("tp", "fp", "fn"))
    assert heatmaps["Pixels"]["text"][1] == [f"{fn:,}", f"{tp:,}"] and heatmaps["Pixels"]["text"][0][1] == f"{fp:,}"
    per_image = next(frame.value for frame in at.dataframe if "tp_px" in frame.value.columns)
    assert (
        per_image.sort_values("image")["tp_px"].tolist()
        == samples_report.per_image.sort_values("image")["tp_px"].tolist()
    )
    assert len(at.get("image")) == 4  # the worst-case gallery, drawn from the local samples
    # how sure: each F1's bootstrap interval over the 8 images, as crackseg computes it
    intervals = samples_report.intervals()
    caption = next(caption.value for caption in at.caption if caption.value.startswith("How sure"))
    assert "over these 8 images" in caption
    for name, label in (("pixel_f1", "pixel F1"), ("tolerance_f1", "tolerance F1"), ("cell_f1", "cell F1")):
        assert f"{label} {intervals[name].low:.3f} – {intervals[name].high:.3f}" in caption
    assert intervals["pixel_f1"].low < samples_report.pixel["f1"] < intervals["pixel_f1"].high


def test_the_normalized_view_divides_each_row_by_its_total(page: AppTest, samples_report: EvaluationReport) -> None:
    at = _run_samples(page)
    at.radio(key="eval_cm_mode").set_value("normalized")
    at.run()
    assert not at.exception
    pixel = np.array(_z(_heatmaps(at)["Pixels"]))
    counts = samples_report.pixel_confusion()
    np.testing.assert_allclose(pixel, counts / counts.sum(axis=1, keepdims=True))
    instance = _heatmaps(at)["Instances (mask IoU ≥ 0.5)"]
    assert instance["text"][0] == ["n/a", "100.0%"]


@pytest.mark.parametrize(
    ("kind", "inputs"),
    [
        ("yolo", {"eval_data_path": "samples/../model/card.json"}),
        ("masks", {"eval_images_path": "/etc", "eval_masks_path": "/etc"}),
        (
            "masks",
            {"eval_images_path": "samples/images", "eval_masks_path": "samples/images", "eval_regions_path": "/etc"},
        ),
    ],
    ids=["yaml-dotdot", "mask-folders", "region-folder"],
)
def test_paths_outside_the_allowed_folders_are_refused(page: AppTest, kind: str, inputs: dict[str, str]) -> None:
    at = page.run()
    at.radio(key="eval_mode").set_value("new")
    at.run()
    at.radio(key="eval_data_kind").set_value(kind)
    at.run()
    for key, value in inputs.items():
        at.text_input(key=key).set_value(value)
    at.button(key="eval_run").click()
    at.run()
    assert not at.exception
    assert any("outside the allowed data folders" in error.value for error in at.error)
    assert not _heatmaps(at)
