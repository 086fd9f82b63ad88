"""Measurements as tables for other programs: CSV (formula-safe) and JSON, fixed snake_case columns."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from crackseg.core.json_values import dumps
from crackseg.measurement.measure import CRACK_TYPES, ImageMeasurement, cracks_table


def _csv_safe(text: str) -> str:
    """Neutralise spreadsheet formulas in a user-provided cell (``=cmd|...`` etc.)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def cracks_csv_bytes(measurement: ImageMeasurement, image_name: str) -> bytes:
    """Per-crack table (``cracks_table`` with an ``image`` column first) as UTF-8 CSV bytes."""
    table = cracks_table(measurement)
    table.insert(0, "image", _csv_safe(str(image_name)))
    return table.to_csv(index=False).encode("utf-8")


def images_summary_table(rows: Sequence[tuple[str, ImageMeasurement]]) -> pd.DataFrame:
    """One row per ``(image name, measurement)``: counts, totals, crack area share, worst severity, type counts.

    mm columns appear when any image is calibrated (empty for the others).
    Density is the percentage of the image covered by cracks.
    """
    calibrated = any(measurement.mm_per_px is not None for _, measurement in rows)
    records = []
    for name, measurement in rows:
        record: dict[str, Any] = {
            "image": str(name),
            "cracks": measurement.count,
            "total length (px)": round(measurement.total_length_px, 1),
        }
        if calibrated:
            record["total length (mm)"] = _rounded(measurement.total_length_mm, 1)
        record["crack area (px²)"] = measurement.crack_area_px
        if calibrated:
            record["crack area (mm²)"] = _rounded(measurement.crack_area_mm2, 1)
        record["crack_area_pct"] = round(measurement.crack_area_pct, 3)
        record["max width (px)"] = round(measurement.max_width_px, 1)
        if calibrated:
            record["max width (mm)"] = _rounded(measurement.max_width_mm, 2)
        record["worst severity"] = measurement.worst_severity
        record |= measurement.type_counts
        records.append(record)
    columns = ["image", "cracks", "total length (px)"]
    columns += ["total length (mm)"] if calibrated else []
    columns += ["crack area (px²)"] + (["crack area (mm²)"] if calibrated else [])
    columns += ["crack_area_pct", "max width (px)"] + (["max width (mm)"] if calibrated else [])
    columns += ["worst severity", *CRACK_TYPES]
    return pd.DataFrame(records, columns=columns)


def _rounded(value: float | None, digits: int) -> float | None:
    return None if value is None else round(float(value), digits)


def measurement_json(measurement: ImageMeasurement, image_name: str, settings_used: Mapping[str, Any]) -> str:
    """``{"image", "settings", "cracks", "totals"}`` as indented JSON text (strict: no NaN)."""
    document = {"image": str(image_name), "settings": dict(settings_used), **measurement.to_dict()}
    return dumps(document)
