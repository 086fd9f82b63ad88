"""Build the survey-vehicle frames as bird's-eye training crops (the street view's warp), outside the repository.

Example:

    python train/build_top_view.py --survey /work/data/biankatpas --out /work/data/street-top \
        --profile profiles/survey-vehicle-br.json

Train on it with ``train/finetune.py --data /work/data/street-top/data.yaml`` and score the run through
the street view with ``"inspect_on": "top_view"`` (``train/promote_street.py --inspect-on top_view``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as `python train/x.py`

from crackseg.core.errors import CrackSegError  # noqa: E402
from crackseg.geometry.camera import load_profile  # noqa: E402
from crackseg.training.top_view_crops import TopViewCropSettings, build_top_view_crops  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    """Build, print the counts, exit 2 with one line on a bad source."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--survey", type=Path, required=True, help="the survey-vehicle dataset folder")
    parser.add_argument("--out", type=Path, required=True, help="output folder (outside the repository)")
    parser.add_argument("--profile", type=Path, required=True, help="the vehicle's camera profile (JSON)")
    parser.add_argument("--train-crops-per-frame", type=int, default=2, help="tiles per train frame (0: all)")
    args = parser.parse_args(argv)
    repo = Path(__file__).resolve().parents[1]
    if repo == args.out.resolve() or repo in args.out.resolve().parents:
        print(f"error: {args.out}: build the dataset outside the repository", file=sys.stderr)
        return 2
    try:
        data_yaml = build_top_view_crops(
            args.survey,
            args.out,
            load_profile(args.profile),
            TopViewCropSettings(train_crops_per_frame=args.train_crops_per_frame),
            progress=lambda message: print(message, flush=True),
        )
    except (CrackSegError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(json.dumps(json.loads((data_yaml.parent / "manifest.json").read_text(encoding="utf-8"))["counts"], indent=2))
    print(f"data.yaml: {data_yaml}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
