"""Overlays, image bytes, tables, the HTML report and the batch ZIP, on small hand-drawn masks."""

from __future__ import annotations

import base64
import io
import json
import zipfile
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from crackseg.export.archive import batch_zip_bytes, safe_member_name
from crackseg.export.encoding import mask_to_png_bytes, rgb_to_jpeg_bytes, rgb_to_png_bytes
from crackseg.export.overlays import (
    CRACK_COLOR_RGB,
    FN_COLOR_RGB,
    FP_COLOR_RGB,
    TP_COLOR_RGB,
    draw_error_overlay,
    draw_overlay,
)
from crackseg.export.report_html import inspection_report_html
from crackseg.export.schema import CRACK_COLUMNS, IMAGE_COLUMNS
from crackseg.export.tables import cracks_csv_bytes, image_record, images_table, measurement_json
from crackseg.inference.prediction import CrackPrediction
from crackseg.measurement.measure import MeasurementSettings, measure_prediction

HEIGHT, WIDTH = 60, 80


def _gray_image() -> np.ndarray:
    return np.full((HEIGHT, WIDTH, 3), 100, dtype=np.uint8)


def _two_cracks() -> CrackPrediction:
    """A vertical 40 x 4 bar and a horizontal 4 x 30 bar on a 80 x 60 (w x h) image."""
    masks = np.zeros((2, HEIGHT, WIDTH), dtype=bool)
    masks[0, 10:50, 20:24] = True
    masks[1, 30:34, 40:70] = True
    return CrackPrediction.from_masks(masks, np.array([0.9, 0.6], dtype=np.float32))


# --------------------------------------------------------------------------- overlays


def test_overlay_returns_new_image_and_leaves_input_unchanged() -> None:
    rgb = _gray_image()
    before = rgb.copy()
    out = draw_overlay(rgb, _two_cracks())
    assert out is not rgb
    assert not np.shares_memory(out, rgb)
    assert out.shape == rgb.shape and out.dtype == np.uint8
    np.testing.assert_array_equal(rgb, before)


def test_overlay_tints_only_crack_pixels_without_boxes_or_ids() -> None:
    rgb = _gray_image()
    prediction = _two_cracks()
    out = draw_overlay(rgb, prediction, alpha=0.5, show_boxes=False, show_ids=False)
    union = prediction.union_mask
    np.testing.assert_array_equal(out[~union], rgb[~union])
    inside = out[25, 21].astype(int)  # interior of crack 1
    assert inside.tolist() != [100, 100, 100]
    assert inside[0] > 100 and inside[2] < 100  # moved towards orange-red
    full = draw_overlay(rgb, prediction, alpha=1.0, show_boxes=False, show_ids=False)
    assert full[union].tolist() == [list(CRACK_COLOR_RGB)] * int(union.sum())


def test_overlay_with_boxes_and_ids_draws_outside_masks() -> None:
    rgb = _gray_image()
    prediction = _two_cracks()
    out = draw_overlay(rgb, prediction, alpha=0.0)
    union = prediction.union_mask
    assert (out[~union] != rgb[~union]).any()


def test_empty_prediction_gives_identical_copy() -> None:
    rgb = _gray_image()
    out = draw_overlay(rgb, CrackPrediction.empty((WIDTH, HEIGHT)))
    np.testing.assert_array_equal(out, rgb)
    assert out is not rgb


@pytest.mark.parametrize(
    ("scenario", "rgb", "prediction"),
    [
        ("grayscale image", np.zeros((HEIGHT, WIDTH), np.uint8), CrackPrediction.empty((WIDTH, HEIGHT))),
        ("float image", np.zeros((HEIGHT, WIDTH, 3), np.float32), CrackPrediction.empty((WIDTH, HEIGHT))),
        ("size mismatch", np.zeros((HEIGHT, WIDTH, 3), np.uint8), CrackPrediction.empty((WIDTH + 1, HEIGHT))),
    ],
)
def test_overlay_rejects_bad_inputs(scenario: str, rgb: np.ndarray, prediction: CrackPrediction) -> None:
    with pytest.raises(ValueError):
        draw_overlay(rgb, prediction)


def test_error_overlay_colours_tp_fp_fn_and_leaves_tn() -> None:
    rgb = _gray_image()
    before = rgb.copy()
    pred = np.zeros((HEIGHT, WIDTH), dtype=bool)
    truth = np.zeros((HEIGHT, WIDTH), dtype=bool)
    pred[5, 5] = truth[5, 5] = True  # TP
    pred[6, 6] = True  # FP
    truth[7, 7] = True  # FN
    out = draw_error_overlay(rgb, pred, truth, alpha=1.0)
    assert tuple(out[5, 5]) == TP_COLOR_RGB
    assert tuple(out[6, 6]) == FP_COLOR_RGB
    assert tuple(out[7, 7]) == FN_COLOR_RGB
    assert tuple(out[0, 0]) == (100, 100, 100)
    np.testing.assert_array_equal(rgb, before)
    assert len({TP_COLOR_RGB, FP_COLOR_RGB, FN_COLOR_RGB}) == 3
    with pytest.raises(ValueError):
        draw_error_overlay(rgb, pred[:-1], truth)
    with pytest.raises(ValueError):
        draw_error_overlay(rgb, pred.astype(np.uint8), truth)


