"""The model on every domain it serves, and the promotion rule across them.

Why: a model trained on three kinds of photo (crack-seg close-ups, DeepCrack, frames
from a survey vehicle) can gain on one and lose on another. A candidate is promoted
only if it is better on the validation splits taken together and not worse than
``DOMAIN_TOLERANCE`` on any one of them. Test splits are evaluated for the record,
never to choose; that includes each view's confidence threshold: the street view's is
the one with the best lane cell F1 on the survey *validation* frames, the top-down
view's the one with the best mean of crack-seg valid pixel F1 and DeepCrack val F1
within 2 px (the two top-down gate metrics that depend on it). Each model is scored
at its own thresholds, as the product runs it.

The four gate metrics (all "higher is better", all in [0, 1]):

- ``crack_seg_mask_map50``: Ultralytics mask mAP50 on crack-seg valid;
- ``crack_seg_pixel_f1``: pixel F1 on crack-seg valid at the top-down conf chosen on val;
- ``deepcrack_f1_2px``: F1 within 2 px on the DeepCrack validation split, at the same conf;
- ``survey_lane_cell_f1``: 32-px cell F1 inside the lane on the survey val frames,
  at the street view's conf chosen there.

How much of a gain is the photos' draw rather than the model: ``paired_gains`` puts a paired
bootstrap interval (``metrics.bootstrap``) on the candidate's gain in each gate metric, on the
mean of the three F1s and on the mean of all four (the rule's mean gain). The mask mAP50 is
resampled from Ultralytics' per-image mask matches (``inference.validation.ValidationImageStats``),
recomputed per resample as Ultralytics computes it. The intervals are reported beside the rule
above, not part of it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crackseg.core.errors import DatasetError
from crackseg.datasets.labelled import mask_folder_items
from crackseg.datasets.survey_vehicle import survey_items
from crackseg.evaluation.run import EvaluationReport, evaluate, evaluate_yolo_split
from crackseg.inference.segmenter import InferenceSettings, Segmenter
from crackseg.inference.validation import ValidationImageStats
from crackseg.metrics.bootstrap import (
    DEFAULT_RESAMPLES,
    DEFAULT_SEED,
    PairedDifference,
    StatisticPair,
    paired_mean_difference,
)

DOMAIN_TOLERANCE = 0.01
GATE_METRICS = ("crack_seg_mask_map50", "crack_seg_pixel_f1", "deepcrack_f1_2px", "survey_lane_cell_f1")
TOP_DOWN_CONF = 0.25  # the fixed top-down threshold before it was chosen per model; still reported beside it

Progress = Callable[[str], None]
PAIRED_GAIN_METRICS = {  # F1 gate metric -> (the evaluation's report, its sweep's counts, whose conf)
    "crack_seg_pixel_f1": ("crack_seg", "pixel", "top_down_conf"),
    "deepcrack_f1_2px": ("deepcrack", "tolerance", "top_down_conf"),
    "survey_lane_cell_f1": ("survey", "cells", "street_conf"),
}
MEAN_F1_GAIN = "mean_f1_gain"  # paired_gains' key for the mean over PAIRED_GAIN_METRICS
MEAN_GAIN = "mean_gain"  # paired_gains' key for the mean over GATE_METRICS (the rule's mean gain)
MAP_GAIN_METRIC = "crack_seg_mask_map50"
MEAN_GAIN_MATCH = 5e-4  # how far an interval's mean may sit from the scores' (intervals read back from 4-place JSON)


@dataclass(frozen=True)
class DomainSets:
    """Where each domain's labelled splits lie.

    crack_seg_yaml: the crack-seg ``data.yaml`` (splits ``val`` and ``test``).
    deepcrack_val: a folder with ``images/`` and ``masks/`` (the held-out DeepCrack train images).
    deepcrack_test: the DeepCrack test folder (``images/``, ``masks/``).
    survey_root: the survey-vehicle dataset (split by ``survey_vehicle.split_of``).
    """

    crack_seg_yaml: Path
    deepcrack_val: Path
    deepcrack_test: Path
    survey_root: Path

    @classmethod
    def from_build(cls, three_domain_dir: Path | str) -> DomainSets:
        """The evaluation sets a three-domain build (``datasets.three_domain``) was made from, by its manifest."""
        manifest_path = Path(three_domain_dir) / "manifest.json"
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
            sources = manifest["sources"]
            return cls(
                crack_seg_yaml=Path(sources["crack_seg_yaml"]),
                deepcrack_val=Path(manifest["deepcrack_val_dir"]),
                deepcrack_test=Path(sources["deepcrack_train_dir"]).parent / "test",
                survey_root=Path(sources["survey_root"]),
            )
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise DatasetError(f"{manifest_path}: not a three-domain build's manifest ({error})") from None


@dataclass
class DomainEvaluation:
    """One model on every domain of one split ("val" or "test"), with each view's chosen conf."""

    split: str
    crack_seg: EvaluationReport
    deepcrack: EvaluationReport
    survey: EvaluationReport
    street_conf: float
    top_down_conf: float = TOP_DOWN_CONF

    def scores(self) -> dict[str, float]:
        """The gate metrics (see the module docstring), each at its view's chosen conf, and the same at 0.25."""
        return {
            "crack_seg_mask_map50": float(self.crack_seg.ultralytics.get("mask_map50", float("nan"))),
            "crack_seg_mask_map50_95": float(self.crack_seg.ultralytics.get("mask_map50_95", float("nan"))),
            "crack_seg_pixel_f1": f1_at(self.crack_seg.pixel_sweep, self.top_down_conf),
            "deepcrack_f1_2px": f1_at(self.deepcrack.sweep, self.top_down_conf),
            "deepcrack_ods": float(self.deepcrack.ods),
            "survey_lane_cell_f1": f1_at(self.survey.cell_sweep, self.street_conf),
            "crack_seg_pixel_f1_at_0_25": f1_at(self.crack_seg.pixel_sweep, TOP_DOWN_CONF),
            "deepcrack_f1_2px_at_0_25": f1_at(self.deepcrack.sweep, TOP_DOWN_CONF),
            "survey_lane_cell_f1_at_0_25": float(self.survey.region_cells["f1"]),
            "top_down_conf": float(self.top_down_conf),
            "street_conf": float(self.street_conf),
        }


