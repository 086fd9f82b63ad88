"""The Evaluation page's box-label mode under AppTest: a run on an allowed folder, checked by crackseg; bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from crackseg.datasets.box_labels import box_label_items
from crackseg.datasets.labelled import YoloDataset
from crackseg.evaluation.boxes import evaluate_boxes, top_down_predict
from crackseg.inference.segmenter import InferenceSettings, Segmenter
from crackseg.io.allowed_paths import DATA_DIRS_ENV_VAR

ROOT = Path(__file__).resolve().parents[1]
PAGE = str(ROOT / "app_pages" / "evaluation.py")


@pytest.fixture(scope="module")
def allowed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An allowed folder: ``boxes/`` (two samples, YOLO boxes round their true cracks) and ``bomb/`` (an XML bomb)."""
    root = tmp_path_factory.mktemp("allowed")
    images, labels = root / "boxes" / "images", root / "boxes" / "labels"
    images.mkdir(parents=True)
    labels.mkdir()
    for item in YoloDataset.from_yaml(ROOT / "samples" / "data.yaml").items("test")[:2]:
        (images / item.name).write_bytes(item.image_path.read_bytes())
        lines = []
        for mask in item.truth_masks((416, 416)):
            ys, xs = np.nonzero(mask)
            box = (xs.min() + xs.max() + 1) / 832, (ys.min() + ys.max() + 1) / 832, np.ptp(xs) / 416, np.ptp(ys) / 416
            lines.append("1 " + " ".join(f"{value:.6f}" for value in box))
        (labels / f"{item.image_path.stem}.txt").write_text("\n".join(lines) + "\n")
    bomb = root / "bomb"
    (bomb / "images").mkdir(parents=True)
    (bomb / "annotations" / "xmls").mkdir(parents=True)
    first = sorted(images.iterdir())[0]
    (bomb / "images" / first.name).write_bytes(first.read_bytes())
    (bomb / "annotations" / "xmls" / f"{first.stem}.xml").write_text(
        '<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x "xx"><!ENTITY y "&x;&x;">]><annotation>&y;</annotation>'
    )
    return root


@pytest.fixture
def page(app_env: None, allowed: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv(DATA_DIRS_ENV_VAR, str(allowed))
    return AppTest.from_file(PAGE, default_timeout=180)


def _run_boxes(at: AppTest, images: str, labels: str = "") -> AppTest:
    at.run()
    at.radio(key="eval_mode").set_value("boxes")
    at.run()
    at.text_input(key="eval_box_images").set_value(images)
    at.text_input(key="eval_box_labels").set_value(labels)
    at.button(key="eval_box_run").click()
    return at.run()


def test_the_per_class_table_is_the_one_crackseg_computes(page: AppTest, allowed: Path) -> None:
    at = _run_boxes(page, str(allowed / "boxes"))
    assert not at.exception and not at.error
    items = box_label_items(allowed / "boxes" / "images", allowed / "boxes" / "labels")
    expected = evaluate_boxes(items, top_down_predict(Segmenter(backend="torch"), InferenceSettings())).result
    shown = next(frame.value for frame in at.dataframe if "type_agreement" in frame.value.columns)
    pd.testing.assert_frame_equal(shown.reset_index(drop=True), expected.per_class, check_dtype=False)
    metrics = {metric.label: metric.value for metric in at.metric}
    assert metrics["Crack boxes found"] == f"{expected.crack_found} / {expected.crack_boxes}"
    assert metrics["Crack pixels inside a box"] == f"{expected.in_box_share:.3f}"
    assert shown.loc[shown["class_name"] == "D10", "boxes"].item() == expected.crack_boxes > 0


@pytest.mark.parametrize(
    ("images", "labels", "message"),
    [
        ("/etc", "", "outside the allowed data folders"),
        ("{allowed}/boxes/images", "/etc", "outside the allowed data folders"),
        ("{allowed}/boxes/../../..", "", "outside the allowed data folders"),
        ("{allowed}/boxes/images", "", "no images/ folder"),
        ("{allowed}/bomb", "", "XML with a DTD, entities or external references refused"),
        ("", "", "No path given"),
    ],
    ids=["outside", "labels-outside", "dotdot", "no-layout", "entity-bomb", "empty"],
)
def test_bad_input_is_one_error_without_a_traceback(
    page: AppTest, allowed: Path, images: str, labels: str, message: str
) -> None:
    at = _run_boxes(page, images.format(allowed=allowed), labels)
    assert not at.exception
    assert [error.value for error in at.error if message in error.value]
    assert not [frame for frame in at.dataframe if "type_agreement" in frame.value.columns]


def test_the_street_view_runs_the_box_evaluation_through_the_camera_profile(page: AppTest, allowed: Path) -> None:
    from crackseg.geometry.camera import DEFAULT_PROFILE
    from crackseg.pipeline.street import street_predict

    page.run()
    page.radio(key="eval_mode").set_value("boxes")
    page.run()
    page.radio(key="eval_box_view").set_value("street")
    page.run()
    page.radio(key="eval_box_camera_source").set_value("shipped")
    page.run()
    page.selectbox(key="eval_box_camera_shipped").set_value(DEFAULT_PROFILE.name)
    page.text_input(key="eval_box_images").set_value(str(allowed / "boxes"))
    page.button(key="eval_box_run").click()
    at = page.run()
    assert not at.exception and not at.error
    assert any("view street" in caption.value for caption in at.caption)
    items = box_label_items(allowed / "boxes" / "images", allowed / "boxes" / "labels")
    from crackseg.inference.model_loading import default_model_path, view_conf

    street_model = Segmenter(default_model_path("street"), backend="torch")  # the street model when one is shipped
    street = street_predict(street_model, DEFAULT_PROFILE, InferenceSettings(conf=view_conf("street")))
    expected = evaluate_boxes(items, street).result
    metrics = {metric.label: metric.value for metric in at.metric}
    assert metrics["Crack pixels inside a box"] == f"{expected.in_box_share:.3f}"
    assert metrics["Crack boxes found"] == f"{expected.crack_found} / {expected.crack_boxes}"
