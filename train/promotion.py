"""Evaluate a run's best weights and promote them into ``model/`` only when they beat the shipped model.

The choice uses the **valid** split only (mask mAP50 and pixel F1 must both be
higher); the test split is evaluated and reported, never used to choose. A run on
the three-domain build (``train/build_dataset.py``: a ``manifest.json`` beside its
data.yaml) is judged by the domain gate instead: better on the validation splits of
crack-seg, DeepCrack and the survey-vehicle frames together, and no one of them worse
than 0.01 (``crackseg.training.domains``); its card then records every domain's
scores and each view's default conf (the street view's chosen on survey val).
A promotion writes, in ``model/``: ``best.pt`` (optimizer state stripped),
``results.csv`` (the full history with a ``stage`` column: every stage so far
plus this run), ``evaluation/test/`` (the stored test report the app shows)
and ``card.json`` (a new stage entry, metrics and the weights' SHA-256). The
promoted weights are then quantized to INT8 (``crackseg.training.int8_build``): the
model ``auto`` runs, installed only if its mask mAP50 on valid stays within
0.01 of FP32, and recorded in the card's ``int8`` section.

The INT8 check also gates: when the shipped model's INT8 model is installed, the
candidate is quantized *before* it is installed, and a candidate whose INT8 model
fails its check is refused (``auto`` would fall back to FP32 OpenVINO, about 2.4
times slower on a CPU) unless ``--accept-fp32-auto`` says that trade is wanted.
A candidate that passes ships the INT8 model made for the check.

Run standalone on a finished (or stopped) run:

    python train/promotion.py runs/finetune-s1 --stage finetune --promote
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pandas as pd  # noqa: E402

from crackseg.core.errors import CrackSegError  # noqa: E402
from crackseg.core.locations import MODEL_CARD, SHIPPED_MODEL  # noqa: E402
from crackseg.core.system import cpu_model_name  # noqa: E402
from crackseg.evaluation.run import EvaluationReport, evaluate_yolo_split  # noqa: E402
from crackseg.inference.model_loading import file_sha256  # noqa: E402
from crackseg.inference.segmenter import InferenceSettings, Segmenter  # noqa: E402
from crackseg.metrics.bootstrap import PairedDifference  # noqa: E402
from crackseg.training.dataset_credits import licence_with_training_set  # noqa: E402
from crackseg.training.domains import (  # noqa: E402
    DOMAIN_TOLERANCE,
    GATE_METRICS,
    MEAN_GAIN,
    DomainSets,
    domain_gate,
    evaluate_domains,
    paired_gains,
    view_defaults,
)
from crackseg.training.int8_promotion import Int8Check, Int8Settings, check_candidate_int8, ship_int8  # noqa: E402
from crackseg.training.model_card import HISTORY_CSV, STORED_EVALUATION_DIR, load_card, save_card  # noqa: E402
from crackseg.training.network_description import describe_network  # noqa: E402
from crackseg.training.runs import read_args_yaml, read_results_csv  # noqa: E402
from crackseg.training.wall_time import recorded_wall_time  # noqa: E402
from train._common import TrainingRun, add_int8_arguments, recorded_ema_decay  # noqa: E402


@dataclass
class PromotionOutcome:
    """What the candidate scored against the shipped model, and whether it was promoted."""

    candidate: dict[str, Any]
    shipped: dict[str, Any]
    candidate_test: dict[str, Any]
    better: bool
    promoted: bool
    reasons: list[str] = field(default_factory=list)
    int8: str | None = None  # how quantizing the promoted weights went (promotion only)
    int8_refused: bool = False  # better, but refused because its INT8 model failed where the shipped one's passes
    domains: dict[str, dict[str, float]] = field(default_factory=dict)  # gate scores: shipped val, candidate val/test
    gains: dict[str, PairedDifference] = field(default_factory=dict)  # val F1 gains with paired bootstrap intervals

    def summary(self) -> str:
        """Before/after table as text, for the log."""
        lines = ["split  model      mask_mAP50  mask_mAP50-95  pixel_F1  pixel_IoU"]
        for label, split, metrics in (
            ("valid", "shipped", self.shipped),
            ("valid", "candidate", self.candidate),
            ("test", "candidate", self.candidate_test),
        ):
            lines.append(
                f"{label:<6} {split:<10} {metrics.get('mask_map50', float('nan')):>10.4f} "
                f"{metrics.get('mask_map50_95', float('nan')):>14.4f} {metrics['pixel']['f1']:>9.4f} "
                f"{metrics['pixel']['iou']:>10.4f}"
            )
        if self.promoted:
            verdict = "promoted into model/"
        elif self.int8_refused:
            verdict = "better, refused by the INT8 check: kept the shipped model"
        elif self.better:
            verdict = "better, not promoted (no --promote)"
        else:
            verdict = "not better: kept the shipped model"
        if self.domains:
            lines.append("domain scores (" + ", ".join(GATE_METRICS) + ", street conf)")
            for label, scores in self.domains.items():
                values = [scores.get(name, float("nan")) for name in (*GATE_METRICS, "street_conf")]
                lines.append(f"{label:<17} " + " ".join(f"{value:.4f}" for value in values))
        if self.gains:
            lines.append("val gains over the shipped model, paired bootstrap over the photos (mean_gain gates):")
            lines += [f"  {name:<20} {gain.describe()}" for name, gain in self.gains.items()]
        return "\n".join([*lines, verdict, *self.reasons, *([self.int8] if self.int8 else [])])


def is_better(candidate: dict[str, Any], shipped: dict[str, Any]) -> tuple[bool, list[str]]:
    """Both valid mask mAP50 and valid pixel F1 must be strictly higher."""
    reasons = []
    for label, new, old in (
        ("mask mAP50", candidate.get("mask_map50"), shipped.get("mask_map50")),
        ("pixel F1", candidate["pixel"]["f1"], shipped["pixel"]["f1"]),
    ):
        if new is None or old is None or not new > old:
            reasons.append(f"valid {label}: {new} is not above the shipped {old}")
    return not reasons, reasons


def stripped_copy(weights: Path, workdir: Path) -> Path:
    """A copy of ``weights`` without optimizer state (what gets shipped), via Ultralytics' own stripper."""
    from ultralytics.utils.torch_utils import strip_optimizer

    target = workdir / "best.pt"
    shutil.copy2(weights, target)
    strip_optimizer(str(target))
    return target


