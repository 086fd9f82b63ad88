"""The predict -> measure -> files pipeline shared by the CLI and the app (crackseg.pipeline.inspection).

A fake segmenter draws a known bar, so every measurement and file content is known.
"""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from crackseg.export.schema import CRACK_COLUMNS, IMAGE_COLUMNS
from crackseg.inference.prediction import CrackPrediction
from crackseg.inference.segmenter import InferenceSettings, Segmenter
from crackseg.io.inputs import NamedPayload
from crackseg.measurement.measure import MeasurementSettings
from crackseg.pipeline.inspection import (
    Inspection,
    InspectionFailure,
    batch_files,
    inspect_image,
    inspect_payloads,
    inspection_files,
    output_stem,
    settings_record,
    unique_stem,
)


class BarSegmenter:
    """Predicts one vertical 6 px wide bar over rows 10..110 of any image that is not all white."""

    def predict(self, rgb: np.ndarray, settings: InferenceSettings | None = None) -> CrackPrediction:
        height, width = rgb.shape[:2]
        if rgb.min() == 255:
            return CrackPrediction.empty((width, height))
        mask = np.zeros((1, height, width), dtype=bool)
        mask[0, 10:110, 20:26] = True
        return CrackPrediction.from_masks(mask, np.array([0.8], np.float32))

    def info(self) -> dict[str, str]:
        return {"name": "bar.pt", "sha256": "ab" * 32, "backend": "fake"}

    predict_many = Segmenter.predict_many  # the real streaming path (background decoding) over the fake model


def png(rgb: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, "PNG")
    return buffer.getvalue()


ROAD = np.full((128, 64, 3), 120, dtype=np.uint8)
WHITE = np.full((128, 64, 3), 255, dtype=np.uint8)
RECORD = settings_record(BarSegmenter(), InferenceSettings(), MeasurementSettings(mm_per_px=2.0))


@pytest.mark.parametrize(
    ("name", "stem"),
    [
        ("road.jpg", "road"),
        ("a.zip/dir/x.jpg", "a.zip_dir_x"),
        ("../../etc/passwd.png", "etc_passwd"),
        ("/abs/y.png", "abs_y"),
        ("C:\\photos\\x.jpg", "C__photos_x"),
        ("sp ace&semi;colon.jpg", "sp_ace_semi_colon"),
        ("", "image"),
        (".", "image"),
        ("..", "image"),
        ("x" * 300 + ".jpg", "x" * 150),
    ],
)
def test_output_stem_is_a_safe_file_name(name: str, stem: str) -> None:
    assert output_stem(name) == stem


def test_inspect_image_measures_the_prediction() -> None:
    inspection = inspect_image(BarSegmenter(), ROAD, "road.png", InferenceSettings(), MeasurementSettings(mm_per_px=2))
    assert inspection.name == "road.png" and inspection.measurement.count == 1
    [crack] = inspection.measurement.cracks
    assert crack.area_px == 600 and crack.length_px == pytest.approx(100, rel=0.02)
    assert crack.length_mm == pytest.approx(200, rel=0.02) and crack.crack_type == "longitudinal"


def test_inspect_payloads_streams_results_and_per_item_failures() -> None:
    payloads = [
        NamedPayload("site.zip/a.png", png(ROAD)),
        NamedPayload("site.zip/bad.jpg", b"not an image"),
        NamedPayload("site.zip/nested.zip", error="site.zip/nested.zip: nested archives are not opened"),
        NamedPayload("clean.png", png(WHITE)),
        NamedPayload("tiny.png", png(np.zeros((4, 4, 3), np.uint8))),
    ]
    results = list(inspect_payloads(BarSegmenter(), payloads))
    assert [type(r).__name__ for r in results] == [
        "Inspection",
        "InspectionFailure",
        "InspectionFailure",
        "Inspection",
        "InspectionFailure",
    ]
    assert results[1] == InspectionFailure(
        "site.zip/bad.jpg", "site.zip/bad.jpg: not an image (or an unsupported format)"
    )
    assert results[2].error == "site.zip/nested.zip: nested archives are not opened"
    assert results[3].measurement.count == 0
    assert results[4].error.startswith("tiny.png: image is 4x4, too small")


def test_pixel_cap_reaches_the_loader() -> None:
    [result] = list(inspect_payloads(BarSegmenter(), [NamedPayload("big.png", png(ROAD))], max_pixels=1000))
    assert isinstance(result, InspectionFailure) and "Mpx" in result.error


