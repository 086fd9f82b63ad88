"""The survey's tables and files: findings and sections as CSV, Parquet and GeoJSON (fixed columns).

``FINDING_COLUMNS``: ``finding_id``, ``section_id``, ``chainage_m`` (along the track),
``lateral_m`` (right of the camera axis), ``lat``/``lon`` (WGS84), ``crack_type``,
``length_mm``, ``mean_width_mm``, ``max_width_mm``, ``area_mm2``, ``severity``,
``confidence``, ``frame`` (the frame or photo its longest piece came from), ``time_s``
(seconds from the video's start), ``time_utc`` (ISO 8601, empty when unknown), ``pieces``
(slices it was stitched from). Sections: ``crackseg.survey.sections.SECTION_COLUMNS``.
``SAMPLE_COLUMNS``: each inspected frame or photo, its time, chainage, position, the road it owns
(``slice_m``), whether it decoded (``ok``) and its overlay's path relative to the output folder.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from crackseg.export.tables import csv_bytes
from crackseg.survey.findings import Finding
from crackseg.survey.geojson import dumps_geojson, findings_collection, sections_collection
from crackseg.survey.route import Route
from crackseg.survey.sampling import Sample
from crackseg.survey.sections import Section, section_of
from crackseg.survey.track import iso_utc

FINDING_COLUMNS = [
    "finding_id",
    "section_id",
    "chainage_m",
    "lateral_m",
    "lat",
    "lon",
    "crack_type",
    "length_mm",
    "mean_width_mm",
    "max_width_mm",
    "area_mm2",
    "severity",
    "confidence",
    "frame",
    "time_s",
    "time_utc",
    "pieces",
]

SAMPLE_COLUMNS = ["sample_index", "frame", "time_s", "time_utc", "chainage_m", "slice_m", "lat", "lon", "ok", "overlay"]


def samples_table(samples: Sequence[Sample], route: Route, failed: set[int], out_dir: Path) -> pd.DataFrame:
    """One row per planned sample, columns ``SAMPLE_COLUMNS``."""
    if not samples:
        return pd.DataFrame(columns=SAMPLE_COLUMNS)
    lat, lon, _ = route.at_chainage(np.array([s.chainage_m for s in samples]))
    rows = []
    for number, sample in enumerate(samples):
        overlay = sorted((out_dir / "frames" / "overlays").glob(f"{sample.index:05d}_*.jpg"))
        rows.append(
            {
                "sample_index": sample.index,
                "frame": sample.name,
                "time_s": round(sample.time_s, 3),
                "time_utc": "" if sample.abs_time_s is None else iso_utc(sample.abs_time_s),
                "chainage_m": round(sample.chainage_m, 3),
                "slice_m": round(sample.slice_m, 3),
                "lat": None if not np.isfinite(lat[number]) else round(float(lat[number]), 7),
                "lon": None if not np.isfinite(lon[number]) else round(float(lon[number]), 7),
                "ok": sample.index not in failed,
                "overlay": overlay[0].relative_to(out_dir).as_posix() if overlay else "",
            }
        )
    return pd.DataFrame(rows, columns=SAMPLE_COLUMNS)


def findings_table(
    findings: Sequence[Finding], route: Route, sections: Sequence[Section], samples: Sequence[Sample]
) -> pd.DataFrame:
    """One row per finding, columns ``FINDING_COLUMNS``."""
    if not findings:
        return pd.DataFrame(columns=FINDING_COLUMNS)
    lat, lon = route.locate(np.array([f.chainage_m for f in findings]), np.array([f.lateral_m for f in findings]))
    by_index = {s.index: s for s in samples}
    rows = []
    for number, finding in enumerate(findings):
        sample = by_index.get(finding.sample_index)
        rows.append(
            {
                "finding_id": finding.finding_id,
                "section_id": section_of(finding.chainage_m, sections),
                "chainage_m": round(finding.chainage_m, 3),
                "lateral_m": round(finding.lateral_m, 3),
                "lat": None if not np.isfinite(lat[number]) else round(float(lat[number]), 7),
                "lon": None if not np.isfinite(lon[number]) else round(float(lon[number]), 7),
                "crack_type": finding.crack_type,
                "length_mm": round(finding.length_mm, 1),
                "mean_width_mm": round(finding.mean_width_mm, 2),
                "max_width_mm": round(finding.max_width_mm, 2),
                "area_mm2": round(finding.area_mm2, 1),
                "severity": finding.severity,
                "confidence": None if finding.confidence is None else round(finding.confidence, 3),
                "frame": finding.frame,
                "time_s": None if sample is None else round(sample.time_s, 3),
                "time_utc": "" if sample is None or sample.abs_time_s is None else iso_utc(sample.abs_time_s),
                "pieces": finding.pieces,
            }
        )
    return pd.DataFrame(rows, columns=FINDING_COLUMNS)


def write_tables(out_dir: Path, findings: pd.DataFrame, sections: pd.DataFrame, route: Route) -> dict[str, Path]:
    """``findings.csv``/``.geojson``, ``sections.csv``/``.parquet``/``.geojson``; returns their paths by name."""
    paths = {
        "findings_csv": out_dir / "findings.csv",
        "findings_geojson": out_dir / "findings.geojson",
        "sections_csv": out_dir / "sections.csv",
        "sections_parquet": out_dir / "sections.parquet",
        "sections_geojson": out_dir / "sections.geojson",
    }
    paths["findings_csv"].write_bytes(csv_bytes(findings))
    paths["sections_csv"].write_bytes(csv_bytes(sections))
    sections.to_parquet(paths["sections_parquet"], index=False)
    paths["findings_geojson"].write_text(dumps_geojson(findings_collection(findings)), encoding="utf-8")
    paths["sections_geojson"].write_text(dumps_geojson(sections_collection(sections, route)), encoding="utf-8")
    return paths
