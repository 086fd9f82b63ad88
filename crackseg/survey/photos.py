"""Geotagged photos in: EXIF GPS position and time -> a route and one sample per photo.

Photos come from files, folders or ZIPs through ``crackseg.io.inputs`` (the
archive rules apply). Each photo's EXIF is read from its header without decoding
pixels: the GPS IFD's latitude/longitude, and its time from the GPS date/time
stamp (UTC), else ``DateTimeOriginal`` (with ``OffsetTimeOriginal`` when given).
Photos are ordered by time (by name when none has a time). A photo without GPS but
with a time is placed by time between its neighbours (a warning says so); with
neither it is skipped. If no photo has GPS, the survey is refused unless a speed
is given (then photos are placed at speed x time and there is no map).
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from crackseg.core.errors import ImageLoadError
from crackseg.geometry.camera import GroundRegion
from crackseg.io.image_io import load_image
from crackseg.io.inputs import expand_paths
from crackseg.survey.errors import SurveyError
from crackseg.survey.route import Route
from crackseg.survey.sampling import Sample, with_slices
from crackseg.survey.track import Track

GPS_IFD, EXIF_IFD = 0x8825, 0x8769
DATETIME_ORIGINAL, OFFSET_TIME_ORIGINAL, DATETIME = 0x9003, 0x9011, 0x0132


@dataclass(frozen=True)
class PhotoMeta:
    """What a photo's EXIF says about where and when it was taken."""

    name: str
    lat: float | None
    lon: float | None
    time_s: float | None
    error: str | None = None


def read_photo_meta(name: str, data: bytes) -> PhotoMeta:
    """EXIF GPS and time of one photo, from its header (pixels are not decoded)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data)) as image:
                exif = image.getexif()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        return PhotoMeta(name, None, None, None, f"{name}: not an image (or an unsupported format)")
    gps = exif.get_ifd(GPS_IFD)
    lat = _degrees(gps.get(2), gps.get(1), "S")
    lon = _degrees(gps.get(4), gps.get(3), "W")
    if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
        lat = lon = None
    return PhotoMeta(name, lat, lon, _gps_time(gps) or _exif_time(exif))


def photo_samples(
    paths: Iterable[Path], region: GroundRegion, speed_kmh: float | None = None
) -> tuple[Route, list[Sample], list[str]]:
    """A route through the photos' positions and one sample per usable photo; returns warnings too."""
    notes: list[str] = []
    metas = []
    for payload in expand_paths(paths):
        if payload.error is not None or payload.data is None:
            notes.append(payload.error or f"{payload.name}: no data")
            continue
        meta = read_photo_meta(payload.name, payload.data)
        if meta.error:
            notes.append(meta.error)
        else:
            metas.append(meta)
    if not metas:
        raise SurveyError("no readable photos among the inputs")
    if all(m.time_s is not None for m in metas):
        metas.sort(key=lambda m: (m.time_s, m.name))
    else:
        metas.sort(key=lambda m: m.name)
        notes.append("not every photo has a time: photos are ordered by name, one second apart")
        metas = [PhotoMeta(m.name, m.lat, m.lon, float(i)) for i, m in enumerate(metas)]
    located = [m for m in metas if m.lat is not None]
    times = np.array([m.time_s for m in metas], dtype=np.float64)
    if not located:
        if speed_kmh is None:
            raise SurveyError("no photo has EXIF GPS: give a GPS track, or --speed-kmh to place photos by time")
        route = Route.constant_speed(speed_kmh / 3.6, float(times[0]), float(times[-1] - times[0]))
        chainage = (times - times[0]) * speed_kmh / 3.6
    else:
        missing = len(metas) - len(located)
        if missing:
            notes.append(f"{missing} photo(s) without GPS placed by time between their neighbours")
        track = Track(
            np.array([m.time_s for m in located]),
            np.array([m.lat for m in located]),
            np.array([m.lon for m in located]),
            source="photos",
        )
        route = Route.from_track(track)
        chainage = np.interp(times, route.times_s, route.chainage_m)  # photos without GPS: by time
        where = iter(route.chainage_m)
        chainage = np.array([next(where) if m.lat is not None else c for m, c in zip(metas, chainage, strict=True)])
    jump_times = np.array([jump.time_s for jump in route.jumps])
    run_ids = np.searchsorted(jump_times, times, side="right") if len(jump_times) else np.zeros(len(times), int)
    samples = [
        Sample(i, i, m.name, float(times[i] - times[0]), float(times[i]), float(chainage[i]), int(run_ids[i]), 0.0)
        for i, m in enumerate(metas)
    ]
    return route, with_slices(samples, route, region), notes


def iter_photos(paths: Iterable[Path], names: set[str]) -> Iterator[tuple[str, np.ndarray | None, str | None]]:
    """``(name, rgb, error)`` for the photos named in ``names``, in input order (ZIPs re-opened, nothing kept)."""
    for payload in expand_paths(paths):
        if payload.name not in names or payload.data is None:
            continue
        try:
            yield payload.name, load_image(payload.data, name=payload.name), None
        except ImageLoadError as error:
            yield payload.name, None, str(error)


def _degrees(value: object, ref: object, negative: str) -> float | None:
    try:
        d, m, s = (float(part) for part in value)  # type: ignore[union-attr]
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    degrees = d + m / 60 + s / 3600
    return -degrees if str(ref or "").strip().upper().startswith(negative) else degrees


def _gps_time(gps: dict) -> float | None:
    date, stamp = gps.get(29), gps.get(7)
    try:
        hours, minutes, seconds = (float(part) for part in stamp)  # type: ignore[union-attr]
        day = datetime.strptime(str(date).strip(), "%Y:%m:%d").replace(tzinfo=timezone.utc)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return day.timestamp() + hours * 3600 + minutes * 60 + seconds


def _exif_time(exif: Image.Exif) -> float | None:
    details = exif.get_ifd(EXIF_IFD)
    text = details.get(DATETIME_ORIGINAL) or exif.get(DATETIME)
    try:
        moment = datetime.strptime(str(text).strip(), "%Y:%m:%d %H:%M:%S")
    except (TypeError, ValueError):
        return None
    offset = str(details.get(OFFSET_TIME_ORIGINAL) or "").strip()
    try:
        zone = datetime.strptime(offset, "%z").tzinfo if offset else timezone.utc
    except ValueError:
        zone = timezone.utc
    return moment.replace(tzinfo=zone).timestamp()
