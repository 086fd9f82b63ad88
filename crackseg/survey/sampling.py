"""Which frames to inspect: every ``every_m`` metres along the route (or every ``every_s`` seconds), and
which slice of road each one owns.

Each sample owns the ground from its region's near edge forward to where the next
sample's near edge will be (``slice_m``), at most the region's length: consecutive
samples tile the road, so each ground area is inspected once. A frame is taken at
the first frame time whose chainage reaches the target; the default spacing is 80 %
of the region's length, so that overshoot of up to a fifth of it leaves no gap. A
stationary vehicle reaches no new target, so standing still adds no frames.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from crackseg.geometry.camera import GroundRegion
from crackseg.survey.errors import SurveyError
from crackseg.survey.route import Route
from crackseg.survey.track import iso_utc

DEFAULT_SPACING_SHARE = 0.8


@dataclass(frozen=True)
class Sample:
    """One inspected frame or photo and the road it owns.

    Attributes:
        index: order in the survey (0, 1, ...).
        source_index: the frame number in the video, or the photo's number.
        name: ``frame_000123`` or the photo's name.
        time_s: seconds from the video's start (photos: from the first photo).
        abs_time_s: seconds since the Unix epoch, ``None`` when unknown.
        chainage_m: the vehicle's chainage when it was taken.
        run_id: the GPS run (no jump inside) it belongs to.
        slice_m: metres of road it owns, from the region's near edge forward.
    """

    index: int
    source_index: int
    name: str
    time_s: float
    abs_time_s: float | None
    chainage_m: float
    run_id: int
    slice_m: float


def default_every_m(region: GroundRegion) -> float:
    """The default spacing: 80 % of the region's forward length."""
    return round(DEFAULT_SPACING_SHARE * region.length_m, 3)


def plan_video_samples(
    route: Route,
    frame_count: int,
    fps: float,
    video_start_s: float,
    region: GroundRegion,
    *,
    every_m: float | None = None,
    every_s: float | None = None,
) -> tuple[list[Sample], list[str]]:
    """Samples for a video whose frame ``k`` is at ``video_start_s + k / fps``; returns them and warnings."""
    if every_m is not None and every_s is not None:
        raise SurveyError("give --every-m or --every-s, not both")
    times = video_start_s + np.arange(frame_count, dtype=np.float64) / fps
    chainage, valid = route.chainage_at_times(times)
    warnings = []
    if not valid.any():
        raise SurveyError(
            f"the track ({_span(route.times_s[0], route.times_s[-1])}) does not overlap the video "
            f"({_span(times[0], times[-1])}); set the video's start time or offset"
        )
    outside = int((times < route.times_s[0]).sum() + (times > route.times_s[-1]).sum())
    if outside:
        warnings.append(f"{outside / fps:.1f} s of video lie outside the track's times: not surveyed")
    jump_times = np.array([jump.time_s for jump in route.jumps])
    run_ids = np.searchsorted(jump_times, times, side="right") if len(jump_times) else np.zeros(len(times), int)
    chosen = _choose(chainage, valid, run_ids, times, every_m if every_s is None else None, every_s, region)
    names = [(k, f"frame_{k:06d}") for k in chosen]
    samples = [
        Sample(i, k, name, float(k / fps), float(times[k]), float(chainage[k]), int(run_ids[k]), 0.0)
        for i, (k, name) in enumerate(names)
    ]
    return with_slices(samples, route, region), warnings


def with_slices(samples: list[Sample], route: Route, region: GroundRegion) -> list[Sample]:
    """Each sample's ``slice_m``: up to the next sample of its run, at most the region's length and never past
    the end of its run (a stationary repeat owns nothing)."""
    runs = {run.run_id: run for run in route.runs()}
    out = []
    for i, sample in enumerate(samples):
        near = sample.chainage_m + region.forward_m[0]
        run_end = runs[sample.run_id].end_m if sample.run_id in runs else route.length_m
        following = samples[i + 1] if i + 1 < len(samples) else None
        step = region.length_m
        if following is not None and following.run_id == sample.run_id:
            step = min(step, following.chainage_m - sample.chainage_m)
        step = max(0.0, min(step, run_end - near))
        out.append(replace(sample, slice_m=float(step)))
    return out


def _choose(
    chainage: np.ndarray,
    valid: np.ndarray,
    run_ids: np.ndarray,
    times: np.ndarray,
    every_m: float | None,
    every_s: float | None,
    region: GroundRegion,
) -> list[int]:
    if every_s is None:
        spacing = every_m if every_m is not None else default_every_m(region)
        if not spacing > 0:
            raise SurveyError(f"--every-m must be > 0, got {spacing}")
        values = chainage
    else:
        if not every_s > 0:
            raise SurveyError(f"--every-s must be > 0, got {every_s}")
        spacing, values = every_s, times
    chosen: list[int] = []
    current_run, target = -1, -np.inf
    for k in np.flatnonzero(valid):
        if run_ids[k] != current_run or values[k] >= target - 1e-9:
            chosen.append(int(k))
            current_run, target = int(run_ids[k]), float(values[k]) + spacing
    return chosen


def _span(start: float, end: float) -> str:
    return f"{iso_utc(float(start))} to {iso_utc(float(end))}"
