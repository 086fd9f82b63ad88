"""What users take away: overlays, PNG/JPEG bytes, CSV/JSON tables, a one-page HTML report, a ZIP.

Drawing functions return a NEW ``uint8 (H, W, 3)`` RGB image and never change
their input. Text is drawn with OpenCV's built-in Hershey font (no font files).
The HTML report is self-contained (images as base64 data URIs, inline CSS, no
scripts, no external links) and escapes every user-provided string.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import PurePosixPath
from typing import Any

import cv2
import numpy as np
import pandas as pd
from PIL import Image

from crackseg.measurement import CRACK_TYPES, ImageMeasurement, cracks_table
from crackseg.prediction import CrackPrediction

CRACK_COLOR_RGB = (255, 64, 0)
# Okabe-Ito-like colours, distinguishable with the common colour-vision deficiencies.
TP_COLOR_RGB = (0, 158, 115)  # bluish green: crack found
FP_COLOR_RGB = (204, 0, 153)  # magenta: predicted, not in the ground truth
FN_COLOR_RGB = (0, 114, 178)  # blue: missed crack
REPORT_MAX_SIDE_PX = 1600


# --------------------------------------------------------------------------- drawing


def _check_rgb(rgb: np.ndarray) -> None:
    if not isinstance(rgb, np.ndarray) or rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        shape = getattr(rgb, "shape", None)
        dtype = getattr(rgb, "dtype", type(rgb).__name__)
        raise ValueError(f"rgb must be (H, W, 3) uint8, got shape {shape} dtype {dtype}")


def _check_mask(mask: np.ndarray, shape: tuple[int, int], name: str) -> np.ndarray:
    mask = np.asarray(mask)
    if mask.shape != shape:
        raise ValueError(f"{name} must be {shape} to match the image, got {mask.shape}")
    if mask.dtype != bool:
        raise ValueError(f"{name} must be bool, got dtype {mask.dtype}")
    return mask


def _check_alpha(alpha: float) -> float:
    if not (isinstance(alpha, (int, float)) and 0.0 <= alpha <= 1.0):
        raise ValueError(f"alpha must be in [0, 1], got {alpha!r}")
    return float(alpha)


def _tint(out: np.ndarray, mask: np.ndarray, color_rgb: tuple[int, int, int], alpha: float) -> None:
    """Blend ``color_rgb`` into ``out`` (a private working copy) where ``mask`` is True."""
    if not mask.any():
        return
    pixels = out[mask].astype(np.float32)
    blended = pixels * (1.0 - alpha) + np.asarray(color_rgb, np.float32) * alpha
    out[mask] = np.clip(np.rint(blended), 0, 255).astype(np.uint8)


def _line_thickness(shape: tuple[int, ...]) -> int:
    return max(1, int(round(min(shape[0], shape[1]) / 500)))


def draw_overlay(
    rgb: np.ndarray,
    prediction: CrackPrediction,
    *,
    alpha: float = 0.5,
    show_boxes: bool = True,
    show_ids: bool = True,
    crack_ids: Sequence[int] | None = None,
) -> np.ndarray:
    """Draw predicted cracks on a copy of ``rgb`` ``(H, W, 3)`` uint8; returns a new array of the same shape.

    Mask pixels are blended with ``CRACK_COLOR_RGB`` at ``alpha`` (pixels off
    every mask are untouched unless boxes/ids are drawn), each instance gets a
    1-px outline on its own edge pixels, and optionally its box and id label. Ids default to
    ``i + 1`` for instance ``i``, as ``measure_prediction`` numbers them.
    Raises ``ValueError`` when the image, the masks or ``crack_ids`` do not match.
    """
    _check_rgb(rgb)
    alpha = _check_alpha(alpha)
    height, width = rgb.shape[:2]
    if prediction.resolution_wh != (width, height):
        raise ValueError(f"prediction is for {prediction.resolution_wh} (w, h) but the image is {(width, height)}")
    ids = list(range(1, len(prediction) + 1)) if crack_ids is None else [int(value) for value in crack_ids]
    if len(ids) != len(prediction):
        raise ValueError(f"crack_ids has {len(ids)} entries for {len(prediction)} cracks")

    out = np.ascontiguousarray(rgb.copy())
    _tint(out, prediction.union_mask, CRACK_COLOR_RGB, alpha)
    thickness = _line_thickness(out.shape)
    for mask in prediction.masks:
        contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        cv2.drawContours(out, contours, -1, CRACK_COLOR_RGB, thickness=1)
    for index in range(len(prediction)):
        x1, y1, x2, y2 = (int(round(value)) for value in prediction.xyxy[index])
        if show_boxes:
            cv2.rectangle(out, (x1, y1), (max(x1, x2 - 1), max(y1, y2 - 1)), CRACK_COLOR_RGB, thickness)
        if show_ids:
            _draw_label(out, f"#{ids[index]}", (x1, y1), thickness)
    return out


def _draw_label(out: np.ndarray, text: str, top_left_xy: tuple[int, int], thickness: int) -> None:
    """White text on a crack-coloured tag just above (or inside, at the top edge) ``top_left_xy``."""
    scale = 0.4 * thickness + 0.1
    (text_w, text_h), baseline = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
    height, width = out.shape[:2]
    x = min(max(top_left_xy[0], 0), max(width - text_w - 4, 0))
    y_top = top_left_xy[1] - text_h - baseline - 4
    if y_top < 0:
        y_top = min(max(top_left_xy[1], 0), max(height - text_h - baseline - 4, 0))
    cv2.rectangle(out, (x, y_top), (x + text_w + 4, y_top + text_h + baseline + 4), CRACK_COLOR_RGB, -1)
    origin = (x + 2, y_top + text_h + 2)
    cv2.putText(out, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), thickness, cv2.LINE_AA)


def draw_error_overlay(
    rgb: np.ndarray, pred_mask: np.ndarray, truth_mask: np.ndarray, *, alpha: float = 0.6
) -> np.ndarray:
    """Colour true positives, false positives and misses on a copy of ``rgb`` ``(H, W, 3)`` uint8.

    ``pred_mask`` and ``truth_mask`` are ``(H, W)`` bool. TP pixels get
    ``TP_COLOR_RGB``, FP ``FP_COLOR_RGB``, FN ``FN_COLOR_RGB``, each blended at
    ``alpha`` (1.0 paints the exact colour); true negatives are untouched.
    Returns a new ``(H, W, 3)`` uint8 array.
    """
    _check_rgb(rgb)
    alpha = _check_alpha(alpha)
    shape = rgb.shape[:2]
    pred = _check_mask(pred_mask, shape, "pred_mask")
    truth = _check_mask(truth_mask, shape, "truth_mask")
    out = rgb.copy()
    _tint(out, pred & truth, TP_COLOR_RGB, alpha)
    _tint(out, pred & ~truth, FP_COLOR_RGB, alpha)
    _tint(out, ~pred & truth, FN_COLOR_RGB, alpha)
    return out


# --------------------------------------------------------------------------- image bytes


def mask_to_png_bytes(mask: np.ndarray) -> bytes:
    """``(H, W)`` bool mask -> single-channel 8-bit PNG with 0 (background) and 255 (crack)."""
    mask = np.asarray(mask)
    if mask.ndim != 2 or mask.dtype != bool:
        raise ValueError(f"mask must be (H, W) bool, got shape {mask.shape} dtype {mask.dtype}")
    buffer = io.BytesIO()
    Image.fromarray(mask.astype(np.uint8) * 255).save(buffer, format="PNG")
    return buffer.getvalue()


def rgb_to_png_bytes(rgb: np.ndarray) -> bytes:
    """``(H, W, 3)`` uint8 RGB -> PNG bytes (lossless)."""
    _check_rgb(rgb)
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb)).save(buffer, format="PNG")
    return buffer.getvalue()


def rgb_to_jpeg_bytes(rgb: np.ndarray, quality: int = 90) -> bytes:
    """``(H, W, 3)`` uint8 RGB -> JPEG bytes at ``quality`` (1..100)."""
    _check_rgb(rgb)
    if not (isinstance(quality, int) and 1 <= quality <= 100):
        raise ValueError(f"quality must be an int in [1, 100], got {quality!r}")
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb)).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


# --------------------------------------------------------------------------- tables and JSON


def _csv_safe(text: str) -> str:
    """Neutralise spreadsheet formulas in a user-provided cell (``=cmd|...`` etc.)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def cracks_csv_bytes(measurement: ImageMeasurement, image_name: str) -> bytes:
    """Per-crack table (``cracks_table`` with an ``image`` column first) as UTF-8 CSV bytes."""
    table = cracks_table(measurement)
    table.insert(0, "image", _csv_safe(str(image_name)))
    return table.to_csv(index=False).encode("utf-8")


