"""Evaluate weights on every domain (crack-seg, DeepCrack, survey-vehicle frames), validation then test.

The street view's conf is chosen on the survey validation frames and then applied to
test. Prints one row per weights file and split and writes the scores as JSON.

Example (the shipped model and a candidate, figures for the model issue's table):

    python train/evaluate_domains.py model/best.pt /work/runs/3domain-s2/weights/best.pt \\
        --three-domain /work/data/three-domain --out /work/runs/domains.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as `python train/x.py`

from crackseg.core.errors import CrackSegError  # noqa: E402
from crackseg.core.json_values import dumps  # noqa: E402
from crackseg.inference.segmenter import Segmenter  # noqa: E402
from crackseg.training.domains import DomainSets, evaluate_domains, scores_table  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("weights", nargs="+", type=Path, help="weights files (.pt) to evaluate")
    parser.add_argument("--three-domain", type=Path, required=True, help="the built three-domain dataset folder")
    parser.add_argument("--backend", default="torch", help="inference backend (torch, auto, ...)")
    parser.add_argument("--splits", nargs="+", default=["val", "test"], choices=["val", "test"])
    parser.add_argument("--out", type=Path, default=None, help="write every score here (JSON)")
    return parser.parse_args(argv)


def domain_sets(three_domain: Path) -> DomainSets:
    """The evaluation sets named by a three-domain build's manifest."""
    manifest = json.loads((three_domain / "manifest.json").read_text(encoding="utf-8"))
    sources = manifest["sources"]
    return DomainSets(
        crack_seg_yaml=Path(sources["crack_seg_yaml"]),
        deepcrack_val=Path(manifest["deepcrack_val_dir"]),
        deepcrack_test=Path(sources["deepcrack_train_dir"]).parent / "test",
        survey_root=Path(sources["survey_root"]),
    )


def main(argv: list[str] | None = None) -> int:
    """Evaluate every weights file; exit 2 with one line on a bad input."""
    args = parse_args(argv)
    try:
        sets = domain_sets(args.three_domain)
        results: dict[str, dict[str, dict[str, float]]] = {}
        for weights in args.weights:
            segmenter = Segmenter(weights, backend=args.backend)
            street_conf = None
            for split in args.splits:
                evaluation = evaluate_domains(
                    segmenter, sets, split, street_conf=street_conf, progress=lambda m, w=weights: print(f"{w}: {m}")
                )
                street_conf = evaluation.street_conf  # chosen on val, applied to test
                results.setdefault(str(weights), {})[split] = evaluation.scores()
    except (CrackSegError, OSError, KeyError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    rows = {
        f"{weights} [{split}]": scores for weights, by_split in results.items() for split, scores in by_split.items()
    }
    for row in scores_table(rows):
        print("  ".join(f"{key}={value}" for key, value in row.items()))
    if args.out is not None:
        args.out.write_text(dumps(results), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