def f1_at(sweep: dict[str, Any], conf: float) -> float:
    """A sweep's F1 at the swept threshold nearest ``conf`` (the sweeps use a 0.05 grid that holds 0.25)."""
    thresholds = sweep["thresholds"]
    nearest = min(range(len(thresholds)), key=lambda index: abs(thresholds[index] - conf))
    return float(sweep["f1"][nearest])


def choose_top_down_conf(crack_seg: EvaluationReport, deepcrack: EvaluationReport) -> float:
    """The top-down view's conf: the swept threshold with the best mean of crack-seg pixel F1 and DeepCrack F1 (2 px).

    Both are top-down photos, and the product cannot tell which kind a user uploads, so
    one threshold serves both; ties go to the higher threshold (fewer false cracks).
    Call it on validation reports only.
    """
    pixel, tolerance = crack_seg.pixel_sweep, deepcrack.sweep
    if not pixel or list(pixel["thresholds"]) != list(tolerance["thresholds"]):
        raise DatasetError("the crack-seg and DeepCrack reports need pixel and tolerance sweeps on one threshold grid")
    means = [(a + b) / 2 for a, b in zip(pixel["f1"], tolerance["f1"], strict=True)]
    best = max(range(len(means)), key=lambda index: (round(means[index], 9), index))
    return float(pixel["thresholds"][best])