def images_summary_table(rows: Sequence[tuple[str, ImageMeasurement]]) -> pd.DataFrame:
    """One row per ``(image name, measurement)``: counts, totals, density, worst severity, type counts.

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
        record["density (%)"] = round(100.0 * measurement.crack_density, 3)
        record["max width (px)"] = round(measurement.max_width_px, 1)
        if calibrated:
            record["max width (mm)"] = _rounded(measurement.max_width_mm, 2)
        record["worst severity"] = measurement.worst_severity
        record |= measurement.type_counts
        records.append(record)
    columns = ["image", "cracks", "total length (px)"]
    columns += ["total length (mm)"] if calibrated else []
    columns += ["crack area (px²)"] + (["crack area (mm²)"] if calibrated else [])
    columns += ["density (%)", "max width (px)"] + (["max width (mm)"] if calibrated else [])
    columns += ["worst severity", *CRACK_TYPES]
    return pd.DataFrame(records, columns=columns)


def _rounded(value: float | None, digits: int) -> float | None:
    return None if value is None else round(float(value), digits)


def _jsonable(value: Any) -> Any:
    """Plain JSON types: numpy scalars/arrays unwrapped, tuples as lists, NaN/inf as None."""
    if isinstance(value, Mapping):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_jsonable(item) for item in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(float(value)) else None
    if value is None or isinstance(value, str):
        return value
    return str(value)


def measurement_json(measurement: ImageMeasurement, image_name: str, settings_used: Mapping[str, Any]) -> str:
    """``{"image", "settings", "cracks", "totals"}`` as indented JSON text (strict: no NaN)."""
    document = {"image": str(image_name), "settings": _jsonable(dict(settings_used)), **measurement.to_dict()}
    return json.dumps(_jsonable(document), indent=2, ensure_ascii=False, allow_nan=False)


# --------------------------------------------------------------------------- HTML report

_REPORT_CSS = """
* { box-sizing: border-box; }
body { font-family: -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; color: #1d232a;
       margin: 24px auto; max-width: 1100px; padding: 0 16px; font-size: 14px; line-height: 1.4; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 16px; margin: 20px 0 8px; border-bottom: 1px solid #ccd3da; padding-bottom: 4px; }
.meta { color: #55606b; margin: 0 0 12px; }
.images { display: grid; grid-template-columns: 1fr 1fr; gap: 12px; }
figure { margin: 0; }
figure img { width: 100%; height: auto; border: 1px solid #ccd3da; }
figcaption { font-size: 12px; color: #55606b; text-align: center; }
.columns { display: grid; grid-template-columns: 1fr 1fr; gap: 16px; }
table { border-collapse: collapse; width: 100%; font-size: 12.5px; }
th, td { border: 1px solid #d8dee4; padding: 3px 6px; text-align: left; vertical-align: top; }
th { background: #f1f4f7; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.empty { color: #55606b; font-style: italic; }
footer { margin-top: 24px; font-size: 11px; color: #7a848e; }
@page { size: A4; margin: 12mm; }
@media print {
  body { margin: 0; max-width: none; font-size: 11px; }
  h2 { break-after: avoid; }
  figure, tr { break-inside: avoid; }
  th { background: #eee !important; -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
"""

_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"


def _format_cell(value: Any) -> tuple[str, bool]:
    """``(escaped text, is_number)`` for a table cell; None/NaN show as an en dash."""
    if value is None or (isinstance(value, (float, np.floating)) and not math.isfinite(float(value))):
        return "–", False
    if isinstance(value, (bool, np.bool_)):
        return ("yes" if value else "no"), False
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,}", True
    if isinstance(value, (float, np.floating)):
        return f"{float(value):,.4g}" if abs(float(value)) < 1 else f"{float(value):,.2f}", True
    if isinstance(value, Mapping):
        text = ", ".join(f"{key}: {item}" for key, item in value.items())
    elif isinstance(value, (list, tuple)):
        text = " × ".join(str(item) for item in value) if len(value) == 2 else ", ".join(map(str, value))
    else:
        text = str(value)
    return html.escape(text), False


def _table_html(columns: Sequence[Any], rows: Iterable[Sequence[Any]]) -> str:
    head = "".join(f"<th>{html.escape(str(column))}</th>" for column in columns)
    body = []
    for row in rows:
        cells = []
        for value in row:
            text, numeric = _format_cell(value)
            cells.append(f'<td class="num">{text}</td>' if numeric else f"<td>{text}</td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _key_value_html(items: Mapping[str, Any]) -> str:
    if not items:
        return '<p class="empty">Not recorded.</p>'
    rows = "".join(f"<tr><th>{html.escape(str(key))}</th>{_cell_td(value)}</tr>" for key, value in items.items())
    return f"<table><tbody>{rows}</tbody></table>"


def _cell_td(value: Any) -> str:
    text, numeric = _format_cell(value)
    return f'<td class="num">{text}</td>' if numeric else f"<td>{text}</td>"


def _short_model_info(model_info: Mapping[str, Any]) -> dict[str, Any]:
    """Model facts for the report; any ``*sha256*`` value is shortened to 12 hex characters."""
    info: dict[str, Any] = {}
    for key, value in model_info.items():
        if "sha256" in str(key).lower() and isinstance(value, str) and len(value) > 12:
            value = value[:12]
        info[str(key)] = value
    return info


def downscale_to_fit(rgb: np.ndarray, max_side_px: int) -> np.ndarray:
    """``rgb`` ``(H, W, 3)`` uint8 shrunk (area interpolation) so its longer side is at most ``max_side_px``.

    Returns the input itself when it already fits, else a new array.
    """
    height, width = rgb.shape[:2]
    scale = max_side_px / max(height, width)
    if scale >= 1:
        return rgb
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)


def _data_uri_jpeg(rgb: np.ndarray, max_side_px: int) -> str:
    encoded = base64.b64encode(rgb_to_jpeg_bytes(downscale_to_fit(rgb, max_side_px), quality=88)).decode("ascii")
    return f"data:image/jpeg;base64,{encoded}"


def _summary_items(measurement: ImageMeasurement) -> dict[str, Any]:
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
    items["Crack density (%)"] = round(100.0 * measurement.crack_density, 3)
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
    summary and per-crack table; print-friendly CSS. No scripts, no external
    resources (a Content-Security-Policy forbids them), and every user string
    is HTML-escaped.
    """
    _check_rgb(rgb)
    _check_rgb(overlay_rgb)
    when = (generated_at or datetime.now().astimezone()).strftime("%Y-%m-%d %H:%M %Z").strip()
    name = html.escape(str(image_name))
    table = cracks_table(measurement)
    if len(table):
        cracks_html = _table_html(list(table.columns), table.itertuples(index=False, name=None))
    else:
        cracks_html = '<p class="empty">No cracks detected.</p>'
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{_CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Crack inspection report: {name}</title>
<style>{_REPORT_CSS}</style>
</head>
<body>
<header>
<h1>Crack inspection report</h1>
<p class="meta">Image <strong>{name}</strong> &middot; generated {html.escape(when)} by CrackSeg</p>
</header>
<section class="images">
<figure><img src="{_data_uri_jpeg(rgb, max_image_side_px)}" alt="Original image">
<figcaption>Original</figcaption></figure>
<figure><img src="{_data_uri_jpeg(overlay_rgb, max_image_side_px)}" alt="Detected cracks">
<figcaption>Detected cracks</figcaption></figure>
</section>
<section class="columns">
<div><h2>Summary</h2>{_key_value_html(_summary_items(measurement))}</div>
<div><h2>Model</h2>{_key_value_html(_short_model_info(model_info))}
<h2>Settings</h2>{_key_value_html(dict(settings_used))}</div>
</section>
<section>
<h2>Cracks</h2>
{cracks_html}
</section>
<footer>Measurements are estimates from an automatic segmentation; widths below about 2 px are
unreliable. Severity needs a calibrated scale (mm per pixel).</footer>
</body>
</html>
"""


# --------------------------------------------------------------------------- ZIP


def safe_member_name(name: str) -> str:
    """A relative ZIP member name: ``\\`` -> ``/``; drive letters, ``..``, ``.`` and leading ``/`` removed.

    Control characters are dropped; an empty result becomes ``"file"``.
    """
    cleaned = "".join(char for char in str(name) if char.isprintable()).replace("\\", "/")
    parts = [part for part in PurePosixPath(cleaned).parts if part not in ("", "/", ".", "..")]
    parts = [part.replace(":", "_") for part in parts]
    parts = [part for part in parts if part.strip(" .")]
    return "/".join(parts) or "file"


def batch_zip_bytes(entries: Iterable[tuple[str, bytes]]) -> bytes:
    """Build a ZIP (deflated, in memory) from ``(member name, data)`` pairs.

    Names go through ``safe_member_name``; a repeated name gets ``-2``, ``-3``...
    before its suffix so nothing is overwritten on extraction.
    """
    buffer = io.BytesIO()
    used: set[str] = set()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for raw_name, data in entries:
            name = _unique(safe_member_name(raw_name), used)
            used.add(name)
            archive.writestr(name, bytes(data))
    return buffer.getvalue()


def _unique(name: str, used: set[str]) -> str:
    if name not in used:
        return name
    path = PurePosixPath(name)
    counter = 2
    while True:
        candidate = str(path.with_name(f"{path.stem}-{counter}{path.suffix}"))
        if candidate not in used:
            return candidate
        counter += 1