def evaluate_weights(weights: Path, data_yaml: Path, split: str, imgsz: int, device: str) -> EvaluationReport:
    """crackseg's evaluation of a weights file on one split (with Ultralytics mAP)."""
    segmenter = Segmenter(weights, backend="torch", device=device)
    return evaluate_yolo_split(segmenter, data_yaml, split, InferenceSettings(imgsz=imgsz, tile="never"))


def evaluate_and_maybe_promote(
    *,
    run_dir: Path,
    data_yaml: Path,
    stage: str,
    start_weights: Path,
    imgsz: int,
    device: str,
    wall_time_s: float | None,
    promote: bool,
    model_dir: Path = SHIPPED_MODEL.parent,
    domains: DomainSets | None = None,
    int8_settings: Int8Settings | None = None,
) -> PromotionOutcome:
    """Evaluate ``run_dir``'s best weights on valid and test; promote if asked and better on valid.

    With ``domains`` (a three-domain run) the rule is the domain gate: better on the validation
    splits of all domains together and no domain worse than its tolerance (``crackseg.training.domains``).
    Either way a better candidate is installed only if the INT8 check lets it through
    (``crackseg.training.int8_promotion``; ``int8_settings``: how it quantizes, and whether FP32 ``auto``
    is accepted).
    """
    int8_settings = int8_settings or Int8Settings()
    best = run_dir / "weights" / "best.pt"
    if not best.is_file():
        raise FileNotFoundError(f"{best}: the run has no best weights")
    if domains is not None:
        return _promote_on_domains(
            run_dir=run_dir,
            best=best,
            domains=domains,
            stage=stage,
            start_weights=start_weights,
            imgsz=imgsz,
            device=device,
            wall_time_s=wall_time_s,
            promote=promote,
            model_dir=model_dir,
            int8_settings=int8_settings,
        )
    with tempfile.TemporaryDirectory(prefix="crackseg-promote-") as tmp:
        candidate_weights = stripped_copy(best, Path(tmp))
        candidate_valid = evaluate_weights(candidate_weights, data_yaml, "val", imgsz, device)
        candidate_test = evaluate_weights(candidate_weights, data_yaml, "test", imgsz, device)
        shipped_weights = model_dir / "best.pt"
        shipped_valid = evaluate_weights(shipped_weights, data_yaml, "val", imgsz, device).summary()
        better, reasons = is_better(candidate_valid.summary(), shipped_valid)
        outcome = PromotionOutcome(
            candidate=candidate_valid.summary(),
            shipped=shipped_valid,
            candidate_test=candidate_test.summary(),
            better=better,
            promoted=False,
            reasons=reasons,
        )
        if promote and better:
            _install_unless_int8_refuses(
                outcome,
                candidate_weights,
                data_yaml,
                imgsz=imgsz,
                model_dir=model_dir,
                int8_settings=int8_settings,
                install=lambda: install_model(
                    weights=candidate_weights,
                    run_dir=run_dir,
                    stage=stage,
                    start_weights=start_weights,
                    valid_report=candidate_valid,
                    test_report=candidate_test,
                    wall_time_s=wall_time_s,
                    model_dir=model_dir,
                ),
            )
    return outcome


