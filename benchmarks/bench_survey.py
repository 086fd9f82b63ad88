"""Survey speed and memory: a synthetic 1080p 30 fps drive at 50 km/h, sampled every 5 m, through ``run_survey``.

The video is rendered first (a road texture with cracks seen through the default
phone/dashcam profile, encoded with OpenCV's mp4v), with a matching GPX; then the
survey runs on it exactly as ``python -m crackseg survey`` does (decode, street
inspection with the operator's model, pieces, sections, GeoJSON, report). Printed:
processing time against the video's duration (the real-time ratio), frames/s
decoded and samples/s inspected, and the process RSS at points along the run.

    python benchmarks/bench_survey.py --seconds 120 --output benchmarks/results/survey.json
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import cv2
import numpy as np
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere, without installing

from crackseg.geometry.camera import DEFAULT_PROFILE
from crackseg.geometry.ground import GroundView
from crackseg.inference.segmenter import Segmenter
from crackseg.survey.run import SurveySettings, run_survey

EARTH_RADIUS_M = 6_371_008.8
TEXTURE_MM = 10.0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=120.0, help="video duration (s)")
    parser.add_argument("--fps", type=float, default=30.0)
    parser.add_argument("--speed-kmh", type=float, default=50.0)
    parser.add_argument("--every-m", type=float, default=5.0)
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--output", type=Path, default=None, help="write the figures as JSON here")
    return parser.parse_args()


def render_drive(folder: Path, seconds: float, fps: float, speed_mps: float) -> tuple[Path, Path]:
    """A 1920x1080 mp4v video and its GPX (one fix a second, due north)."""
    view = GroundView.for_frame(DEFAULT_PROFILE, DEFAULT_PROFILE.image_wh)
    rng = np.random.default_rng(0)
    tile_m = 40.0  # the texture repeats every 40 m (cracks every few metres)
    rows, cols = int(tile_m * 1000 / TEXTURE_MM), int(8000 / TEXTURE_MM)
    grey = (120 + rng.normal(0, 10, (rows, cols))).clip(80, 170).astype(np.uint8)
    for _ in range(12):
        y, x = int(rng.integers(0, rows)), int(rng.integers(150, cols - 150))
        cv2.line(grey, (x - 120, y), (x + 120, y + int(rng.integers(-40, 40))), 30, 3)
    texture = np.ascontiguousarray(np.dstack([grey] * 3)[:, :, ::-1])
    texture = np.concatenate([texture, texture[: int(20_000 / TEXTURE_MM)]])  # wrap-around margin
    video = folder / "drive.mp4"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), fps, view.frame_wh)
    for k in range(int(seconds * fps)):
        chainage = (speed_mps * k / fps) % tile_m
        scale = TEXTURE_MM / 1000
        to_ground = np.array([[scale, 0, -4.0], [0, scale, -chainage], [0, 0, 1.0]])
        frame = cv2.warpPerspective(texture, view.ground_to_image @ to_ground, view.frame_wh, borderValue=(80, 120, 80))
        frame[: int(math.ceil(view.horizon_row())) + 2] = (230, 190, 150)
        writer.write(frame)
    writer.release()
    start = 1_700_000_000
    points = "".join(
        f'<trkpt lat="{45 + math.degrees(speed_mps * t / EARTH_RADIUS_M):.9f}" lon="7.0"><time>'
        f"{datetime.fromtimestamp(start + t, tz=timezone.utc).isoformat().replace('+00:00', 'Z')}</time></trkpt>"
        for t in range(int(seconds) + 2)
    )
    gpx = folder / "drive.gpx"
    gpx.write_text(
        f'<gpx version="1.1" xmlns="http://www.topografix.com/GPX/1/1"><trk><trkseg>{points}</trkseg></trk></gpx>'
    )
    return video, gpx


def main() -> None:
    args = parse_args()
    speed = args.speed_kmh / 3.6
    process = psutil.Process()
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        video, gpx = render_drive(Path(folder), args.seconds, args.fps, speed)
        render_s = time.perf_counter() - started
        segmenter = Segmenter(backend=args.backend)
        rss: list[tuple[int, float, float]] = []
        begin = time.perf_counter()

        def progress(done: int, total: int, name: str) -> None:
            if done == 1 or done % max(1, total // 10) == 0 or done == total:
                rss.append((done, round(time.perf_counter() - begin, 1), round(process.memory_info().rss / 2**20, 1)))

        result = run_survey(
            [video],
            segmenter,
            Path(folder) / "out",
            track_path=gpx,
            settings=SurveySettings(every_m=args.every_m),
            progress=progress,
        )
        elapsed = time.perf_counter() - begin
    frames = int(args.seconds * args.fps)
    figures = {
        "video": f"1920x1080 mp4v, {args.fps:g} fps, {args.seconds:g} s, {args.speed_kmh:g} km/h",
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
        "cpu_count": psutil.cpu_count(),
        "load_average": [round(v, 2) for v in psutil.getloadavg()],
    }
    print(f"{figures['video']} ({figures['backend']})")
    print(
        f"survey {elapsed:.1f} s for {args.seconds:g} s of video: {figures['realtime_ratio']}x real time, "
        f"{figures['frames_per_s_decoded']} frames/s decoded, {figures['samples_per_s']} samples/s inspected"
    )
    print("RSS (MB) at samples: " + ", ".join(f"{d}: {m}" for d, _, m in rss))
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
