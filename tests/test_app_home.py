"""The Home page under AppTest: the model card's numbers are shown, and a sample opens on Segment."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]
CARD = json.loads((ROOT / "model" / "card.json").read_text(encoding="utf-8"))

pytestmark = pytest.mark.usefixtures("app_env")


def home() -> AppTest:
    return AppTest.from_file(str(ROOT / "app_pages" / "home.py"), default_timeout=60).run()


def table_with(at: AppTest, column: str):
    return next(frame.value for frame in at.dataframe if column in frame.value.columns)


def test_home_renders_without_errors():
    at = home()
    assert not at.exception
    assert not at.error
    assert at.title[0].value.startswith("CrackSeg")


@pytest.mark.parametrize(
    ("split", "label", "card_value"),
    [
        ("valid", "mask mAP50", CARD["metrics"]["valid"]["mask_map50"]),
        ("test", "mask mAP50", CARD["metrics"]["test"]["mask_map50"]),
        ("test", "pixel F1", CARD["metrics"]["test"]["pixel"]["f1"]),
        ("valid", "ODS F1 (best fixed threshold)", CARD["metrics"]["valid"]["ods"]),
    ],
)
def test_card_metrics_are_shown(split, label, card_value):
    scores = table_with(home(), "metric").set_index("metric")
    assert scores.loc[label, split] == pytest.approx(card_value, abs=5e-4)


def test_training_stages_show_epochs_and_wall_time():
    stages = table_with(home(), "epochs")
    assert list(stages["stage"]) == [stage["name"] for stage in CARD["stages"]]
    assert list(stages["epochs"]) == [stage["epochs_run"] for stage in CARD["stages"]]
    expected_hours = [stage["wall_time_s"] / 3600 for stage in CARD["stages"]]
    assert list(stages["wall time (h)"]) == pytest.approx(expected_hours, abs=0.005)


def test_the_weights_hash_is_shown_short():
    at = home()
    short = CARD["weights"]["sha256"][:12]
    assert any(short in caption.value for caption in at.caption)
    assert not any(CARD["weights"]["sha256"] in caption.value for caption in at.caption)


def test_a_sample_button_opens_it_on_the_segment_page():
    """Through app.py, as a browser would: the button stores the sample and switches page."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    assert not at.exception
    buttons = [button for button in at.button if (button.key or "").startswith("home_sample_")]
    assert len(buttons) >= 3
    first_sample = sorted(path.name for path in (ROOT / "samples" / "images").glob("*.jpg"))[0]
    at.button(key="home_sample_0").click().run()
    assert not at.exception
    assert at.session_state["segment_samples"] == [first_sample]
    # The Segment page inspected it: the sample's name heads the result, with its crack count and,
    # when the model finds cracks there, one table row per crack.
    assert [element.value for element in at.subheader][0] == first_sample
    count = int(next(tile.value for tile in at.metric if tile.label == "Cracks"))
    tables = [frame.value for frame in at.dataframe if frame.value.columns.tolist()[:2] == ["crack_id", "length_px"]]
    assert sum(len(table) for table in tables) == count


def test_int8_scores_and_its_accuracy_check_are_shown():
    at = home()
    scores = table_with(at, "metric").set_index("metric")
    int8 = CARD["int8"]
    assert scores.loc["mask mAP50", "valid INT8"] == pytest.approx(int8["metrics"]["valid"]["mask_map50"], abs=5e-4)
    assert scores.loc["pixel F1", "test INT8"] == pytest.approx(int8["metrics"]["test"]["pixel"]["f1"], abs=5e-4)
    text = " ".join(block.value for block in at.markdown)
    assert f"FP32 {int8['fp32']['mask_map50']} vs INT8 {int8['int8']['mask_map50']}" in text
    assert "passed" in text


