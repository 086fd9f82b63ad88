"""Score a street model through the street view with other inference settings, swept on the gate's grid.

Whether a larger model input or the mirror pass (``flip_tta``) helps the street view is a question for
the survey-vehicle **val** frames, answered the way the street gate scores: one run at the grid's floor
(0.05), its 32-px lane cells swept over ``STREET_CONFS``. Prints one JSON line per setting with the
best conf, its F1 and the F1 at each conf up to 0.20; nothing is installed or cached.

    python train/street_settings.py model/street/best.pt --survey-root /work/data/biankatpas \\
        --setting 416 --setting 512 --setting 416+flip --setting 416+iou0.9 --setting 416+overlap0.4
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as `python train/x.py`
sys.path.insert(0, str(Path(__file__).resolve().parent))

from promote_street import DEFAULT_PROFILE_PATH, STREET_CONFS  # noqa: E402

from crackseg.core.errors import CrackSegError  # noqa: E402
from crackseg.datasets.survey_vehicle import survey_items  # noqa: E402
from crackseg.evaluation.run import evaluate  # noqa: E402
from crackseg.geometry.camera import load_profile  # noqa: E402
from crackseg.inference.segmenter import InferenceSettings, Segmenter  # noqa: E402
from crackseg.pipeline.street import StreetSegmenter  # noqa: E402

_NUMERIC_OPTIONS = {"iou": "iou", "overlap": "tile_overlap"}
"""A setting's numeric options and the ``InferenceSettings`` field each one sets."""


def parse_setting(text: str) -> InferenceSettings:
    """``"512"``, ``"416+flip"``, ``"416+iou0.9"`` or ``"416+overlap0.4"`` (options joined by ``+``).

    A run at the grid's floor with that input size and, where named, the mirror pass, another NMS IoU
    (how much two instances' boxes may overlap before the weaker is dropped) or another tile overlap
    (the share of each 640-px tile that its neighbour sees too). Unnamed options keep the product's
    defaults, so each setting differs from the plain one only in what it names.
    """
    size, *options = text.split("+")
    if not size.isdigit():
        raise argparse.ArgumentTypeError(f"a setting starts with the input size (e.g. 512, 416+flip), got {text!r}")
    chosen: dict[str, object] = {"conf": min(STREET_CONFS), "imgsz": int(size)}
    for option in options:
        name = option.rstrip("0123456789.")
        value = option[len(name) :]
        if option == "flip":
            chosen["flip_tta"] = True
        elif name in _NUMERIC_OPTIONS and value:
            try:
                chosen[_NUMERIC_OPTIONS[name]] = float(value)
            except ValueError:
                raise argparse.ArgumentTypeError(f"{option!r} in {text!r} is not a number") from None
        else:
            raise argparse.ArgumentTypeError(
                f"options are flip, iouX and overlapX (e.g. 416+flip+iou0.9), got {option!r} in {text!r}"
            )
    return InferenceSettings(**chosen)  # type: ignore[arg-type]  # the values were checked above


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("weights", type=Path)
    parser.add_argument("--survey-root", type=Path, required=True)
    parser.add_argument("--split", default="val", help="val chooses; test is only ever reported")
    parser.add_argument("--profile", type=Path, default=DEFAULT_PROFILE_PATH)
    parser.add_argument("--backend", default="torch")
    parser.add_argument("--setting", type=parse_setting, action="append", required=True)
    args = parser.parse_args(argv)
    try:
        segmenter = StreetSegmenter(Segmenter(args.weights, backend=args.backend), load_profile(args.profile))
        items = survey_items(args.survey_root, args.split)
    except (CrackSegError, OSError, ValueError) as error:  # a missing or corrupt model, profile or survey folder
        print(f"error: {error}", file=sys.stderr)
        return 2
    for settings in args.setting:
        started = time.perf_counter()
        report = evaluate(
            segmenter, items, settings, cell_thresholds=STREET_CONFS, sweep_min_conf=settings.conf, source=args.split
        )
        sweep = report.cell_sweep
        pairs = zip(sweep["thresholds"], sweep["f1"], strict=True)
        by_conf = {f"{conf:g}": round(float(f1), 4) for conf, f1 in pairs if conf <= 0.2}
        record = {
            "split": args.split,
            "imgsz": settings.imgsz,
            "flip_tta": settings.flip_tta,
            "iou": settings.iou,
            "tile_overlap": settings.tile_overlap,
            "best_conf": float(sweep["best_threshold"]),
            "best_lane_cell_f1": round(float(sweep["best_f1"]), 4),
            "lane_cell_f1_by_conf": by_conf,
            "seconds": round(time.perf_counter() - started),
        }
        print(json.dumps(record), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
