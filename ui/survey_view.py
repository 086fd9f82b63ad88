"""Rendering pieces of the Survey page: the offline map, the rating along chainage, tables, gallery, downloads.

Every number shown comes from ``crackseg.survey`` (its tables and GeoJSON); this
module only lays them out. The map is a plain plotly scatter on longitude and
latitude with no basemap, so nothing leaves the machine; an operator may set
``$CRACKSEG_TILE_URL`` (an XYZ raster template such as
``https://tiles.example.org/{z}/{x}/{y}.png``, e.g. a tile server on the
intranet) to draw the sections over those tiles instead.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from crackseg.survey.rating import RATING_CLASSES, RATING_COLOURS
from crackseg.survey.route import EARTH_RADIUS_M
from crackseg.survey.run import SurveyResult

TILE_URL_ENV_VAR = "CRACKSEG_TILE_URL"
WORST_SECTIONS = 4
FRAMES_PER_SECTION = 2
MIN_MAP_SPAN_M = 40.0
# What a survey run leaves for download: (result path key, button label, file name, MIME type).
DOWNLOADS = (
    ("sections_geojson", "Sections (GeoJSON)", "sections.geojson", "application/geo+json"),
    ("findings_geojson", "Findings (GeoJSON)", "findings.geojson", "application/geo+json"),
    ("sections_csv", "Sections (CSV)", "sections.csv", "text/csv"),
    ("findings_csv", "Findings (CSV)", "findings.csv", "text/csv"),
    ("report", "Survey report (HTML)", "survey-report.html", "text/html"),
)
SECTION_LABELS = {
    "section_id": "section",
    "run_id": "run",
    "start_chainage_m": "from (m)",
    "end_chainage_m": "to (m)",
    "length_m": "length (m)",
    "surveyed_length_m": "surveyed (m)",
    "surveyed_area_m2": "surveyed area (m²)",
    "samples": "frames",
    "crack_count": "cracks",
    "longitudinal_count": "longitudinal",
    "transverse_count": "transverse",
    "diagonal_count": "diagonal",
    "network_count": "network",
    "crack_length_m": "crack length (m)",
    "crack_area_m2": "crack area (m²)",
    "cracking_ratio_pct": "cracking ratio (%)",
    "max_width_mm": "max width (mm)",
    "worst_severity": "worst severity",
    "mci_cracking": "MCI1 (0-10)",
    "rating_class": "rating",
}
FINDING_LABELS = {
    "finding_id": "id",
    "section_id": "section",
    "chainage_m": "chainage (m)",
    "lateral_m": "right of camera (m)",
    "crack_type": "type",
    "length_mm": "length (mm)",
    "max_width_mm": "max width (mm)",
    "severity": "severity",
    "confidence": "confidence",
    "frame": "frame",
}


@dataclass(frozen=True)
class GalleryFrame:
    """One sampled frame of a bad section: its overlay and top view (JPEG bytes, as the survey wrote them)."""

    section_id: int
    caption: str
    overlay_jpeg: bytes
    top_jpeg: bytes | None


@dataclass(frozen=True)
class SurveyOutcome:
    """What the page keeps of a finished survey once its temporary folder is gone: tables, files, frames."""

    inputs: str
    sections: pd.DataFrame
    findings: pd.DataFrame
    summary: dict[str, Any]
    warnings: tuple[str, ...]
    files: dict[str, bytes] = field(default_factory=dict)
    gallery: tuple[GalleryFrame, ...] = ()

    @classmethod
    def collect(cls, result: SurveyResult, inputs: str) -> SurveyOutcome:
        """Read the downloads and the worst sections' frames into memory (the output folder is deleted next)."""
        files = {key: result.paths[key].read_bytes() for key, *_ in DOWNLOADS if key in result.paths}
        gallery = tuple(_gallery(result))
        return cls(inputs, result.sections, result.findings, result.summary, result.warnings, files, gallery)


def _gallery(result: SurveyResult) -> list[GalleryFrame]:
    """Up to ``FRAMES_PER_SECTION`` frames of each of the ``WORST_SECTIONS`` lowest-rated sections."""
    sections, findings, samples = result.sections, result.findings, result.samples
    if not len(sections) or not len(samples):
        return []
    rated = sections[sections["mci_cracking"].notna()].sort_values("mci_cracking", kind="stable")
    frames: list[GalleryFrame] = []
    for row in rated.head(WORST_SECTIONS).to_dict("records"):
        mine = findings[findings["section_id"] == row["section_id"]] if len(findings) else findings
        names = list(dict.fromkeys(mine["frame"].tolist())) if len(mine) else []
        inside = samples["chainage_m"].between(row["start_chainage_m"], row["end_chainage_m"])
        names += [name for name in samples.loc[inside, "frame"].tolist() if name not in names]
        by_name = samples.drop_duplicates("frame").set_index("frame")
        for name in names[:FRAMES_PER_SECTION]:
            overlay = str(by_name.at[name, "overlay"] or "")
            if not overlay or not (result.out_dir / overlay).is_file():
                continue
            top = result.out_dir / "frames" / "top" / Path(overlay).name
            caption = (
                f"Section {row['section_id']} ({row['start_chainage_m']:.0f}-{row['end_chainage_m']:.0f} m, "
                f"{row['rating_class']}, MCI1 {row['mci_cracking']:.1f}): {name}"
            )
            frames.append(
                GalleryFrame(
                    int(row["section_id"]),
                    caption,
                    (result.out_dir / overlay).read_bytes(),
                    top.read_bytes() if top.is_file() else None,
                )
            )
    return frames


