"""Shared plumbing of the training scripts: offline set-up, argument checks, the Ultralytics run.

The scripts in this folder stay outside the package (they are entry points, not
library code). What they share lives here so ``train.py`` and ``finetune.py``
differ only in where they start and in their learning-rate defaults.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crackseg.core.offline import enforce_offline
from crackseg.training.wall_time import record_wall_time

REPO_ROOT = Path(__file__).resolve().parents[1]

DEFAULT_DATA = REPO_ROOT.parent / "shared" / "datasets" / "crack-seg" / "data.yaml"


class TrainingSetupError(RuntimeError):
    """A bad data.yaml, a missing split or an unreadable checkpoint: said in one line."""


@dataclass(frozen=True)
class TrainingRun:
    """Where a finished Ultralytics run lies and how long it took."""

    run_dir: Path
    wall_time_s: float

    @property
    def best_weights(self) -> Path:
        return self.run_dir / "weights" / "best.pt"

    @property
    def results_csv(self) -> Path:
        return self.run_dir / "results.csv"


def add_common_arguments(parser: argparse.ArgumentParser, *, default_epochs: int) -> None:
    """Options both scripts take (data, schedule, hardware, naming, promotion)."""
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="YOLO data.yaml")
    parser.add_argument("--epochs", type=int, default=default_epochs)
    parser.add_argument("--imgsz", type=int, default=416, help="training image size (px)")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--device", default="cpu", help="cpu, 0, 0,1 ...")
    parser.add_argument("--workers", type=int, default=2, help="dataloader workers")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch default)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--project", type=Path, default=REPO_ROOT / "runs", help="folder of run folders")
    parser.add_argument("--name", default=None, help="run name (folder under --project)")
    parser.add_argument("--resume", action="store_true", help="resume the run --project/--name from last.pt")
    parser.add_argument("--lr0", type=float, default=None, help="initial learning rate")
    parser.add_argument("--optimizer", default="auto", help="Ultralytics optimizer (auto, SGD, AdamW, ...)")
    parser.add_argument("--close-mosaic", type=int, default=2, help="last epochs trained without mosaic")
    parser.add_argument("--cache", default="ram", choices=["ram", "disk", "none"])
    parser.add_argument("--fraction", type=float, default=1.0, help="fraction of the train split to use")
    parser.add_argument(
        "--mask-ratio",
        type=int,
        default=4,
        help="mask downsampling in the loss (Ultralytics' mask_ratio; 2 keeps thin cracks finer, costs time)",
    )
    parser.add_argument(
        "--copy-paste",
        type=float,
        default=0.0,
        help="probability of pasting an image's mirrored crack instances into it; Ultralytics turns it off "
        "with mosaic in the last --close-mosaic epochs, so pair it with --mosaic 0 --close-mosaic 0",
    )
    parser.add_argument(
        "--mosaic", type=float, default=1.0, help="probability of a 4-image mosaic until the last --close-mosaic epochs"
    )
    parser.add_argument(
        "--scale",
        type=float,
        default=0.5,
        help="random zoom of each training image by up to +/- this share (Ultralytics' default 0.5); a fixed "
        "camera, such as a survey vehicle's, sees its cracks at one scale, so a smaller value fits it closer",
    )
    parser.add_argument(
        "--warmup-bias-lr",
        type=float,
        default=None,
        help="learning rate the biases start the warm-up at (default: 0 with an Adam-family optimizer, whose "
        "steps do not shrink with the gradient, Ultralytics' 0.1 otherwise)",
    )
    parser.add_argument(
        "--ema-decay",
        type=float,
        default=None,
        help="keep the saved weights' moving average at this fixed decay from the first step (e.g. 0.995) instead "
        "of Ultralytics' ramp, which in a run of a few hundred steps leaves them equal to the last step's; "
        "a resumed run keeps the run's value",
    )
    parser.add_argument("--no-evaluate", action="store_true", help="skip evaluating the best weights afterwards")
    parser.add_argument(
        "--promote",
        action="store_true",
        help="copy the result into model/ when it beats the shipped model on the valid split",
    )
    add_int8_arguments(parser)


def add_int8_arguments(parser: argparse.ArgumentParser) -> None:
    """The INT8 check's options of a promotion (``crackseg.training.int8_promotion``)."""
    from crackseg.training.int8_build import DEFAULT_CALIBRATION_IMAGES

    parser.add_argument(
        "--calibration-images",
        type=int,
        default=DEFAULT_CALIBRATION_IMAGES,
        help="train images the INT8 model is calibrated on (promotion)",
    )
    parser.add_argument(
        "--accept-fp32-auto",
        action="store_true",
        help="promote a better model even if its INT8 model fails where the shipped one's passes",
    )


