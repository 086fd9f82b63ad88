"""CPU inference benchmark: crackseg against plain Ultralytics, on every backend, in one process.

Times, on the same decoded images and in interleaved rounds (each round runs
every variant over all images, in a rotated order, so a background load or
CPU clock change hits all variants alike):

* plain Ultralytics ``YOLO(...).predict`` on the PyTorch weights (the reference)
  and on the ONNX and OpenVINO exports crackseg uses (OpenVINO in its default
  precision, BF16 on CPUs that have it), and on the INT8 OpenVINO model;
* ``crackseg`` ``Segmenter.predict`` on each backend and on ``auto``, with and
  without ``measure_prediction``;

then batch throughput over the folder, RSS growth over many predictions after
warm-up, and a 4000x3000 tiled photo against (number of tiles x one tile).
Prints a Markdown table and writes the numbers as JSON.

    python benchmarks/bench_inference.py                  # full run (several minutes)
    python benchmarks/bench_inference.py --quick          # short CI form
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import cv2
import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from crackseg.core.errors import ModelLoadError  # noqa: E402
from crackseg.core.locations import SHIPPED_MODEL  # noqa: E402
from crackseg.core.system import cpu_model_name  # noqa: E402
from crackseg.inference.backends import INT8_BACKEND, ensure_export, load_yolo_unchecked  # noqa: E402
from crackseg.inference.int8_lookup import usable_int8_model  # noqa: E402
from crackseg.inference.segmenter import InferenceSettings, Segmenter  # noqa: E402
from crackseg.inference.tiling import TiledPredictor  # noqa: E402
from crackseg.io.image_io import IMAGE_SUFFIXES, load_image  # noqa: E402
from crackseg.io.inputs import expand_paths  # noqa: E402
from crackseg.measurement.measure import measure_prediction  # noqa: E402
from crackseg.pipeline.inspection import Inspection, inspect_payloads  # noqa: E402

DEFAULT_IMAGES = REPO_ROOT.parent / "shared" / "datasets" / "crack-seg" / "test" / "images"
FALLBACK_IMAGES = REPO_ROOT / "samples" / "images"
RESULTS_DIR = REPO_ROOT / "benchmarks" / "results"
IMGSZ = 416
REFERENCE = "ultralytics torch"
PHOTO_WH = (4000, 3000)
TARGETS = {  # issue 5: ratio to the reference (lower is faster)
    "crackseg torch": 1.10,
    "crackseg torch + measure": 1.25,
    "crackseg auto": 1 / 4,
    "crackseg auto + measure": 1 / 3,
}
# issue 5: ``auto`` within 1.1x of plain Ultralytics on its fastest backend (the exports it makes by default:
# torch, ONNX, OpenVINO; the INT8 row is shown too, but needs a calibration set plain Ultralytics users lack)
FASTEST_PLAIN_TARGETS = {"crackseg auto": 1.10}
PLAIN_BACKENDS = (REFERENCE, "ultralytics onnx", "ultralytics openvino")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=Path, default=DEFAULT_IMAGES, help="folder of test images")
    parser.add_argument("--weights", type=Path, default=SHIPPED_MODEL, help="PyTorch weights (default model/best.pt)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved timing rounds (median reported)")
    parser.add_argument("--rss-predictions", type=int, default=1000, help="predictions for the RSS growth check")
    parser.add_argument("--limit", type=int, default=None, help="use only the first N images")
    parser.add_argument("--quick", action="store_true", help="short form: 12 images, 2 rounds, 100 RSS predictions")
    parser.add_argument("--output", type=Path, default=None, help="JSON path (default benchmarks/results/latest.json)")
    parser.add_argument("--probe-rss", action="store_true", help=argparse.SUPPRESS)  # the child of bench_app_rss
    args = parser.parse_args(argv)
    if args.quick:
        args.limit = min(args.limit or 12, 12)
        args.rounds = min(args.rounds, 2)
        args.rss_predictions = min(args.rss_predictions, 100)
    if args.output is None:
        args.output = RESULTS_DIR / ("quick.json" if args.quick else "latest.json")
    if args.rounds < 1 or args.rss_predictions < 1:
        parser.error("--rounds and --rss-predictions must be >= 1")
    return args


# --- measuring -----------------------------------------------------------------------------------------------


def _proc_status_mb(field_name: str) -> float:
    """A memory field of /proc/self/status in MB (Linux; 0 elsewhere)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(f"{field_name}:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def rss_mb() -> float:
    """Current resident set size of this process, MB."""
    return _proc_status_mb("VmRSS")


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, MB (``VmHWM``: unlike ``ru_maxrss`` it does not inherit
    the parent's peak across fork + exec)."""
    return _proc_status_mb("VmHWM") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@dataclass
class Timing:
    """Per-round mean wall and CPU milliseconds per image of one variant."""

    wall_ms: list[float] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)

    @property
    def median_ms(self) -> float:
        return statistics.median(self.wall_ms)

    @property
    def median_cpu_ms(self) -> float:
        return statistics.median(self.cpu_ms)


def time_interleaved(variants: dict[str, Callable[[int], Any]], count: int, rounds: int) -> dict[str, Timing]:
    """Run every variant over images ``0..count-1`` once per round, rotating the order each round."""
    timings = {name: Timing() for name in variants}
    names = list(variants)
    for round_index in range(rounds):
        order = names[round_index % len(names) :] + names[: round_index % len(names)]
        for name in order:
            run = variants[name]
            gc.collect()
            wall, cpu = time.perf_counter(), time.process_time()
            for index in range(count):
                run(index)
            timings[name].wall_ms.append((time.perf_counter() - wall) * 1000 / count)
            timings[name].cpu_ms.append((time.process_time() - cpu) * 1000 / count)
        done = ", ".join(f"{name} {timings[name].wall_ms[-1]:.1f}" for name in names)
        print(f"round {round_index + 1}/{rounds} (ms/image): {done}", file=sys.stderr)
    return timings


def make_photo(images: list[np.ndarray], resolution_wh: tuple[int, int] = PHOTO_WH) -> np.ndarray:
    """A ``(H, W, 3)`` RGB road 'photo': a grid of the test images, each enlarged to a 1000 px cell."""
    width, height = resolution_wh
    cell = 1000
    columns, rows = width // cell, height // cell
    cells = [
        cv2.resize(images[i % len(images)], (cell, cell), interpolation=cv2.INTER_LINEAR) for i in range(rows * columns)
    ]
    grid = [np.hstack(cells[r * columns : (r + 1) * columns]) for r in range(rows)]
    return np.ascontiguousarray(np.vstack(grid))


# --- the benchmark parts ---------------------------------------------------------------------------------------


def bench_latency(
    rgbs: list[np.ndarray], weights: Path, segmenters: dict[str, Segmenter], rounds: int
) -> dict[str, Timing]:
    bgrs = [cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR) for rgb in rgbs]
    plain = {
        REFERENCE: load_yolo_unchecked(weights),
        "ultralytics onnx": load_yolo_unchecked(ensure_export(weights, "onnx")),
        "ultralytics openvino": load_yolo_unchecked(ensure_export(weights, "openvino")),
    }
    if INT8_BACKEND in segmenters:
        plain[f"ultralytics {INT8_BACKEND}"] = load_yolo_unchecked(usable_int8_model(weights))
    variants: dict[str, Callable[[int], Any]] = {}
    for name, model in plain.items():
        variants[name] = lambda i, model=model: model.predict(bgrs[i], imgsz=IMGSZ, verbose=False)
    for backend, segmenter in segmenters.items():
        variants[f"crackseg {backend}"] = lambda i, s=segmenter: s.predict(rgbs[i])
        variants[f"crackseg {backend} + measure"] = lambda i, s=segmenter: measure_prediction(s.predict(rgbs[i]))
    for run in variants.values():  # warm-up: first calls compile kernels and allocate
        for index in range(min(3, len(rgbs))):
            run(index)
    return time_interleaved(variants, len(rgbs), rounds)


