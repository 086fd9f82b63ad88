"""The survey report: one self-contained HTML file (Jinja2, autoescape) with an offline map.

The map is inline SVG drawn from the sections' and findings' coordinates
(equirectangular projection about the route's centre): no tiles, no scripts, no
network; a Content-Security-Policy forbids anything but inline styles and
``data:`` images. Beside it: the rating along chainage (one bar per section,
MCI1 on 0-10), the worst sections with the frames their cracks came from, the
settings and the model.
"""

from __future__ import annotations

import base64
import math
from pathlib import Path
from typing import Any

import cv2
import jinja2
import numpy as np
import pandas as pd

from crackseg.export.encoding import rgb_to_jpeg_bytes
from crackseg.export.overlays import downscale_to_fit
from crackseg.survey.rating import RATING_CLASSES, RATING_COLOURS
from crackseg.survey.route import EARTH_RADIUS_M, Route

TEMPLATE_DIR = Path(__file__).parent / "templates"
CONTENT_SECURITY_POLICY = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
MAP_WH = (760, 420)
CHART_WH = (760, 200)
WORST_SECTIONS = 5
FRAMES_PER_SECTION = 3


def write_report(
    out_dir: Path, sections: pd.DataFrame, findings: pd.DataFrame, route: Route, summary: dict[str, Any]
) -> Path:
    """Render ``report.html`` in ``out_dir`` and return its path."""
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR), autoescape=True, undefined=jinja2.StrictUndefined
    )
    html = environment.get_template("survey_report.html.j2").render(
        csp=CONTENT_SECURITY_POLICY,
        summary=summary,
        map=map_svg_items(sections, findings, route),
        chart=chart_items(sections),
        worst=_worst_sections(out_dir, sections, findings),
        legend=[(name, RATING_COLOURS[name]) for name in RATING_CLASSES],
        sections=sections.to_dict("records"),
        columns=list(sections.columns),
        map_wh=MAP_WH,
        chart_wh=CHART_WH,
    )
    path = out_dir / "report.html"
    path.write_text(html, encoding="utf-8")
    return path


def map_svg_items(sections: pd.DataFrame, findings: pd.DataFrame, route: Route) -> dict[str, Any]:
    """Polylines (``points`` strings, colour) per section and circles per finding, in SVG pixels."""
    if not route.has_positions or not len(sections):
        return {"lines": [], "points": []}
    lines_ll = [
        (route.polyline(float(r["start_chainage_m"]), float(r["end_chainage_m"])), r["rating_colour"], r["section_id"])
        for r in sections.to_dict("records")
    ]
    found_ll = findings[["lon", "lat"]].astype(float).to_numpy() if len(findings) else np.zeros((0, 2))
    all_ll = np.concatenate([np.array([p for line, _, _ in lines_ll for p in line]).reshape(-1, 2), found_ll])
    lon0, lat0 = float(np.nanmean(all_ll[:, 0])), float(np.nanmean(all_ll[:, 1]))

    def project(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = np.radians(np.asarray(lon, float) - lon0) * math.cos(math.radians(lat0)) * EARTH_RADIUS_M
        y = np.radians(np.asarray(lat, float) - lat0) * EARTH_RADIUS_M
        return x, y

    xs, ys = project(all_ll[:, 0], all_ll[:, 1])
    span = max(float(np.nanmax(xs) - np.nanmin(xs)), float(np.nanmax(ys) - np.nanmin(ys)), 1.0)
    margin = 20
    scale = min((MAP_WH[0] - 2 * margin) / span, (MAP_WH[1] - 2 * margin) / span)
    cx, cy = (np.nanmax(xs) + np.nanmin(xs)) / 2, (np.nanmax(ys) + np.nanmin(ys)) / 2

    def to_px(lon: Any, lat: Any) -> tuple[np.ndarray, np.ndarray]:
        x, y = project(lon, lat)
        return MAP_WH[0] / 2 + (x - cx) * scale, MAP_WH[1] / 2 - (y - cy) * scale

    lines = []
    for line, colour, section_id in lines_ll:
        px, py = to_px([p[0] for p in line], [p[1] for p in line])
        points = " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(px, py, strict=True))
        lines.append({"points": points, "colour": colour, "section_id": int(section_id)})
    points = []
    if len(findings):
        px, py = to_px(findings["lon"].astype(float), findings["lat"].astype(float))
        for x, y, row in zip(px, py, findings.to_dict("records"), strict=True):
            if np.isfinite(x) and np.isfinite(y):
                points.append({"x": round(float(x), 1), "y": round(float(y), 1), "title": _finding_title(row)})
    return {"lines": lines, "points": points, "scale_m": round(100 / scale, 1) if scale else None}


def chart_items(sections: pd.DataFrame) -> list[dict[str, Any]]:
    """One bar per section: x and width from chainage, height from MCI1 (0-10)."""
    if not len(sections):
        return []
    start, end = float(sections["start_chainage_m"].min()), float(sections["end_chainage_m"].max())
    width = max(end - start, 1e-9)
    bars = []
    for row in sections.to_dict("records"):
        index = row["mci_cracking"]
        height = 0.0 if index is None or not np.isfinite(index) else float(index) / 10 * (CHART_WH[1] - 20)
        x = (float(row["start_chainage_m"]) - start) / width * CHART_WH[0]
        w = max(1.0, (float(row["end_chainage_m"]) - float(row["start_chainage_m"])) / width * CHART_WH[0] - 1)
        bars.append(
            {
                "x": round(x, 1),
                "w": round(w, 1),
                "y": round(CHART_WH[1] - height, 1),
                "h": round(height, 1),
                "colour": row["rating_colour"],
                "title": f"section {row['section_id']}: MCI1 {index}, {row['rating_class']}",
            }
        )
    return bars


def _worst_sections(out_dir: Path, sections: pd.DataFrame, findings: pd.DataFrame) -> list[dict[str, Any]]:
    rated = sections[sections["mci_cracking"].notna()].sort_values("mci_cracking", kind="stable")
    worst = []
    for row in rated.head(WORST_SECTIONS).to_dict("records"):
        mine = findings[findings["section_id"] == row["section_id"]] if len(findings) else findings
        frames = list(dict.fromkeys(mine["frame"].tolist()))[:FRAMES_PER_SECTION] if len(mine) else []
        images = [uri for uri in (_frame_uri(out_dir, name) for name in frames) if uri]
        worst.append({"row": row, "images": images})
    return worst


def _frame_uri(out_dir: Path, frame: str) -> str | None:
    stem = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in Path(frame).stem)[:100]
    matches = sorted((out_dir / "frames" / "overlays").glob(f"*_{stem}.jpg"))
    if not matches:
        return None
    bgr = cv2.imdecode(np.frombuffer(matches[0].read_bytes(), np.uint8), cv2.IMREAD_COLOR)
    if bgr is None:
        return None
    small = downscale_to_fit(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), 480)
    return "data:image/jpeg;base64," + base64.b64encode(rgb_to_jpeg_bytes(small, quality=85)).decode("ascii")


def _finding_title(row: dict[str, Any]) -> str:
    return (
        f"#{row['finding_id']} {row['crack_type']}, {row['length_mm']} mm long, "
        f"{row['max_width_mm']} mm wide, {row['severity']} (chainage {row['chainage_m']} m)"
    )