def _promote_on_domains(
    *,
    run_dir: Path,
    best: Path,
    domains: DomainSets,
    stage: str,
    start_weights: Path,
    imgsz: int,
    device: str,
    wall_time_s: float | None,
    promote: bool,
    model_dir: Path,
    int8_settings: Int8Settings,
) -> PromotionOutcome:
    """The domain gate: shipped and candidate on every validation split, the candidate on every test split."""
    with tempfile.TemporaryDirectory(prefix="crackseg-promote-") as tmp:
        candidate_weights = stripped_copy(best, Path(tmp))
        candidate = Segmenter(candidate_weights, backend="torch", device=device)
        candidate_val = evaluate_domains(candidate, domains, "val", imgsz=imgsz, progress=print)
        candidate_test = evaluate_domains(
            candidate,
            domains,
            "test",
            street_conf=candidate_val.street_conf,
            top_down_conf=candidate_val.top_down_conf,
            imgsz=imgsz,
            progress=print,
        )
        shipped = Segmenter(model_dir / "best.pt", backend="torch", device=device)
        shipped_val = evaluate_domains(shipped, domains, "val", imgsz=imgsz, progress=print)
        gains = paired_gains(candidate_val, shipped_val)
        better, reasons = domain_gate(candidate_val.scores(), shipped_val.scores(), gains.get(MEAN_GAIN))
        scores = {
            "shipped val": shipped_val.scores(),
            "candidate val": candidate_val.scores(),
            "candidate test": candidate_test.scores(),
        }
        outcome = PromotionOutcome(
            candidate=candidate_val.crack_seg.summary(),
            shipped=shipped_val.crack_seg.summary(),
            candidate_test=candidate_test.crack_seg.summary(),
            better=better,
            promoted=False,
            reasons=reasons,
            domains=scores,
            gains=gains,
        )
        if promote and better:
            _install_unless_int8_refuses(
                outcome,
                candidate_weights,
                domains.crack_seg_yaml,
                imgsz=imgsz,
                model_dir=model_dir,
                int8_settings=int8_settings,
                install=lambda: install_model(
                    weights=candidate_weights,
                    run_dir=run_dir,
                    stage=stage,
                    start_weights=start_weights,
                    valid_report=candidate_val.crack_seg,
                    test_report=candidate_test.crack_seg,
                    wall_time_s=wall_time_s,
                    model_dir=model_dir,
                    card_extra={
                        "domains": {
                            "gate": {
                                "metrics": list(GATE_METRICS),
                                "tolerance": DOMAIN_TOLERANCE,
                                "mean_gain": "paired 95 % interval over the val photos above 0",
                            },
                            "sets": {key: str(value) for key, value in dataclasses.asdict(domains).items()},
                            "val": candidate_val.scores(),
                            "test": candidate_test.scores(),
                            "shipped_val_before": shipped_val.scores(),
                            "val_gains_paired_bootstrap": {
                                name: gain.to_dict() for name, gain in outcome.gains.items()
                            },
                        },
                        "views": view_defaults(candidate_val.street_conf, candidate_val.top_down_conf),
                    },
                ),
            )
    return outcome


