"""The Training curves page under AppTest, on the shipped model's real results.csv and uploaded files."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from crackseg.training.model_card import HISTORY_CSV
from crackseg.training.runs import read_results_csv

PAGE = str(Path(__file__).resolve().parents[1] / "app_pages" / "training.py")


@pytest.fixture
def page(app_env: None) -> AppTest:
    return AppTest.from_file(PAGE, default_timeout=60)


def _specs(at: AppTest) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def _array(values) -> list[float]:
    """A figure's data array from its JSON: a plain list, or plotly's base64 ``{"dtype", "bdata"}`` form."""
    if isinstance(values, dict):
        return np.frombuffer(base64.b64decode(values["bdata"]), dtype=values["dtype"]).tolist()
    return list(values)


def _summary(at: AppTest):
    return next(frame.value for frame in at.dataframe if "best epoch" in frame.value.columns)


def _two_stage_csv() -> bytes:
    """The real history with its last five epochs renamed to a second stage (a fine-tune)."""
    lines = HISTORY_CSV.read_text(encoding="utf-8").splitlines()
    header, rows = lines[0], lines[1:]
    assert header.startswith("stage,") and len(rows) >= 6
    renamed = [row.replace(row.split(",", 1)[0], "stage2-finetune", 1) for row in rows[5:]]
    return "\n".join([header, *rows[:5], *renamed]).encode("utf-8")


def test_the_shipped_history_is_drawn_with_its_summary(page: AppTest) -> None:
    at = page.run()
    assert not at.exception and not at.error
    assert at.multiselect(key="train_runs").value == ["shipped model"]
    specs = _specs(at)
    assert len(specs) == 9  # 4 losses, 4 metrics, learning rate
    titles = [spec["layout"]["title"]["text"] for spec in specs]
    assert any(title.startswith("mAP50 ") for title in titles) and "Learning rate per parameter group" in titles
    expected = read_results_csv(HISTORY_CSV)
    map_chart = specs[titles.index(next(title for title in titles if title.startswith("mAP50 ")))]
    mask_trace = next(trace for trace in map_chart["data"] if trace["name"].endswith("metrics/mAP50(M)"))
    assert _array(mask_trace["y"]) == pytest.approx(list(expected["metrics/mAP50(M)"]))
    summary = _summary(at).iloc[0]
    assert summary["run"] == "shipped model"
    assert summary["epochs"] == len(expected)
    assert summary["mask mAP50"] == pytest.approx(expected["metrics/mAP50(M)"].max())
    best_epoch = int(expected.loc[expected["metrics/mAP50(M)"].idxmax(), "global_epoch"])
    assert summary["best epoch"] == best_epoch
    best_lines = [shape["x0"] for shape in map_chart["layout"]["shapes"] if shape["line"]["dash"] == "dashdot"]
    assert best_lines == [best_epoch]


def test_an_uploaded_two_stage_history_is_overlaid_with_its_stage_boundary(page: AppTest) -> None:
    at = page.run()
    at.file_uploader(key="train_upload").set_value(("two_stage.csv", _two_stage_csv(), "text/csv"))
    at.run()
    assert not at.exception and not at.error
    assert at.multiselect(key="train_runs").value == ["shipped model", "upload: two_stage.csv"]
    summary = _summary(at)
    assert list(summary["run"]) == ["shipped model", "upload: two_stage.csv"]
    assert summary.iloc[1]["stages"] == "stage1-scratch, stage2-finetune"
    from crackseg.training.runs import read_results_csv, stage_boundaries

    shipped = stage_boundaries(read_results_csv(Path(__file__).resolve().parents[1] / "model" / "results.csv"))
    for spec in _specs(at):
        boundaries = [shape["x0"] for shape in spec["layout"].get("shapes", []) if shape["line"]["dash"] == "dot"]
        # the shipped model's own stage boundaries, then the upload's: after its fifth epoch
        assert sorted(boundaries) == sorted([*shipped, 5.5])


@pytest.mark.parametrize(
    "payload",
    [b"\x00\x01\x02 binary", b"", b"name,value\nfoo,1\n", b"epoch,notes\n1,hello\n"],
    ids=["binary", "empty", "not-ultralytics", "no-metrics"],
)
def test_a_malformed_upload_is_an_error_and_the_page_still_works(page: AppTest, payload: bytes) -> None:
    at = page.run()
    at.file_uploader(key="train_upload").set_value(("broken.csv", payload, "text/csv"))
    at.run()
    assert not at.exception
    assert [error.value.split(":")[0] for error in at.error] == ["broken.csv"]
    options = at.multiselect(key="train_runs").options  # runs/ may hold other runs; none is the broken upload
    assert options[0] == "shipped model" and not any(option.startswith("upload: ") for option in options)
    assert len(at.get("plotly_chart")) == 9
