"""The Dataset page under AppTest: the samples by default, paging, filters, refused paths and broken labels."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from crackseg.io.allowed_paths import DATA_DIRS_ENV_VAR

ROOT = Path(__file__).resolve().parents[1]
PAGE = str(ROOT / "app_pages" / "dataset.py")
SQUARE = "0 0.25 0.25 0.75 0.25 0.75 0.75 0.25 0.75\n"


@pytest.fixture
def page(app_env: None, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.delenv(DATA_DIRS_ENV_VAR, raising=False)
    return AppTest.from_file(PAGE, default_timeout=60)


def _per_image(at: AppTest):
    return next(frame.value for frame in at.dataframe if "crack_area_pct" in frame.value.columns)


def _open_yolo(at: AppTest, data_text: str) -> AppTest:
    at.run()
    at.radio(key="data_data_kind").set_value("yolo")
    at.run()
    at.text_input(key="data_data_path").set_value(data_text)
    return at.run()


def _tiny_dataset(root: Path, images: int, labels: dict[int, str]) -> Path:
    """``images`` 32x32 images named img00.png...; ``labels[i]`` is image i's label text (absent: no label file)."""
    for index in range(images):
        (root / "images").mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.full((32, 32, 3), 80 + index, np.uint8)).save(root / "images" / f"img{index:02d}.png")
        if index in labels:
            (root / "labels").mkdir(exist_ok=True)
            (root / "labels" / f"img{index:02d}.txt").write_text(labels[index])
    yaml_path = root / "data.yaml"
    yaml_path.write_text("test: images\nval: images\nnames:\n  0: crack\n")
    return yaml_path


def test_samples_show_statistics_gallery_and_histograms(page: AppTest) -> None:
    at = page.run()
    assert not at.exception and not at.error
    table = _per_image(at)
    assert len(table) == 8
    assert int((table["instances"] == 0).sum()) == 1  # the crack-free sample
    metrics = {metric.label: metric.value for metric in at.metric}
    assert metrics["Images"] == "8" and metrics["Without cracks"] == "1"
    assert metrics["Crack instances"] == str(int(table["instances"].sum()))
    assert len(at.get("image")) == 8  # one gallery page holds all eight
    titles = {json.loads(chart.proto.spec)["layout"]["title"]["text"] for chart in at.get("plotly_chart")}
    assert titles == {"Instances per image", "Crack area per image", "Instance length", "Instance mean width"}


def test_gallery_filters_on_instances(page: AppTest) -> None:
    at = page.run()
    at.slider(key="data_instances").set_value((0, 0))
    at.run()
    assert not at.exception and not at.error
    images = at.get("image")
    assert len(images) == 1 and "0 instance(s)" in images[0].proto.imgs[0].caption


def test_gallery_pages_twelve_at_a_time(page: AppTest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DATA_DIRS_ENV_VAR, str(tmp_path))
    yaml_path = _tiny_dataset(tmp_path / "roads", 13, {0: SQUARE, 1: SQUARE + SQUARE})
    at = _open_yolo(page, str(yaml_path))
    assert not at.exception and not at.error
    assert len(_per_image(at)) == 13 and len(at.get("image")) == 12
    at.number_input(key="data_page").set_value(2)
    at.run()
    assert not at.exception and len(at.get("image")) == 1


def test_a_malformed_label_is_listed_and_the_rest_shown(
    page: AppTest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(DATA_DIRS_ENV_VAR, str(tmp_path))
    yaml_path = _tiny_dataset(tmp_path / "roads", 3, {0: SQUARE, 1: "0 0.1 zero 0.2\n"})
    at = _open_yolo(page, str(yaml_path))
    assert not at.exception and not at.error
    assert list(_per_image(at)["image"]) == ["img00.png", "img02.png"]
    assert any(expander.label.startswith("1 image(s) could not be read") for expander in at.expander)
    assert any("img01.txt:1: non-numeric" in markdown.value for markdown in at.markdown)


def test_a_path_outside_the_allowed_folders_is_an_error_not_a_traceback(page: AppTest, tmp_path: Path) -> None:
    yaml_path = _tiny_dataset(tmp_path / "elsewhere", 2, {0: SQUARE})
    at = _open_yolo(page, str(yaml_path))
    assert not at.exception
    assert len(at.error) == 1 and "outside the allowed data folders" in at.error[0].value
    assert not at.get("image") and not at.dataframe
