"""The Preprocessing page under AppTest: real sample images, the real shipped model (PyTorch backend)."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from crackseg.inference.preprocessing import PreprocessSpec

PAGE = str(Path(__file__).resolve().parents[1] / "app_pages" / "preprocessing.py")
TIMEOUT_S = 120


@pytest.fixture
def page(app_env: None) -> AppTest:
    return AppTest.from_file(PAGE, default_timeout=TIMEOUT_S)


def _frame(at: AppTest, column: str):
    """The shown table that has ``column`` (AppTest does not expose a dataframe's key)."""
    return next(frame.value for frame in at.dataframe if column in frame.value.columns)


def test_a_sample_shows_one_row_and_one_panel_per_default_method(page: AppTest) -> None:
    at = page.run()
    assert not at.exception
    assert at.multiselect(key="prep_methods").value == ["none", "histeq", "clahe"]
    table = _frame(at, "crack_area_px2")
    expected = [PreprocessSpec("none").label, PreprocessSpec("histeq").label, PreprocessSpec.of("clahe").label]
    assert list(table["preprocessing"]) == expected
    assert (table["cracks"] >= 0).all() and (table["crack_area_px2"] >= 0).all()
    assert len(at.get("image")) == 3
    assert len(at.get("plotly_chart")) == 3  # one luminance histogram per variant
    metric_labels = [metric.label for metric in at.metric]
    assert metric_labels.count("Crack area (px²)") == 3 and metric_labels.count("Total length (px)") == 3


def test_changed_methods_and_parameters_change_the_table(page: AppTest) -> None:
    at = page.run()
    at.multiselect(key="prep_methods").set_value(["none", "gamma"])
    at.run()
    at.slider(key="prep_gamma_gamma").set_value(2.0)
    at.run()
    assert not at.exception
    assert list(_frame(at, "crack_area_px2")["preprocessing"]) == ["None", "Gamma (gamma=2.0)"]


def test_measuring_on_the_samples_gives_one_row_per_method_with_zero_deltas_for_none(page: AppTest) -> None:
    at = page.run()
    at.multiselect(key="prep_methods").set_value(["none", "clahe"])
    at.run()
    at.button(key="prep_measure").click()
    at.run()
    assert not at.exception and not at.error
    table = _frame(at, "pixel_f1_delta")
    assert list(table["method"]) == ["none", "clahe"]
    assert list(table["images"]) == [8, 8]
    baseline = table.iloc[0]
    for name in ("pixel_f1", "pixel_iou", "tolerance_f1", "instance_precision", "instance_recall", "ods_f1"):
        assert baseline[f"{name}_delta"] == 0.0
        assert table.iloc[1][f"{name}_delta"] == pytest.approx(table.iloc[1][name] - baseline[name])


@pytest.mark.parametrize("path", ["samples/../model/card.json", "/etc/passwd"], ids=["dotdot", "absolute"])
def test_a_path_outside_the_allowed_folders_is_an_error_not_a_traceback(page: AppTest, path: str) -> None:
    at = page.run()
    at.radio(key="prep_data_kind").set_value("yolo")
    at.run()
    at.text_input(key="prep_data_path").set_value(path)
    at.button(key="prep_measure").click()
    at.run()
    assert not at.exception
    assert any("outside the allowed data folders" in error.value for error in at.error)


def test_an_upload_that_is_not_an_image_is_an_error(page: AppTest) -> None:
    at = page.run()
    at.radio(key="prep_source").set_value("upload")
    at.run()
    at.file_uploader(key="prep_upload").set_value(("notes.png", b"this is not a png", "image/png"))
    at.run()
    assert not at.exception
    assert any("notes.png" in error.value for error in at.error)
