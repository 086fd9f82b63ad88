"""The one-page HTML inspection report of one image, from a Jinja2 template with autoescape.

Self-contained: images are base64 JPEG data URIs, the CSS is inline, there are no
scripts and no external links (a Content-Security-Policy forbids them). Every value
goes through Jinja2's autoescape, so a hostile file name or setting cannot inject
markup; nothing is escaped by hand.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Mapping
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from crackseg.export.encoding import rgb_to_jpeg_bytes
from crackseg.export.overlays import check_rgb, downscale_to_fit
from crackseg.export.schema import CRACK_LABELS
from crackseg.export.tables import cracks_table
from crackseg.measurement.measure import ImageMeasurement

if TYPE_CHECKING:
    import jinja2

REPORT_MAX_SIDE_PX = 1600
TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
CONTENT_SECURITY_POLICY = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    """The template environment: files from ``templates/``, autoescape on for every template, strict undefined.

    jinja2 is imported here, on the first report: a large batch writes none and does not pay for it.
    """
    import jinja2

    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    environment.globals["format_cell"] = format_cell
    return environment


def format_cell(value: Any) -> tuple[str, bool]:
    """``(text, is_number)`` for a table cell (escaped later by the template); None/NaN show as an en dash."""
    if value is None or (isinstance(value, (float, np.floating)) and not math.isfinite(float(value))):
        return "–", False
    if isinstance(value, (bool, np.bool_)):
        return ("yes" if value else "no"), False
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,}", True
    if isinstance(value, (float, np.floating)):
        return (f"{float(value):,.4g}" if abs(float(value)) < 1 else f"{float(value):,.2f}"), True
    if isinstance(value, Mapping):
        return ", ".join(f"{key}: {item}" for key, item in value.items()), False
    if isinstance(value, (list, tuple)):
        return (" × ".join(map(str, value)) if len(value) == 2 else ", ".join(map(str, value))), False
    return str(value), False


def _short_model_info(model_info: Mapping[str, Any]) -> dict[str, Any]:
    """Model facts for the report; any ``*sha256*`` value is shortened to 12 hex characters."""
    info: dict[str, Any] = {}
    for key, value in model_info.items():
        if "sha256" in str(key).lower() and isinstance(value, str) and len(value) > 12:
            value = value[:12]
        info[str(key)] = value
    return info


def _data_uri_jpeg(rgb: np.ndarray, max_side_px: int) -> str:
    encoded = base64.b64encode(rgb_to_jpeg_bytes(downscale_to_fit(rgb, max_side_px), quality=88)).decode("ascii")
    return f"data:image/jpeg;base64,{encoded}"


def _rounded(value: float | None, digits: int) -> float | None:
    return None if value is None else round(float(value), digits)


def summary_items(measurement: ImageMeasurement) -> dict[str, Any]:
    """The report's summary: counts, totals and the worst severity, in people's words (mm only when calibrated)."""
    calibrated = measurement.mm_per_px is not None
    items: dict[str, Any] = {
        "Cracks": measurement.count,
        "Image size (px)": measurement.resolution_wh,
        "Scale (mm/px)": measurement.mm_per_px if calibrated else "uncalibrated (pixel units only)",
        "Total length (px)": round(measurement.total_length_px, 1),
    }
    if calibrated:
        items["Total length (mm)"] = _rounded(measurement.total_length_mm, 1)
    items["Crack area (px²)"] = measurement.crack_area_px
    if calibrated:
        items["Crack area (mm²)"] = _rounded(measurement.crack_area_mm2, 1)
    items["Crack area (% of image)"] = round(measurement.crack_area_pct, 3)
    items["Max width (px)"] = round(measurement.max_width_px, 1)
    if calibrated:
        items["Max width (mm)"] = _rounded(measurement.max_width_mm, 2)
    items["Worst severity"] = measurement.worst_severity
    items["Types"] = {name: count for name, count in measurement.type_counts.items() if count} or "none"
    return items


def inspection_report_html(
    *,
    image_name: str,
    rgb: np.ndarray,
    overlay_rgb: np.ndarray,
    measurement: ImageMeasurement,
    model_info: Mapping[str, Any],
    settings_used: Mapping[str, Any],
    generated_at: datetime | None = None,
    max_image_side_px: int = REPORT_MAX_SIDE_PX,
) -> str:
    """A one-page, self-contained HTML inspection report for one image.

    ``rgb`` and ``overlay_rgb`` are ``(H, W, 3)`` uint8; they are embedded as
    base64 JPEG data URIs, downscaled so the longer side is at most
    ``max_image_side_px``. Contains: title, date (``generated_at``, default
    now), image name, model facts, settings, original and overlay side by side,
    summary and per-crack table; print-friendly CSS.
    """
    check_rgb(rgb)
    check_rgb(overlay_rgb)
    table = cracks_table(measurement)
    if measurement.mm_per_px is None:  # uncalibrated: the mm columns would be empty
        table = table.drop(columns=[column for column in table.columns if column.endswith(("_mm", "_mm2"))])
    table = table[[column for column in table.columns if column in CRACK_LABELS]]
    return (
        _environment()
        .get_template("inspection_report.html.j2")
        .render(
            csp=CONTENT_SECURITY_POLICY,
            image_name=str(image_name),
            generated=(generated_at or datetime.now().astimezone()).strftime("%Y-%m-%d %H:%M %Z").strip(),
            original_uri=_data_uri_jpeg(rgb, max_image_side_px),
            overlay_uri=_data_uri_jpeg(overlay_rgb, max_image_side_px),
            summary=summary_items(measurement),
            model=_short_model_info(model_info),
            settings=dict(settings_used),
            crack_columns=[CRACK_LABELS[column] for column in table.columns],
            crack_rows=list(table.itertuples(index=False, name=None)),
        )
    )
