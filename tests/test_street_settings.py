"""Scoring the street model with other inference settings (train/street_settings.py) on a synthetic survey split."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from tests.synthetic_survey import write_survey_frames
from train import street_settings

SAMPLE = Path(__file__).resolve().parents[1] / "samples" / "images" / "2222.rf.bfd72b1a6235ed53983e11289c619b4e.jpg"


@pytest.mark.parametrize(("text", "imgsz", "flip"), [("416", 416, False), ("512+flip", 512, True)])
def test_settings_are_read_as_size_and_mirror_pass(text: str, imgsz: int, flip: bool) -> None:
    settings = street_settings.parse_setting(text)
    assert (settings.imgsz, settings.flip_tta, settings.conf) == (imgsz, flip, min(street_settings.STREET_CONFS))


@pytest.mark.parametrize(
    ("text", "iou", "overlap", "flip"),
    [("416+iou0.9", 0.9, 0.2, False), ("416+overlap0.4", 0.7, 0.4, False), ("512+flip+iou0.5", 0.5, 0.2, True)],
)
def test_nms_iou_and_tile_overlap_change_only_what_they_name(text: str, iou: float, overlap: float, flip: bool) -> None:
    settings = street_settings.parse_setting(text)
    assert (settings.iou, settings.tile_overlap, settings.flip_tta) == (iou, overlap, flip)
    plain = street_settings.parse_setting(text.split("+")[0])
    assert (settings.tile_size, settings.merge_overlap, settings.max_det) == (
        plain.tile_size,
        plain.merge_overlap,
        plain.max_det,
    )


@pytest.mark.parametrize(
    "text", ["big", "416+mirror", "+flip", "400", "416+iou", "416+iou1.5", "416+overlap0.95", "416+iou0.5.1"]
)
def test_bad_settings_are_refused(text: str) -> None:
    with pytest.raises((argparse.ArgumentTypeError, ValueError)):
        street_settings.parse_setting(text)


def test_each_setting_prints_its_sweep(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = write_survey_frames(tmp_path / "survey", SAMPLE)
    model = Path(__file__).resolve().parents[1] / "model" / "best.pt"
    code = street_settings.main(
        [str(model), "--survey-root", str(root), "--split", "test", "--setting", "416", "--setting", "416+flip"]
    )
    assert code == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["imgsz"], r["flip_tta"], r["iou"]) for r in records] == [(416, False, 0.7), (416, True, 0.7)]
    for record in records:
        scores = record["lane_cell_f1_by_conf"]
        assert list(scores)[:6] == ["0.05", "0.06", "0.07", "0.08", "0.09", "0.1"]
        assert record["best_conf"] in street_settings.STREET_CONFS
        assert record["best_lane_cell_f1"] >= max(scores.values()) - 1e-9
        assert 0.0 < record["best_lane_cell_f1"] <= 1.0  # the sample's crack is there to find


def test_a_missing_model_or_survey_folder_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = write_survey_frames(tmp_path / "survey", SAMPLE)
    missing = tmp_path / "no-such.pt"
    assert street_settings.main([str(missing), "--survey-root", str(root), "--setting", "416"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and str(missing) in err and "Traceback" not in err

    model = Path(__file__).resolve().parents[1] / "model" / "best.pt"
    nowhere = tmp_path / "no-survey"
    assert street_settings.main([str(model), "--survey-root", str(nowhere), "--setting", "416"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1
