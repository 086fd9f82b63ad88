"""The whole survey: inputs -> samples -> street inspection -> pieces -> findings -> sections -> outputs.

``run_survey`` is the one path the CLI (``python -m crackseg survey``), an app page
and the benchmark run. Frames are decoded, inspected and reduced to crack pieces
one at a time; each sample's pieces are appended to ``pieces.jsonl`` as it
finishes (with ``state.json`` recording the inputs and settings), so a crash loses
only the frame in flight and ``resume=True`` skips the samples already done.
Findings, sections, tables, GeoJSON and the report are made from that file at
the end. ``progress(done, total, name)`` is called after each sample. Where the
frames are inspected is the engine's business (``sample_inspection.LocalEngine``
here, ``ray_inspect.RaySurveyEngine`` on Ray); decoding, sampling and writing stay
here, in sample order, so both engines write the same files.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from crackseg.core.json_values import dumps
from crackseg.export.tables import csv_bytes
from crackseg.geometry.camera import DEFAULT_PROFILE, CameraProfile
from crackseg.inference.segmenter import InferenceSettings
from crackseg.measurement.measure import MeasurementSettings
from crackseg.survey.errors import SurveyError
from crackseg.survey.findings import CrackPiece, merge_pieces
from crackseg.survey.frames import is_video_path, iter_frames, probe_video
from crackseg.survey.outputs import findings_table, samples_table, write_tables
from crackseg.survey.photos import iter_photos, photo_samples
from crackseg.survey.rating import INDEX_NAME, RatingScheme
from crackseg.survey.report import write_report
from crackseg.survey.route import Route
from crackseg.survey.sample_inspection import InspectionJob, LocalEngine, SurveyEngine
from crackseg.survey.sampling import Sample, plan_video_samples
from crackseg.survey.sections import cut_sections, sections_table
from crackseg.survey.track import Track, parse_time, read_track

Progress = Callable[[int, int, str], None]


@dataclass(frozen=True)
class SurveySettings:
    """How a drive is sampled, cut and rated.

    ``every_m``/``every_s``: sample spacing (default 80 % of the region's length); ``section_m``: section length;
    ``speed_kmh``: places frames without GPS; ``video_start``: ISO time of the first frame, or ``offset_s``: the
    first frame's time after the track's start (default: the MP4's creation time when it overlaps the track, else
    the track's start); ``save_frames``: write each sample's overlay and top view.
    """

    every_m: float | None = None
    every_s: float | None = None
    section_m: float = 10.0
    speed_kmh: float | None = None
    video_start: str | None = None
    offset_s: float | None = None
    rating: RatingScheme = field(default_factory=RatingScheme)
    save_frames: bool = True

    def __post_init__(self) -> None:
        if self.every_m is not None and self.every_s is not None:
            raise SurveyError("give --every-m or --every-s, not both")
        for name in ("every_m", "every_s", "speed_kmh"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise SurveyError(f"{name} must be > 0, got {value}")
        if not 0.5 <= self.section_m <= 100_000:
            raise SurveyError(f"section_m must be in [0.5, 100000], got {self.section_m}")

    def to_dict(self) -> dict[str, Any]:
        values = asdict(self)
        values["rating"] = {"index": INDEX_NAME, "thresholds": list(self.rating.thresholds)}
        return values


@dataclass(frozen=True)
class SurveyResult:
    """What a survey produced: the tables, the output paths, the summary and the warnings."""

    out_dir: Path
    sections: pd.DataFrame
    findings: pd.DataFrame
    samples: pd.DataFrame
    paths: dict[str, Path]
    summary: dict[str, Any]
    warnings: tuple[str, ...]

    def summary_line(self) -> str:
        """``0.07 km surveyed, 7 sections (good 5, fair 2, ...), 5 cracks``."""
        classes = self.summary["sections_by_class"]
        by_class = ", ".join(f"{name} {count}" for name, count in classes.items() if count)
        return (
            f"{self.summary['surveyed_km']:.2f} km surveyed, {self.summary['sections']} sections"
            f" ({by_class or 'none'}), {self.summary['cracks']} cracks"
        )


def run_survey(
    inputs: Sequence[Path | str],
    segmenter: Any,
    out_dir: Path | str,
    *,
    track_path: Path | str | None = None,
    profile: CameraProfile | None = None,
    settings: SurveySettings | None = None,
    inference: InferenceSettings | None = None,
    measurement: MeasurementSettings | None = None,
    resume: bool = False,
    progress: Progress | None = None,
    engine: SurveyEngine | None = None,
) -> SurveyResult:
    """Survey a video (with a GPS track or a speed) or geotagged photos; write everything into ``out_dir``.

    ``segmenter`` is anything with ``predict(rgb, settings) -> CrackPrediction`` (a ``Segmenter``), used here;
    or ``engine`` inspects the samples elsewhere (``ray_inspect.RaySurveyEngine``; ``segmenter`` is then unused).
    Frames are decoded and sampled here either way, and the results are written in sample order.
    """
    settings = settings or SurveySettings()
    profile = profile or DEFAULT_PROFILE
    inference = inference or InferenceSettings()
    measurement = measurement or MeasurementSettings()
    paths = [Path(p) for p in inputs]
    if not paths:
        raise SurveyError("no inputs: give a video or photos")
    region = profile.ground_region
    video = len(paths) == 1 and paths[0].is_file() and is_video_path(paths[0])
    if video:
        route, samples, notes, frames = _video_plan(paths[0], track_path, settings, region)
    else:
        if track_path is not None:
            raise SurveyError("--gpx/--track go with a video; photos carry their own GPS")
        route, samples, notes = photo_samples(paths, region, settings.speed_kmh)
        frames = _photo_frames(paths, samples)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    engine = engine or LocalEngine(segmenter)
    state = _state(paths, track_path, profile, settings, inference, measurement, engine.model_info())
    done = _start(out, state, resume)
    failed: set[int] = {index for index, ok in done.items() if not ok}
    total = len(samples)
    job = InspectionJob(profile, inference, measurement, settings.save_frames)
    with (out / "pieces.jsonl").open("a", encoding="utf-8") as log:
        count = len(done)
        for sample, outcome, error in engine.inspect(frames(lambda s: s.index not in done), job):
            if outcome is None:
                notes.append(error or f"{sample.name}: could not be decoded; its slice is not surveyed")
                failed.add(sample.index)
            else:
                _save_frame_images(out, sample, outcome.images)
            pieces = outcome.pieces if outcome is not None else ()
            record = {"sample": sample.index, "ok": outcome is not None, "pieces": [p.to_dict() for p in pieces]}
            log.write(json.dumps(record) + "\n")
            log.flush()
            count += 1
            if progress is not None:
                progress(count, total, sample.name)
    surveyed = [s for s in samples if s.index not in failed]
    all_pieces = _read_pieces(out / "pieces.jsonl")
    findings = merge_pieces(all_pieces, surveyed, measurement.severity_thresholds_mm)
    sections = cut_sections(route, settings.section_m)
    sections_frame = sections_table(route, sections, surveyed, findings, region, settings.rating)
    findings_frame = findings_table(findings, route, sections, surveyed)
    outputs = write_tables(out, findings_frame, sections_frame, route)
    samples_frame = samples_table(samples, route, failed, out)
    outputs["samples_csv"] = out / "samples.csv"
    outputs["samples_csv"].write_bytes(csv_bytes(samples_frame))
    summary = _summary(sections_frame, findings_frame, route, samples, failed, notes, state)
    (out / "survey.json").write_text(dumps(summary), encoding="utf-8")
    outputs["summary"] = out / "survey.json"
    outputs["report"] = write_report(out, sections_frame, findings_frame, route, summary)
    return SurveyResult(out, sections_frame, findings_frame, samples_frame, outputs, summary, tuple(notes))


FrameSource = Callable[[Callable[[Sample], bool]], Iterator[tuple[Sample, Any, str | None]]]


def _video_plan(
    path: Path, track_path: Path | str | None, settings: SurveySettings, region: Any
) -> tuple[Route, list[Sample], list[str], FrameSource]:
    info = probe_video(path)
    notes: list[str] = []
    if track_path is not None:
        track = read_track(track_path)
        route = Route.from_track(track)
        if settings.video_start is not None:
            start = parse_time(settings.video_start, "--video-start")
        elif settings.offset_s is not None:
            start = track.start_s + settings.offset_s
        elif info.creation_time_s is not None and _overlaps(info.creation_time_s, info.duration_s, track):
            start = info.creation_time_s
            notes.append("video synchronised by its recorded creation time")
        else:
            start = track.start_s
            notes.append("the video is assumed to start at the track's first point (set --video-start or --offset-s)")
        for jump in route.jumps:
            where = f"at chainage {jump.start_chainage_m:.0f} m"
            notes.append(f"GPS jump of {jump.distance_m:.0f} m {where}: flagged, not surveyed, section split")
    elif settings.speed_kmh is not None:
        start = 0.0
        route = Route.constant_speed(settings.speed_kmh / 3.6, 0.0, info.duration_s)
        notes.append(f"no GPS: frames placed at {settings.speed_kmh:g} km/h; no map")
    else:
        raise SurveyError("no GPS track: give --gpx or --track, or --speed-kmh to place frames by time")
    samples, warnings = plan_video_samples(
        route, info.frame_count, info.fps, start, region, every_m=settings.every_m, every_s=settings.every_s
    )
    notes.extend(warnings)

    def frames(wanted: Callable[[Sample], bool]) -> Iterator[tuple[Sample, Any, str | None]]:
        todo = {s.source_index: s for s in samples if wanted(s)}
        for index, rgb in iter_frames(info, todo):
            error = None if rgb is not None else f"{path.name}: frame {index} could not be decoded; not surveyed"
            yield todo[index], rgb, error

    return route, samples, notes, frames


def _overlaps(start_s: float, duration_s: float, track: Track) -> bool:
    """Whether a video from ``start_s`` lasting ``duration_s`` shares any time with the track.

    A recording may start before the GPS logger has its first fix: its creation time still places it, and
    the seconds before the track are left unsurveyed (with a warning), not shifted onto the track's start.
    """
    return start_s <= track.end_s and start_s + duration_s >= track.start_s


def _photo_frames(paths: list[Path], samples: list[Sample]) -> FrameSource:
    def frames(wanted: Callable[[Sample], bool]) -> Iterator[tuple[Sample, Any, str | None]]:
        todo = {s.name: s for s in samples if wanted(s)}
        for name, rgb, error in iter_photos(paths, set(todo)):
            yield todo[name], rgb, error

    return frames


def _save_frame_images(out: Path, sample: Sample, images: dict[str, bytes]) -> None:
    """Write a sample's ``{"overlays": jpeg, "top": jpeg}`` as ``frames/<kind>/<index>_<name>.jpg``."""
    stem = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in Path(sample.name).stem)[:100]
    for folder, data in images.items():
        (out / "frames" / folder).mkdir(parents=True, exist_ok=True)
        (out / "frames" / folder / f"{sample.index:05d}_{stem}.jpg").write_bytes(data)


def _state(
    paths: list[Path],
    track_path: Path | str | None,
    profile: CameraProfile,
    settings: SurveySettings,
    inference: InferenceSettings,
    measurement: MeasurementSettings,
    model: dict[str, Any],
) -> dict[str, Any]:
    """What a resumed run must share with the first: inputs (name, size, mtime), track content, every setting."""
    files = [p for path in paths for p in (sorted(path.rglob("*")) if path.is_dir() else [path]) if p.is_file()]
    track_hash = hashlib.sha256(Path(track_path).read_bytes()).hexdigest() if track_path else None
    return {
        "inputs": [[str(p), p.stat().st_size, int(p.stat().st_mtime)] for p in files],
        "track_sha256": track_hash,
        "camera_profile": profile.to_dict(),
        "survey": settings.to_dict(),
        "inference": inference.to_dict(),
        "measurement": {
            "severity_thresholds_mm": list(measurement.severity_thresholds_mm),
            "type_tolerance_deg": measurement.type_tolerance_deg,
        },
        "model": model,
    }


def _start(out: Path, state: dict[str, Any], resume: bool) -> dict[int, bool]:
    """Write ``state.json``; on resume check it matches and return the samples done (index -> decoded)."""
    state_path, log_path = out / "state.json", out / "pieces.jsonl"
    text = json.dumps(state, sort_keys=True, default=str)
    if resume and state_path.exists() and log_path.exists():
        if state_path.read_text(encoding="utf-8") != text:
            raise SurveyError(f"--resume: the inputs or settings differ from the run in {out}; use a new --out")
        _drop_partial_line(log_path)
        return {record["sample"]: record["ok"] for record in _records(log_path)}
    state_path.write_text(text, encoding="utf-8")
    log_path.write_text("", encoding="utf-8")
    return {}


def _drop_partial_line(path: Path) -> None:
    """Cut a last line a crash left unfinished, so the next record appended starts on a line of its own."""
    with path.open("rb+") as handle:
        data = handle.read()
        if data and not data.endswith(b"\n"):
            handle.truncate(data.rfind(b"\n") + 1)


def _records(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut short by a crash: that sample is redone


def _read_pieces(path: Path) -> list[CrackPiece]:
    latest: dict[int, list[CrackPiece]] = {}
    for record in _records(path):
        latest[record["sample"]] = [CrackPiece.from_dict(p) for p in record["pieces"]]
    return [piece for index in sorted(latest) for piece in latest[index]]


def _summary(
    sections: pd.DataFrame,
    findings: pd.DataFrame,
    route: Route,
    samples: list[Sample],
    failed: set[int],
    notes: list[str],
    state: dict[str, Any],
) -> dict[str, Any]:
    classes = ("good", "fair", "poor", "very poor", "none")
    counts = sections["rating_class"].value_counts().to_dict() if len(sections) else {}
    return {
        "route_km": round(route.length_m / 1000, 4),
        "surveyed_km": round(float(sections["surveyed_length_m"].sum()) / 1000 if len(sections) else 0.0, 4),
        "sections": len(sections),
        "sections_by_class": {name: int(counts.get(name, 0)) for name in classes},
        "cracks": len(findings),
        "samples": len(samples),
        "samples_failed": len(failed),
        "gps_jumps": [asdict(jump) for jump in route.jumps],
        "has_map": route.has_positions,
        "rating_index": INDEX_NAME,
        "warnings": list(notes),
        "settings": state,
    }