# --------------------------------------------------------------------------- image bytes


def test_mask_png_round_trip() -> None:
    mask = _two_cracks().union_mask
    with Image.open(io.BytesIO(mask_to_png_bytes(mask))) as image:
        assert image.mode == "L"
        pixels = np.asarray(image)
    assert set(np.unique(pixels).tolist()) == {0, 255}
    np.testing.assert_array_equal(pixels == 255, mask)
    with pytest.raises(ValueError):
        mask_to_png_bytes(np.zeros((2, 3, 3), dtype=bool))


def test_rgb_png_and_jpeg_bytes() -> None:
    rgb = _gray_image()
    rgb[0, 0] = (255, 0, 0)
    with Image.open(io.BytesIO(rgb_to_png_bytes(rgb))) as image:
        np.testing.assert_array_equal(np.asarray(image.convert("RGB")), rgb)
    jpeg = rgb_to_jpeg_bytes(rgb, quality=80)
    assert jpeg[:2] == b"\xff\xd8"
    with Image.open(io.BytesIO(jpeg)) as image:
        assert image.size == (WIDTH, HEIGHT)
    with pytest.raises(ValueError):
        rgb_to_jpeg_bytes(rgb, quality=0)


# --------------------------------------------------------------------------- tables and JSON


def test_cracks_csv_has_every_schema_column_and_one_row_per_crack() -> None:
    measurement = measure_prediction(_two_cracks(), MeasurementSettings(mm_per_px=2.0))
    table = pd.read_csv(io.BytesIO(cracks_csv_bytes(measurement, "road 1.jpg", "/data/road 1.jpg")))
    assert list(table.columns) == list(CRACK_COLUMNS)
    assert table["image"].tolist() == ["road 1.jpg", "road 1.jpg"]
    assert table["source_path"].tolist() == ["/data/road 1.jpg"] * 2
    assert table["crack_id"].tolist() == [1, 2]
    assert table["length_mm"].tolist() == pytest.approx((2 * table["length_px"]).tolist(), abs=0.011)  # both rounded
    uncalibrated = measure_prediction(_two_cracks(), MeasurementSettings())
    table = pd.read_csv(io.BytesIO(cracks_csv_bytes(uncalibrated, "a.jpg")))
    assert list(table.columns) == list(CRACK_COLUMNS) and table["length_mm"].isna().all()
    formula = pd.read_csv(io.BytesIO(cracks_csv_bytes(measurement, "=cmd()", "+sum(A1)")))
    assert formula["image"].iloc[0] == "'=cmd()" and formula["source_path"].iloc[0] == "'+sum(A1)"


def test_images_table_one_row_per_input_failed_ones_included() -> None:
    calibrated = measure_prediction(_two_cracks(), MeasurementSettings(mm_per_px=0.5))
    empty = measure_prediction(CrackPrediction.empty((WIDTH, HEIGHT)), MeasurementSettings())
    table = images_table(
        [
            image_record("a.jpg", "/in/a.jpg", calibrated),
            image_record("b.jpg", "/in/b.jpg", empty),
            image_record("c.txt", "/in/c.txt", error="/in/c.txt: not an image"),
        ]
    )
    assert list(table.columns) == list(IMAGE_COLUMNS)
    assert table["image"].tolist() == ["a.jpg", "b.jpg", "c.txt"]
    assert table["status"].tolist() == ["ok", "ok", "failed"]
    assert table["crack_count"].tolist()[:2] == [2, 0] and pd.isna(table.loc[2, "crack_count"])
    assert table.loc[0, "crack_area_px2"] == 40 * 4 + 4 * 30
    assert table.loc[0, "crack_area_pct"] == pytest.approx(100 * 280 / (WIDTH * HEIGHT), abs=1e-3)
    assert table.loc[1, "worst_severity"] == "none" and pd.isna(table.loc[1, "total_length_mm"])
    assert table.loc[0, "longitudinal_count"] + table.loc[0, "transverse_count"] == 2
    assert table.loc[2, "error"] == "/in/c.txt: not an image" and pd.isna(table.loc[0, "error"])
    assert list(images_table([]).columns) == list(IMAGE_COLUMNS)


def test_every_schema_column_is_documented_in_the_readme() -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    for column in {*CRACK_COLUMNS, *IMAGE_COLUMNS}:
        assert f"`{column}`" in readme, column
        assert column.isascii() and column == column.lower() and " " not in column