def bench_throughput(
    paths: list[Path], rgbs: list[np.ndarray], weights: Path, segmenter: Segmenter
) -> dict[str, float]:
    """Images per second over the whole folder: streaming from disk, and batched in memory."""
    reference = load_yolo_unchecked(weights)
    reference.predict(cv2.cvtColor(rgbs[0], cv2.COLOR_RGB2BGR), imgsz=IMGSZ, verbose=False)
    out: dict[str, float] = {}
    start = time.perf_counter()
    for _ in reference.predict([str(p) for p in paths], imgsz=IMGSZ, stream=True, verbose=False):
        pass
    out[f"{REFERENCE}, stream of files"] = len(paths) / (time.perf_counter() - start)
    start = time.perf_counter()
    for item in segmenter.predict_many(paths, keep_images=False):
        if not item.ok:
            raise RuntimeError(item.error)
    out[f"crackseg {segmenter.backend} predict_many, files"] = len(paths) / (time.perf_counter() - start)
    start = time.perf_counter()
    for result in inspect_payloads(segmenter, expand_paths(paths)):  # the CLI's and the app's own path
        if not isinstance(result, Inspection):
            raise RuntimeError(result.error)
    out[f"crackseg {segmenter.backend} inspect_payloads (load + predict + measure), files"] = len(paths) / (
        time.perf_counter() - start
    )
    start = time.perf_counter()
    segmenter.predict_batch(rgbs)
    out[f"crackseg {segmenter.backend} predict_batch, decoded"] = len(rgbs) / (time.perf_counter() - start)
    return out


