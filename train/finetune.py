"""Stage 2: fine-tune the shipped model (or a given checkpoint) at a lower learning rate.

Example (CPU, in the background):

    nohup python train/finetune.py --epochs 8 --promote > finetune.log 2>&1 &
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as `python train/x.py`

from train._common import (  # noqa: E402
    REPO_ROOT,
    add_common_arguments,
    check_checkpoint,
    main_guard,
    run_ultralytics_training,
)
from train.promotion import finish_run  # noqa: E402

FINETUNE_DEFAULTS = {
    "stage": "finetune",
    "optimizer": "AdamW",
    "lr0": 0.0005,
    "lrf": 0.1,
    "warmup_epochs": 0.5,
    "cos_lr": True,
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options of fine-tuning."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--weights",
        type=Path,
        default=REPO_ROOT / "model" / "best.pt",
        help="checkpoint to start from (default: the shipped model)",
    )
    add_common_arguments(parser, default_epochs=20)
    return parser.parse_args(argv)


def stage_overrides(args: argparse.Namespace) -> dict:
    """Fine-tuning defaults; an explicit --optimizer other than auto wins."""
    overrides = dict(FINETUNE_DEFAULTS)
    if args.optimizer != "auto":
        overrides["optimizer"] = args.optimizer
    return overrides


def main(argv: list[str] | None = None) -> int:
    """Fine-tune, then evaluate (and optionally promote) the best weights."""
    args = parse_args(argv)

    def body() -> int:
        weights = args.weights if args.resume else check_checkpoint(args.weights)
        run = run_ultralytics_training(weights, args, stage_overrides(args))
        return finish_run(run, args, stage="finetune", start_weights=weights)

    return main_guard(body)


if __name__ == "__main__":
    raise SystemExit(main())
