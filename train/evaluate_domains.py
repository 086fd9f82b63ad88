"""Evaluate weights on every domain (crack-seg, DeepCrack, survey-vehicle frames), validation then test.

Each view's conf is chosen on validation data (the street view's on the survey val
frames, the top-down view's on crack-seg valid and DeepCrack val) and then applied to
test, so test is only evaluated after val. Prints one row per weights file and split and writes the scores as JSON.
With several weights files, each after the first also gets its val F1 gains over the first with paired
bootstrap intervals over the val photos (``training.domains.paired_gains``), printed and written as
``val_gains_over_first``, and the top-down gate's verdict on it against the first (``domain_gate``: would it
be promoted over the first?), written as ``top_down_gate_over_first``.

Example (the shipped model and a candidate, figures for the model issue's table):

    python train/evaluate_domains.py model/best.pt /work/runs/3domain-s2/weights/best.pt \\
        --three-domain /work/data/three-domain --out /work/runs/domains.json
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as `python train/x.py`

from crackseg.core.errors import CrackSegError  # noqa: E402
from crackseg.core.json_values import dumps  # noqa: E402
from crackseg.core.locations import MODEL_CARD  # noqa: E402
from crackseg.inference.model_loading import file_sha256  # noqa: E402
from crackseg.inference.segmenter import Segmenter  # noqa: E402
from crackseg.training.domains import (  # noqa: E402
    MEAN_GAIN,
    DomainEvaluation,
    DomainSets,
    domain_gate,
    evaluate_domains,
    paired_gains,
    scores_table,
    view_defaults,
)
from crackseg.training.model_card import load_card, save_card  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("weights", nargs="+", type=Path, help="weights files (.pt) to evaluate")
    parser.add_argument("--three-domain", type=Path, required=True, help="the built three-domain dataset folder")
    parser.add_argument("--backend", default="torch", help="inference backend (torch, auto, ...)")
    parser.add_argument("--splits", nargs="+", default=["val", "test"], choices=["val", "test"])
    parser.add_argument("--out", type=Path, default=None, help="write every score here (JSON)")
    parser.add_argument(
        "--record-card",
        action="store_true",
        help="write the scores into model/card.json's 'domains' section (only for the weights the card describes)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Evaluate every weights file; exit 2 with one line on a bad input."""
    args = parse_args(argv)
    if "test" in args.splits and "val" not in args.splits:
        print("error: test needs val too: the views' thresholds are chosen on val, never on test", file=sys.stderr)
        return 2
    splits = [split for split in ("val", "test") if split in args.splits]
    try:
        sets = DomainSets.from_build(args.three_domain)
        results: dict[str, dict[str, dict[str, Any]]] = {}
        first_val: DomainEvaluation | None = None
        gain_lines: list[str] = []
        for weights in args.weights:
            segmenter = Segmenter(weights, backend=args.backend)
            street_conf = top_down_conf = None
            for split in splits:
                evaluation = evaluate_domains(
                    segmenter,
                    sets,
                    split,
                    street_conf=street_conf,
                    top_down_conf=top_down_conf,
                    progress=lambda m, w=weights: print(f"{w}: {m}"),
                )
                street_conf, top_down_conf = evaluation.street_conf, evaluation.top_down_conf  # val's, for test
                results.setdefault(str(weights), {})[split] = evaluation.scores()
                if split == "val" and first_val is None:
                    first_val = evaluation
                elif split == "val":
                    gains = paired_gains(evaluation, first_val)
                    results[str(weights)]["val_gains_over_first"] = {k: v.to_dict() for k, v in gains.items()}
                    gain_lines.append(f"{weights} against {args.weights[0]} on val (paired bootstrap over the photos):")
                    gain_lines += [f"  {name:<22} {gain.describe()}" for name, gain in gains.items()]
                    passed, reasons = domain_gate(evaluation.scores(), first_val.scores(), gains.get(MEAN_GAIN))
                    results[str(weights)]["top_down_gate_over_first"] = {"promoted": passed, "reasons": reasons}
                    verdict = "passes" if passed else "fails: " + "; ".join(reasons)
                    gain_lines.append(f"  the top-down gate over {args.weights[0]} {verdict}")
    except (CrackSegError, OSError, KeyError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    rows = {
        f"{weights} [{split}]": scores
        for weights, by_split in results.items()
        for split, scores in by_split.items()
        if split in ("val", "test")
    }
    for row in scores_table(rows):
        print("  ".join(f"{key}={value}" for key, value in row.items()))
    for line in gain_lines:
        print(line)
    if args.out is not None:
        args.out.write_text(dumps(results), encoding="utf-8")
    if args.record_card:
        return record_in_card(args.weights, results, sets)
    return 0


def record_in_card(weights: list[Path], results: dict[str, dict[str, dict[str, Any]]], sets: DomainSets) -> int:
    """Store the card's model's scores on every domain (exit 2 if none of ``weights`` is that model)."""
    card = load_card()
    for path in weights:
        if file_sha256(path) == card.get("weights", {}).get("sha256"):
            card["domains"] = (
                card.get("domains", {})
                | {split: scores for split, scores in results[str(path)].items() if split in ("val", "test")}
                | {
                    "sets": {key: str(value) for key, value in dataclasses.asdict(sets).items()},
                    "measured_by": "python train/evaluate_domains.py model/best.pt --three-domain DIR --record-card",
                }
            )
            val = results[str(path)].get("val")
            if val is None:
                print("error: --record-card needs the val split (the thresholds are chosen there)", file=sys.stderr)
                return 2
            card["views"] = view_defaults(val["street_conf"], val["top_down_conf"])
            save_card(card)
            print(f"recorded in {MODEL_CARD}")
            return 0
    print(f"error: none of the weights is the model {MODEL_CARD} describes", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