def bench_rss(paths: list[Path], segmenter: Segmenter, predictions: int) -> dict[str, float]:
    """RSS before and after ``predictions`` streamed predictions + measurements, after a warm-up pass."""

    def cycle(count: int) -> Iterator[Path]:
        for index in range(count):
            yield paths[index % len(paths)]

    warm_up = min(len(paths), 50)
    for item in segmenter.predict_many(cycle(warm_up), keep_images=False):
        measure_prediction(item.prediction)
    gc.collect()
    before = rss_mb()
    samples = []
    for index, item in enumerate(segmenter.predict_many(cycle(predictions), keep_images=False)):
        measure_prediction(item.prediction)
        if (index + 1) % max(1, predictions // 10) == 0:
            samples.append(rss_mb())
    gc.collect()
    after = rss_mb()
    return {
        "predictions": predictions,
        "rss_before_mb": before,
        "rss_after_mb": after,
        "rss_max_mb": max([after, *samples]),
        "growth_mb": after - before,
    }


def bench_app_rss(args: argparse.Namespace) -> dict[str, float]:
    """Peak RSS of a fresh process that does what the app does: one ``auto`` segmenter predicting and
    measuring every image of the folder, then the 4000x3000 photo (tiled)."""
    command = [sys.executable, str(Path(__file__).resolve()), "--probe-rss", "--images", str(args.images)]
    command += ["--weights", str(args.weights)] + (["--limit", str(args.limit)] if args.limit else [])
    completed = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(completed.stdout.strip().splitlines()[-1])


def probe_rss(paths: list[Path], weights: Path) -> dict[str, float]:
    segmenter = Segmenter(weights, backend="auto")
    loaded = peak_rss_mb()
    for item in segmenter.predict_many(paths, keep_images=False):
        measure_prediction(item.prediction)
    streamed = peak_rss_mb()
    photo = make_photo([load_image(p) for p in paths[:12]])
    measure_prediction(segmenter.predict(photo))
    return {"after_load_mb": loaded, "after_stream_mb": streamed, "after_photo_mb": peak_rss_mb()}


def bench_tiled(photo: np.ndarray, segmenter: Segmenter, rounds: int) -> dict[str, Any]:
    """Tiled 4000x3000 predict against predicting each of its tiles alone (same tiles, same settings)."""
    settings = InferenceSettings()
    tiler = TiledPredictor(lambda tiles: [], tile_size=settings.tile_size, overlap_ratio=settings.tile_overlap)
    windows = tiler.windows((photo.shape[1], photo.shape[0]))
    tiles = [np.ascontiguousarray(photo[w.y0 : w.y1, w.x0 : w.x1]) for w in windows]
    single = InferenceSettings(tile="never")
    segmenter.predict(photo, settings)
    tiled_ms, tiles_ms, tiled_cpu, tiles_cpu = [], [], [], []
    for _ in range(rounds):
        gc.collect()
        wall, cpu = time.perf_counter(), time.process_time()
        prediction = segmenter.predict(photo, settings)
        tiled_ms.append((time.perf_counter() - wall) * 1000)
        tiled_cpu.append((time.process_time() - cpu) * 1000)
        cracks = len(prediction)
        del prediction
        gc.collect()
        wall, cpu = time.perf_counter(), time.process_time()
        for tile in tiles:
            segmenter.predict(tile, single)
        tiles_ms.append((time.perf_counter() - wall) * 1000)
        tiles_cpu.append((time.process_time() - cpu) * 1000)
    tiled, per_tile = statistics.median(tiled_ms), statistics.median(tiles_ms) / len(tiles)
    return {
        "backend": segmenter.backend,
        "resolution_wh": [int(photo.shape[1]), int(photo.shape[0])],
        "tiles": len(tiles),
        "tiled_ms": tiled,
        "single_tile_ms": per_tile,
        "ratio": tiled / (per_tile * len(tiles)),
        "cpu_ratio": statistics.median(tiled_cpu) / statistics.median(tiles_cpu),
        "rounds_ms": {"tiled": tiled_ms, "tiles_one_by_one": tiles_ms},
        "cracks": cracks,
    }


def machine() -> dict[str, Any]:
    cpu = cpu_model_name()
    import onnxruntime
    import openvino
    import torch
    import ultralytics

    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "torch": torch.__version__,
        "ultralytics": ultralytics.__version__,
        "onnxruntime": onnxruntime.__version__,
        "openvino": openvino.__version__,
    }


