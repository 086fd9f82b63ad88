"""Train several seeds of one fine-tune at once (on a GPU), then average each run's last epochs: soup ingredients.

Why: a model soup (``train/average_weights.py``) needs several runs from one start; on this project's
2-core CPU each costs about an hour, so a soup never outlived the machine it was trained on. On a GPU
the runs go side by side in one call: one child process per seed, each an Ultralytics fine-tune with
the options ``train/finetune.py`` gives it (``train/_common.py``'s ``ultralytics_overrides``, the
fine-tune defaults: AdamW, cosine schedule, warm-up 0.5 epoch), in fp32 (Ultralytics' AMP check
downloads weights), keeping a checkpoint an epoch. Each finished run's epochs ``--avg-from`` to
``--epochs`` are averaged into ``OUT/s<seed>-avg.pt``; the soup of those is made afterwards with
``train/average_weights.py`` and scored like any candidate (``train/street_settings.py``, the gates).

Example (the 2026-12-04 ingredients: the street crops packed by ``train/pack_dataset.py``, unpacked
to /root/street on the GPU machine, Ultralytics carried there as a wheel):

    python train/train_seeds.py --data /root/street/data.yaml --weights model/street/best.pt \
        --seeds 4 5 6 7 8 9 10 --epochs 4 --lr0 0.0002 --close-mosaic 4 --scale 0.1 --avg-from 2 \
        --device 0 --workers 2 --out "$OUT"

Seven runs shared one H200 and 16 cores in about 285 s (4 epochs of 3,576 crops each). The first run
starts alone until it has written Ultralytics' label caches, which runs started together would race to
write. A run still going at ``--deadline-s`` is stopped and left out.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as `python train/x.py`

from crackseg.core.errors import CrackSegError  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]
CACHE_WAIT_S = 600.0
"""How long the other runs wait for the first one's label caches before starting anyway."""


def epoch_checkpoints(weights_dir: Path, first_epoch: int, last_epoch: int) -> list[Path]:
    """The checkpoints of epochs ``first_epoch``..``last_epoch`` (1-based) that ``save_period=1`` leaves.

    Ultralytics names the checkpoint after epoch k ``epoch{k-1}.pt`` (its epochs count from 0).
    """
    return [weights_dir / f"epoch{epoch - 1}.pt" for epoch in range(first_epoch, last_epoch + 1)]


def results_csv_as_columns(path: Path) -> dict[str, list[float]]:
    """A ``results.csv`` as ``{column: values}``, what Ultralytics stores in each checkpoint (read without polars)."""
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    if not rows:
        return {}
    return {key.strip(): [float(row[key]) for row in rows] for key in rows[0]}


def label_caches(data_yaml: Path) -> list[Path]:
    """Where Ultralytics writes the train and val label caches of a data.yaml (beside each labels folder)."""
    import yaml

    data = yaml.safe_load(data_yaml.read_text())
    root = Path(data.get("path") or data_yaml.parent)
    caches = []
    for split in ("train", "val"):
        images = root / str(data[split])
        caches.append(images.parent / "labels.cache" if images.name == "images" else images.with_suffix(".cache"))
    return caches


def child_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The Ultralytics ``train()`` arguments of one seed's run: ``finetune.py``'s, plus an epoch's checkpoints."""
    from train._common import ultralytics_overrides
    from train.finetune import FINETUNE_DEFAULTS

    options = argparse.Namespace(
        data=Path(args.data),
        epochs=args.epochs,
        imgsz=args.imgsz,
        batch=args.batch,
        device=args.device,
        workers=args.workers,
        seed=args.seed,
        project=Path(args.project),
        lr0=args.lr0,
        optimizer="auto",
        close_mosaic=args.close_mosaic,
        cache="ram",
        fraction=1.0,
        mask_ratio=args.mask_ratio,
        copy_paste=0.0,
        mosaic=1.0,
        scale=args.scale,
        warmup_bias_lr=None,
    )
    overrides = ultralytics_overrides(options, dict(FINETUNE_DEFAULTS), f"s{args.seed}")
    overrides.update(amp=False, save_period=1, val=False)
    return overrides


def train_one_seed(args: argparse.Namespace) -> None:
    """The child: one fine-tune. Where polars is missing (the GPU machine), the checkpoint's history is read by csv."""
    from crackseg.core.offline import enforce_offline

    enforce_offline()
    from ultralytics import YOLO
    from ultralytics.engine.trainer import BaseTrainer

    if importlib.util.find_spec("polars") is None:
        BaseTrainer.read_results_csv = lambda trainer: results_csv_as_columns(Path(trainer.csv))
    YOLO(str(args.weights)).train(**child_overrides(args))


