"""Whole-process batch benchmark: `crackseg predict` against plain `yolo segment predict save=True`.

What a user waits for on a folder of photos, start to finish, in fresh processes: Python
start-up, imports, model loading, decoding, inference, measurement and writing every
output. The folder is the crack-seg test split twice (224 images by default). Runs are
interleaved over ``--rounds`` rounds and the median of each is reported, with its ratio
to plain Ultralytics on the same weights, images/s, and the time to the first result
(process start until the first row of ``images.csv``; for Ultralytics, until its first
saved image). It also reports the CPU seconds of each process (user + system, with its
threads and children): on a shared machine the wall clock follows the other load, the
CPU time much less so. The load average at the start and end is printed with the table.

    python benchmarks/bench_batch.py [--images ../shared/datasets/crack-seg/test/images] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_IMAGES = REPO.parent / "shared" / "datasets" / "crack-seg" / "test" / "images"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=Path, default=DEFAULT_IMAGES, help="a folder of images (used twice)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (median reported)")
    parser.add_argument("--weights", type=Path, default=REPO / "model" / "best.pt")
    return parser.parse_args(argv)


def make_folder(images: Path, workdir: Path) -> Path:
    """The benchmark folder: every image of ``images`` twice, flat (``yolo`` does not descend into subfolders).

    Links, so nothing is copied; the copies are named ``a_NAME`` and ``b_NAME``.
    """
    folder = workdir / "photos"
    folder.mkdir(parents=True)
    for copy in ("a", "b"):
        for image in sorted(images.glob("*.jpg")):
            (folder / f"{copy}_{image.name}").symlink_to(image.resolve())
    return folder


def timed(command: list[str], first_output: Path, env: dict[str, str]) -> tuple[float, float, float]:
    """Seconds for the whole process, until ``first_output`` appears (or holds a data row, for a CSV), and of CPU."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    first = None
    while process.poll() is None:
        if first is None and _has_result(first_output):
            first = time.perf_counter() - started
        time.sleep(0.01)
    total = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed: {process.stderr.read()[-2000:]}")
    return total, first if first is not None else total, cpu


def _has_result(path: Path) -> bool:
    if path.suffix == ".csv":
        return path.is_file() and path.read_bytes().count(b"\n") >= 2
    return path.is_dir() and any(path.iterdir())


def main(argv: list[str] | None = None) -> int:
    """Run every command per round, interleaved; print the medians and the ratios."""
    args = parse_args(argv)
    if not args.images.is_dir():
        print(f"error: {args.images}: no such folder (the crack-seg dataset is in ../shared)", file=sys.stderr)
        return 2
    env = os.environ | {"YOLO_OFFLINE": "1", "PYTHONPATH": str(REPO), "YOLO_VERBOSE": "False"}
    load_at_start = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="crackseg-bench-") as tmp:
        workdir = Path(tmp)
        folder = make_folder(args.images, workdir)
        count = sum(1 for _ in folder.rglob("*.jpg"))
        yolo = shutil.which("yolo") or "yolo"
        commands = {
            "yolo segment predict save=True (torch, reference)": lambda out: (
                [yolo, "segment", "predict", f"model={args.weights}", f"source={folder}", "save=True", "imgsz=416"]
                + ["device=cpu", f"project={out}", "name=run", "exist_ok=True", "verbose=False"],
                out / "run",
            ),
            "crackseg predict --backend torch (default outputs)": lambda out: (
                [sys.executable, "-m", "crackseg", "predict", str(folder), "--out", str(out), "--backend", "torch"],
                out / "images.csv",
            ),
            "crackseg predict (auto = INT8, default outputs)": lambda out: (
                [sys.executable, "-m", "crackseg", "predict", str(folder), "--out", str(out)],
                out / "images.csv",
            ),
            "crackseg predict (auto, --tables-only: measurement only)": lambda out: (
                [sys.executable, "-m", "crackseg", "predict", str(folder), "--out", str(out), "--tables-only"],
                out / "images.csv",
            ),
        }
        totals: dict[str, list[float]] = {name: [] for name in commands}
        firsts: dict[str, list[float]] = {name: [] for name in commands}
        cpus: dict[str, list[float]] = {name: [] for name in commands}
        for round_index in range(args.rounds):
            for index, (name, build) in enumerate(commands.items()):
                out = workdir / f"out-{round_index}-{index}"
                command, first_output = build(out)
                total, first, cpu = timed(command, first_output, env)
                totals[name].append(total)
                firsts[name].append(first)
                cpus[name].append(cpu)
                shutil.rmtree(out, ignore_errors=True)
                print(f"round {round_index + 1}: {name}: {total:.1f} s, CPU {cpu:.1f} s", file=sys.stderr)
    reference = statistics.median(next(iter(totals.values())))
    reference_cpu = statistics.median(next(iter(cpus.values())))
    loads = ", ".join(f"{value:.2f}" for value in (*load_at_start, *os.getloadavg()))
    print(f"\n{count} images ({args.images} twice), median of {args.rounds} round(s), whole process")
    print(f"({os.cpu_count()} cores; load average 1/5/15 min at start and end: {loads}):\n")
    print("| command | s | images/s | vs yolo | first result (s) | CPU s | CPU vs yolo |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name in commands:
        total, first, cpu = (statistics.median(values[name]) for values in (totals, firsts, cpus))
        print(
            f"| {name} | {total:.1f} | {count / total:.1f} | {total / reference:.2f}x | {first:.2f} | "
            f"{cpu:.1f} | {cpu / reference_cpu:.2f}x |"
        )
    print("\nrounds (s): " + "; ".join(f"{name}: {', '.join(f'{t:.1f}' for t in totals[name])}" for name in commands))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
