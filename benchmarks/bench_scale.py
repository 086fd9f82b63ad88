"""Scale benchmark: `predict --engine ray` (1 and 2 workers) against the local engine; RSS over 5,000 images.

Whole processes, as a user runs them, with default outputs and the default backend (auto):

1. **Ray.** On the same folder (the crack-seg test split twice, 224 images), the local
   engine, then ``--engine ray --workers 1`` and ``--workers 2`` (a local Ray that the
   command starts). For each: seconds for the whole process, time to the first row of
   ``images.csv``, images/s over the whole process and in the steady state (after the
   first result, so without start-up), and the ratio to the local engine: at 1 worker
   that ratio is Ray's overhead. The CPU seconds are the command's and those of the
   children it waited for: complete for the local engine, not for Ray (its actors are
   children of Ray's raylet), so they are printed for the local engine only.
2. **RSS.** The local engine over about 5,000 images (the test split linked again and
   again into a temporary folder); the resident memory of the process (with its
   children) is sampled while it runs and reported at each tenth of the batch: flat
   means memory does not grow with the batch.

    python benchmarks/bench_scale.py [--images DIR] [--rss-images 5000] [--skip-ray] [--skip-rss]

Printed, not asserted: timings depend on the machine and on what else it runs.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

REPO = Path(__file__).resolve().parents[1]
DEFAULT_IMAGES = REPO.parent / "shared" / "datasets" / "crack-seg" / "test" / "images"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=Path, default=DEFAULT_IMAGES, help="a folder of images")
    parser.add_argument("--ray-copies", type=int, default=2, help="copies of the folder for the Ray runs (224 images)")
    parser.add_argument("--rss-images", type=int, default=5000, help="at least this many images for the RSS run")
    parser.add_argument("--skip-ray", action="store_true", help="only the RSS run")
    parser.add_argument("--skip-rss", action="store_true", help="only the Ray runs")
    parser.add_argument("--output", type=Path, default=REPO / "benchmarks" / "results" / "scale.json")
    return parser.parse_args(argv)


def make_folder(images: Path, folder: Path, copies: int) -> int:
    """Link every image of ``images`` ``copies`` times into ``folder`` (flat, ``cNNN_NAME``); returns the count."""
    folder.mkdir(parents=True)
    sources = sorted(images.glob("*.jpg"))
    for copy in range(copies):
        for image in sources:
            (folder / f"c{copy:03d}_{image.name}").symlink_to(image.resolve())
    return copies * len(sources)


def rows_done(table: Path) -> int:
    """Data rows written so far to a CSV table (one line each for these inputs)."""
    try:
        return max(table.read_bytes().count(b"\n") - 1, 0)
    except FileNotFoundError:
        return 0


def tree_rss_bytes(process: psutil.Process) -> int:
    """Resident memory of ``process`` and its children (Ray's workers, for the Ray engine)."""
    total = 0
    for member in [process, *process.children(recursive=True)]:
        try:
            total += member.memory_info().rss
        except psutil.Error:
            pass
    return total


def run(command: list[str], out: Path, env: dict[str, str], interval_s: float = 0.25) -> dict[str, Any]:
    """Run ``command`` to its end; seconds in all, to the first result, and (done, RSS) samples along the way."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    watched = psutil.Process(process.pid)
    first = None
    samples: list[tuple[float, int, int]] = []
    while process.poll() is None:
        done = rows_done(out / "images.csv")
        if first is None and done >= 1:
            first = time.perf_counter() - started
        try:
            samples.append((time.perf_counter() - started, done, tree_rss_bytes(watched)))
        except psutil.Error:
            pass
        time.sleep(interval_s)
    total = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)  # Ray's daemons are not our children: driver + workers only
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    stderr = process.stderr.read() if process.stderr else ""
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({process.returncode}): {stderr[-2000:]}")
    return {"total_s": total, "first_s": first if first is not None else total, "cpu_s": cpu, "samples": samples}


def predict_command(folder: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "crackseg", "predict", str(folder), "--out", str(out), *extra]


def ray_comparison(images: Path, workdir: Path, copies: int, env: dict[str, str]) -> dict[str, Any]:
    """The local engine, Ray with 1 worker and Ray with 2 workers, on the same folder."""
    folder = workdir / "ray-photos"
    count = make_folder(images, folder, copies)
    variants = {
        "local engine": (),
        "ray --workers 1": ("--engine", "ray", "--workers", "1"),
        "ray --workers 2": ("--engine", "ray", "--workers", "2"),
    }
    rows = {}
    for index, (name, extra) in enumerate(variants.items()):
        out = workdir / f"ray-out-{index}"
        result = run(predict_command(folder, out, *extra), out, env)
        steady_s = result["total_s"] - result["first_s"]
        rows[name] = {
            "total_s": result["total_s"],
            "first_s": result["first_s"],
            "cpu_s": result["cpu_s"],
            "images_per_s": count / result["total_s"],
            "steady_images_per_s": (count - 1) / steady_s if steady_s > 0 else float("nan"),
            "peak_rss_mb": max((rss for _, _, rss in result["samples"]), default=0) / 2**20,
        }
        print(f"{name}: {result['total_s']:.1f} s", file=sys.stderr)
        shutil.rmtree(out, ignore_errors=True)
    return {"images": count, "rows": rows}


def rss_run(images: Path, workdir: Path, at_least: int, env: dict[str, str]) -> dict[str, Any]:
    """The local engine over ``at_least`` images or more: RSS at each tenth of the batch."""
    sources = len(list(images.glob("*.jpg")))
    folder = workdir / "rss-photos"
    count = make_folder(images, folder, math.ceil(at_least / sources))
    out = workdir / "rss-out"
    result = run(predict_command(folder, out), out, env, interval_s=0.5)
    points = []
    peak = 0
    marks = iter([count * tenth // 10 for tenth in range(1, 11)])
    mark = next(marks)
    for _, done, rss in result["samples"]:
        peak = max(peak, rss)
        while mark is not None and done >= mark:
            points.append({"images_done": done, "rss_mb": rss / 2**20, "peak_so_far_mb": peak / 2**20})
            mark = next(marks, None)
    shutil.rmtree(out, ignore_errors=True)
    return {
        "images": count,
        "total_s": result["total_s"],
        "cpu_s": result["cpu_s"],
        "images_per_s": count / result["total_s"],
        "peak_rss_mb": peak / 2**20,
        "points": points,
    }


def machine() -> dict[str, Any]:
    return {
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "load_average_at_start": [round(value, 2) for value in os.getloadavg()],
        "python": platform.python_version(),
    }


def print_ray(ray: dict[str, Any]) -> None:
    rows = ray["rows"]
    local = rows["local engine"]
    print(f"\nRay against the local engine, {ray['images']} images, whole process, default outputs, backend auto:\n")
    print("| engine | s | first result (s) | images/s | steady images/s | time vs local | steady vs local | CPU s |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, row in rows.items():
        cpu = f"{row['cpu_s']:.1f}" if name == "local engine" else "n/a"
        print(
            f"| {name} | {row['total_s']:.1f} | {row['first_s']:.2f} | {row['images_per_s']:.1f} | "
            f"{row['steady_images_per_s']:.1f} | {row['total_s'] / local['total_s']:.2f}x | "
            f"{local['steady_images_per_s'] / row['steady_images_per_s']:.2f}x | "
            f"{cpu} |"
        )
    one = rows["ray --workers 1"]
    print(
        f"\nRay overhead at 1 worker: {one['total_s'] / local['total_s']:.2f}x the local engine's time "
        f"(whole process), {local['steady_images_per_s'] / one['steady_images_per_s']:.2f}x in the steady state; "
        f"2 workers vs 1: {rows['ray --workers 2']['steady_images_per_s'] / one['steady_images_per_s']:.2f}x "
        "the steady images/s."
    )


def print_rss(rss: dict[str, Any]) -> None:
    print(
        f"\nRSS of the local engine over {rss['images']} images ({rss['total_s']:.0f} s, "
        f"{rss['images_per_s']:.1f} images/s), default outputs:\n"
    )
    print("| images done | RSS (MB) | peak so far (MB) |")
    print("| ---: | ---: | ---: |")
    for point in rss["points"]:
        print(f"| {point['images_done']} | {point['rss_mb']:.0f} | {point['peak_so_far_mb']:.0f} |")
    if rss["points"]:
        first, last = rss["points"][0], rss["points"][-1]
        growth = last["peak_so_far_mb"] / first["peak_so_far_mb"]
        print(
            f"\nPeak RSS {rss['peak_rss_mb']:.0f} MB (loading included); peak so far at 10% of the batch "
            f"{first['peak_so_far_mb']:.0f} MB, at the end {last['peak_so_far_mb']:.0f} MB ({growth:.2f}x)."
        )


def main(argv: list[str] | None = None) -> int:
    """Run the Ray comparison and the RSS run; print the tables and write every number to ``--output``."""
    args = parse_args(argv)
    if not args.images.is_dir():
        print(f"error: {args.images}: no such folder (the crack-seg dataset is in ../shared)", file=sys.stderr)
        return 2
    env = os.environ | {"YOLO_OFFLINE": "1", "PYTHONPATH": str(REPO), "YOLO_VERBOSE": "False"}
    record: dict[str, Any] = {
        "started_utc": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "command": " ".join(["python", "benchmarks/bench_scale.py", *(argv if argv is not None else sys.argv[1:])]),
        "machine": machine(),
    }
    with tempfile.TemporaryDirectory(prefix="crackseg-scale-") as tmp:
        workdir = Path(tmp)
        if not args.skip_ray:
            record["ray"] = ray_comparison(args.images, workdir, args.ray_copies, env)
            print_ray(record["ray"])
        if not args.skip_rss:
            record["rss"] = rss_run(args.images, workdir, args.rss_images, env)
            print_rss(record["rss"])
    record["load_average_at_end"] = [round(value, 2) for value in os.getloadavg()]
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(record, indent=2) + "\n")
    print(f"\nevery number: {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