def markdown(report: dict[str, Any]) -> str:
    latency = report["latency"]
    reference = latency[REFERENCE]["median_ms"]
    fastest_plain = min(latency[name]["median_ms"] for name in PLAIN_BACKENDS)
    lines = [
        f"Machine: {report['machine']['cpu']}, {report['machine']['cores']} cores; "
        f"load average at start {report['machine']['load_average_at_start']}; "
        f"{report['images']} images from `{report['images_dir']}`, imgsz {IMGSZ}, "
        f"median of {report['rounds']} interleaved rounds; `auto` = {report['auto_backend']}.",
        "",
        "| variant | ms/image | CPU ms/image | vs reference | vs fastest plain | target |",
        "| --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for name, value in latency.items():
        ratio, plain_ratio = value["median_ms"] / reference, value["median_ms"] / fastest_plain
        verdicts = []
        if name in TARGETS:
            verdicts.append(f"<= {TARGETS[name]:.2f}x ref {'ok' if ratio <= TARGETS[name] else 'MISSED'}")
        if name in FASTEST_PLAIN_TARGETS:
            limit = FASTEST_PLAIN_TARGETS[name]
            verdicts.append(f"<= {limit:.2f}x fastest plain {'ok' if plain_ratio <= limit else 'MISSED'}")
        lines.append(
            f"| {name} | {value['median_ms']:.1f} | {value['median_cpu_ms']:.1f} | {ratio:.2f}x "
            f"| {plain_ratio:.2f}x | {'; '.join(verdicts)} |"
        )
    fastest_name = min(PLAIN_BACKENDS, key=lambda name: latency[name]["median_ms"])
    lines += ["", f"Fastest plain Ultralytics backend (torch, ONNX, OpenVINO exports): {fastest_name}."]
    lines += ["", "| throughput | images/s |", "| --- | ---: |"]
    lines += [f"| {name} | {value:.1f} |" for name, value in report["throughput"].items()]
    rss, tiled, app = report["rss"], report["tiled"], report["app_peak_rss_mb"]
    lines += [
        "",
        f"- Peak RSS: {report['peak_rss_mb']:.0f} MB for this process (every model above loaded at once); "
        f"{app['after_photo_mb']:.0f} MB for a process like the app's (one `auto` segmenter: "
        f"{app['after_load_mb']:.0f} MB loaded, {app['after_stream_mb']:.0f} MB after predicting and measuring "
        f"the folder, {app['after_photo_mb']:.0f} MB after the tiled photo).",
        f"- RSS growth over {rss['predictions']} streamed predictions + measurements after warm-up: "
        f"{rss['growth_mb']:+.1f} MB ({rss['rss_before_mb']:.0f} -> {rss['rss_after_mb']:.0f} MB, "
        f"max {rss['rss_max_mb']:.0f} MB); target < 100 MB {'ok' if rss['growth_mb'] < 100 else 'MISSED'}.",
        f"- Tiled {tiled['resolution_wh'][0]}x{tiled['resolution_wh'][1]} photo ({tiled['backend']}): "
        f"{tiled['tiled_ms']:.0f} ms for {tiled['tiles']} tiles vs {tiled['tiles']} x {tiled['single_tile_ms']:.1f} ms "
        f"= {tiled['ratio']:.2f}x (CPU time {tiled['cpu_ratio']:.2f}x); "
        f"target <= 1.30x {'ok' if tiled['ratio'] <= 1.3 else 'MISSED'}.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    images_dir = args.images if args.images.is_dir() else FALLBACK_IMAGES
    if images_dir != args.images:
        print(f"{args.images} not found; using {images_dir}", file=sys.stderr)
    paths = sorted(p for p in images_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)[: args.limit]
    if not paths:
        print(f"no images in {images_dir}", file=sys.stderr)
        return 2
    from ultralytics.utils import LOGGER

    LOGGER.setLevel("WARNING")  # no 'Loading ...' lines in the printed table
    if args.probe_rss:
        print(json.dumps(probe_rss(paths, args.weights)))
        return 0
    started = datetime.now(timezone.utc)
    info = machine()
    rgbs = [load_image(p) for p in paths]
    for backend in ("onnx", "openvino"):
        ensure_export(args.weights, backend)
    backends = ["torch", "onnx", "openvino"]
    try:
        usable_int8_model(args.weights)
        backends.append(INT8_BACKEND)
    except ModelLoadError as error:
        print(f"no INT8 row: {error}", file=sys.stderr)
    segmenters = {backend: Segmenter(args.weights, backend=backend) for backend in (*backends, "auto")}
    auto = segmenters["auto"]
    print(f"timing {len(paths)} images x {args.rounds} rounds ...", file=sys.stderr)
    latency = bench_latency(rgbs, args.weights, segmenters, args.rounds)
    print("throughput ...", file=sys.stderr)
    throughput = bench_throughput(paths, rgbs, args.weights, auto)
    print("tiled photo ...", file=sys.stderr)
    tiled = bench_tiled(make_photo(rgbs), auto, 2 if args.quick else max(args.rounds, 5))
    print(f"RSS over {args.rss_predictions} predictions ...", file=sys.stderr)
    rss = bench_rss(paths, auto, args.rss_predictions)
    print("peak RSS of an app-like process ...", file=sys.stderr)
    app_rss = bench_app_rss(args)
    report = {
        "started_utc": started.isoformat(timespec="seconds"),
        "command": " ".join(["python", *sys.argv]) if argv is None else " ".join(argv),
        "machine": info,
        "images_dir": str(images_dir),
        "images": len(paths),
        "rounds": args.rounds,
        "auto_backend": auto.backend,
        "latency": {
            name: {"median_ms": t.median_ms, "median_cpu_ms": t.median_cpu_ms, "rounds_ms": t.wall_ms}
            for name, t in latency.items()
        },
        "throughput": throughput,
        "tiled": tiled,
        "rss": rss,
        "peak_rss_mb": peak_rss_mb(),
        "app_peak_rss_mb": app_rss,
    }
    table = markdown(report)
    report["markdown"] = table
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(table)
    print(f"\n(JSON: {args.output})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
