"""Install the starting checkpoint (stage 1, from ``../shared/models``) as the shipped model.

Copies the weights and their history into ``model/``, evaluates them with
crackseg on the valid and test splits, stores the test report for the app and
writes the model card. Run once on a new project; fine-tunes then append
stages through ``train/promotion.py``.

    python train/init_model.py
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from crackseg.core.locations import MODEL_CARD, SHIPPED_MODEL  # noqa: E402
from crackseg.inference.model_loading import file_sha256  # noqa: E402
from crackseg.training.model_card import HISTORY_CSV, STORED_EVALUATION_DIR, save_card  # noqa: E402
from crackseg.training.runs import read_args_yaml, read_results_csv  # noqa: E402
from train.promotion import append_history, evaluate_weights, stage_entry  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared"
STAGE1_HARDWARE = "Xeon (AVX-512), 2 CPU cores, no GPU (per ../shared/models/README.md)"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Where the starting checkpoint and the dataset are."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", type=Path, default=SHARED / "models", help="folder with the stage-1 files")
    parser.add_argument("--data", type=Path, default=SHARED / "datasets" / "crack-seg" / "data.yaml")
    parser.add_argument("--imgsz", type=int, default=416)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Copy, evaluate, write card and history."""
    args = parse_args(argv)
    prefix = "crackseg-yolov8n-stage1"
    weights, results, run_args = (args.source / f"{prefix}{suffix}" for suffix in (".pt", "-results.csv", "-args.yaml"))
    SHIPPED_MODEL.parent.mkdir(parents=True, exist_ok=True)
    if MODEL_CARD.exists():
        MODEL_CARD.unlink()  # the hash check must not refuse the copy we are about to install
    shutil.copy2(weights, SHIPPED_MODEL)
    if HISTORY_CSV.exists():
        HISTORY_CSV.unlink()
    history = read_results_csv(results)
    append_history(HISTORY_CSV, history, "stage1-scratch")
    valid = evaluate_weights(SHIPPED_MODEL, args.data, "val", args.imgsz, "cpu")
    test = evaluate_weights(SHIPPED_MODEL, args.data, "test", args.imgsz, "cpu")
    test.save(STORED_EVALUATION_DIR)
    stage = stage_entry(
        "stage1-scratch",
        start="yolov8n-seg.yaml (random init, no pretrained weights)",
        start_sha256=None,
        history=history,
        run_args=read_args_yaml(run_args),
        wall_time_s=None,
        valid=valid.summary(),
        test=test.summary(),
    )
    stage["hardware"] = STAGE1_HARDWARE
    card = {
        "name": "CrackSeg YOLOv8n-seg",
        "architecture": "YOLOv8n-seg (Ultralytics 8.4.190), 3.26 M parameters",
        "task": "instance segmentation, one class: crack",
        "data": {
            "dataset": "Ultralytics crack-seg (Roboflow), AGPL-3.0",
            "splits": {"train": 3717, "valid": 200, "test": 112},
            "image_size_px": 416,
            "note": "best weights chosen on valid; test only reported",
        },
        "weights": {
            "file": "best.pt",
            "sha256": file_sha256(SHIPPED_MODEL),
            "size_bytes": SHIPPED_MODEL.stat().st_size,
        },
        "stages": [stage],
        "metrics": {"valid": valid.summary(), "test": test.summary()},
        "evaluation": {"conf": 0.25, "tolerance_px": 2, "map": "Ultralytics val, conf 0.001, NMS IoU 0.7"},
    }
    save_card(card)
    print(
        f"installed {SHIPPED_MODEL} ({card['weights']['sha256'][:12]}); valid mask mAP50 "
        f"{valid.summary().get('mask_map50'):.4f}, test mask mAP50 {test.summary().get('mask_map50'):.4f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