def test_every_dataset_the_card_records_is_shown_side_by_side():
    at = home()
    domains = CARD.get("domains")
    if not domains:
        assert any("Not yet evaluated beyond crack-seg" in caption.value for caption in at.caption)
        return
    table = table_with(at, "dataset").set_index(["dataset", "metric"])
    assert table.loc[("DeepCrack", "F1 within 2 px at the top-down conf"), "val"] == pytest.approx(
        domains["val"]["deepcrack_f1_2px"]
    )
    assert table.loc[("survey vehicle, in the lane", "32-px cell F1 at the street conf"), "test"] == pytest.approx(
        domains["test"]["survey_lane_cell_f1"]
    )


def test_domain_table_keeps_the_datasets_a_card_has():
    from crackseg.training.model_card import domain_table

    card = {"domains": {"val": {"deepcrack_f1_2px": 0.8, "street_conf": 0.1}, "test": {"deepcrack_f1_2px": 0.79}}}
    table = domain_table(card)
    assert table[["dataset", "metric", "val"]].to_dict("records") == [
        {"dataset": "DeepCrack", "metric": "F1 within 2 px at the top-down conf", "val": 0.8},
        {"dataset": "survey vehicle", "metric": "street conf (chosen on val)", "val": 0.1},
    ]
    assert table["test"].iloc[0] == 0.79 and table["test"].isna().iloc[1]
    assert domain_table({}).empty


def test_the_street_models_gate_figures_are_shown_when_one_is_shipped():
    from crackseg.core.locations import STREET_MODEL_CARD

    at = home()
    if not STREET_MODEL_CARD.is_file():
        assert not any("street view's model" in header.value for header in at.subheader)
        return
    card = json.loads(STREET_MODEL_CARD.read_text(encoding="utf-8"))
    table = table_with(at, "model").set_index(["model", "metric"])
    shipped = card["domains"]["survey_vehicle"]
    assert table.loc[("street model", "lane cell f1"), "val"] == pytest.approx(shipped["val"]["lane_cell_f1"])
    assert table.loc[("street model", "lane cell f1"), "test"] == pytest.approx(shipped["test"]["lane_cell_f1"])
    before = card["incumbent"]["scores"]["val"]["lane_cell_f1"]
    assert table.loc[("the model it replaced", "lane cell f1"), "val"] == pytest.approx(before)
    check = card.get("int8_street_check")
    if check:  # the INT8 street model's own check: its figures and what auto runs
        text = next(block.value for block in at.markdown if "INT8 street model" in block.value)
        assert f"FP32 {check['fp32']['lane_cell_f1']} vs INT8 {check['int8']['lane_cell_f1']}" in text
        assert ("kept: `auto` runs it" in text) == check["passed"]


@pytest.mark.parametrize(("passed", "verdict"), [(True, "kept"), (False, "removed")])
def test_street_int8_summary_says_what_the_check_decided(passed: bool, verdict: str):
    from crackseg.training.model_card import street_int8_summary

    check = {"conf": 0.1, "fp32": {"lane_cell_f1": 0.727}, "int8": {"lane_cell_f1": 0.7164}, "max_drop": 0.01}
    summary = street_int8_summary({"int8_street_check": check | {"passed": passed}})
    assert "FP32 0.727 vs INT8 0.7164" in summary and verdict in summary
    assert street_int8_summary({}) is None


def test_street_model_table_reads_a_card():
    from crackseg.training.model_card import street_model_table

    card = {
        "domains": {
            "survey_vehicle": {"val": {"lane_cell_f1": 0.6, "lane_cell_recall": 0.63}, "test": {"lane_cell_f1": 0.58}}
        },
        "incumbent": {"scores": {"val": {"lane_cell_f1": 0.1}}},
    }
    rows = street_model_table(card).to_dict("records")
    assert [(row["model"], row["metric"]) for row in rows] == [
        ("street model", "lane cell f1"),
        ("street model", "lane cell recall"),
        ("the model it replaced", "lane cell f1"),
    ]
    assert rows[0]["val"] == 0.6 and rows[0]["test"] == 0.58