def evaluate_domains(
    segmenter: Segmenter,
    sets: DomainSets,
    split: str,
    *,
    street_conf: float | None = None,
    top_down_conf: float | None = None,
    imgsz: int = 416,
    progress: Progress = lambda message: None,
) -> DomainEvaluation:
    """Evaluate ``segmenter`` on the ``split`` ("val" or "test") of every domain.

    ``street_conf`` and ``top_down_conf`` are the views' thresholds; ``None`` (validation)
    chooses them here (see the module docstring). For test, pass the ones chosen on val:
    test never chooses anything.
    """
    if split not in ("val", "test"):
        raise ValueError(f"split must be 'val' or 'test', got {split!r}")
    first_conf = TOP_DOWN_CONF if top_down_conf is None else top_down_conf
    crack_seg, deepcrack = _top_down_reports(segmenter, sets, split, first_conf, imgsz, progress, with_map=True)
    chosen_top_down = top_down_conf if top_down_conf is not None else choose_top_down_conf(crack_seg, deepcrack)
    if chosen_top_down != first_conf:  # chosen here: score the top-down sets again, as the product will run them
        mask_map, map_stats = crack_seg.ultralytics, crack_seg.map_image_stats  # the mAP does not depend on conf
        crack_seg, deepcrack = _top_down_reports(segmenter, sets, split, chosen_top_down, imgsz, progress)
        crack_seg.ultralytics, crack_seg.map_image_stats = mask_map, map_stats
    progress(f"survey-vehicle {split}")
    survey = evaluate(
        segmenter,
        survey_items(sets.survey_root, split),
        InferenceSettings(conf=TOP_DOWN_CONF, imgsz=imgsz),
        source=f"{sets.survey_root}:{split}",
    )
    chosen = street_conf if street_conf is not None else float(survey.cell_sweep["best_threshold"])
    return DomainEvaluation(split, crack_seg, deepcrack, survey, chosen, chosen_top_down)


def _top_down_reports(
    segmenter: Segmenter,
    sets: DomainSets,
    split: str,
    conf: float,
    imgsz: int,
    progress: Progress,
    *,
    with_map: bool = False,
) -> tuple[EvaluationReport, EvaluationReport]:
    """crack-seg and DeepCrack ``split`` at ``conf`` (their sweeps cover every threshold from 0.05 either way)."""
    settings = InferenceSettings(conf=conf, imgsz=imgsz)
    progress(f"crack-seg {split} at conf {conf:g}")
    crack_seg = evaluate_yolo_split(segmenter, sets.crack_seg_yaml, split, settings, with_map=with_map)
    progress(f"DeepCrack {split} at conf {conf:g}")
    deepcrack_dir = sets.deepcrack_val if split == "val" else sets.deepcrack_test
    items = mask_folder_items(deepcrack_dir / "images", deepcrack_dir / "masks")
    return crack_seg, evaluate(segmenter, items, settings, source=f"{deepcrack_dir}")


def domain_gate(
    candidate: dict[str, float],
    shipped: dict[str, float],
    mean_gain: PairedDifference | None,
    tolerance: float = DOMAIN_TOLERANCE,
) -> tuple[bool, list[str]]:
    """Promote when the mean gain over ``GATE_METRICS`` is surely above 0 and no metric drops past ``tolerance``.

    "Surely": ``mean_gain`` is ``paired_gains(...)[MEAN_GAIN]``, the same mean gain with its paired
    bootstrap interval over the val photos, and its whole interval must lie above 0. Why: crack-seg's mask
    mAP50 alone moves about +-0.03 between two draws of its 200 val photos, so a mean gain measured above 0
    can be a coin toss; the street gate asks its +0.01 margin for the same reason. ``None`` (no per-photo
    counts to resample) refuses. Returns ``(better, reasons)``; ``reasons`` names every rule the candidate
    broke. Raises ``ValueError`` when ``mean_gain`` is not the mean of these scores' gains (another
    interval passed by mistake).
    """
    reasons = []
    gains = []
    for name in GATE_METRICS:
        new, old = candidate.get(name), shipped.get(name)
        if new is None or old is None or new != new or old != old:  # missing or NaN
            reasons.append(f"{name}: not measured for both models ({new} vs {old})")
            continue
        gains.append(new - old)
        if new < old - tolerance:
            reasons.append(f"{name}: {new:.4f} is more than {tolerance} below the shipped {old:.4f}")
    mean = sum(gains) / len(gains) if gains else 0.0
    if mean_gain is None:
        reasons.append(f"mean gain {mean:+.4f}: no paired interval over the val photos to judge it by")
    elif len(gains) == len(GATE_METRICS) and abs(mean_gain.difference - mean) > MEAN_GAIN_MATCH:
        raise ValueError(f"the interval's mean gain {mean_gain.difference:+.6f} is not these scores' {mean:+.6f}")
    elif not mean_gain.low > 0:
        reasons.append(f"mean gain over the validation sets {mean_gain.describe()}: its interval does not lie above 0")
    return not reasons, reasons