def check_data_yaml(path: Path) -> Path:
    """Fail early, in one line, on a data.yaml Ultralytics would choke on later."""
    from crackseg.datasets.labelled import DatasetError, YoloDataset

    try:
        dataset = YoloDataset.from_yaml(path)
        for split in ("train", "val"):
            dataset.split_paths(split)
    except DatasetError as error:
        raise TrainingSetupError(str(error)) from error
    return path.resolve()


def check_checkpoint(path: Path) -> Path:
    """A checkpoint must exist and be a readable Ultralytics model; said before training starts."""
    from crackseg.inference.model_loading import ModelLoadError, load_yolo

    if path.suffix in {".yaml", ".yml"}:
        if not path.is_file():
            raise TrainingSetupError(f"{path}: model YAML not found")
        return path
    try:
        load_yolo(path)
    except ModelLoadError as error:
        raise TrainingSetupError(str(error)) from error
    return path.resolve()


def run_ultralytics_training(model_source: Path, args: argparse.Namespace, stage_defaults: dict) -> TrainingRun:
    """Train with Ultralytics, offline, and return the run folder.

    ``plots=False`` because Ultralytics' plots download a font; ``amp=False``
    on CPU because its AMP check downloads weights (and AMP is CUDA-only).
    """
    os.environ["YOLO_VERBOSE"] = "True"  # Ultralytics' own per-epoch progress display
    enforce_offline()
    from ultralytics import YOLO

    name = args.name or f"{stage_defaults['stage']}-{time.strftime('%Y%m%d-%H%M%S')}"
    run_dir = (args.project / name).resolve()
    started = time.monotonic()
    ema_decay = checked_ema_decay(args.ema_decay)
    if args.resume:
        last = run_dir / "weights" / "last.pt"
        if not last.is_file():
            raise TrainingSetupError(f"{last}: nothing to resume (no last.pt)")
        ema_decay = ema_decay if ema_decay is not None else recorded_ema_decay(run_dir)
        model = with_fixed_ema_decay(with_threads(YOLO(str(last)), args.threads), ema_decay)
        model.train(resume=True)
    else:
        overrides = ultralytics_overrides(args, stage_defaults, name)
        if ema_decay is not None:
            record_ema_decay(run_dir, ema_decay)
        with_fixed_ema_decay(with_threads(YOLO(str(model_source)), args.threads), ema_decay).train(**overrides)
    wall_time_s = time.monotonic() - started
    record_wall_time(run_dir, wall_time_s)
    return TrainingRun(run_dir=run_dir, wall_time_s=wall_time_s)


def ultralytics_overrides(args: argparse.Namespace, stage_defaults: dict, name: str) -> dict[str, Any]:
    """The keyword arguments of Ultralytics' ``train()`` for these options (the data.yaml is checked first).

    The stage's defaults (learning rate, optimizer, schedule) replace the generic values; an explicit
    ``--lr0`` wins over both. ``amp`` only on a GPU (Ultralytics' AMP check downloads weights).
    """
    overrides = {
        "data": str(check_data_yaml(args.data)),
        "epochs": args.epochs,
        "imgsz": args.imgsz,
        "batch": args.batch,
        "device": args.device,
        "workers": args.workers,
        "seed": args.seed,
        "project": str(args.project.resolve()),
        "name": name,
        "exist_ok": True,
        "optimizer": args.optimizer,
        "close_mosaic": args.close_mosaic,
        "cache": False if args.cache == "none" else args.cache,
        "fraction": args.fraction,
        "mask_ratio": args.mask_ratio,
        "copy_paste": args.copy_paste,
        "mosaic": args.mosaic,
        "scale": args.scale,
        "plots": False,
        "amp": False if args.device == "cpu" else True,
        "patience": 0,
        "val": True,
        "verbose": True,
    }
    for key, value in stage_defaults.items():
        if key != "stage":
            overrides[key] = value
    if args.lr0 is not None:
        overrides["lr0"] = args.lr0
    overrides["warmup_bias_lr"] = warmup_bias_lr(args.warmup_bias_lr, str(overrides["optimizer"]))
    return overrides


