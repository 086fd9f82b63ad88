"""Average the weights of a run's last epochs into one candidate checkpoint (stochastic weight averaging).

Example (the street model's epochs 4-6, then its gate):

    python train/average_weights.py /work/runs/street-s1-ep4.pt /work/runs/street-s1-ep5.pt \
        /work/runs/street-s1-ep6.pt --out /work/runs/street-s1-swa456.pt
    python train/promote_street.py /work/runs/street-s1-swa456.pt --survey-root /work/data/biankatpas ...

The checkpoints must come from one architecture (one run, or runs from one start). The result is an
ordinary candidate: nothing is promoted here.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as `python train/x.py`

from crackseg.core.errors import CrackSegError  # noqa: E402
from crackseg.training.weight_averaging import average_checkpoints  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The checkpoints to average and where the average goes."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoints", type=Path, nargs="+", help="two or more .pt files of one architecture")
    parser.add_argument("--out", type=Path, required=True, help="the averaged checkpoint (.pt)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Average, print where it went, exit 2 with one line when the files cannot be averaged."""
    args = parse_args(argv)
    if args.out.resolve() in {path.resolve() for path in args.checkpoints}:
        print(f"error: {args.out}: would overwrite one of the checkpoints averaged", file=sys.stderr)
        return 2
    try:
        out = average_checkpoints(args.checkpoints, args.out)
    except CrackSegError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"averaged {len(args.checkpoints)} checkpoints into {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