def tile_url() -> str | None:
    """The operator's XYZ tile template (``$CRACKSEG_TILE_URL``), or ``None``: no basemap, nothing fetched."""
    value = os.environ.get(TILE_URL_ENV_VAR, "").strip()
    return value if value.startswith(("http://", "https://")) and "{z}" in value else None


def section_lines(sections_geojson: bytes) -> list[tuple[list[float], list[float], dict[str, Any]]]:
    """``(lons, lats, properties)`` of each section's LineString (sections without a position are skipped)."""
    lines = []
    for feature in json.loads(sections_geojson).get("features", []):
        geometry = feature.get("geometry") or {}
        if geometry.get("type") != "LineString" or not geometry.get("coordinates"):
            continue
        lons, lats = zip(*geometry["coordinates"], strict=True)
        lines.append((list(lons), list(lats), feature.get("properties") or {}))
    return lines


def map_figure(sections_geojson: bytes, findings: pd.DataFrame, *, tiles: str | None = None) -> go.Figure:
    """Sections as lines coloured by rating, findings as points; equal metres on both axes, no basemap.

    With ``tiles`` (an XYZ URL template) the same traces are drawn on a tile map instead.
    """
    lines = section_lines(sections_geojson)
    located = findings.dropna(subset=["lat", "lon"]) if len(findings) else findings
    scatter = go.Scattermap if tiles else go.Scatter
    x, y = ("lon", "lat") if tiles else ("x", "y")
    figure = go.Figure()
    shown: set[str] = set()
    for lons, lats, properties in lines:
        rating = str(properties.get("rating_class") or "none")
        colour = RATING_COLOURS.get(rating, RATING_COLOURS["none"])
        figure.add_trace(
            scatter(
                **{x: lons, y: lats},
                mode="lines",
                line={"color": colour, "width": 6},
                name=rating,
                legendgroup=rating,
                showlegend=rating not in shown,
                hovertext=_section_hover(properties),
                hoverinfo="text",
            )
        )
        shown.add(rating)
    if len(located):
        figure.add_trace(
            scatter(
                **{x: located["lon"], y: located["lat"]},
                mode="markers",
                marker={"color": "#111111", "size": 8},
                name="cracks",
                hovertext=[_finding_hover(row) for row in located.to_dict("records")],
                hoverinfo="text",
            )
        )
    figure.update_layout(height=460, margin={"l": 10, "r": 10, "t": 30, "b": 10}, legend={"orientation": "h"})
    all_lats = [lat for _, lats, _ in lines for lat in lats] + list(located["lat"] if len(located) else [])
    all_lons = [lon for lons, _, _ in lines for lon in lons] + list(located["lon"] if len(located) else [])
    if tiles:
        centre = {"lat": _middle(all_lats), "lon": _middle(all_lons)}
        layers = [{"sourcetype": "raster", "source": [tiles], "below": "traces"}]
        figure.update_layout(map={"style": "white-bg", "layers": layers, "center": centre, "zoom": 15})
        return figure
    lon_range, lat_range = _ranges(all_lons, all_lats)
    figure.update_xaxes(title="longitude (°)", showgrid=True, zeroline=False, range=lon_range, tickformat=".4f")
    figure.update_yaxes(
        title="latitude (°)",
        showgrid=True,
        zeroline=False,
        range=lat_range,
        tickformat=".4f",
        scaleanchor="x",
        scaleratio=1 / max(math.cos(math.radians(_middle(all_lats))), 0.01),  # a degree of latitude is longer
    )
    figure.update_layout(plot_bgcolor="#f4f4f0", hovermode="closest")
    return figure


def rating_figure(sections: pd.DataFrame, thresholds: Sequence[float] = (5.0, 4.0, 3.0)) -> go.Figure:
    """One bar per section along chainage (MCI1, 0-10), coloured by its class, with the class bounds."""
    rated = sections[sections["mci_cracking"].notna()] if len(sections) else sections
    figure = go.Figure(
        go.Bar(
            x=(rated["start_chainage_m"] + rated["end_chainage_m"]) / 2,
            y=rated["mci_cracking"],
            width=(rated["end_chainage_m"] - rated["start_chainage_m"]) * 0.95,
            marker_color=rated["rating_colour"],
            hovertext=[_section_hover(row) for row in rated.to_dict("records")],
            hoverinfo="text",
        )
    )
    for name, bound in zip(RATING_CLASSES, thresholds, strict=False):
        figure.add_hline(
            y=bound,
            line_dash="dot",
            line_color="#777",
            annotation_text=f"{name} ≥ {bound:g}",
            annotation_position="top left",
            annotation_font_size=10,
        )
    figure.update_layout(
        height=260,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        xaxis_title="chainage (m)",
        yaxis_title="MCI1",
        yaxis_range=[0, 10.2],
        showlegend=False,
        bargap=0,
    )
    return figure