def test_inspection_files_for_one_image() -> None:
    inspection = inspect_image(BarSegmenter(), ROAD, "site.zip/a.png", measurement_settings=MeasurementSettings(2.0))
    files = dict(inspection_files(inspection, RECORD))
    assert sorted(files) == [
        "cracks/site.zip_a.csv",
        "json/site.zip_a.json",
        "masks/site.zip_a.png",
        "overlays/site.zip_a.jpg",
        "reports/site.zip_a.html",
    ]
    mask = np.asarray(Image.open(io.BytesIO(files["masks/site.zip_a.png"])))
    np.testing.assert_array_equal(mask > 0, inspection.prediction.union_mask)
    overlay = np.asarray(Image.open(io.BytesIO(files["overlays/site.zip_a.jpg"])).convert("RGB")).astype(int)
    assert overlay.shape == ROAD.shape
    assert np.abs(overlay[20:100, 21:25] - ROAD[20:100, 21:25]).mean() > 30  # cracks drawn (JPEG: lossy)
    assert np.abs(overlay[120:, 40:] - ROAD[120:, 40:]).max() <= 3  # far from the crack: untouched but for JPEG
    without_report = dict(inspection_files(inspection, RECORD, reports=False))
    assert sorted(without_report) == sorted(name for name in files if not name.startswith("reports/"))
    cracks = pd.read_csv(io.BytesIO(files["cracks/site.zip_a.csv"]))
    assert len(cracks) == 1
    report = files["reports/site.zip_a.html"].decode()
    assert "site.zip/a.png" in report and "ab" * 6 in report  # the model hash (shortened) is on the page


def test_batch_files_tables_and_summary() -> None:
    inspections = [
        inspect_image(BarSegmenter(), ROAD, "a.png", measurement_settings=MeasurementSettings(2.0)),
        inspect_image(BarSegmenter(), WHITE, "clean.png", measurement_settings=MeasurementSettings(2.0)),
    ]
    failures = [InspectionFailure("bad.jpg", "/in/bad.jpg: empty file (0 bytes)", "/in/bad.jpg")]
    files = dict(batch_files(inspections, failures, RECORD))
    assert sorted(files) == ["cracks.csv", "images.csv", "summary.json"]
    cracks = pd.read_csv(io.BytesIO(files["cracks.csv"]))
    assert list(cracks["image"]) == ["a.png"] and list(cracks.columns) == list(CRACK_COLUMNS)
    images = pd.read_csv(io.BytesIO(files["images.csv"]))
    assert list(images.columns) == list(IMAGE_COLUMNS)
    assert list(images["image"]) == ["a.png", "clean.png", "bad.jpg"]
    assert list(images["status"]) == ["ok", "ok", "failed"] and list(images["crack_count"][:2]) == [1, 0]
    assert images["error"].iloc[2] == "/in/bad.jpg: empty file (0 bytes)"
    summary = json.loads(files["summary.json"])
    assert summary["images"] == 2 and summary["cracks"] == 1
    assert summary["failed"] == [
        {"image": "bad.jpg", "source_path": "/in/bad.jpg", "error": "/in/bad.jpg: empty file (0 bytes)"}
    ]
    assert summary["settings"]["measurement"]["mm_per_px"] == 2.0


def test_batch_without_cracks_still_has_headed_tables() -> None:
    inspections = [inspect_image(BarSegmenter(), WHITE, "clean.png")]
    files = dict(batch_files(inspections, [], RECORD))
    cracks = pd.read_csv(io.BytesIO(files["cracks.csv"]))
    assert len(cracks) == 0 and list(cracks.columns) == list(CRACK_COLUMNS)
    assert json.loads(files["summary.json"])["cracks"] == 0


def test_inspection_is_a_plain_record() -> None:
    inspection = inspect_image(BarSegmenter(), ROAD, "a.png")
    assert isinstance(inspection, Inspection) and inspection.rgb is ROAD
    assert inspection.prediction.resolution_wh == (64, 128)


def test_unique_stem_keeps_same_named_inputs_apart() -> None:
    used: set[str] = set()
    stems = [unique_stem(name, used) for name in ("x.jpg", "x.png", "x.tif", "y.jpg")]
    assert stems == ["x", "x-2", "x-3", "y"]
