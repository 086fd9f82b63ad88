"""Survey speed and memory: a synthetic 1080p 30 fps drive at 50 km/h, sampled every 5 m, through ``run_survey``.

The video is rendered first (a road texture with cracks seen through the default
phone/dashcam profile, encoded with OpenCV's mp4v), with a matching GPX; then the
survey runs on it exactly as ``python -m crackseg survey`` does (decode, street
inspection with the operator's model, pieces, sections, GeoJSON, report). Printed:
processing time against the video's duration (the real-time ratio), frames/s
decoded and samples/s inspected, and the process RSS along the run (at each tenth
of the samples, and every ``--rss-every-s`` seconds from a sampling thread, with
the peak).

Rendering is cheap enough for a 30-minute drive: the texture repeats every
``cycle`` frames' worth of road, so only those frames are warped (once) and the
writer writes them in turn; a child process renders and encodes, so its frames
never count in this process's RSS.

    python benchmarks/bench_survey.py --seconds 120 --output benchmarks/results/survey.json
    nice -n 19 python benchmarks/bench_survey.py --seconds 1800 --workdir /work/runs \
        --output benchmarks/results/survey-30min.json
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import cv2
import numpy as np
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere, without installing

from crackseg.geometry.camera import DEFAULT_PROFILE
from crackseg.geometry.ground import GroundView
from crackseg.inference.model_loading import default_model_path
from crackseg.inference.segmenter import Segmenter
from crackseg.survey.run import SurveySettings, run_survey

EARTH_RADIUS_M = 6_371_008.8
TEXTURE_MM = 10.0
TILE_M = 40.0  # the road texture repeats about every 40 m (cracks every few metres)
LOOKAHEAD_M = 20.0  # how far past the tile's end the camera sees texture (wrap-around margin)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=120.0, help="video duration (s)")
    parser.add_argument("--fps", type=float, default=30.0)
    parser.add_argument("--speed-kmh", type=float, default=50.0)
    parser.add_argument("--every-m", type=float, default=5.0)
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--rss-every-s", type=float, default=10.0, help="RSS sampling period of the thread (s)")
    parser.add_argument("--workdir", type=Path, default=None, help="where the video is written (default: temp)")
    parser.add_argument("--output", type=Path, default=None, help="write the figures as JSON here")
    return parser.parse_args()


def cycle_frames(fps: float, speed_mps: float) -> tuple[int, float]:
    """Frames per texture period and that period in metres: a whole number of frames spans the tile exactly."""
    step_m = speed_mps / fps
    frames = max(1, round(TILE_M / step_m))
    return frames, frames * step_m


def road_texture(tile_m: float) -> np.ndarray:
    """BGR texture (rows = chainage at 10 mm, cols = 8 m across), periodic in ``tile_m``, plus a wrap margin."""
    rng = np.random.default_rng(0)
    rows, cols = int(round(tile_m * 1000 / TEXTURE_MM)), int(8000 / TEXTURE_MM)
    grey = (120 + rng.normal(0, 10, (rows, cols))).clip(80, 170).astype(np.uint8)
    for _ in range(12):
        y, x = int(rng.integers(0, rows)), int(rng.integers(150, cols - 150))
        cv2.line(grey, (x - 120, y), (x + 120, y + int(rng.integers(-40, 40))), 30, 3)
    texture = np.ascontiguousarray(np.dstack([grey] * 3))
    return np.concatenate([texture, texture[: int(LOOKAHEAD_M * 1000 / TEXTURE_MM)]])


def render_video(video: Path, seconds: float, fps: float, speed_mps: float) -> None:
    """Write a 1920x1080 mp4v drive: the ``cycle`` distinct frames are warped once, then written in turn."""
    view = GroundView.for_frame(DEFAULT_PROFILE, DEFAULT_PROFILE.image_wh)
    count, tile_m = cycle_frames(fps, speed_mps)
    texture = road_texture(tile_m)
    scale = TEXTURE_MM / 1000
    horizon = int(math.ceil(view.horizon_row())) + 2
    frames = []
    for k in range(count):
        to_ground = np.array([[scale, 0, -4.0], [0, scale, -k * speed_mps / fps], [0, 0, 1.0]])
        frame = cv2.warpPerspective(texture, view.ground_to_image @ to_ground, view.frame_wh, borderValue=(80, 120, 80))
        frame[:horizon] = (230, 190, 150)
        frames.append(frame)
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), fps, view.frame_wh)
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write mp4v to {video}")
    for k in range(int(seconds * fps)):
        writer.write(frames[k % count])
    writer.release()


def write_gpx(path: Path, seconds: float, speed_mps: float) -> None:
    """One fix a second, due north at ``speed_mps``."""
    start = 1_700_000_000
    points = "".join(
        f'<trkpt lat="{45 + math.degrees(speed_mps * t / EARTH_RADIUS_M):.9f}" lon="7.0"><time>'
        f"{datetime.fromtimestamp(start + t, tz=timezone.utc).isoformat().replace('+00:00', 'Z')}</time></trkpt>"
        for t in range(int(seconds) + 2)
    )
    path.write_text(
        f'<gpx version="1.1" xmlns="http://www.topografix.com/GPX/1/1"><trk><trkseg>{points}</trkseg></trk></gpx>'
    )


def render_drive(folder: Path, seconds: float, fps: float, speed_mps: float) -> tuple[Path, Path]:
    """The video (rendered in a child process, so its frames stay out of this process's RSS) and its GPX."""
    video, gpx = folder / "drive.mp4", folder / "drive.gpx"
    child = multiprocessing.get_context("spawn").Process(target=render_video, args=(video, seconds, fps, speed_mps))
    child.start()
    child.join()
    if child.exitcode != 0:
        raise RuntimeError(f"rendering the video failed (exit code {child.exitcode})")
    write_gpx(gpx, seconds, speed_mps)
    return video, gpx


class RssSampler(threading.Thread):
    """Records ``(t_s, samples_done, rss_mb)`` every ``period_s`` seconds until stopped."""

    def __init__(self, process: psutil.Process, period_s: float) -> None:
        super().__init__(daemon=True)
        self.process, self.period_s = process, period_s
        self.samples_done = 0
        self.records: list[tuple[float, int, float]] = []
        self._halt = threading.Event()
        self._begin = time.perf_counter()

    def run(self) -> None:
        while not self._halt.wait(self.period_s):
            self.records.append(self._record())

    def _record(self) -> tuple[float, int, float]:
        rss = self.process.memory_info().rss / 2**20
        return round(time.perf_counter() - self._begin, 1), self.samples_done, round(rss, 1)

    def stop(self) -> None:
        self._halt.set()
        self.join()
        self.records.append(self._record())


def main() -> None:
    args = parse_args()
    speed = args.speed_kmh / 3.6
    process = psutil.Process()
    if args.workdir:
        args.workdir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=args.workdir, prefix="bench-survey-") as folder:
        started = time.perf_counter()
        video, gpx = render_drive(Path(folder), args.seconds, args.fps, speed)
        render_s = time.perf_counter() - started
        video_mb = video.stat().st_size / 2**20
        print(f"rendered {args.seconds:g} s of video in {render_s:.0f} s ({video_mb:.0f} MB)", flush=True)
        segmenter = Segmenter(default_model_path("street"), backend=args.backend)  # the model `survey` uses
        rss: list[tuple[int, float, float]] = []
        sampler = RssSampler(process, args.rss_every_s)
        begin = time.perf_counter()
        sampler.start()

        def progress(done: int, total: int, name: str) -> None:
            sampler.samples_done = done
            if done == 1 or done % max(1, total // 10) == 0 or done == total:
                rss.append((done, round(time.perf_counter() - begin, 1), round(process.memory_info().rss / 2**20, 1)))
                print(f"sample {done}/{total} at {rss[-1][1]} s: RSS {rss[-1][2]} MB", flush=True)

        result = run_survey(
            [video],
            segmenter,
            Path(folder) / "out",
            track_path=gpx,
            settings=SurveySettings(every_m=args.every_m),
            progress=progress,
        )
        elapsed = time.perf_counter() - begin
        sampler.stop()
    frames = int(args.seconds * args.fps)
    timed = [m for _, _, m in sampler.records]
    after_first = [m for _, d, m in sampler.records if d >= 1] or timed
    figures = {
        "video": f"1920x1080 mp4v, {args.fps:g} fps, {args.seconds:g} s, {args.speed_kmh:g} km/h",
        "video_mb": round(video_mb, 1),
        "every_m": args.every_m,
        "backend": segmenter.backend,
        "render_s": round(render_s, 1),
        "survey_s": round(elapsed, 1),
        "realtime_ratio": round(args.seconds / elapsed, 2),
        "frames_per_s_decoded": round(frames / elapsed, 1),
        "samples": int(result.summary["samples"]),
        "samples_per_s": round(result.summary["samples"] / elapsed, 2),
        "cracks": int(result.summary["cracks"]),
        "sections": int(result.summary["sections"]),
        "rss_mb_by_sample": [{"sample": d, "t_s": t, "rss_mb": m} for d, t, m in rss],
        "rss_mb_timed": {
            "period_s": args.rss_every_s,
            "count": len(timed),
            "peak": max(timed),
            "min_after_first_sample": min(after_first),
            "max_after_first_sample": max(after_first),
            "series": [{"t_s": t, "samples_done": d, "rss_mb": m} for t, d, m in sampler.records],
        },
        "cpu_count": psutil.cpu_count(),
        "load_average": [round(v, 2) for v in psutil.getloadavg()],
    }
    print(f"{figures['video']} ({figures['backend']})")
    print(
        f"survey {elapsed:.1f} s for {args.seconds:g} s of video: {figures['realtime_ratio']}x real time, "
        f"{figures['frames_per_s_decoded']} frames/s decoded, {figures['samples_per_s']} samples/s inspected"
    )
    print("RSS (MB) at samples: " + ", ".join(f"{d}: {m}" for d, _, m in rss))
    timed_figures = figures["rss_mb_timed"]
    print(
        f"RSS every {args.rss_every_s:g} s ({len(timed)} readings): peak {timed_figures['peak']} MB, "
        f"{timed_figures['min_after_first_sample']}-{timed_figures['max_after_first_sample']} MB after the first sample"
    )
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
