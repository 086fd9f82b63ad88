"""The street view's model: gate a candidate on the survey-vehicle val frames through the street pipeline.

Close-ups and vehicle frames pull one small model two ways (the three-domain runs lose
crack-seg mask mAP50 while they learn the survey frames; see the model issue's note), so
the street view has its own model in ``model/street/`` with its own card, gate and INT8
model, chosen by the view setting. The gate: the candidate's 32-px cell F1 inside the
lane on the survey-vehicle **val** frames, inspected exactly as the product does
(``--view street`` with the vehicle's camera profile: warped to the bird's-eye view,
predicted there, warped back and cut to the region), at the conf that scores best on
val, must beat the incumbent street model's (the top-down model while there is none)
by more than ``--min-gain``. The test split is evaluated at that conf and reported,
never used to choose. A promotion strips the optimizer, writes the card (weights
SHA-256, source, profile, view conf, val and test scores, date) and rebuilds the INT8
model on the street data (gated within 0.01 mask mAP50 of FP32). That mask mAP50 on
crops says little about the street view, so the INT8 model is then also checked the
way the gate scores: its lane cell F1 on the val frames through the street pipeline at
the chosen conf must be within ``INT8_MAX_DROP`` of the FP32 model's, or it is removed
and ``auto`` runs the FP32 OpenVINO export. The gain is also given a paired bootstrap
interval over the val frames (``metrics.bootstrap``), reported beside the rule and
recorded on the card, not part of it. ``--check-int8`` runs that check alone on
the installed street model. ``--rechoose-conf`` chooses the installed model's conf again on val
(after the grid of confs changed), scores test there and updates the card, then rebuilds (with
``--data``) and checks the INT8 model at the new conf.

    python train/promote_street.py /work/runs/street-s1/weights/best.pt \\
        --survey-root /work/data/biankatpas --data /work/data/street/data.yaml --promote
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as `python train/x.py`

from crackseg.core.errors import CrackSegError  # noqa: E402
from crackseg.core.json_values import dumps  # noqa: E402
from crackseg.core.locations import MODEL_CARD, PROJECT_ROOT, STREET_MODEL, STREET_MODEL_CARD  # noqa: E402
from crackseg.datasets.survey_vehicle import survey_items  # noqa: E402
from crackseg.evaluation.run import EvaluationReport, evaluate  # noqa: E402
from crackseg.geometry.camera import CameraProfile, load_profile  # noqa: E402
from crackseg.inference.model_loading import DEFAULT_IMGSZ, default_model_path, file_sha256, view_imgsz  # noqa: E402
from crackseg.inference.segmenter import InferenceSettings, Segmenter  # noqa: E402
from crackseg.metrics.bootstrap import PairedDifference, paired_f1_difference  # noqa: E402
from crackseg.metrics.sweep import DEFAULT_THRESHOLDS  # noqa: E402
from crackseg.pipeline.street import StreetSegmenter  # noqa: E402
from crackseg.training.dataset_credits import licence_with_training_set  # noqa: E402
from crackseg.training.model_card import load_card, save_card  # noqa: E402
from crackseg.training.network_description import describe_network  # noqa: E402

DEFAULT_PROFILE_PATH = PROJECT_ROOT / "profiles" / "survey-vehicle-br.json"
MIN_GAIN = 0.01
# The confs the gate chooses among, from one sweep run at the lowest. A sweep's value at a conf is not what
# the product does there: pieces found below the conf but merged across tiles into a crack above it enlarge
# that crack, and the lower the run, the more (the street model's val lane cell F1 at 0.10 was 0.727 swept
# from 0.05 and 0.710 swept from 0.02, so a grid reaching down to 0.02 was dropped). So the sweep only
# chooses; every figure the gate compares and reports comes from a run at the chosen conf
# (``street_scores``), and the floor's run (exact there) is kept when it beats the chosen conf's run. The
# grid is 0.01 apart between 0.05 and 0.10, where the street models' best confs lie, 0.05 above.
STREET_CONFS = tuple(sorted({float(value) for value in DEFAULT_THRESHOLDS} | {0.06, 0.07, 0.08, 0.09}))
SWEEP_VERSION = "fine"  # in the sweep reports' cache key: reports swept on another grid are not reused
INT8_MAX_DROP = 0.01  # lane cell F1 the INT8 street model may lose against FP32 on val
# Each exact run's per-frame lane cell counts, kept by ``_exact_scores`` for the gain's bootstrap interval, by
# (weights, split, conf, backend, input size); filled in this process only.
_LANE_CELL_COUNTS: dict[tuple[str, str, float, str, int], np.ndarray] = {}


def street_report(
    weights: Path,
    profile: CameraProfile,
    survey_root: Path,
    split: str,
    backend: str,
    cache: Path | None,
    at_conf: float | None = None,
    imgsz: int = DEFAULT_IMGSZ,
) -> EvaluationReport:
    """The street-pipeline evaluation of ``weights`` on one split, stored under ``cache`` and reused from there.

    Without ``at_conf``, a sweep: the model runs once at the lowest of ``STREET_CONFS`` and its cell sweep
    scores each of them, to choose a conf. With ``at_conf``, the model runs at that conf, as the product
    does, and the report's cell scores are exact there. The cache key is the weights' SHA-256, the profile's
    name and where it inspects, the split, the conf of an exact run, and the input size when not 416.
    """
    key = f"{file_sha256(weights)[:16]}-{profile.name}-{profile.inspect_on}-{split}"
    if imgsz != DEFAULT_IMGSZ:
        key += f"-{imgsz}px"
    if at_conf is not None and at_conf != min(STREET_CONFS):  # the sweep's own run is exact at its floor
        key += f"-at{at_conf:g}"
    elif SWEEP_VERSION:
        key += f"-{SWEEP_VERSION}"
    if backend != "torch":  # the FP32 backends agree (tested); the INT8 model is another model
        key += f"-{backend}"
    folder = None if cache is None else cache / key
    if folder is not None and (folder / "report.json").is_file():
        print(f"  {split}: stored report {folder}")
        return EvaluationReport.load(folder)
    segmenter = StreetSegmenter(Segmenter(weights, backend=backend), profile)
    label = split if at_conf is None else f"{split} at conf {at_conf:g}"
    report = evaluate(
        segmenter,
        survey_items(survey_root, split),
        InferenceSettings(imgsz=imgsz) if at_conf is None else InferenceSettings(conf=at_conf, imgsz=imgsz),
        cell_thresholds=STREET_CONFS if at_conf is None or at_conf == min(STREET_CONFS) else (at_conf,),
        sweep_min_conf=min(STREET_CONFS) if at_conf is None else at_conf,
        source=f"{survey_root}:{split}",
        progress=lambda done, total, name: print(f"  {label} {done}/{total}", end="\r", flush=True),
    )
    if folder is not None:
        report.save(folder)
    return report


def street_scores(
    weights: Path,
    profile: CameraProfile,
    survey_root: Path,
    split: str,
    conf: float | None,
    backend: str,
    cache: Path | None = None,
    imgsz: int = DEFAULT_IMGSZ,
) -> dict[str, Any]:
    """Lane cell F1 (32 px) of ``weights`` through the street pipeline on one split, at one conf, exactly.

    With ``conf`` None (val) the conf is chosen here: the sweep's best, confirmed by a run at it, or the
    sweep's floor when the floor's own run (exact at the floor) scores higher. The figures returned are
    those of a run at the conf chosen; ``swept_lane_cell_f1`` keeps the sweep's best, and a conf the
    confirmation turned down is kept as ``refused_conf`` with its exact score.
    """
    swept: dict[str, Any] = {}
    if conf is None:
        sweep = street_report(weights, profile, survey_root, split, backend, cache, imgsz=imgsz).cell_sweep
        conf = round(float(sweep["best_threshold"]), 4)
        swept = {"swept_lane_cell_f1": round(float(sweep["best_f1"]), 4)}
        floor = min(STREET_CONFS)
        if conf != floor:
            at_best = _exact_scores(weights, profile, survey_root, split, conf, backend, cache, imgsz)
            at_floor = _exact_scores(weights, profile, survey_root, split, floor, backend, cache, imgsz)
            if at_floor["lane_cell_f1"] > at_best["lane_cell_f1"]:
                refused = {"refused_conf": conf, "refused_conf_lane_cell_f1": at_best["lane_cell_f1"]}
                return at_floor | swept | refused
            return at_best | swept
    return _exact_scores(weights, profile, survey_root, split, conf, backend, cache, imgsz) | swept


def _exact_scores(
    weights: Path,
    profile: CameraProfile,
    survey_root: Path,
    split: str,
    conf: float,
    backend: str,
    cache: Path | None,
    imgsz: int = DEFAULT_IMGSZ,
) -> dict[str, Any]:
    """Lane cell F1, precision and recall of a run at ``conf`` (cached like every report)."""
    report = street_report(weights, profile, survey_root, split, backend, cache, at_conf=conf, imgsz=imgsz)
    cells = report.cell_sweep
    index = [round(float(value), 4) for value in cells["thresholds"]].index(round(conf, 4))
    counts = report.sweep_counts_at("cells", conf)
    if counts is not None:
        _LANE_CELL_COUNTS[(str(weights), split, round(conf, 4), backend, imgsz)] = counts
    return {
        "split": split,
        "frames": report.images,
        "conf": conf,
        "imgsz": imgsz,
        "lane_cell_f1": round(float(cells["f1"][index]), 4),
        "lane_cell_precision": round(float(cells["precision"][index]), 4),
        "lane_cell_recall": round(float(cells["recall"][index]), 4),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("candidate", type=Path, help="candidate weights (.pt)")
    parser.add_argument("--survey-root", type=Path, required=True, help="the survey-vehicle dataset folder")
    parser.add_argument("--profile", type=Path, default=DEFAULT_PROFILE_PATH, help="the vehicle's camera profile")
    parser.add_argument("--data", type=Path, default=None, help="street data.yaml for the INT8 build and gate")
    parser.add_argument("--backend", default="torch")
    parser.add_argument(
        "--imgsz",
        type=int,
        default=DEFAULT_IMGSZ,
        help="the candidate's input size (px): the size it was trained at; the incumbent runs at its card's",
    )
    parser.add_argument("--min-gain", type=float, default=MIN_GAIN, help="val lane cell F1 gain needed")
    parser.add_argument("--promote", action="store_true", help="install the candidate when it passes")
    parser.add_argument("--run", default="", help="the training run's name, for the card")
    parser.add_argument("--out", type=Path, default=None, help="write the scores here (JSON)")
    parser.add_argument("--cache", type=Path, default=None, help="store and reuse evaluation reports here")
    parser.add_argument("--check-int8", action="store_true", help="only check the installed INT8 street model")
    parser.add_argument(
        "--rechoose-conf",
        action="store_true",
        help="only choose the installed street model's conf again on val (on the current grid), score test at it",
    )
    args = parser.parse_args(argv)
    try:
        profile = load_profile(args.profile)
        if args.check_int8:
            print(check_int8_street_model(profile, args.survey_root, args.cache))
            return 0
        if args.rechoose_conf:
            print(rechoose_street_conf(profile, args.survey_root, args.backend, args.cache))
            if args.data is not None:
                from train.promotion import refresh_int8_after_promotion

                print(refresh_int8_after_promotion(STREET_MODEL, args.data, view_imgsz("street"), STREET_MODEL_CARD))
            print(check_int8_street_model(profile, args.survey_root, args.cache))
            return 0
        incumbent = default_model_path("street")
        scores: dict[str, Any] = {
            "profile": profile.name,
            "incumbent": str(incumbent),
            "candidate": str(args.candidate),
        }
        gated = shipping_form(args.candidate, args.cache)
        for role, weights, imgsz in (
            ("incumbent", incumbent, view_imgsz("street")),
            ("candidate", gated, args.imgsz),
        ):
            print(f"{role}: {weights} at {imgsz} px")
            val = street_scores(weights, profile, args.survey_root, "val", None, args.backend, args.cache, imgsz)
            test = street_scores(
                weights, profile, args.survey_root, "test", val["conf"], args.backend, args.cache, imgsz
            )
            scores[role + "_scores"] = {"val": val, "test": test}
            print(
                f"  val lane cell F1 {val['lane_cell_f1']:.4f} at conf {val['conf']}; test {test['lane_cell_f1']:.4f}"
            )
        gain = scores["candidate_scores"]["val"]["lane_cell_f1"] - scores["incumbent_scores"]["val"]["lane_cell_f1"]
        passed = gain > args.min_gain
        scores["gate"] = {"val_lane_cell_f1_gain": round(gain, 4), "min_gain": args.min_gain, "passed": passed}
        print(f"gate: val lane cell F1 gain {gain:+.4f} (needs > {args.min_gain}): {'PASSED' if passed else 'refused'}")
        interval = gain_interval(
            (incumbent, scores["incumbent_scores"]["val"], view_imgsz("street")),
            (gated, scores["candidate_scores"]["val"], args.imgsz),
            args.backend,
        )
        if interval is not None:
            scores["gate"]["val_lane_cell_f1_gain_paired_bootstrap"] = interval.to_dict()
            print(f"  paired bootstrap over the val frames (reported, not gated): {interval.describe()}")
        if args.out is not None:
            args.out.write_text(dumps(scores), encoding="utf-8")
        if passed and args.promote:
            install_street_model(gated, args.candidate, scores, profile, args.run)
            if args.data is not None:
                from train.promotion import refresh_int8_after_promotion

                print(refresh_int8_after_promotion(STREET_MODEL, args.data, args.imgsz, STREET_MODEL_CARD))
                print(check_int8_street_model(profile, args.survey_root, args.cache))
    except (CrackSegError, OSError) as error:  # a missing candidate, profile or survey folder; a corrupt model
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


def gain_interval(
    incumbent: tuple[Path, dict[str, Any], int], candidate: tuple[Path, dict[str, Any], int], backend: str
) -> PairedDifference | None:
    """The candidate's val lane cell F1 gain with a paired bootstrap interval over the val frames.

    Each side is ``(weights, its val scores, input size)``; the per-frame counts are those its exact run at
    its chosen conf kept in this process (``_exact_scores``). ``None`` when a side has none (a report stored
    before per-frame counts were kept).
    """
    sides = []
    for weights, val, imgsz in (candidate, incumbent):
        counts = _LANE_CELL_COUNTS.get((str(weights), "val", round(float(val["conf"]), 4), backend, imgsz))
        if counts is None:
            return None
        sides.append(counts)
    if sides[0].shape != sides[1].shape:
        return None
    return paired_f1_difference(sides[0], sides[1])


def rechoose_street_conf(profile: CameraProfile, survey_root: Path, backend: str, cache: Path | None) -> str:
    """Choose the installed street model's conf again on val, on the current ``STREET_CONFS``; score test there.

    For a grid that changed after the model was promoted: the card's street conf and its survey-vehicle
    figures are replaced by the new choice's, the previous ones kept under ``conf_rechosen``. Raises
    ``CrackSegError`` when the card is not the installed weights' (its SHA-256 differs).
    """
    from crackseg.training.model_card import load_card

    card = load_card(STREET_MODEL_CARD)
    if card.get("weights", {}).get("sha256") != file_sha256(STREET_MODEL):
        raise CrackSegError(f"{STREET_MODEL_CARD}: the card is not {STREET_MODEL}'s (SHA-256 differs)")
    imgsz = int(card["views"]["street"].get("imgsz", DEFAULT_IMGSZ))
    val = street_scores(STREET_MODEL, profile, survey_root, "val", None, backend, cache, imgsz)
    test = street_scores(STREET_MODEL, profile, survey_root, "test", val["conf"], backend, cache, imgsz)
    previous = {
        "conf": card["views"]["street"]["conf"],
        "survey_vehicle": card.get("domains", {}).get("survey_vehicle"),
    }
    card["views"]["street"] = {
        "conf": val["conf"],
        "imgsz": imgsz,
        "chosen_on": "survey-vehicle val frames",
        "grid": STREET_CONFS,
    }
    card.setdefault("domains", {})["survey_vehicle"] = {"val": val, "test": test}
    card["conf_rechosen"] = {"at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "previous": previous}
    save_card(card, STREET_MODEL_CARD)
    return (
        f"street conf {previous['conf']} -> {val['conf']}: val lane cell F1 {val['lane_cell_f1']:.4f}, "
        f"test {test['lane_cell_f1']:.4f}"
    )


def check_int8_street_model(profile: CameraProfile, survey_root: Path, cache: Path | None) -> str:
    """The installed INT8 street model against its FP32 weights on the val frames; removed if it loses too much.

    Both are scored at the card's street conf; the outcome goes on the card (``int8_street_check``).
    """
    from crackseg.training.int8_build import int8_model_dir
    from crackseg.training.model_card import load_card

    card = load_card(STREET_MODEL_CARD)
    conf = float(card["views"]["street"]["conf"])
    imgsz = int(card["views"]["street"].get("imgsz", DEFAULT_IMGSZ))
    if not int8_model_dir(STREET_MODEL).is_dir():
        return "no INT8 street model installed: nothing to check"
    fp32 = street_scores(STREET_MODEL, profile, survey_root, "val", conf, "torch", cache, imgsz)
    int8 = street_scores(STREET_MODEL, profile, survey_root, "val", conf, "openvino-int8", cache, imgsz)
    drop = round(fp32["lane_cell_f1"] - int8["lane_cell_f1"], 4)  # the scores have 4 decimals: no float fuzz
    passed = drop <= INT8_MAX_DROP
    card["int8_street_check"] = {
        "metric": "survey-vehicle val, 32-px cell F1 inside the lane, street pipeline",
        "conf": conf,
        "fp32": fp32,
        "int8": int8,
        "drop": round(drop, 4),
        "max_drop": INT8_MAX_DROP,
        "passed": passed,
    }
    if not passed:
        shutil.rmtree(int8_model_dir(STREET_MODEL))
    save_card(card, STREET_MODEL_CARD)
    verdict = "kept" if passed else "REMOVED (auto uses FP32 OpenVINO)"
    return (
        f"INT8 street model {verdict}: val lane cell F1 {int8['lane_cell_f1']:.4f} against FP32 "
        f"{fp32['lane_cell_f1']:.4f} at conf {conf} (drop {drop:+.4f}, at most {INT8_MAX_DROP})"
    )


def shipping_form(candidate: Path, cache: Path | None) -> Path:
    """The candidate as it would ship (optimizer stripped, weights stored in half precision), made once.

    The gate scores this file, and a promotion installs its very bytes, so the scores on the card are the
    shipped file's, and the next gate finds the incumbent's reports in ``cache`` under its SHA-256 (stripping
    again would stamp a new date, so a new hash). Kept in ``cache/shipping-form/`` (a temporary folder
    without a cache), named by the candidate's hash.
    """
    from ultralytics.utils.torch_utils import strip_optimizer

    folder = Path(tempfile.mkdtemp(prefix="street-gate-")) if cache is None else cache / "shipping-form"
    folder.mkdir(parents=True, exist_ok=True)
    stripped = folder / f"{file_sha256(candidate)[:16]}.pt"
    if not stripped.is_file():
        partial = stripped.with_suffix(".partial.pt")
        shutil.copy2(candidate, partial)
        strip_optimizer(str(partial))
        partial.replace(stripped)
    return stripped


def candidate_training_set(candidate: Path) -> Path | None:
    """The data.yaml the candidate's checkpoint says it was trained on (Ultralytics' ``train_args``), or None."""
    import pickle

    import torch

    try:
        checkpoint = torch.load(candidate, map_location="cpu", weights_only=False)  # the operator's own candidate
    except (OSError, RuntimeError, EOFError, ValueError, pickle.UnpicklingError):  # the gate loaded it; not fatal
        return None
    data = (checkpoint.get("train_args") or {}).get("data") if isinstance(checkpoint, dict) else None
    return Path(str(data)) if data else None


def lineage_licence() -> dict[str, Any]:
    """The licence section a new street model inherits: the street card's, else the top-down card's.

    A street candidate starts from the street model, or from the top-down line when there is none.
    """
    for card_path in (STREET_MODEL_CARD, MODEL_CARD):
        if card_path.is_file():
            licence = load_card(card_path).get("licence")
            if licence:
                return dict(licence)
    return {}


def install_street_model(
    gated: Path, candidate: Path, scores: dict[str, Any], profile: CameraProfile, run: str
) -> None:
    """Install the gated file (the candidate's shipping form) as ``model/street/best.pt`` and write its card."""
    network = describe_network(gated)  # before the copy: the installed file fails its old card's hash until saved
    STREET_MODEL.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(gated, STREET_MODEL)
    candidate_scores = scores["candidate_scores"]
    card = {
        "model": f"{network.architecture}, the street view's model (chosen by --view street)",
        "weights": {"path": "model/street/best.pt", "sha256": file_sha256(STREET_MODEL), "source": str(candidate)},
        "run": run,
        "promoted_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "gate": scores["gate"] | {"metric": "survey-vehicle val, 32-px cell F1 inside the lane, street pipeline"},
        "camera_profile": profile.to_dict(),
        "views": {
            "street": {
                "conf": candidate_scores["val"]["conf"],
                "imgsz": candidate_scores["val"].get("imgsz", DEFAULT_IMGSZ),
                "chosen_on": "survey-vehicle val frames",
                "grid": STREET_CONFS,
            }
        },
        "domains": {"survey_vehicle": candidate_scores},
        "incumbent": {"weights": scores["incumbent"], "scores": scores["incumbent_scores"]},
        "data": "survey-vehicle frames (github:biankatpas/Cracks-and-Potholes-in-Road-Images-Dataset, MIT), "
        "train split as 640-px crops with dashed labels closed (train/build_dataset.py)",
        "licence": licence_with_training_set(lineage_licence(), candidate_training_set(candidate)),
    }
    save_card(card, STREET_MODEL_CARD)
    print(f"promoted -> {STREET_MODEL}")


if __name__ == "__main__":
    raise SystemExit(main())