def paired_gains(
    candidate: DomainEvaluation,
    shipped: DomainEvaluation,
    *,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> dict[str, PairedDifference]:
    """The candidate's gain over the shipped model in each F1 gate metric, with a paired bootstrap interval.

    Each model is scored at its own chosen conf (as ``DomainEvaluation.scores``), from its sweep's
    per-photo counts, so each difference equals the two ``scores()`` values' difference. The photos
    are resampled once for both models (paired). Keys: ``PAIRED_GAIN_METRICS`` and ``MEAN_F1_GAIN``
    (their mean, each set resampled independently); and, when both crack-seg reports kept Ultralytics'
    per-image matches, ``crack_seg_mask_map50`` and ``MEAN_GAIN`` (the mean over ``GATE_METRICS``).
    Raises ``DatasetError`` when the two evaluations did not score the same photos in one order or
    lack per-photo counts.
    """
    pairs: dict[str, tuple] = {}
    for metric, (report_name, level, conf_name) in PAIRED_GAIN_METRICS.items():
        new_report, old_report = getattr(candidate, report_name), getattr(shipped, report_name)
        if list(new_report.per_image["image"]) != list(old_report.per_image["image"]):
            raise DatasetError(f"{metric}: the two models were not scored on the same photos in one order")
        new = new_report.sweep_counts_at(level, getattr(candidate, conf_name))
        old = old_report.sweep_counts_at(level, getattr(shipped, conf_name))
        if new is None or old is None:
            raise DatasetError(f"{metric}: no per-photo counts at the chosen conf to resample")
        pairs[metric] = (new, old)
    gains = {metric: paired_mean_difference([pair], resamples=resamples, seed=seed) for metric, pair in pairs.items()}
    gains[MEAN_F1_GAIN] = paired_mean_difference(list(pairs.values()), resamples=resamples, seed=seed)
    map_pair = _map50_pair(candidate.crack_seg.map_image_stats, shipped.crack_seg.map_image_stats)
    if map_pair is not None:
        gains[MAP_GAIN_METRIC] = paired_mean_difference([map_pair], resamples=resamples, seed=seed)
        every = [map_pair, *pairs.values()]
        gains[MEAN_GAIN] = paired_mean_difference(every, resamples=resamples, seed=seed)
    return gains


def _map50_pair(candidate: ValidationImageStats | None, shipped: ValidationImageStats | None) -> StatisticPair | None:
    """The two models' crack-seg mask mAP50 as functions of the photos drawn; ``None`` without both models' matches."""
    if candidate is None or shipped is None or candidate.images == 0:
        return None
    if candidate.image_names != shipped.image_names:
        raise DatasetError("crack_seg_mask_map50: the two models were not validated on the same photos in one order")
    return StatisticPair(candidate.images, candidate.mask_map50, shipped.mask_map50)


def scores_table(rows: dict[str, dict[str, float]]) -> list[dict[str, Any]]:
    """``{label: scores}`` as a list of flat rows (for printing or a CSV), metric columns in a fixed order."""
    columns = [
        *GATE_METRICS,
        "crack_seg_mask_map50_95",
        "deepcrack_ods",
        "crack_seg_pixel_f1_at_0_25",
        "deepcrack_f1_2px_at_0_25",
        "survey_lane_cell_f1_at_0_25",
        "top_down_conf",
        "street_conf",
    ]
    return [
        {"model": label, **{name: round(scores.get(name, float("nan")), 4) for name in columns}}
        for label, scores in rows.items()
    ]


def view_defaults(street_conf: float, top_down_conf: float) -> dict[str, dict[str, Any]]:
    """Each view's default settings for the card, both thresholds chosen on validation data."""
    return {
        "top-down": {
            "conf": top_down_conf,
            "chosen_on": "crack-seg valid and DeepCrack val: best mean of pixel F1 and F1 within 2 px",
        },
        "street": {"conf": street_conf, "chosen_on": "survey-vehicle val frames: best 32-px cell F1 in the lane"},
    }
