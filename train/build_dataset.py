"""Build the three-domain training set (crack-seg + DeepCrack + survey-vehicle frames) outside the repository.

Example:

    python train/build_dataset.py --survey /work/data/biankatpas --out /work/data/three-domain --deepcrack-repeat 3

The street model's training set, the survey crops alone:

    python train/build_dataset.py --survey /work/data/biankatpas --out /work/data/street --street-only

The survey-vehicle dataset is public (github:biankatpas/Cracks-and-Potholes-in-Road-Images-Dataset,
Mendeley Data 10.17632/t576ydh9v8); fetch it anywhere outside the repository and pass its folder.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as `python train/x.py`

from crackseg.core.errors import DatasetError  # noqa: E402
from crackseg.datasets.mask_to_yolo import ConversionSettings  # noqa: E402
from crackseg.datasets.three_domain import (  # noqa: E402
    SURVEY_CLOSING_PX,
    ThreeDomainSettings,
    ThreeDomainSources,
    build_three_domain,
)

SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options of the dataset build."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="output folder (outside the repository and ../shared)")
    parser.add_argument(
        "--crack-seg", type=Path, default=SHARED / "crack-seg" / "data.yaml", help="crack-seg data.yaml"
    )
    parser.add_argument("--deepcrack", type=Path, default=SHARED / "deepcrack" / "train", help="DeepCrack train folder")
    parser.add_argument("--survey", type=Path, required=True, help="the survey-vehicle dataset folder")
    parser.add_argument("--deepcrack-repeat", type=int, default=1, help="times each DeepCrack train image is used")
    parser.add_argument(
        "--survey-fraction",
        type=float,
        default=1.0,
        help="share of survey train frames used (0: close-ups only, for the top-down model)",
    )
    parser.add_argument(
        "--survey-closing",
        type=int,
        default=SURVEY_CLOSING_PX,
        help="side (px) of the closing that joins the survey frames' dashed crack labels into instances "
        f"(default {SURVEY_CLOSING_PX}; 0 or 1: the dashes as drawn)",
    )
    parser.add_argument(
        "--survey-lane-margin",
        type=int,
        default=None,
        help="paint the survey crops gray farther than this many px from the labelled lane "
        "(their cracks are labelled only inside it); default: the crops as photographed",
    )
    parser.add_argument(
        "--street-only",
        action="store_true",
        help="the survey crops alone in train and val (the street model's training set); the manifest "
        "still names every evaluation set and credits only the survey frames",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Build, print the counts, exit 2 with one line on a bad source."""
    args = parse_args(argv)
    repo = Path(__file__).resolve().parents[1]
    if repo == args.out.resolve() or repo in args.out.resolve().parents:
        print(f"error: {args.out}: build the dataset outside the repository", file=sys.stderr)
        return 2
    try:
        data_yaml = build_three_domain(
            ThreeDomainSources(args.crack_seg, args.deepcrack, args.survey),
            args.out,
            ThreeDomainSettings(
                deepcrack_repeat=args.deepcrack_repeat,
                survey_fraction=args.survey_fraction,
                survey_conversion=ConversionSettings(closing_px=args.survey_closing),
                survey_lane_margin_px=args.survey_lane_margin,
                close_ups=not args.street_only,
            ),
            progress=lambda message: print(message, flush=True),
        )
    except (DatasetError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    manifest = json.loads((data_yaml.parent / "manifest.json").read_text(encoding="utf-8"))
    print(json.dumps(manifest["splits"], indent=2))
    print(f"data.yaml: {data_yaml}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
