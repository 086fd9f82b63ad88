"""GPS tracks in: a GPX or CSV file -> a ``Track`` (UTC times, WGS84 positions, optional speed).

GPX is parsed with ``defusedxml``: a document with a DTD, entity declarations
(the "billion laughs" expansion bomb) or external entities is refused before
anything is expanded or fetched. Track points (``trkpt``), else route points
(``rtept``), are read with their ``time`` and, where present, a ``speed``
element (GPX 1.0, or any extension element named ``speed``) in m/s.

CSV has a header with ``time``, ``lat``, ``lon`` and optionally ``speed`` (m/s)
columns (``latitude``/``longitude``/``timestamp`` are accepted too); times are
ISO 8601 (UTC unless an offset is given) or plain seconds.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from xml.etree.ElementTree import ParseError

import numpy as np
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from crackseg.survey.errors import SurveyError

MAX_TRACK_BYTES = 100 * 1024 * 1024
MAX_TRACK_POINTS = 2_000_000
CSV_ALIASES = {
    "time": ("time", "timestamp", "datetime", "time_s"),
    "lat": ("lat", "latitude"),
    "lon": ("lon", "lng", "long", "longitude"),
    "speed": ("speed", "speed_mps"),
}


@dataclass(frozen=True)
class Track:
    """A GPS track sorted by time.

    Attributes:
        times_s: ``(N,)`` float64 seconds since the Unix epoch (UTC), non-decreasing.
        lat_deg, lon_deg: ``(N,)`` float64 WGS84 degrees.
        speed_mps: ``(N,)`` float64 metres per second, or ``None`` when the file has no speeds.
        source: the file name, for messages.
    """

    times_s: np.ndarray
    lat_deg: np.ndarray
    lon_deg: np.ndarray
    speed_mps: np.ndarray | None = None
    source: str = "track"

    def __post_init__(self) -> None:
        count = len(self.times_s)
        for name in ("times_s", "lat_deg", "lon_deg") + (("speed_mps",) if self.speed_mps is not None else ()):
            value = getattr(self, name)
            if value.shape != (count,):
                raise ValueError(f"{name} must be ({count},), got {value.shape}")
        if count and np.any(np.diff(self.times_s) < 0):
            raise ValueError("times_s must be non-decreasing")

    def __len__(self) -> int:
        return len(self.times_s)

    @property
    def start_s(self) -> float:
        return float(self.times_s[0])

    @property
    def end_s(self) -> float:
        return float(self.times_s[-1])


def read_track(path: Path | str) -> Track:
    """Read a ``.gpx`` or ``.csv`` track (by suffix; content sniffed when the suffix is neither)."""
    path = Path(path)
    data = _read_capped(path)
    suffix = path.suffix.lower()
    if suffix == ".gpx" or (suffix != ".csv" and data.lstrip()[:1] == b"<"):
        return parse_gpx(data, path.name)
    return parse_track_csv(data, path.name)


def parse_gpx(data: bytes, source: str = "track.gpx") -> Track:
    """GPX bytes -> ``Track``; DTDs, entities and external references are refused (one line)."""
    try:
        root = fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as error:
        raise SurveyError(f"{source}: refused: the GPX declares a DTD or entities ({type(error).__name__})") from None
    except ParseError as error:
        raise SurveyError(f"{source}: not valid XML ({str(error).splitlines()[0][:120]})") from None
    if _local(root.tag) != "gpx":
        raise SurveyError(f"{source}: not a GPX file (root element <{_local(root.tag)}>)")
    points = [e for e in root.iter() if _local(e.tag) == "trkpt"]
    points = points or [e for e in root.iter() if _local(e.tag) == "rtept"]
    if not points:
        raise SurveyError(f"{source}: the GPX has no track or route points")
    if len(points) > MAX_TRACK_POINTS:
        raise SurveyError(f"{source}: {len(points)} points, over the limit of {MAX_TRACK_POINTS}")
    rows = []
    for number, point in enumerate(points, start=1):
        lat, lon = _coordinate(point.get("lat"), point.get("lon"), f"{source}: point {number}")
        children = {_local(child.tag): child for child in point.iter() if child is not point}
        if "time" not in children or not (children["time"].text or "").strip():
            raise SurveyError(f"{source}: point {number} has no <time>; a survey track needs times")
        when = parse_time(children["time"].text or "", f"{source}: point {number}")
        speed = _optional_float(children["speed"].text if "speed" in children else None)
        rows.append((when, lat, lon, speed))
    return _track_from_rows(rows, source)


def parse_track_csv(data: bytes, source: str = "track.csv") -> Track:
    """CSV bytes with ``time, lat, lon[, speed]`` columns -> ``Track``."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise SurveyError(f"{source}: not a UTF-8 text file") from None
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if not header:
        raise SurveyError(f"{source}: empty track file")
    names = [name.strip().lower() for name in header]
    columns = {}
    for key, aliases in CSV_ALIASES.items():
        found = [names.index(alias) for alias in aliases if alias in names]
        if found:
            columns[key] = found[0]
        elif key != "speed":
            raise SurveyError(f"{source}: no '{key}' column (header must name time, lat, lon[, speed])")
    rows = []
    for number, row in enumerate(reader, start=2):
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) < len(names):
            raise SurveyError(f"{source}: line {number} has {len(row)} fields, the header {len(names)}")
        where = f"{source}: line {number}"
        lat, lon = _coordinate(row[columns["lat"]], row[columns["lon"]], where)
        when = parse_time(row[columns["time"]], where)
        speed = _optional_float(row[columns["speed"]]) if "speed" in columns else None
        rows.append((when, lat, lon, speed))
        if len(rows) > MAX_TRACK_POINTS:
            raise SurveyError(f"{source}: over the limit of {MAX_TRACK_POINTS} points")
    if not rows:
        raise SurveyError(f"{source}: the track has no points")
    return _track_from_rows(rows, source)


