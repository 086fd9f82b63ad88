"""The inspection pipeline: named image bytes -> prediction -> measurements -> output files.

This is the one data flow the CLI's ``predict`` and the app's Segment page
share: ``inspect_payloads`` streams ``Inspection`` results (or per-file
errors), and ``inspection_files`` / ``batch_files`` turn them into the files a
user takes away (overlay, mask, CSV, JSON, HTML report, batch tables).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

import numpy as np
import pandas as pd

from crackseg.core.errors import CrackSegError
from crackseg.core.json_values import dumps
from crackseg.export.encoding import mask_to_png_bytes, overlay_jpeg_bytes
from crackseg.export.overlays import draw_overlay
from crackseg.export.report_html import inspection_report_html
from crackseg.export.tables import (
    cracks_csv_bytes,
    cracks_table,
    csv_bytes,
    image_record,
    images_table,
    measurement_json,
)
from crackseg.inference.prediction import CrackPrediction
from crackseg.inference.segmenter import InferenceSettings, Segmenter
from crackseg.io.image_io import DEFAULT_MAX_PIXELS
from crackseg.io.inputs import NamedPayload
from crackseg.measurement.measure import ImageMeasurement, MeasurementSettings, measure_prediction

_EMPTY = ImageMeasurement(cracks=(), resolution_wh=(1, 1), mm_per_px=None)


@dataclass(frozen=True)
class Inspection:
    """One inspected image: its pixels, what the model found, and the measurements."""

    name: str
    rgb: np.ndarray
    prediction: CrackPrediction
    measurement: ImageMeasurement
    source_path: str = ""


@dataclass(frozen=True)
class InspectionFailure:
    """An input that could not be inspected, with a one-line reason."""

    name: str
    error: str
    source_path: str = ""


def inspect_image(
    segmenter: Segmenter,
    rgb: np.ndarray,
    name: str,
    settings: InferenceSettings | None = None,
    measurement_settings: MeasurementSettings | None = None,
) -> Inspection:
    """Predict and measure one RGB ``uint8 (H, W, 3)`` image."""
    prediction = segmenter.predict(rgb, settings or InferenceSettings())
    measurement = measure_prediction(prediction, measurement_settings or MeasurementSettings())
    return Inspection(name=name, rgb=rgb, prediction=prediction, measurement=measurement)


def inspect_payloads(
    segmenter: Segmenter,
    payloads: Iterable[NamedPayload],
    settings: InferenceSettings | None = None,
    measurement_settings: MeasurementSettings | None = None,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> Iterator[Inspection | InspectionFailure]:
    """Stream inspections over named payloads, in input order; a bad one yields a failure and the rest go on.

    The one path every user runs (CLI and app) and the benchmarks measure: ``Segmenter.predict_many``
    decodes the next image in a background thread while the current one is predicted and measured.
    """
    measurement_settings = measurement_settings or MeasurementSettings()
    source_paths: deque[str] = deque()  # predict_many yields in input order, pulling at most one ahead

    def sources() -> Iterator[tuple[str, bytes | CrackSegError]]:
        for payload in payloads:
            source_paths.append(payload.source_path)
            if payload.error is None and payload.data is not None:
                yield payload.name, payload.data
            else:
                yield payload.name, CrackSegError(payload.error or f"{payload.source}: no data")

    for item in segmenter.predict_many(sources(), settings or InferenceSettings(), max_pixels=max_pixels):
        source_path = source_paths.popleft()
        if item.error is not None or item.rgb is None or item.prediction is None:
            message = _with_full_name(item.error or "no image", item.name, source_path or item.name)
            yield InspectionFailure(item.name, message, source_path)
            continue
        try:
            measurement = measure_prediction(item.prediction, measurement_settings)
        except (ValueError, MemoryError, RuntimeError) as error:
            yield InspectionFailure(item.name, f"{source_path or item.name}: inspection failed ({error})", source_path)
            continue
        yield Inspection(item.name, item.rgb, item.prediction, measurement, source_path)


def settings_record(
    segmenter: Segmenter, settings: InferenceSettings, measurement_settings: MeasurementSettings
) -> dict[str, Any]:
    """The model and every threshold used, recorded next to each result."""
    return {
        "model": segmenter.info(),
        "inference": settings.to_dict(),
        "measurement": {
            "mm_per_px": measurement_settings.mm_per_px,
            "severity_thresholds_mm": list(measurement_settings.severity_thresholds_mm),
            "type_tolerance_deg": measurement_settings.type_tolerance_deg,
        },
    }


def output_stem(name: str) -> str:
    """A safe file stem for an input name (``a.zip/dir/x.jpg`` -> ``a.zip_dir_x``)."""
    parts = [part for part in PurePosixPath(name.replace("\\", "/")).parts if part not in ("", "/", "..", ".")]
    if parts:
        parts[-1] = PurePosixPath(parts[-1]).stem or parts[-1]  # drop the extension of the file itself
    stem = "_".join(parts) or "image"
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in stem)[:150]


def unique_stem(name: str, used: set[str]) -> str:
    """``output_stem`` made unique within a batch (``x.jpg`` and ``x.png`` -> ``x``, ``x-2``); updates ``used``."""
    base = stem = output_stem(name)
    counter = 2
    while stem in used:
        stem, counter = f"{base}-{counter}", counter + 1
    used.add(stem)
    return stem


def inspection_files(
    inspection: Inspection, record: dict[str, Any], stem: str | None = None, *, reports: bool = True
) -> list[tuple[str, bytes]]:
    """Files for one image, named by ``stem``: overlay JPEG, mask PNG (exact), cracks CSV, JSON, HTML report.

    The overlay is for looking at, so it is a JPEG (fast, small); the mask PNG is the lossless result.
    """
    stem = stem or output_stem(inspection.name)
    overlay = draw_overlay(inspection.rgb, inspection.prediction)
    settings_used = {**record["inference"], **record["measurement"]}
    source = inspection.source_path
    document = measurement_json(inspection.measurement, inspection.name, settings_used, source)
    files = [
        (f"overlays/{stem}.jpg", overlay_jpeg_bytes(overlay)),
        (f"masks/{stem}.png", mask_to_png_bytes(inspection.prediction.union_mask)),
        (f"cracks/{stem}.csv", cracks_csv_bytes(inspection.measurement, inspection.name, source)),
        (f"json/{stem}.json", document.encode("utf-8")),
    ]
    if reports:
        report = inspection_report_html(
            image_name=inspection.name,
            rgb=inspection.rgb,
            overlay_rgb=overlay,
            measurement=inspection.measurement,
            model_info=record["model"],
            settings_used=settings_used,
        )
        files.append((f"reports/{stem}.html", report.encode("utf-8")))
    return files


def batch_files(
    inspections: Sequence[Inspection], failures: Sequence[InspectionFailure], record: dict[str, Any]
) -> list[tuple[str, bytes]]:
    """The batch-level files: ``cracks.csv`` (every crack), ``images.csv`` (every input, failed ones with their
    error) and ``summary.json``; columns as ``crackseg.export.schema`` fixes them."""
    crack_frames = [cracks_table(i.measurement, i.name, i.source_path) for i in inspections if i.measurement.count]
    cracks = pd.concat(crack_frames, ignore_index=True) if crack_frames else cracks_table(_EMPTY)
    images = images_table(
        [image_record(i.name, i.source_path, i.measurement) for i in inspections]
        + [image_record(f.name, f.source_path, error=f.error) for f in failures]
    )
    summary = {
        "images": len(inspections),
        "failed": [{"image": f.name, "source_path": f.source_path, "error": f.error} for f in failures],
        "cracks": int(sum(i.measurement.count for i in inspections)),
        "settings": record,
    }
    return [
        ("cracks.csv", csv_bytes(cracks)),
        ("images.csv", csv_bytes(images)),
        ("summary.json", dumps(summary).encode("utf-8")),
    ]


def _short_name(name: str) -> str:
    return PurePosixPath(name.replace("\\", "/")).name or name


def _with_full_name(message: str, name: str, full_name: str | None = None) -> str:
    """Loader messages start with the input's name or short name; batches show the full path instead."""
    full_name = full_name or name
    for prefix in (name, _short_name(name)):
        if message.startswith(prefix + ":"):
            return full_name + message[len(prefix) :]
    return message