def test_measurement_json_is_strict_json_with_settings() -> None:
    measurement = measure_prediction(_two_cracks(), MeasurementSettings())
    settings = {"confidence": np.float32(0.25), "imgsz": 640, "tiling": (512, 0.2), "bad": float("nan")}
    document = json.loads(measurement_json(measurement, "x.jpg", settings))
    assert document["image"] == "x.jpg"
    assert document["settings"]["imgsz"] == 640
    assert document["settings"]["tiling"] == [512, 0.2]
    assert document["settings"]["bad"] is None
    assert len(document["cracks"]) == 2
    assert document["totals"]["crack_count"] == 2


# --------------------------------------------------------------------------- HTML report


def _report(name: str, prediction: CrackPrediction, **overrides: object) -> str:
    rgb = _gray_image()
    measurement = measure_prediction(prediction, MeasurementSettings(mm_per_px=1.0))
    arguments: dict = {
        "image_name": name,
        "rgb": rgb,
        "overlay_rgb": draw_overlay(rgb, prediction),
        "measurement": measurement,
        "model_info": {"name": "crackseg-yolov8n", "sha256": "ab" * 32, "backend": "onnx"},
        "settings_used": {"confidence": 0.25, "imgsz": 640},
        "generated_at": datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc),
    }
    arguments.update(overrides)
    return inspection_report_html(**arguments)


def test_report_is_self_contained_with_tables_and_images() -> None:
    page = _report("road.jpg", _two_cracks())
    assert page.startswith("<!DOCTYPE html>")
    assert "http://" not in page and "https://" not in page
    assert "<script" not in page.lower()
    assert "<link" not in page.lower()
    assert page.count('src="data:image/jpeg;base64,') == 2
    assert "road.jpg" in page and "2024-05-01" in page
    assert "crackseg-yolov8n" in page
    assert "ab" * 6 in page and "ab" * 32 not in page  # sha256 shortened
    assert "imgsz" in page and "640" in page
    assert page.count("<tr>") >= 2 + 2  # per-crack rows plus key/value rows
    assert "<th>length (mm)</th>" in page
    assert "@media print" in page


def test_report_escapes_malicious_names_and_values() -> None:
    evil = '<script>alert("x")</script>.jpg'
    page = _report(evil, _two_cracks(), model_info={"<b>name</b>": "<img src=x onerror=alert(1)>"})
    assert "<script>" not in page
    assert "<img src=x" not in page and "<b>name" not in page
    assert "&lt;script&gt;" in page


def test_report_for_crack_free_image() -> None:
    page = _report("clean.jpg", CrackPrediction.empty((WIDTH, HEIGHT)))
    assert "No cracks detected" in page


def test_report_downscales_large_images() -> None:
    big = np.zeros((400, 3000, 3), dtype=np.uint8)
    measurement = measure_prediction(CrackPrediction.empty((3000, 400)))
    page = inspection_report_html(
        image_name="big.jpg",
        rgb=big,
        overlay_rgb=big,
        measurement=measurement,
        model_info={},
        settings_used={},
        max_image_side_px=300,
    )
    start = page.index("data:image/jpeg;base64,") + len("data:image/jpeg;base64,")
    encoded = page[start : page.index('"', start)]
    with Image.open(io.BytesIO(base64.b64decode(encoded))) as image:
        assert image.size == (300, 40)


# --------------------------------------------------------------------------- ZIP


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("report.html", "report.html"),
        ("masks/a.png", "masks/a.png"),
        ("/etc/passwd", "etc/passwd"),
        ("../../evil.txt", "evil.txt"),
        ("a/../../b.txt", "a/b.txt"),
        ("C:\\Windows\\x.dll", "C_/Windows/x.dll"),
        ("", "file"),
        ("..", "file"),
        ("bad\x00name.txt", "badname.txt"),
    ],
)
def test_safe_member_name(raw: str, expected: str) -> None:
    assert safe_member_name(raw) == expected


def test_batch_zip_round_trip_with_sanitised_unique_names() -> None:
    entries = [
        ("summary.csv", b"a,b\n1,2\n"),
        ("../../escape.txt", b"x"),
        ("/abs/path.png", b"\x89PNG"),
        ("summary.csv", b"second"),
    ]
    data = batch_zip_bytes(entries)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = archive.namelist()
        assert names == ["summary.csv", "escape.txt", "abs/path.png", "summary-2.csv"]
        for info in archive.infolist():
            assert info.compress_type == zipfile.ZIP_DEFLATED
            assert not info.filename.startswith("/") and ".." not in info.filename.split("/")
        assert archive.read("summary.csv") == b"a,b\n1,2\n"
        assert archive.read("summary-2.csv") == b"second"
        assert archive.read("abs/path.png") == b"\x89PNG"
    with zipfile.ZipFile(io.BytesIO(batch_zip_bytes([]))) as archive:
        assert archive.namelist() == []