def _install_unless_int8_refuses(
    outcome: PromotionOutcome,
    candidate_weights: Path,
    data_yaml: Path,
    *,
    imgsz: int,
    model_dir: Path,
    int8_settings: Int8Settings,
    install: Callable[[], None],
) -> None:
    """Quantize the candidate if the shipped model runs INT8; install it (``install``) unless that check refuses it."""
    check = check_candidate_int8(
        candidate_weights, model_dir / "best.pt", data_yaml, imgsz=imgsz, settings=int8_settings
    )
    refusal = check.refusal(int8_settings)
    if refusal:
        outcome.int8_refused = True
        outcome.reasons.append(refusal)
        return
    install()
    outcome.promoted = True
    outcome.int8 = ship_int8(
        check,
        candidate_weights,
        model_dir / "best.pt",
        data_yaml,
        imgsz=imgsz,
        card_path=model_dir / MODEL_CARD.name,
        settings=int8_settings,
    )


def refresh_int8_after_promotion(weights: Path, data_yaml: Path, imgsz: int, card_path: Path) -> str:
    """Quantize installed weights that had no INT8 check before promotion; one line saying how it went.

    The INT8 model is installed and recorded in the card only if it passes its
    accuracy check. Any failure leaves the promotion in place: ``auto`` then
    uses the FP32 OpenVINO export until ``python -m crackseg quantize`` succeeds.
    """
    return ship_int8(
        Int8Check(incumbent_int8=False),
        weights,
        weights,
        data_yaml,
        imgsz=imgsz,
        card_path=card_path,
        settings=Int8Settings(),
    )