def summary_tiles(summary: Mapping[str, Any]) -> None:
    """Km surveyed, sections, cracks and the sections per class as metric tiles."""
    classes = summary.get("sections_by_class", {})
    tiles = [
        ("Surveyed (km)", f"{summary.get('surveyed_km', 0.0):.2f}"),
        ("Sections", f"{summary.get('sections', 0)}"),
        ("Cracks", f"{summary.get('cracks', 0)}"),
        *[(name.capitalize(), f"{classes.get(name, 0)}") for name in RATING_CLASSES],
    ]
    for column, (label, value) in zip(st.columns(len(tiles)), tiles, strict=True):
        column.metric(label, value)


def labelled(table: pd.DataFrame, labels: Mapping[str, str]) -> tuple[pd.DataFrame, dict[str, str]]:
    """The labelled columns (schema names kept) and their ``st.column_config`` labels."""
    shown = [column for column in labels if column in table.columns]
    return table[shown], {column: labels[column] for column in shown}


def tables(outcome: SurveyOutcome) -> None:
    """The sections table (schema column names, people's labels) and the findings below it."""
    st.subheader("Sections")
    table, config = labelled(outcome.sections, SECTION_LABELS)
    st.dataframe(table, hide_index=True, key="survey_sections_table", column_config=config)
    if len(outcome.findings):
        with st.expander(f"Findings ({len(outcome.findings)} cracks)"):
            table, config = labelled(outcome.findings, FINDING_LABELS)
            st.dataframe(table, hide_index=True, key="survey_findings_table", column_config=config)


def gallery(frames: Sequence[GalleryFrame]) -> None:
    """The worst sections' frames: overlay and top view side by side."""
    st.subheader("Worst sections")
    if not frames:
        st.caption("No frames to show (nothing rated, or frames were not saved).")
        return
    for start in range(0, len(frames), 2):  # two frames a row: overlay, then its top view
        columns = st.columns([3, 1, 3, 1])
        for number, frame in enumerate(frames[start : start + 2]):
            columns[2 * number].image(frame.overlay_jpeg, caption=frame.caption, width="stretch")
            if frame.top_jpeg is not None:
                columns[2 * number + 1].image(frame.top_jpeg, caption="top view", width="stretch")


def downloads(files: Mapping[str, bytes]) -> None:
    """One button per output file kept in memory."""
    available = [entry for entry in DOWNLOADS if entry[0] in files]
    for column, (key, label, name, mime) in zip(st.columns(len(available)), available, strict=True):
        column.download_button(
            label, data=files[key], file_name=name, mime=mime, key=f"survey_download_{key}", on_click="ignore"
        )


def _ranges(lons: Sequence[float], lats: Sequence[float]) -> tuple[list[float], list[float]]:
    """Longitude and latitude ranges around the points, at least ``MIN_MAP_SPAN_M`` on the ground each way."""
    lon_mid, lat_mid = _middle(lons), _middle(lats)
    metres_per_deg_lat = math.pi * EARTH_RADIUS_M / 180
    metres_per_deg_lon = metres_per_deg_lat * max(math.cos(math.radians(lat_mid)), 0.01)
    finite_lons = [float(v) for v in lons if v is not None and math.isfinite(float(v))] or [lon_mid]
    finite_lats = [float(v) for v in lats if v is not None and math.isfinite(float(v))] or [lat_mid]
    span_m = max(
        (max(finite_lons) - min(finite_lons)) * metres_per_deg_lon,
        (max(finite_lats) - min(finite_lats)) * metres_per_deg_lat,
        MIN_MAP_SPAN_M,
    )
    half_lon, half_lat = 0.55 * span_m / metres_per_deg_lon, 0.55 * span_m / metres_per_deg_lat
    return [lon_mid - half_lon, lon_mid + half_lon], [lat_mid - half_lat, lat_mid + half_lat]


def _middle(values: Sequence[float]) -> float:
    finite = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    return (min(finite) + max(finite)) / 2 if finite else 0.0


def _section_hover(row: Mapping[str, Any]) -> str:
    mci = row.get("mci_cracking")
    rating = "not surveyed" if mci is None or (isinstance(mci, float) and math.isnan(mci)) else f"MCI1 {mci:.1f}"
    return (
        f"section {row.get('section_id')}: {row.get('start_chainage_m', 0):.0f}-{row.get('end_chainage_m', 0):.0f} m, "
        f"{row.get('rating_class')} ({rating}), {row.get('crack_count', 0)} cracks, "
        f"cracking {row.get('cracking_ratio_pct', 0) or 0:.1f} %"
    )


def _finding_hover(row: Mapping[str, Any]) -> str:
    return (
        f"crack {row['finding_id']}: {row['crack_type']}, {row['length_mm']} mm long, "
        f"{row['max_width_mm']} mm wide, {row['severity']} (chainage {row['chainage_m']} m)"
    )