ADAM_FAMILY = frozenset({"adam", "adamw", "adamax", "nadam", "radam"})
"""Optimizers whose step size is about the learning rate whatever the gradient (lower-cased names)."""

ULTRALYTICS_WARMUP_BIAS_LR = 0.1
"""Ultralytics' default start of the biases' warm-up, made for SGD."""


def warmup_bias_lr(requested: float | None, optimizer: str) -> float:
    """The learning rate the biases start their warm-up at.

    Ultralytics lowers the biases' rate from 0.1 to lr0 over the warm-up, which suits SGD (its steps scale
    with the gradient). With an explicit Adam-family optimizer every bias then moves by up to about 0.1 a
    step for the first iterations, a thousand times a fine-tune's lr0, which knocks a fine-tuned model back
    (higher training losses for its first epoch); Ultralytics itself starts at 0 when it picks AdamW.
    ``requested`` (``--warmup-bias-lr``) wins when given.
    """
    if requested is not None:
        if not requested >= 0:
            raise TrainingSetupError(f"--warmup-bias-lr must be >= 0, got {requested}")
        return float(requested)
    return 0.0 if optimizer.lower() in ADAM_FAMILY else ULTRALYTICS_WARMUP_BIAS_LR


def with_threads(model: Any, threads: int) -> Any:
    """Make ``--threads`` stick: Ultralytics' trainer resets torch to ``cpu_count - 1`` threads when it picks the
    device (one thread on a 2-core machine), so the count is set again when training starts."""
    if threads > 0:

        def set_threads(trainer: Any) -> None:
            import torch

            torch.set_num_threads(threads)

        model.add_callback("on_train_start", set_threads)
    return model


EMA_DECAY_FILE = "ema_decay.json"
"""Where a run's fixed EMA decay is kept (Ultralytics' ``args.yaml`` has no field for it), for resumes and the card."""


def checked_ema_decay(decay: float | None) -> float | None:
    """``--ema-decay`` must lie in [0, 1): 1 would freeze the saved weights at the start."""
    if decay is not None and not 0.0 <= decay < 1.0:
        raise TrainingSetupError(f"--ema-decay must be in [0, 1), got {decay}")
    return decay


def record_ema_decay(run_dir: Path, decay: float) -> None:
    """Write the run's fixed EMA decay into its folder (read back on resume and by the promotion's card)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / EMA_DECAY_FILE).write_text(json.dumps({"ema_decay": decay}), encoding="utf-8")


def recorded_ema_decay(run_dir: Path) -> float | None:
    """The fixed EMA decay a run was started with, or None (Ultralytics' ramp, or an unreadable file)."""
    try:
        return float(json.loads((run_dir / EMA_DECAY_FILE).read_text(encoding="utf-8"))["ema_decay"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def with_fixed_ema_decay(model: Any, decay: float | None) -> Any:
    """Make the trainer's weight average use one fixed decay from its first update (``decay`` None: unchanged).

    Ultralytics' EMA decay ramps as ``0.9999 * (1 - exp(-updates / 2000))``: after the ~100 optimizer
    steps of a CPU fine-tune epoch it is about 0.05, so the saved weights are the last step's and carry
    that step's noise. A fixed decay d from the start keeps the average anchored at the starting weights
    (their share after n steps is d ** n) and smooths over the whole trajectory, an averaging the
    interpolation with the shipped model (``average_weights.py``) could only do with the endpoint. The
    callback runs at ``on_train_start``, after Ultralytics has built (or, on resume, reloaded) the EMA.
    """
    if decay is None:
        return model

    def fix_decay(trainer: Any) -> None:
        trainer.ema.decay = lambda updates: decay

    model.add_callback("on_train_start", fix_decay)
    return model


def main_guard(main_body) -> int:  # type: ignore[no-untyped-def]
    """Run a script body; setup errors become one line on stderr and exit code 2."""
    try:
        return main_body()
    except TrainingSetupError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


__all__ = [
    "REPO_ROOT",
    "TrainingRun",
    "TrainingSetupError",
    "add_common_arguments",
    "check_checkpoint",
    "check_data_yaml",
    "main_guard",
    "record_ema_decay",
    "recorded_ema_decay",
    "run_ultralytics_training",
    "with_fixed_ema_decay",
]
