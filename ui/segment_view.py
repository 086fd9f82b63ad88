"""Rendering pieces of the Home and Segment pages: sample images, results (street: top views), summaries, downloads.

Rendering only: every number shown comes from ``crackseg`` (measurement,
reporting, inspection); this module decides how it is laid out. Widget keys
carry the ``segment_`` prefix and get their defaults from ``SEGMENT_DEFAULTS``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from crackseg.core.locations import PROJECT_ROOT
from crackseg.export.archive import batch_zip_bytes
from crackseg.export.overlays import CRACK_COLOR_RGB, downscale_to_fit, draw_overlay
from crackseg.export.schema import CRACK_LABELS, IMAGE_LABELS
from crackseg.export.tables import images_table
from crackseg.geometry.ground import GroundView
from crackseg.io.image_io import IMAGE_SUFFIXES
from crackseg.measurement.measure import ImageMeasurement
from crackseg.pipeline.inspection import Inspection, InspectionFailure, batch_files, inspection_files, output_stem

SAMPLES_DIR = PROJECT_ROOT / "samples" / "images"
UPLOAD_TYPES = tuple(suffix.lstrip(".") for suffix in (*IMAGE_SUFFIXES, ".zip"))
DISPLAY_MAX_SIDE_PX = 1600
CRACK_COLOR_HEX = "#{:02x}{:02x}{:02x}".format(*CRACK_COLOR_RGB)

SEGMENT_DEFAULTS: dict[str, Any] = {
    "segment_samples": [],
    "segment_alpha": 0.5,
    "segment_show_boxes": True,
    "segment_show_ids": True,
    "segment_shown": 0,
    "segment_table_applied": None,
}

# What each per-image file is called in the download row: (label, file-name suffix, MIME type), by folder.
_FILE_KINDS = {
    "overlays": ("Overlay (JPEG)", "_overlay.jpg", "image/jpeg"),
    "masks": ("Mask (PNG)", "_mask.png", "image/png"),
    "cracks": ("Cracks (CSV)", "_cracks.csv", "text/csv"),
    "json": ("Measurements (JSON)", ".json", "application/json"),
    "reports": ("Report (HTML)", "_report.html", "text/html"),
}
_STREET_FILE_KINDS = {
    "top_views": ("Top view (JPEG)", "_top.jpg", "image/jpeg"),
    "top_masks": ("Top mask (PNG)", "_top_mask.png", "image/png"),
}
# The street view's crack table adds each crack's place on the road; people read these labels.
STREET_CRACK_LABELS = {**CRACK_LABELS, "lateral_m": "right of camera (m)", "forward_m": "ahead (m)"}
RESOLUTION_LABELS = {
    "forward_m": "ahead (m)",
    "frame_row_px": "frame row (px)",
    "across_mm_per_px": "across (mm/px)",
    "along_mm_per_px": "along (mm/px)",
}

_log = logging.getLogger(__name__)


def init_state(defaults: Mapping[str, Any]) -> None:
    """Give every key its default unless the session already holds a value (lists are copied)."""
    for key, value in defaults.items():
        if key not in st.session_state:
            st.session_state[key] = list(value) if isinstance(value, list) else value


def sample_names() -> list[str]:
    """File names of the shipped sample images, sorted; empty when the folder is missing."""
    if not SAMPLES_DIR.is_dir():
        return []
    return sorted(path.name for path in SAMPLES_DIR.iterdir() if path.suffix.lower() in IMAGE_SUFFIXES)


def sample_path(name: str) -> Path:
    """Path of a sample by file name; only names listed by ``sample_names`` are ever passed here."""
    return SAMPLES_DIR / PurePosixPath(name).name


def log_unexpected(error: BaseException, what: str) -> None:
    """Put the traceback of an unexpected error in the server log (users never see one)."""
    _log.error("%s failed", what, exc_info=error)


def show_unexpected_error(error: BaseException, what: str) -> None:
    """A short ``st.error`` instead of a traceback; the traceback goes to the server log."""
    log_unexpected(error, what)
    st.error(f"{what} failed unexpectedly ({type(error).__name__}: {str(error)[:200]}). Try again or other settings.")


def show_failures(failures: Sequence[InspectionFailure]) -> None:
    """One error box naming each file that could not be inspected and why."""
    if not failures:
        return
    noun = "file" if len(failures) == 1 else "files"
    lines = "\n".join(f"- {failure.error}" for failure in failures)
    st.error(f"{len(failures)} {noun} could not be inspected; the others were processed.\n\n{lines}")


def display_rgb(rgb: np.ndarray, max_side_px: int = DISPLAY_MAX_SIDE_PX) -> np.ndarray:
    """``rgb`` ``(H, W, 3)`` uint8 shrunk (area interpolation) so the longer side fits the screen; a new array."""
    return downscale_to_fit(rgb, max_side_px)


def summary_metrics(measurement: ImageMeasurement) -> None:
    """Cracks, total length, crack area and its share of the image, max width and worst severity as metric tiles."""
    calibrated = measurement.mm_per_px is not None
    tiles: list[tuple[str, str, str | None]] = [("Cracks", f"{measurement.count:d}", None)]
    px_length = f"{measurement.total_length_px:,.1f} px"
    px_area = f"{measurement.crack_area_px:,d} px²"
    px_width = f"{measurement.max_width_px:,.1f} px"
    if calibrated:
        tiles += [
            ("Total length (mm)", f"{measurement.total_length_mm:,.1f}", px_length),
            ("Crack area (mm²)", f"{measurement.crack_area_mm2:,.1f}", px_area),
        ]
    else:
        tiles += [("Total length (px)", f"{measurement.total_length_px:,.1f}", None)]
        tiles += [("Crack area (px²)", f"{measurement.crack_area_px:,d}", None)]
    tiles.append(("Crack area (%)", f"{measurement.crack_area_pct:.2f}", "share of the image covered"))
    if calibrated:
        tiles.append(("Max width (mm)", f"{measurement.max_width_mm:,.2f}", px_width))
    else:
        tiles.append(("Max width (px)", f"{measurement.max_width_px:,.1f}", None))
    severity_help = None if calibrated else "severity needs a calibrated scale (mm per pixel)"
    tiles.append(("Worst severity", measurement.worst_severity, severity_help))
    for column, (label, value, help_text) in zip(st.columns(len(tiles)), tiles, strict=True):
        column.metric(label, value, help=help_text)


def overlay_controls() -> tuple[float, bool, bool]:
    """Drawing-only controls ``(alpha, show_boxes, show_ids)``; changing them never reruns the model."""
    left, middle, right = st.columns([2, 1, 1])
    alpha = left.slider("Overlay opacity", 0.0, 1.0, step=0.05, key="segment_alpha")
    show_boxes = middle.toggle("Boxes", key="segment_show_boxes")
    show_ids = right.toggle("Crack ids", key="segment_show_ids")
    return float(alpha), bool(show_boxes), bool(show_ids)


def display_columns(table: pd.DataFrame, labels: dict[str, str]) -> pd.DataFrame:
    """The columns people see: those with a label, without the ones that are empty throughout (mm, uncalibrated)."""
    shown = [column for column in table.columns if column in labels and not table[column].isna().all()]
    return table[shown]


def column_labels(table: pd.DataFrame, labels: dict[str, str]) -> dict[str, str]:
    """``st.column_config`` labels: the schema's names stay the data's, people read these."""
    return {column: labels[column] for column in table.columns}


def inspection_detail(inspection: Inspection, record: dict[str, Any]) -> None:
    """Original and overlay side by side (street: and the top view), the summary tiles, the per-crack table
    (street: with each crack's road position), the street view's resolution table and the downloads."""
    st.subheader(inspection.name)
    alpha, show_boxes, show_ids = overlay_controls()
    overlay = draw_overlay(inspection.rgb, inspection.prediction, alpha=alpha, show_boxes=show_boxes, show_ids=show_ids)
    street = inspection.street
    columns = st.columns(2) if street is None else st.columns([2, 2, 1])
    columns[0].image(display_rgb(inspection.rgb), caption="Original", width="stretch")
    columns[1].image(display_rgb(overlay), caption="Detected cracks", width="stretch")
    if street is not None:
        top = draw_overlay(street.top_rgb, street.top_prediction, alpha=alpha, show_boxes=False, show_ids=show_ids)
        columns[2].image(display_rgb(top), caption=f"Top view ({street.view.mm_per_px:g} mm/px)", width="stretch")
        if street.view.note:
            st.caption(street.view.note)
    summary_metrics(inspection.measurement)
    if inspection.measurement.count:
        st.markdown(f"**Cracks** <span style='color:{CRACK_COLOR_HEX}'>■</span>", unsafe_allow_html=True)
        table = display_columns(inspection.cracks_table(), STREET_CRACK_LABELS)
        st.dataframe(
            table, hide_index=True, key="segment_cracks_table", column_config=column_labels(table, STREET_CRACK_LABELS)
        )
    else:
        st.success("No cracks detected in this image.")
    if street is not None:
        resolution_table(street.view)
    download_row(inspection, record)


def resolution_table(view: GroundView) -> None:
    """What ground size one frame pixel covers at each distance ahead (the camera's real resolution)."""
    with st.expander("Ground resolution by distance (what the camera really resolves)"):
        rows = pd.DataFrame(view.resolution_table(), columns=list(RESOLUTION_LABELS))
        st.dataframe(
            rows, hide_index=True, key="segment_resolution_table", column_config=column_labels(rows, RESOLUTION_LABELS)
        )
        region = view.region
        st.caption(
            f"Inspected region: {region.lateral_m[0]:g} to {region.lateral_m[1]:g} m across, "
            f"{region.forward_m[0]:g} to {region.forward_m[1]:g} m ahead; top view at {view.mm_per_px:g} mm/px; "
            f"horizon at row {view.horizon_row():.0f}."
        )


def download_row(inspection: Inspection, record: dict[str, Any]) -> None:
    """Overlay, mask, CSV, JSON and HTML report of one image (street: and its top view); each file is built
    only when clicked."""
    stem = output_stem(inspection.name)
    st.caption("Downloads for this image (default overlay style)")
    kinds = _FILE_KINDS if inspection.street is None else {**_FILE_KINDS, **_STREET_FILE_KINDS}
    for column, (folder, (label, suffix, mime)) in zip(st.columns(len(kinds)), kinds.items(), strict=True):
        column.download_button(
            label,
            data=_file_builder(inspection, record, folder),
            file_name=f"{stem}{suffix}",
            mime=mime,
            key=f"segment_download_{folder}",
            on_click="ignore",
        )


def _file_builder(inspection: Inspection, record: dict[str, Any], folder: str) -> Callable[[], bytes]:
    def build() -> bytes:
        return next(data for name, data in inspection_files(inspection, record) if name.startswith(folder + "/"))

    return build


def batch_zip_button(
    inspections: Sequence[Inspection], failures: Sequence[InspectionFailure], record: dict[str, Any]
) -> None:
    """One ZIP with the batch tables and every image's files, built when clicked."""

    def build() -> bytes:
        entries = list(batch_files(inspections, failures, record))
        for inspection in inspections:
            entries += inspection_files(inspection, record)
        return batch_zip_bytes(entries)

    st.download_button(
        f"Download everything (ZIP, {len(inspections)} images)",
        data=build,
        file_name="crackseg-inspection.zip",
        mime="application/zip",
        key="segment_download_batch",
        on_click="ignore",
        type="primary",
    )


def batch_summary(inspections: Sequence[Inspection]) -> int:
    """The table across images (click a row to open it) and a picker; returns the index shown in detail."""
    st.subheader(f"Summary of {len(inspections)} images")
    records = [inspection.image_record() for inspection in inspections]
    table = display_columns(images_table(records), IMAGE_LABELS)
    event = st.dataframe(
        table,
        hide_index=True,
        on_select="rerun",
        selection_mode="single-row",
        key="segment_summary_table",
        column_config=column_labels(table, IMAGE_LABELS),
    )
    rows = list(event.selection.rows) if event is not None else []
    selected = rows[0] if rows and 0 <= rows[0] < len(inspections) else None
    if selected is not None and selected != st.session_state["segment_table_applied"]:
        st.session_state["segment_shown"] = selected  # a newly clicked row wins over the picker
    st.session_state["segment_table_applied"] = selected
    if st.session_state["segment_shown"] not in range(len(inspections)):
        st.session_state["segment_shown"] = 0
    return int(
        st.selectbox(
            "Image shown in detail",
            range(len(inspections)),
            format_func=lambda index: f"{index + 1}. {inspections[index].name}",
            key="segment_shown",
        )
    )
