"""A track as a route: chainage (distance driven, haversine), runs split at GPS jumps, interpolation.

Chainage is the cumulative great-circle (haversine, mean Earth radius) distance
between successive fixes. A step longer than ``jump_m`` (default 100 m) between
two fixes is a GPS jump: it is flagged, its stretch counts as not surveyed, and
the route is split there into runs, so no section spans it. Positions at a time
are interpolated linearly between the fixes around it; a stationary vehicle
adds no chainage, so sampling by distance takes no frames while it stands.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from crackseg.survey.track import Track

EARTH_RADIUS_M = 6_371_008.8  # IUGG mean radius
JUMP_M = 100.0


def haversine_m(lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray) -> np.ndarray:
    """Great-circle distance in metres between WGS84 degree arrays (broadcast)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dphi, dlmb = p2 - p1, np.radians(np.asarray(lon2) - np.asarray(lon1))
    a = np.sin(dphi / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlmb / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def bearing_deg(lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray) -> np.ndarray:
    """Initial bearing in degrees clockwise from north, in [0, 360)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dlmb = np.radians(np.asarray(lon2) - np.asarray(lon1))
    y = np.sin(dlmb) * np.cos(p2)
    x = np.cos(p1) * np.sin(p2) - np.sin(p1) * np.cos(p2) * np.cos(dlmb)
    return np.degrees(np.arctan2(y, x)) % 360.0


def offset_position(
    lat: np.ndarray, lon: np.ndarray, bearing: np.ndarray, right_m: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Move points ``right_m`` metres to the right of travel (``bearing + 90``); exact enough for metres."""
    heading = np.radians(np.asarray(bearing) + 90.0)
    dlat = np.asarray(right_m) * np.cos(heading) / EARTH_RADIUS_M
    dlon = np.asarray(right_m) * np.sin(heading) / (EARTH_RADIUS_M * np.cos(np.radians(lat)))
    return np.asarray(lat) + np.degrees(dlat), np.asarray(lon) + np.degrees(dlon)


@dataclass(frozen=True)
class GpsJump:
    """Two successive fixes further apart than the jump limit."""

    index: int  # the fix after the jump
    distance_m: float
    time_s: float
    start_chainage_m: float
    end_chainage_m: float


@dataclass(frozen=True)
class Run:
    """A stretch of route with no GPS jump: chainage ``[start_m, end_m]``."""

    run_id: int
    start_m: float
    end_m: float


@dataclass(frozen=True)
class Route:
    """A ``Track`` with chainage; ``lat_deg``/``lon_deg`` are NaN for a route without GPS (constant speed)."""

    times_s: np.ndarray
    lat_deg: np.ndarray
    lon_deg: np.ndarray
    chainage_m: np.ndarray
    jumps: tuple[GpsJump, ...] = ()
    has_positions: bool = True
    bearings_deg: np.ndarray = field(default=None, repr=False)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.bearings_deg is None:
            bearings = (
                _segment_bearings(self.lat_deg, self.lon_deg, self.chainage_m)
                if self.has_positions and len(self.chainage_m) > 1
                else np.zeros(max(len(self.chainage_m) - 1, 1))
            )
            object.__setattr__(self, "bearings_deg", bearings)

    @classmethod
    def from_track(cls, track: Track, jump_m: float = JUMP_M) -> Route:
        """Chainage by haversine between fixes; steps over ``jump_m`` become jumps."""
        lat, lon, times = track.lat_deg, track.lon_deg, track.times_s
        steps = haversine_m(lat[:-1], lon[:-1], lat[1:], lon[1:]) if len(track) > 1 else np.zeros(0)
        chainage = np.concatenate([[0.0], np.cumsum(steps)])
        jumps = tuple(
            GpsJump(int(i + 1), float(steps[i]), float(times[i + 1]), float(chainage[i]), float(chainage[i + 1]))
            for i in np.flatnonzero(steps > jump_m)
        )
        return cls(track.times_s, lat, lon, chainage, jumps)

    @classmethod
    def constant_speed(cls, speed_mps: float, start_s: float, duration_s: float) -> Route:
        """A route without positions: chainage = speed x time (no map)."""
        times = np.array([start_s, start_s + max(duration_s, 1e-6)])
        nan = np.full(2, np.nan)
        return cls(times, nan, nan, (times - start_s) * speed_mps, (), False)

    @property
    def length_m(self) -> float:
        return float(self.chainage_m[-1])

    def runs(self) -> list[Run]:
        """The stretches between jumps, in order."""
        bounds = [0.0]
        for jump in self.jumps:
            bounds += [jump.start_chainage_m, jump.end_chainage_m]
        bounds.append(self.length_m)
        pairs = [(bounds[i], bounds[i + 1]) for i in range(0, len(bounds), 2)]
        return [Run(number, start, end) for number, (start, end) in enumerate(pairs)]

    def run_of(self, chainage_m: float) -> int | None:
        """The run holding ``chainage_m``, ``None`` inside a jump or off the route."""
        for run in self.runs():
            if run.start_m <= chainage_m <= run.end_m:
                return run.run_id
        return None

    def chainage_at_times(self, times_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Chainage at absolute times ``(M,)`` and whether each is usable (on the track, not inside a jump)."""
        times_s = np.asarray(times_s, dtype=np.float64)
        chainage = np.interp(times_s, self.times_s, self.chainage_m)
        valid = (times_s >= self.times_s[0]) & (times_s <= self.times_s[-1])
        for jump in self.jumps:
            before = self.times_s[jump.index - 1]
            valid &= ~((times_s > before) & (times_s < jump.time_s))
        return chainage, valid

    def at_chainage(self, chainage_m: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(lat, lon, bearing)`` at chainages (clamped to the route); NaN without positions."""
        chainage_m = np.clip(np.asarray(chainage_m, dtype=np.float64), 0.0, self.length_m)
        if not self.has_positions or len(self.chainage_m) < 2:
            nan = np.full(chainage_m.shape, np.nan)
            return nan, nan, nan
        lat = np.interp(chainage_m, self.chainage_m, self.lat_deg)
        lon = np.interp(chainage_m, self.chainage_m, self.lon_deg)
        bearings = self.bearings_deg
        segment = np.clip(np.searchsorted(self.chainage_m, chainage_m, side="right") - 1, 0, len(bearings) - 1)
        return lat, lon, bearings[segment]

    def locate(self, chainage_m: np.ndarray, lateral_m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Road coordinates (chainage, metres right of the track) -> ``(lat, lon)``."""
        lat, lon, bearing = self.at_chainage(chainage_m)
        return offset_position(lat, lon, bearing, lateral_m)

    def polyline(self, start_m: float, end_m: float) -> list[tuple[float, float]]:
        """``(lon, lat)`` vertices following the route from ``start_m`` to ``end_m`` (RFC 7946 order)."""
        inner = self.chainage_m[(self.chainage_m > start_m) & (self.chainage_m < end_m)]
        lat, lon, _ = self.at_chainage(np.concatenate([[start_m], inner, [end_m]]))
        return [(float(x), float(y)) for x, y in zip(lon, lat, strict=True)]


def _segment_bearings(lat: np.ndarray, lon: np.ndarray, chainage: np.ndarray) -> np.ndarray:
    """Bearing of each step between fixes; a step with no distance (standing) keeps the previous bearing."""
    raw = bearing_deg(lat[:-1], lon[:-1], lat[1:], lon[1:])
    moving = np.diff(chainage) > 1e-6
    out = np.empty_like(raw)
    last = float(raw[np.flatnonzero(moving)[0]]) if moving.any() else 0.0
    for index in range(len(raw)):
        if moving[index]:
            last = float(raw[index])
        out[index] = last
    return out
