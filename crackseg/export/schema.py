"""The output tables' columns: one fixed set of snake_case names with unit suffixes, for programs to rely on.

Every table CrackSeg writes (CSV, Parquet, JSON) has exactly these columns, in this
order, in every run: a value that does not apply is empty (``mm`` columns without a
calibration, measurements of an image that failed), never a missing column. Names are
ASCII snake_case; the unit is the suffix (``_px``, ``_px2``, ``_mm``, ``_mm2``,
``_deg``, ``_pct``). People-friendly labels are a display concern (the app's
``st.column_config``). The README's "Output tables" section documents each column.
"""

from __future__ import annotations

CRACK_COLUMNS: dict[str, str] = {
    "image": "the input's name relative to the argument given (ZIP members as archive/member)",
    "source_path": "the input's full path as given (a ZIP member as archive path/member)",
    "crack_id": "1-based number of the crack in its image (as on the overlay)",
    "length_px": "length along the skeleton, pixels",
    "length_mm": "length, millimetres (empty without a calibration)",
    "mean_width_px": "mean full width, pixels",
    "mean_width_mm": "mean full width, millimetres",
    "max_width_px": "largest full width, pixels",
    "max_width_mm": "largest full width, millimetres",
    "area_px2": "crack pixels",
    "area_mm2": "crack area, square millimetres",
    "orientation_deg": "principal axis from the direction of travel (image vertical), degrees in (-90, 90]",
    "crack_type": "longitudinal, transverse, diagonal or network",
    "severity": "low, medium or high from the mean width (unknown without a calibration)",
    "confidence": "the model's confidence in the crack (0-1)",
    "lateral_m": "street view: the crack's centroid on the road, metres right of the camera axis (empty top-down)",
    "forward_m": "street view: the crack's centroid on the road, metres ahead of the camera (empty top-down)",
}

# pandas dtypes of the columns, so a table read back (CSV journal -> Parquet) has the types it was written with
TEXT_COLUMNS = frozenset(
    {"image", "source_path", "content_sha256", "status", "error", "crack_type", "severity", "worst_severity"}
    | {"view", "camera_profile"}
)
COUNT_COLUMNS = frozenset(
    {"crack_id", "area_px2", "width_px", "height_px", "crack_count", "crack_area_px2"}
    | {"longitudinal_count", "transverse_count", "diagonal_count", "network_count"}
)


def column_dtype(name: str) -> str:
    """The pandas dtype of a schema column: text, nullable integer counts, nullable floats for the rest."""
    return "string" if name in TEXT_COLUMNS else "Int64" if name in COUNT_COLUMNS else "Float64"


IMAGE_COLUMNS: dict[str, str] = {
    "image": "the input's name relative to the argument given",
    "source_path": "the input's full path as given",
    "content_sha256": "SHA-256 of the input file's bytes (what --resume matches, with source_path)",
    "status": "ok, or failed (then error says why and the measurements are empty)",
    "error": "one-line reason an input could not be inspected (empty when ok)",
    "view": "top-down (the photo is the road surface) or street (a frame from a vehicle, measured on its top view)",
    "camera_profile": "street view: the camera profile's name (empty top-down)",
    "width_px": "image width, pixels",
    "height_px": "image height, pixels",
    "mm_per_px": "the calibration used (empty: uncalibrated)",
    "crack_count": "cracks found",
    "total_length_px": "summed crack length, pixels",
    "total_length_mm": "summed crack length, millimetres",
    "crack_area_px2": "pixels covered by any crack",
    "crack_area_mm2": "area covered by any crack, square millimetres",
    "crack_area_pct": "share of the image covered by cracks, percent (0-100)",
    "max_width_px": "widest crack's largest width, pixels",
    "max_width_mm": "widest crack's largest width, millimetres",
    "worst_severity": "the highest severity among the cracks (none without cracks, unknown uncalibrated)",
    "longitudinal_count": "cracks typed longitudinal",
    "transverse_count": "cracks typed transverse",
    "diagonal_count": "cracks typed diagonal",
    "network_count": "cracks typed network (block/alligator)",
}

# People's labels for display (the HTML report, the app); files keep the schema's names.
CRACK_LABELS = {
    "crack_id": "id",
    "length_px": "length (px)",
    "length_mm": "length (mm)",
    "mean_width_px": "mean width (px)",
    "mean_width_mm": "mean width (mm)",
    "max_width_px": "max width (px)",
    "max_width_mm": "max width (mm)",
    "area_px2": "area (px²)",
    "area_mm2": "area (mm²)",
    "orientation_deg": "orientation (°)",
    "crack_type": "type",
    "severity": "severity",
    "confidence": "confidence",
}
IMAGE_LABELS = {
    "image": "image",
    "status": "status",
    "error": "error",
    "crack_count": "cracks",
    "total_length_px": "total length (px)",
    "total_length_mm": "total length (mm)",
    "crack_area_px2": "crack area (px²)",
    "crack_area_mm2": "crack area (mm²)",
    "crack_area_pct": "crack area (%)",
    "max_width_px": "max width (px)",
    "max_width_mm": "max width (mm)",
    "worst_severity": "worst severity",
    "longitudinal_count": "longitudinal",
    "transverse_count": "transverse",
    "diagonal_count": "diagonal",
    "network_count": "network",
}
