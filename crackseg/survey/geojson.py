"""GeoJSON per RFC 7946: WGS84 longitude/latitude (in that order), one FeatureCollection per file.

``findings.geojson`` has a Point per crack, ``sections.geojson`` a LineString per
section following the track; properties are the rows of the findings and
sections tables (same column names). A survey without GPS (placed by speed)
has no positions: its features carry ``"geometry": null``, as RFC 7946 allows.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pandas as pd

from crackseg.survey.route import Route

COORDINATE_DIGITS = 7  # about 1 cm


def findings_collection(findings: pd.DataFrame) -> dict[str, Any]:
    """Points at each finding's ``lon``/``lat``."""
    features = []
    for row in findings.to_dict("records"):
        lon, lat = row.get("lon"), row.get("lat")
        geometry = None if _missing(lon) or _missing(lat) else {"type": "Point", "coordinates": _pair(lon, lat)}
        features.append(_feature(geometry, row))
    return {"type": "FeatureCollection", "features": features}


def sections_collection(sections: pd.DataFrame, route: Route) -> dict[str, Any]:
    """LineStrings along the route from each section's start to its end chainage."""
    features = []
    for row in sections.to_dict("records"):
        geometry = None
        if route.has_positions:
            line = route.polyline(float(row["start_chainage_m"]), float(row["end_chainage_m"]))
            geometry = {"type": "LineString", "coordinates": [_pair(lon, lat) for lon, lat in line]}
        features.append(_feature(geometry, row))
    return {"type": "FeatureCollection", "features": features}


def dumps_geojson(collection: dict[str, Any]) -> str:
    """Compact JSON; NaN is written as null (RFC 8259 has no NaN)."""
    return json.dumps(collection, allow_nan=False, separators=(",", ":"))


def _feature(geometry: dict[str, Any] | None, row: dict[str, Any]) -> dict[str, Any]:
    properties = {key: (None if _missing(value) else _plain(value)) for key, value in row.items()}
    return {"type": "Feature", "geometry": geometry, "properties": properties}


def _pair(lon: float, lat: float) -> list[float]:
    return [round(float(lon), COORDINATE_DIGITS), round(float(lat), COORDINATE_DIGITS)]


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    return value


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))
