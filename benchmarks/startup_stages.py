"""Where `crackseg predict`'s time to the first result goes: imports, model loading, first prediction.

Replays, in one fresh process, what ``python -m crackseg predict`` does before its first
row: import the CLI, the segmenter, the batch writer and the inspection pipeline, open
the model on ``--backend`` (warm-up included), and predict one image twice; then say
whether torch, torchvision or Ultralytics were imported on the way (the OpenVINO
backends run without them; ``torch`` and ``onnx`` go through Ultralytics). The stages
run one after the other here; the CLI overlaps the model's opening with the pipeline's
imports. Each stage is printed with its wall-clock and CPU seconds since the start; on a
shared machine the CPU seconds are the steadier figure.

    python benchmarks/startup_stages.py [--backend auto] [--image PATH]
"""

from __future__ import annotations

import time

STARTED_WALL, STARTED_CPU = time.perf_counter(), time.process_time()

import argparse  # noqa: E402 - the clocks start before any import
import contextlib  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DEFAULT_IMAGES = REPO.parent / "shared" / "datasets" / "crack-seg" / "test" / "images"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--image", type=Path, default=None, help="default: the first test image (or sample)")
    return parser.parse_args(argv)


def mark(stage: str, last: list[float]) -> None:
    """Print the time since the start and since the previous stage, wall clock and CPU."""
    wall, cpu = time.perf_counter() - STARTED_WALL, time.process_time() - STARTED_CPU
    print(f"| {stage} | {wall - last[0]:.2f} | {cpu - last[1]:.2f} | {wall:.2f} | {cpu:.2f} |", flush=True)
    last[:] = [wall, cpu]


def main(argv: list[str] | None = None) -> int:
    """Time each stage up to the first prediction."""
    args = parse_args(argv)
    sys.path.insert(0, str(REPO))
    image = args.image or next(iter(sorted(DEFAULT_IMAGES.glob("*.jpg"))), None)
    image = image or sorted((REPO / "samples" / "images").glob("*.jpg"))[0]
    print("| stage | wall s | CPU s | wall s since start | CPU s since start |")
    print("| --- | ---: | ---: | ---: | ---: |")
    last = [0.0, 0.0]
    import crackseg.cli  # noqa: F401

    mark("import crackseg.cli (argument parser)", last)
    from crackseg.inference.segmenter import Segmenter

    mark("import the segmenter (numpy, OpenCV, PyYAML)", last)
    from crackseg.pipeline.batch import BatchWriter  # noqa: F401
    from crackseg.pipeline.inspection import inspect_payloads  # noqa: F401

    mark("import the batch writer and the pipeline (pandas, scikit-image, ...)", last)
    from crackseg.core.offline import offline_environment

    offline_environment()
    with contextlib.redirect_stdout(sys.stderr):
        segmenter = Segmenter(backend=args.backend)
    mark(f"open the model ({segmenter.backend}), warm-up included", last)
    from crackseg.io.image_io import load_image

    rgb = load_image(image.read_bytes())
    segmenter.predict(rgb)
    mark("decode and predict the first image", last)
    segmenter.predict(rgb)
    mark("predict it again", last)
    loaded = [name for name in ("torch", "torchvision", "ultralytics") if name in sys.modules]
    print(f"\nimported on the way: {', '.join(loaded) or 'neither torch, torchvision nor Ultralytics'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
