"""Stage 1: train a YOLOv8-seg crack model from a model YAML (scratch) or any checkpoint.

Example (the recipe of the shipped stage 1, on CPU):

    python train/train.py --model yolov8n-seg.yaml --epochs 10 --imgsz 416
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as `python train/x.py`

from train._common import (  # noqa: E402
    add_common_arguments,
    check_checkpoint,
    main_guard,
    run_ultralytics_training,
)
from train.promotion import finish_run  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options of stage-1 training."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--model",
        type=Path,
        default=Path("yolov8n-seg.yaml"),
        help="architecture YAML (trains from scratch) or a .pt checkpoint",
    )
    add_common_arguments(parser, default_epochs=50)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Train, then evaluate (and optionally promote) the best weights."""
    args = parse_args(argv)

    def body() -> int:
        model = args.model
        if model.suffix not in {".yaml", ".yml"} or model.exists():
            model = check_checkpoint(model)
        run = run_ultralytics_training(model, args, {"stage": "train"})
        return finish_run(run, args, stage="train", start_weights=model)

    return main_guard(body)


if __name__ == "__main__":
    raise SystemExit(main())