def install_model(
    *,
    weights: Path,
    run_dir: Path,
    stage: str,
    start_weights: Path,
    valid_report: EvaluationReport,
    test_report: EvaluationReport,
    wall_time_s: float | None,
    model_dir: Path,
    card_extra: dict[str, Any] | None = None,
) -> None:
    """Copy weights, history, test report and card into ``model_dir`` (``card_extra``: more card sections)."""
    history_path = model_dir / HISTORY_CSV.name
    card_path = model_dir / MODEL_CARD.name
    card = load_card(card_path)
    stages = list(card.get("stages", []))
    stage_name = f"{stage}-{len(stages) + 1}"
    run_history = read_results_csv(run_dir / "results.csv")
    run_args = read_args_yaml(run_dir / "args.yaml") if (run_dir / "args.yaml").is_file() else {}
    ema_decay = recorded_ema_decay(run_dir)
    if ema_decay is not None:
        run_args = {**run_args, "ema_decay": ema_decay}
    append_history(history_path, run_history, stage_name)
    start_sha = file_sha256(start_weights) if start_weights.suffix == ".pt" and start_weights.is_file() else None
    stages.append(
        stage_entry(
            stage_name,
            start=str(start_weights.name),
            start_sha256=start_sha,
            history=run_history,
            run_args=run_args,
            wall_time_s=recorded_wall_time(run_dir) or wall_time_s,
            valid=valid_report.summary(),
            test=test_report.summary(),
        )
    )
    network = describe_network(weights)  # before the copy: the installed file fails its old card's hash until saved
    shutil.copy2(weights, model_dir / "best.pt")
    test_report.save(model_dir / STORED_EVALUATION_DIR.relative_to(STORED_EVALUATION_DIR.parents[1]))
    card.update(
        {
            "name": network.card_name,
            "architecture": network.architecture,
            "weights": {
                "file": "best.pt",
                "sha256": file_sha256(model_dir / "best.pt"),
                "size_bytes": (model_dir / "best.pt").stat().st_size,
            },
            "stages": stages,
            "licence": licence_with_training_set(card.get("licence"), _training_set(run_args)),
            "metrics": {"valid": valid_report.summary(), "test": test_report.summary()},
            "updated": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        | (card_extra or {})
    )
    save_card(card, card_path)


def _training_set(run_args: dict[str, Any]) -> Path | None:
    """The data.yaml the run trained on, as its ``args.yaml`` records it (None when it records none)."""
    data = run_args.get("data")
    return Path(str(data)) if data else None


def append_history(history_path: Path, run_history: pd.DataFrame, stage_name: str) -> pd.DataFrame:
    """Add a run's epochs to the model's history with a ``stage`` column (one continuous table)."""
    new_rows = run_history.drop(columns=["global_epoch", "stage"], errors="ignore")
    new_rows.insert(0, "stage", stage_name)
    if history_path.is_file():
        existing = read_results_csv(history_path)
        combined = pd.concat([existing, new_rows], ignore_index=True)
    else:
        combined = new_rows
    # global_epoch is derived on reading (stage order, then epoch); it is not stored.
    combined.drop(columns=["global_epoch"], errors="ignore").to_csv(history_path, index=False)
    return combined


def stage_entry(
    name: str,
    *,
    start: str,
    start_sha256: str | None,
    history: pd.DataFrame,
    run_args: dict[str, Any],
    wall_time_s: float | None,
    valid: dict[str, Any],
    test: dict[str, Any],
) -> dict[str, Any]:
    """One stage of the card: start weights, schedule, hardware, wall time, valid/test metrics."""
    if wall_time_s is None and "time" in history.columns and history["time"].notna().any():
        wall_time_s = float(history["time"].dropna().iloc[-1])  # Ultralytics' clock; restarts on resume
    keys = (
        "data",
        "epochs",
        "imgsz",
        "batch",
        "optimizer",
        "lr0",
        "lrf",
        "cos_lr",
        "close_mosaic",
        "mosaic",
        "copy_paste",
        "scale",
        "mask_ratio",
        "ema_decay",
        "device",
        "seed",
    )
    return {
        "name": name,
        "start_weights": start,
        "start_sha256": start_sha256,
        "epochs_run": int(history["epoch"].max()) if len(history) else 0,
        "args": {key: run_args.get(key) for key in keys if key in run_args},
        "hardware": hardware_description(),
        "wall_time_s": round(wall_time_s, 1) if wall_time_s is not None else None,
        "valid": valid,
        "test": test,
    }


def int8_settings_of(args: argparse.Namespace) -> Int8Settings:
    """The INT8 check's settings from the command line (``train._common.add_int8_arguments``)."""
    return Int8Settings(calibration_images=args.calibration_images, accept_fp32_auto=args.accept_fp32_auto)


def finish_run(run: TrainingRun, args: argparse.Namespace, *, stage: str, start_weights: Path) -> int:
    """Evaluate the best weights on valid and test and promote them if asked and better."""
    if args.no_evaluate:
        print(f"run finished: {run.run_dir}")
        return 0
    outcome = evaluate_and_maybe_promote(
        run_dir=run.run_dir,
        data_yaml=args.data,
        stage=stage,
        start_weights=start_weights,
        imgsz=args.imgsz,
        device=args.device,
        wall_time_s=run.wall_time_s,
        promote=args.promote,
        domains=domains_of(args.data),
        int8_settings=int8_settings_of(args),
    )
    print(outcome.summary())
    return 0


def domains_of(data_yaml: Path) -> DomainSets | None:
    """A three-domain build (a ``manifest.json`` beside its data.yaml) is judged by the domain gate; else None."""
    folder = Path(data_yaml).resolve().parent
    return DomainSets.from_build(folder) if (folder / "manifest.json").is_file() else None


def hardware_description() -> str:
    """CPU model and core count, or the GPU name when CUDA is in use."""
    import os

    try:
        import torch

        if torch.cuda.is_available():
            return f"GPU {torch.cuda.get_device_name(0)}"
    except ImportError:
        pass
    return f"{cpu_model_name()}, {os.cpu_count()} CPU cores, no GPU"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Options of the standalone promotion."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", type=Path, help="Ultralytics run folder (with weights/best.pt, results.csv)")
    shared_data = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "crack-seg" / "data.yaml"
    parser.add_argument(
        "--data", type=Path, default=shared_data, help="data.yaml (a three-domain build is judged on every domain)"
    )
    parser.add_argument("--stage", default="finetune", help="stage label for the card and history")
    parser.add_argument("--start-weights", type=Path, default=SHIPPED_MODEL, help="what the run started from")
    parser.add_argument("--imgsz", type=int, default=416)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--promote", action="store_true", help="install into model/ if better on valid")
    add_int8_arguments(parser)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Evaluate a run and maybe promote it; prints the before/after table."""
    args = parse_args(argv)
    try:
        outcome = evaluate_and_maybe_promote(
            run_dir=args.run_dir,
            data_yaml=args.data,
            stage=args.stage,
            start_weights=args.start_weights,
            imgsz=args.imgsz,
            device=args.device,
            wall_time_s=None,
            promote=args.promote,
            domains=domains_of(args.data),
            int8_settings=int8_settings_of(args),
        )
    except (CrackSegError, OSError) as error:  # no run folder or weights, a missing or corrupt model or dataset
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(outcome.summary())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
