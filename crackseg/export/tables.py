"""Measurements as tables for other programs: fixed snake_case columns (``export.schema``), CSV and JSON.

Every table has all of its schema's columns in every run (empty where a value does not
apply), so a program reading CSV today reads the same columns tomorrow. Text cells a
spreadsheet would run as formulas (``=``, ``+``, ``-``, ``@``...) are neutralised in
every CSV written here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from crackseg.core.json_values import dumps
from crackseg.export.schema import CRACK_COLUMNS, IMAGE_COLUMNS
from crackseg.measurement.measure import ImageMeasurement

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(text: str) -> str:
    """Neutralise a spreadsheet formula in a text cell (``=cmd|...`` -> ``'=cmd|...``)."""
    return "'" + text if text[:1] in _FORMULA_STARTS else text


def cracks_table(
    measurement: ImageMeasurement,
    image: str = "",
    source_path: str = "",
    positions_m: np.ndarray | None = None,
) -> pd.DataFrame:
    """One row per crack, columns ``CRACK_COLUMNS`` (mm columns empty without a calibration).

    ``positions_m`` (street view) is ``(N, 2)`` lateral/forward metres indexed by ``crack_id - 1``.
    """
    rows = []
    for crack in measurement.cracks:
        row = {"image": image, "source_path": source_path, **crack.to_dict()}
        if positions_m is not None and 0 < crack.crack_id <= len(positions_m):
            lateral, forward = positions_m[crack.crack_id - 1]
            row |= {"lateral_m": round(float(lateral), 3), "forward_m": round(float(forward), 3)}
        rows.append(row)
    return pd.DataFrame(rows, columns=list(CRACK_COLUMNS))


def image_record(
    image: str,
    source_path: str,
    measurement: ImageMeasurement | None = None,
    error: str | None = None,
    content_sha256: str | None = None,
    *,
    view: str = "top-down",
    camera_profile: str | None = None,
) -> dict[str, Any]:
    """One row of the images table: the measurement's totals, or a failed input with its error."""
    record: dict[str, Any] = dict.fromkeys(IMAGE_COLUMNS)
    record |= {"image": image, "source_path": source_path, "content_sha256": content_sha256}
    record |= {"view": view, "camera_profile": camera_profile}
    if measurement is None:
        return record | {"status": "failed", "error": error or "not inspected"}
    return record | {"status": "ok", "error": None} | measurement.summary()


def images_table(records: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Rows from ``image_record`` as a table with exactly ``IMAGE_COLUMNS``."""
    return pd.DataFrame([dict(record) for record in records], columns=list(IMAGE_COLUMNS))


def csv_bytes(table: pd.DataFrame) -> bytes:
    """A table as UTF-8 CSV, every text cell formula-neutralised.

    Only the text columns that hold a risky cell are rewritten (on a copy): the batch
    journal calls this for every image, and rewriting every column cost more than the model.
    """
    neutralised = {}
    for column in table.columns:
        series = table[column]
        if series.dtype == object or pd.api.types.is_string_dtype(series):
            values = series.tolist()
            if any(isinstance(value, str) and value[:1] in _FORMULA_STARTS for value in values):
                neutralised[column] = [csv_safe(value) if isinstance(value, str) else value for value in values]
    if neutralised:
        table = table.copy()
        for column, values in neutralised.items():
            table[column] = pd.Series(values, index=table.index, dtype=object)
    return table.to_csv(index=False).encode("utf-8")


def cracks_csv_bytes(measurement: ImageMeasurement, image: str, source_path: str = "") -> bytes:
    """The per-crack table of one image as CSV bytes."""
    return csv_bytes(cracks_table(measurement, image, source_path))


def measurement_json(
    measurement: ImageMeasurement,
    image: str,
    settings_used: Mapping[str, Any],
    source_path: str = "",
    positions_m: np.ndarray | None = None,
) -> str:
    """``{"image", "source_path", "settings", "cracks", "totals"}`` as indented strict JSON, schema names.

    Each crack has every per-crack column of the tables (``lateral_m``/``forward_m`` null top-down).
    """
    table = cracks_table(measurement, image, source_path, positions_m)
    positions = {
        int(row.crack_id): (row.lateral_m, row.forward_m)
        for row in table[["crack_id", "lateral_m", "forward_m"]].itertuples()
    }
    cracks = []
    for crack in measurement.cracks:
        lateral, forward = positions.get(crack.crack_id, (None, None))
        cracks.append(crack.to_dict() | {"lateral_m": _or_none(lateral), "forward_m": _or_none(forward)})
    document = {
        "image": str(image),
        "source_path": str(source_path),
        "settings": dict(settings_used),
        "cracks": cracks,
        "totals": measurement.summary(),
    }
    return dumps(document)


def _or_none(value: Any) -> float | None:
    """A float, or None for a missing value (NaN or pandas' NA)."""
    return None if value is None or pd.isna(value) else float(value)