def child_command(args: argparse.Namespace, seed: int) -> list[str]:
    """This script as one seed's child process, with the run's options."""
    options = ["--data", args.data, "--weights", args.weights, "--project", args.project, "--device", args.device]
    for name in ("epochs", "imgsz", "batch", "workers", "lr0", "close_mosaic", "scale", "mask_ratio"):
        options += [f"--{name.replace('_', '-')}", str(getattr(args, name))]
    return [sys.executable, str(Path(__file__).resolve()), "--child", "--seed", str(seed), *map(str, options)]


def wait_for(paths: list[Path], process: subprocess.Popen, timeout_s: float) -> None:
    """Until every path exists, the process has ended, or ``timeout_s`` has passed."""
    deadline = time.monotonic() + timeout_s
    while not all(path.is_file() for path in paths) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(1.0)


def run_seeds(args: argparse.Namespace) -> dict[int, Path | None]:
    """Start every seed's run (the first alone until its label caches exist), wait, average; ``{seed: avg or None}``."""
    from crackseg.training.weight_averaging import average_checkpoints

    out = Path(args.out)
    logs = out / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    processes: dict[int, subprocess.Popen] = {}
    environment = dict(os.environ, PYTHONUNBUFFERED="1")
    for index, seed in enumerate(args.seeds):
        with (logs / f"s{seed}.log").open("w") as log:
            processes[seed] = subprocess.Popen(
                child_command(args, seed), stdout=log, stderr=subprocess.STDOUT, env=environment
            )
        if index == 0:
            wait_for(label_caches(Path(args.data)), processes[seed], CACHE_WAIT_S)
    while any(p.poll() is None for p in processes.values()) and time.monotonic() - started < args.deadline_s:
        time.sleep(2.0)
    averages: dict[int, Path | None] = {}
    for seed, process in processes.items():
        if process.poll() is None:
            process.kill()
            process.wait()
            print(f"s{seed}: stopped at the deadline ({args.deadline_s:.0f} s)")
        checkpoints = epoch_checkpoints(Path(args.project) / f"s{seed}" / "weights", args.avg_from, args.epochs)
        missing = [path.name for path in checkpoints if not path.is_file()]
        if process.returncode != 0 or missing:
            print(f"s{seed}: no average (exit {process.returncode}, missing {missing}); see {logs / f's{seed}.log'}")
            averages[seed] = None
            continue
        averages[seed] = average_checkpoints(checkpoints, out / f"s{seed}-avg.pt")
        print(f"s{seed}: epochs {args.avg_from}-{args.epochs} averaged into {averages[seed]}")
    print(
        f"{sum(path is not None for path in averages.values())} of {len(args.seeds)} runs averaged in "
        f"{time.monotonic() - started:.0f} s"
    )
    return averages


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The seeds, the fine-tune's options (``finetune.py``'s names and defaults), the deadline, where results go."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="YOLO data.yaml")
    parser.add_argument("--weights", default=str(REPO_ROOT / "model" / "street" / "best.pt"), help="start checkpoint")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="one run per seed")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--avg-from", type=int, default=2, help="first epoch (1-based) of each run's average")
    parser.add_argument("--imgsz", type=int, default=416)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--lr0", type=float, default=0.0002)
    parser.add_argument("--close-mosaic", type=int, default=4)
    parser.add_argument("--scale", type=float, default=0.1)
    parser.add_argument("--mask-ratio", type=int, default=4)
    parser.add_argument("--device", default="0", help="cpu, 0, ...")
    parser.add_argument("--workers", type=int, default=2, help="dataloader workers of each run")
    parser.add_argument("--project", default="/tmp/seed-runs", help="folder of the run folders")
    parser.add_argument("--out", default=os.environ.get("OUT", "seed-averages"), help="folder of the averages")
    parser.add_argument("--deadline-s", type=float, default=480.0, help="stop the runs still going after this")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if not 1 <= args.avg_from <= args.epochs:
        parser.error(f"--avg-from must be 1..--epochs ({args.epochs}), got {args.avg_from}")
    if len(set(args.seeds)) != len(args.seeds):
        parser.error("--seeds must differ")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the seeds (or, as a child, one); exit 2 with one line when no run could be averaged."""
    args = parse_args(argv)
    if args.child:
        train_one_seed(args)
        return 0
    try:
        averages = run_seeds(args)
    except CrackSegError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0 if any(path is not None for path in averages.values()) else 2


if __name__ == "__main__":
    raise SystemExit(main())
