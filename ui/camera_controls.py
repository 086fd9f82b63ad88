"""Street-view camera controls shared by the Segment and Survey pages; they return a ``CameraProfile`` or ``None``.

A profile comes from one of four sources: a shipped profile (``profiles/*.json``
and the built-in phone/dashcam default), an uploaded profile JSON, camera
parameters (height, pitch or horizon row, field of view) with the inspected
region, or four image points of a road rectangle of known size. Every bad value
is one ``st.error`` line (the profile's own message, naming the field) and
``None``; no traceback reaches the page. Widget keys carry the caller's prefix.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import cv2
import numpy as np
import streamlit as st

from crackseg.core.errors import CrackSegError
from crackseg.core.locations import PROJECT_ROOT
from crackseg.geometry.camera import (
    DEFAULT_PROFILE,
    MAX_PROFILE_BYTES,
    CameraProfile,
    CameraProfileError,
    GroundRegion,
    load_profile,
    profile_from_dict,
)
from crackseg.geometry.ground import GroundView
from crackseg.inference.model_loading import view_conf

PROFILES_DIR = PROJECT_ROOT / "profiles"
SOURCES = {
    "shipped": "Shipped profile",
    "upload": "Upload profile (JSON)",
    "camera": "Camera parameters",
    "points": "Four road points",
}
VIEW_LABELS = {"top-down": "Top-down (close-up of the surface)", "street": "Street (camera on a vehicle)"}
POINT_NAMES = ("near-left", "near-right", "far-right", "far-left")
REGION_COLOR_RGB = (0, 200, 255)
HORIZON_COLOR_RGB = (255, 220, 0)

_log = logging.getLogger(__name__)


@st.cache_data(ttl=600, show_spinner=False)
def shipped_profiles() -> dict[str, CameraProfile]:
    """The built-in default first, then every readable ``profiles/*.json`` by name (a broken file is logged)."""
    profiles = {DEFAULT_PROFILE.name: DEFAULT_PROFILE}
    for path in sorted(PROFILES_DIR.glob("*.json")) if PROFILES_DIR.is_dir() else []:
        try:
            profile = load_profile(path)
        except CrackSegError as error:
            _log.warning("skipping shipped camera profile %s: %s", path.name, error)
            continue
        profiles.setdefault(profile.name, profile)
    return profiles


def street_conf_default() -> float:
    """The street view's confidence threshold: its model's card ``views.street.conf`` (chosen on survey val)."""
    return view_conf("street")


def view_control(prefix: str, container: Any = None) -> str:
    """``top-down`` (default) or ``street``."""
    where = container or st.sidebar
    return str(
        where.radio(
            "View",
            tuple(VIEW_LABELS),
            format_func=VIEW_LABELS.get,
            key=f"{prefix}_view",
            help="Street: frames from a vehicle camera are inspected on a metric bird's-eye view of the road region.",
        )
    )


def camera_profile_controls(
    prefix: str, frame_wh: tuple[int, int] | None = None, container: Any = None
) -> CameraProfile | None:
    """Pick or build a camera profile; ``frame_wh`` (the frame being inspected) sizes built profiles.

    Returns ``None`` after one ``st.error`` line when the profile cannot be used.
    """
    where = container or st
    source = where.radio(
        "Camera profile", tuple(SOURCES), format_func=SOURCES.get, horizontal=True, key=f"{prefix}_camera_source"
    )
    try:
        if source == "upload":
            return _uploaded_profile(prefix, where)
        shipped = shipped_profiles()
        if source == "shipped":
            name = where.selectbox("Profile", list(shipped), key=f"{prefix}_camera_shipped")
            profile = shipped[name]
            if profile.notes:
                where.caption(profile.notes)
            return profile
        if source == "camera":
            return _camera_profile(prefix, where, frame_wh or DEFAULT_PROFILE.image_wh)
        return _points_profile(prefix, where, shipped, frame_wh)
    except CrackSegError as error:
        where.error(str(error).splitlines()[0][:300])
        return None


def _uploaded_profile(prefix: str, where: Any) -> CameraProfile | None:
    upload = where.file_uploader(
        "Camera profile JSON",
        type=["json"],
        key=f"{prefix}_camera_upload",
        help=f"As saved by `python -m crackseg camera --save`; at most {MAX_PROFILE_BYTES // 1024} KiB.",
    )
    if upload is None:
        where.info("Upload a camera profile JSON, or choose another source.")
        return None
    if upload.size > MAX_PROFILE_BYTES:
        raise CameraProfileError(f"{upload.name}: camera profile is larger than {MAX_PROFILE_BYTES // 1024} KiB")
    try:
        values = json.loads(upload.getvalue().decode("utf-8"))
    except UnicodeDecodeError:
        raise CameraProfileError(f"{upload.name}: not UTF-8 text") from None
    except json.JSONDecodeError as error:
        raise CameraProfileError(f"{upload.name}: not valid JSON (line {error.lineno}: {error.msg})") from None
    except RecursionError:
        raise CameraProfileError(f"{upload.name}: JSON nested too deeply") from None
    return profile_from_dict(values, upload.name)


def _number(where: Any, label: str, value: float, key: str, *, low: float, high: float, step: float) -> float:
    return float(
        where.number_input(label, min_value=low, max_value=high, value=float(value), step=step, key=key, format="%.2f")
    )


def _region_inputs(prefix: str, where: Any, region: GroundRegion, mm_per_px: float) -> tuple[GroundRegion, float]:
    left, right = where.columns(2)
    lateral = (
        _number(left, "Region left (m)", region.lateral_m[0], f"{prefix}_region_left", low=-50.0, high=50.0, step=0.1),
        _number(
            right, "Region right (m)", region.lateral_m[1], f"{prefix}_region_right", low=-50.0, high=50.0, step=0.1
        ),
    )
    forward = (
        _number(
            left, "Region near (m ahead)", region.forward_m[0], f"{prefix}_region_near", low=0.0, high=200.0, step=0.5
        ),
        _number(
            right, "Region far (m ahead)", region.forward_m[1], f"{prefix}_region_far", low=0.0, high=200.0, step=0.5
        ),
    )
    mm_per_px = _number(
        where, "Ground resolution (mm per pixel)", mm_per_px, f"{prefix}_mm_per_px", low=1.0, high=100.0, step=1.0
    )
    return GroundRegion(lateral, forward), mm_per_px


def _camera_profile(prefix: str, where: Any, frame_wh: tuple[int, int]) -> CameraProfile:
    base = DEFAULT_PROFILE
    left, right = where.columns(2)
    height_m = _number(
        left, "Camera height (m)", base.height_m or 1.3, f"{prefix}_cam_height", low=0.2, high=10.0, step=0.1
    )
    hfov_deg = _number(
        right,
        "Horizontal field of view (°)",
        base.hfov_deg or 70.0,
        f"{prefix}_cam_hfov",
        low=10.5,
        high=169.5,
        step=1.0,
    )
    tilt = where.radio(
        "Tilt given as",
        ("pitch", "horizon"),
        format_func={"pitch": "pitch (° down)", "horizon": "horizon row (px)"}.get,
        horizontal=True,
        key=f"{prefix}_cam_tilt",
    )
    if tilt == "pitch":
        pitch_deg, horizon_row = (
            _number(
                where,
                "Pitch below horizontal (°)",
                base.pitch_deg or 4.0,
                f"{prefix}_cam_pitch",
                low=-29.0,
                high=88.0,
                step=0.5,
            ),
            None,
        )
    else:
        pitch_deg, horizon_row = (
            None,
            _number(
                where,
                "Horizon row (px from the top)",
                frame_wh[1] * 0.4,
                f"{prefix}_cam_horizon_{frame_wh[1]}",
                low=-20000.0,
                high=20000.0,
                step=1.0,
            ),
        )
    region, mm_per_px = _region_inputs(prefix, where, base.ground_region, base.mm_per_px)
    return CameraProfile(
        name="custom-camera",
        image_wh=frame_wh,
        height_m=height_m,
        pitch_deg=pitch_deg,
        horizon_row=horizon_row,
        hfov_deg=hfov_deg,
        region=region,
        mm_per_px=mm_per_px,
    )


def _points_profile(
    prefix: str, where: Any, shipped: dict[str, CameraProfile], frame_wh: tuple[int, int] | None
) -> CameraProfile:
    """Four image points prefilled from a shipped profile's region corners at this frame's size."""
    start = where.selectbox(
        "Start from", list(shipped), key=f"{prefix}_points_start", help="Its region's corners prefill the four points."
    )
    view = GroundView.for_frame(shipped[start], frame_wh or shipped[start].image_wh)
    corners = view.region_corners_px()
    region = view.region
    size = f"{view.frame_wh[0]}x{view.frame_wh[1]}"
    where.caption(f"Image points (px in the {size} frame) of a road rectangle: near edge first, then the far edge.")
    points = []
    for index, name in enumerate(POINT_NAMES):
        left, right = where.columns(2)
        key = f"{prefix}_pt{index}_{start}_{size}"
        x = _number(left, f"{name} x", corners[index][0], f"{key}_x", low=-20000.0, high=20000.0, step=1.0)
        y = _number(right, f"{name} y", corners[index][1], f"{key}_y", low=-20000.0, high=20000.0, step=1.0)
        points.append((x, y))
    left, middle, right = where.columns(3)
    width_m = _number(left, "Width (m)", region.width_m, f"{prefix}_rect_width", low=0.1, high=100.0, step=0.1)
    length_m = _number(middle, "Length (m)", region.length_m, f"{prefix}_rect_length", low=0.1, high=200.0, step=0.5)
    near_m = _number(
        right, "Near edge (m ahead)", region.forward_m[0], f"{prefix}_rect_near", low=0.0, high=200.0, step=0.5
    )
    mm_per_px = _number(
        where, "Ground resolution (mm per pixel)", view.mm_per_px, f"{prefix}_points_mm", low=1.0, high=100.0, step=1.0
    )
    return CameraProfile(
        name="custom-points",
        image_wh=view.frame_wh,
        points_px=tuple(points),
        rectangle_m=(width_m, length_m),
        near_m=near_m,
        mm_per_px=mm_per_px,
    )


def region_preview(rgb: np.ndarray, profile: CameraProfile, container: Any = None) -> GroundView | None:
    """The frame with the region outlined and the horizon, beside its top view; ``None`` after an error line."""
    where = container or st
    height, width = rgb.shape[:2]
    try:
        view = GroundView.for_frame(profile, (width, height))
    except CrackSegError as error:
        where.error(str(error).splitlines()[0][:300])
        return None
    left, right = where.columns([3, 2])
    outlined = outline_region(rgb, view.region_corners_px(), view.horizon_row())
    left.image(outlined, caption=f"Region on the frame ({width}x{height}){'; ' + view.note if view.note else ''}")
    top = view.to_top(rgb)
    right.image(top, caption=f"Top view ({top.shape[1]}x{top.shape[0]} px at {view.mm_per_px:g} mm/px)")
    return view


def outline_region(rgb: np.ndarray, corners_px: np.ndarray, horizon_row: float) -> np.ndarray:
    """A copy of ``rgb`` ``(H, W, 3)`` uint8 with the region's outline ``(4, 2)`` px and a dashed horizon row."""
    out = rgb.copy()
    height, width = out.shape[:2]
    thickness = max(2, round(max(height, width) / 400))
    points = np.round(np.asarray(corners_px, dtype=np.float64) * 16).astype(np.int32)
    cv2.polylines(out, [points], True, REGION_COLOR_RGB, thickness, lineType=cv2.LINE_AA, shift=4)
    if np.isfinite(horizon_row) and 0 <= horizon_row < height:
        row = int(round(horizon_row))
        dash = max(8, width // 60)
        for x in range(0, width, 2 * dash):
            cv2.line(out, (x, row), (min(width - 1, x + dash), row), HORIZON_COLOR_RGB, thickness)
    return out
