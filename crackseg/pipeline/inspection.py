"""The inspection pipeline: named image bytes -> prediction -> measurements -> output files.

This is the one data flow the CLI's ``predict`` and the app's Segment page
share: ``inspect_payloads`` streams ``Inspection`` results (or per-file
errors), and ``inspection_files`` / ``batch_files`` turn them into the files a
user takes away (overlay, mask, CSV, JSON, HTML report, batch tables).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from pathlib import PurePosixPath
from typing import Any

import numpy as np
import pandas as pd

from crackseg.core.errors import CrackSegError
from crackseg.core.json_values import dumps
from crackseg.export.encoding import mask_to_png_bytes, overlay_jpeg_bytes
from crackseg.export.overlays import draw_overlay, draw_region_outline
from crackseg.export.report_html import inspection_report_html
from crackseg.export.tables import (
    cracks_table,
    csv_bytes,
    image_record,
    images_table,
    measurement_json,
)
from crackseg.geometry.camera import CameraProfile
from crackseg.inference.segmenter import InferenceSettings, Segmenter, decode_ahead
from crackseg.io.image_io import DEFAULT_MAX_PIXELS
from crackseg.io.inputs import NamedPayload
from crackseg.measurement.measure import ImageMeasurement, MeasurementSettings, measure_prediction
from crackseg.pipeline.results import Inspection, InspectionFailure
from crackseg.pipeline.street import StreetViews, inspect_street_frame

_EMPTY = ImageMeasurement(cracks=(), resolution_wh=(1, 1), mm_per_px=None)


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
    camera: CameraProfile | None = None,
) -> Iterator[Inspection | InspectionFailure]:
    """Stream inspections over named payloads, in input order; a bad one yields a failure and the rest go on.

    The one path every user runs (CLI and app) and the benchmarks measure: the next image is decoded in a
    background thread while the current one is predicted and measured. With a ``camera`` profile every
    image is a street-view frame, inspected through its bird's-eye view (``crackseg.pipeline.street``).
    """
    measurement_settings = measurement_settings or MeasurementSettings()
    settings = settings or InferenceSettings()
    source_paths: deque[str] = deque()  # the streams yield in input order, pulling at most one ahead

    def sources() -> Iterator[tuple[str, bytes | CrackSegError]]:
        for payload in payloads:
            source_paths.append(payload.source_path)
            if payload.error is None and payload.data is not None:
                yield payload.name, payload.data
            else:
                yield payload.name, CrackSegError(payload.error or f"{payload.source}: no data")

    if camera is not None:
        yield from _inspect_street_payloads(
            segmenter, sources(), source_paths, settings, measurement_settings, camera, max_pixels
        )
        return
    for item in segmenter.predict_many(sources(), settings, max_pixels=max_pixels):
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


def _inspect_street_payloads(
    segmenter: Segmenter,
    sources: Iterator[tuple[str, bytes | CrackSegError]],
    source_paths: deque[str],
    settings: InferenceSettings,
    measurement_settings: MeasurementSettings,
    camera: CameraProfile,
    max_pixels: int,
) -> Iterator[Inspection | InspectionFailure]:
    """``inspect_payloads`` for street-view frames: decode ahead, warp, predict and measure on the top view."""
    views = StreetViews(camera)
    for name, decoded in decode_ahead(sources, max_pixels=max_pixels):
        source_path = source_paths.popleft()
        if isinstance(decoded, CrackSegError):
            yield InspectionFailure(name, _with_full_name(str(decoded), name, source_path or name), source_path)
            continue
        try:
            view = views.for_frame(decoded)
            yield inspect_street_frame(
                segmenter, decoded, name, view, settings, measurement_settings, source_path=source_path
            )
        except CrackSegError as error:
            yield InspectionFailure(name, f"{source_path or name}: {error}", source_path)
        except (ValueError, MemoryError, RuntimeError) as error:
            yield InspectionFailure(name, f"{source_path or name}: inspection failed ({error})", source_path)


def settings_record(
    segmenter: Segmenter,
    settings: InferenceSettings,
    measurement_settings: MeasurementSettings,
    camera: CameraProfile | None = None,
) -> dict[str, Any]:
    """The model, the view (with the camera profile for the street view) and every threshold used."""
    return {
        "model": segmenter.info(),
        "view": {"view": "top-down"} if camera is None else {"view": "street", "camera_profile": camera.to_dict()},
        "inference": settings.to_dict(),
        "measurement": {
            "mm_per_px": measurement_settings.mm_per_px if camera is None else camera.mm_per_px,
            "severity_thresholds_mm": list(measurement_settings.severity_thresholds_mm),
            "type_tolerance_deg": measurement_settings.type_tolerance_deg,
        },
    }


def view_columns(record: dict[str, Any]) -> dict[str, Any]:
    """The images table's ``view`` and ``camera_profile`` values of a settings record (for failed inputs)."""
    view = record.get("view", {})
    profile = view.get("camera_profile") or {}
    return {"view": view.get("view", "top-down"), "camera_profile": profile.get("name")}


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
    if inspection.street is not None:
        overlay = draw_region_outline(overlay, inspection.street.view.region_corners_px())
    settings_used = {**record["inference"], **record["measurement"]}
    if inspection.street is not None:
        settings_used |= {"view": "street", "ground_view": inspection.street.view.to_dict()}
    source = inspection.source_path
    positions = None if inspection.street is None else inspection.street.positions_m
    document = measurement_json(inspection.measurement, inspection.name, settings_used, source, positions)
    files = [
        (f"overlays/{stem}.jpg", overlay_jpeg_bytes(overlay)),
        (f"masks/{stem}.png", mask_to_png_bytes(inspection.prediction.union_mask)),
        (f"cracks/{stem}.csv", csv_bytes(inspection.cracks_table())),
        (f"json/{stem}.json", document.encode("utf-8")),
    ]
    if inspection.street is not None:
        street = inspection.street
        files.append((f"top_views/{stem}.jpg", overlay_jpeg_bytes(draw_overlay(street.top_rgb, street.top_prediction))))
        files.append((f"top_masks/{stem}.png", mask_to_png_bytes(street.top_prediction.union_mask)))
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
    crack_frames = [inspection.cracks_table() for inspection in inspections if inspection.measurement.count]
    cracks = pd.concat(crack_frames, ignore_index=True) if crack_frames else cracks_table(_EMPTY)
    images = images_table(
        [inspection.image_record() for inspection in inspections]
        + [image_record(f.name, f.source_path, error=f.error, **view_columns(record)) for f in failures]
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