def parse_time(text: str, where: str) -> float:
    """ISO 8601 (``Z`` or an offset; naive means UTC) or plain seconds -> seconds since the epoch."""
    text = text.strip()
    try:
        value = float(text)
    except ValueError:
        pass
    else:
        if not math.isfinite(value):
            raise SurveyError(f"{where}: time {text!r} is not finite")
        return value
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise SurveyError(f"{where}: time {text[:40]!r} is not ISO 8601 or seconds") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def iso_utc(seconds: float) -> str:
    """Seconds since the epoch -> ``2024-05-01T10:00:00.000Z``."""
    return datetime.fromtimestamp(seconds, tz=timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _track_from_rows(rows: list[tuple[float, float, float, float | None]], source: str) -> Track:
    rows.sort(key=lambda row: row[0])
    times = np.array([row[0] for row in rows], dtype=np.float64)
    keep = np.concatenate([[True], np.diff(times) > 0])  # two fixes at one time: the first is kept
    speeds = [row[3] for row in rows]
    speed = None if all(s is None for s in speeds) else np.array([np.nan if s is None else s for s in speeds])
    return Track(
        times_s=times[keep],
        lat_deg=np.array([row[1] for row in rows], dtype=np.float64)[keep],
        lon_deg=np.array([row[2] for row in rows], dtype=np.float64)[keep],
        speed_mps=None if speed is None else speed[keep],
        source=source,
    )


def _coordinate(lat_text: str | None, lon_text: str | None, where: str) -> tuple[float, float]:
    try:
        lat, lon = float(lat_text or ""), float(lon_text or "")
    except ValueError:
        raise SurveyError(f"{where}: lat/lon must be numbers, got {lat_text!r}, {lon_text!r}") from None
    if not (math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180):
        raise SurveyError(f"{where}: lat/lon out of range ({lat}, {lon})")
    return lat, lon


def _optional_float(text: str | None) -> float | None:
    if text is None or not text.strip():
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _local(tag: object) -> str:
    return str(tag).rsplit("}", 1)[-1]


def _read_capped(path: Path) -> bytes:
    try:
        size = path.stat().st_size
        if size > MAX_TRACK_BYTES:
            raise SurveyError(f"{path.name}: {size / 1e6:.0f} MB, over the {MAX_TRACK_BYTES / 1e6:.0f} MB track limit")
        return path.read_bytes()
    except FileNotFoundError:
        raise SurveyError(f"{path}: track file not found") from None
    except IsADirectoryError:
        raise SurveyError(f"{path}: is a folder, not a track file") from None
    except OSError as error:
        raise SurveyError(f"{path}: cannot be read ({error.strerror or error})") from None
