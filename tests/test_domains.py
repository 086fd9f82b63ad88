"""The promotion rule across domains: better together, and no domain worse than the tolerance."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from fake_segmenters import FixedSegmenter
from PIL import Image

from crackseg.core.errors import DatasetError
from crackseg.datasets.labelled import LabelledImage
from crackseg.evaluation.run import EvaluationReport, evaluate
from crackseg.inference.prediction import CrackPrediction
from crackseg.inference.segmenter import InferenceSettings
from crackseg.metrics.bootstrap import PairedDifference
from crackseg.training.domains import (
    GATE_METRICS,
    TOP_DOWN_CONF,
    DomainEvaluation,
    choose_top_down_conf,
    domain_gate,
    view_defaults,
)

SHIPPED = {
    "crack_seg_mask_map50": 0.65,
    "crack_seg_pixel_f1": 0.76,
    "deepcrack_f1_2px": 0.80,
    "survey_lane_cell_f1": 0.16,
}


def scores(**changes: float) -> dict[str, float]:
    return SHIPPED | changes


def sure_mean_gain(candidate: dict[str, float], low: float | None = None) -> PairedDifference:
    """The candidate's mean gain over ``SHIPPED`` with an interval from ``low`` (default: half the gain) upwards."""
    mean = float(np.mean([candidate[name] - SHIPPED[name] for name in GATE_METRICS]))
    low = mean / 2 if low is None else low
    return PairedDifference(mean, low, mean + abs(mean), 1.0, 0.95, 2000)


@pytest.mark.parametrize(
    ("scenario", "candidate", "better", "blamed"),
    [
        ("better everywhere", scores(crack_seg_mask_map50=0.66, survey_lane_cell_f1=0.70), True, []),
        ("big street gain, small close-up loss", scores(crack_seg_pixel_f1=0.752, survey_lane_cell_f1=0.7), True, []),
        (
            "a loss past the tolerance",
            scores(crack_seg_mask_map50=0.60, survey_lane_cell_f1=0.9),
            False,
            ["crack_seg_mask_map50"],
        ),
        ("no change", scores(), False, ["mean gain"]),
        ("small losses only", scores(deepcrack_f1_2px=0.795, crack_seg_pixel_f1=0.755), False, ["mean gain"]),
    ],
)
def test_domain_gate(scenario: str, candidate: dict, better: bool, blamed: list[str]) -> None:
    verdict, reasons = domain_gate(candidate, SHIPPED, sure_mean_gain(candidate), tolerance=0.01)
    assert verdict is better, scenario
    for name in blamed:
        assert any(name in reason for reason in reasons), (scenario, reasons)
    assert (not reasons) is better


@pytest.mark.parametrize(
    ("scenario", "candidate", "blamed"),
    [
        ("a domain not measured", {k: v for k, v in SHIPPED.items() if k != "deepcrack_f1_2px"}, "deepcrack"),
        ("NaN is not a score", scores(survey_lane_cell_f1=float("nan")), "survey_lane_cell_f1"),
    ],
)
def test_a_score_missing_refuses(scenario: str, candidate: dict, blamed: str) -> None:
    gain = PairedDifference(0.01, 0.005, 0.02, 1.0, 0.95, 2000)
    verdict, reasons = domain_gate(candidate, SHIPPED, gain, tolerance=0.01)
    assert verdict is False and any(blamed in reason for reason in reasons), (scenario, reasons)


def test_a_mean_gain_within_the_photos_noise_is_refused() -> None:
    candidate = scores(crack_seg_mask_map50=0.68, deepcrack_f1_2px=0.805)  # mean gain +0.00875, no loss
    assert domain_gate(candidate, SHIPPED, sure_mean_gain(candidate, low=0.0001))[0] is True
    verdict, reasons = domain_gate(candidate, SHIPPED, sure_mean_gain(candidate, low=-0.004))
    assert verdict is False
    assert reasons == [
        f"mean gain over the validation sets {sure_mean_gain(candidate, low=-0.004).describe()}: "
        "its interval does not lie above 0"
    ]
    assert "+0.0088" in reasons[0] and "-0.0040" in reasons[0]


def test_without_an_interval_the_gate_refuses() -> None:
    candidate = scores(survey_lane_cell_f1=0.9)
    verdict, reasons = domain_gate(candidate, SHIPPED, None)
    assert verdict is False and reasons == ["mean gain +0.1850: no paired interval over the val photos to judge it by"]


def test_an_interval_of_another_mean_is_a_mistake() -> None:
    candidate = scores(survey_lane_cell_f1=0.9)
    with pytest.raises(ValueError, match="not these scores"):
        domain_gate(candidate, SHIPPED, PairedDifference(0.05, 0.01, 0.09, 1.0, 0.95, 2000))


def test_the_gate_covers_the_four_validation_sets() -> None:
    assert GATE_METRICS == ("crack_seg_mask_map50", "crack_seg_pixel_f1", "deepcrack_f1_2px", "survey_lane_cell_f1")


# --- the top-down view's threshold, chosen on the two top-down validation sets ------------------------------


def rows_mask(*rows: int, side: int = 10) -> np.ndarray:
    mask = np.zeros((side, side), bool)
    mask[list(rows)] = True
    return mask


def labelled(folder: Path, grey: int, truth: np.ndarray, region: np.ndarray | None = None) -> LabelledImage:
    folder.mkdir(parents=True)
    Image.fromarray(np.full((*truth.shape, 3), grey, np.uint8)).save(folder / "raw.png")
    Image.fromarray(truth.astype(np.uint8) * 255).save(folder / "crack.png")
    region_path = None
    if region is not None:
        Image.fromarray(region.astype(np.uint8) * 255).save(folder / "lane.png")
        region_path = folder / "lane.png"
    return LabelledImage(folder / "raw.png", mask_path=folder / "crack.png", region_path=region_path)


@pytest.fixture()
def top_down_reports(tmp_path: Path) -> tuple[EvaluationReport, EvaluationReport, EvaluationReport]:
    """Hand-drawn answers whose scores are worked out by hand (10x10 images, one per set).

    crack-seg-like (pixel F1): truth rows 2, 3, 6; predicted rows 2-3 at 0.9, row 6 at 0.15 (true, unsure),
    row 9 at 0.4 (false). Pixel F1: 6/7 up to 0.15, 2/3 from 0.2 to 0.4, 4/5 from 0.45 to 0.9.
    DeepCrack-like (F1 within 2 px): truth rows 2-3; predicted rows 2-3 at 0.9, row 8 at 0.1 (false, 5 px
    away). F1: 4/5 up to 0.1, 1 from 0.15 to 0.9.
    The mean is best at 0.15: (6/7 + 1) / 2. At the old fixed 0.25: 2/3 and 1.
    """
    crack_seg = labelled(tmp_path / "cs", 50, rows_mask(2, 3, 6))
    deepcrack = labelled(tmp_path / "dc", 100, rows_mask(2, 3))
    survey = labelled(tmp_path / "sv", 150, rows_mask(2, 3), region=np.ones((10, 10), bool))
    segmenter = FixedSegmenter(
        {
            50: CrackPrediction.from_masks(
                np.stack([rows_mask(2, 3), rows_mask(6), rows_mask(9)]), np.array([0.9, 0.15, 0.4], np.float32)
            ),
            100: CrackPrediction.from_masks(
                np.stack([rows_mask(2, 3), rows_mask(8)]), np.array([0.9, 0.1], np.float32)
            ),
            150: CrackPrediction.from_masks(np.stack([rows_mask(2, 3)]), np.array([0.3], np.float32)),
        }
    )
    settings = InferenceSettings(conf=TOP_DOWN_CONF)
    return (
        evaluate(segmenter, [crack_seg], settings),
        evaluate(segmenter, [deepcrack], settings, tolerance_px=2),
        evaluate(segmenter, [survey], settings),
    )


def test_the_top_down_conf_is_the_best_mean_of_the_two_top_down_sets(top_down_reports) -> None:
    crack_seg, deepcrack, _ = top_down_reports
    at = {conf: index for index, conf in enumerate(crack_seg.pixel_sweep["thresholds"])}
    assert crack_seg.pixel_sweep["f1"][at[0.15]] == pytest.approx(6 / 7)
    assert crack_seg.pixel_sweep["f1"][at[0.25]] == pytest.approx(2 / 3) == crack_seg.pixel["f1"]
    assert crack_seg.pixel_sweep["f1"][at[0.5]] == pytest.approx(4 / 5)
    assert deepcrack.sweep["f1"][at[0.1]] == pytest.approx(4 / 5) and deepcrack.sweep["f1"][at[0.15]] == 1.0
    assert choose_top_down_conf(crack_seg, deepcrack) == 0.15


def test_each_model_is_scored_at_its_own_thresholds_and_at_0_25(top_down_reports) -> None:
    crack_seg, deepcrack, survey = top_down_reports
    chosen = DomainEvaluation("val", crack_seg, deepcrack, survey, street_conf=0.3, top_down_conf=0.15).scores()
    assert chosen["crack_seg_pixel_f1"] == pytest.approx(6 / 7) and chosen["deepcrack_f1_2px"] == 1.0
    assert chosen["crack_seg_pixel_f1_at_0_25"] == pytest.approx(2 / 3) and chosen["deepcrack_f1_2px_at_0_25"] == 1.0
    assert chosen["survey_lane_cell_f1"] == 1.0 and chosen["top_down_conf"] == 0.15
    # at a threshold above the survey frame's only instance (0.3), the lane cell is missed
    assert DomainEvaluation("val", crack_seg, deepcrack, survey, 0.35).scores()["survey_lane_cell_f1"] == 0.0
    assert view_defaults(0.3, 0.15)["top-down"]["conf"] == 0.15


def test_a_report_without_a_pixel_sweep_cannot_choose(top_down_reports) -> None:
    crack_seg, deepcrack, _ = top_down_reports
    crack_seg.pixel_sweep = {}  # a report stored before the pixel sweep existed
    with pytest.raises(DatasetError, match="pixel and tolerance sweeps"):
        choose_top_down_conf(crack_seg, deepcrack)


def test_the_pixel_sweep_survives_the_stored_report(top_down_reports, tmp_path: Path) -> None:
    crack_seg, _, _ = top_down_reports
    assert EvaluationReport.load(crack_seg.save(tmp_path / "stored")).pixel_sweep == crack_seg.pixel_sweep


def test_the_promotion_log_lists_each_gain_with_its_interval_beside_the_verdict() -> None:
    from crackseg.metrics.bootstrap import paired_f1_difference
    from train.promotion import PromotionOutcome

    incumbent = np.array([[5, 8, 5, 9]] * 30 + [[1, 4, 1, 6]] * 30)
    candidate = np.array([[6, 8, 6, 9]] * 30 + [[1, 4, 1, 6]] * 30)
    gain = paired_f1_difference(candidate, incumbent)
    summary = {"pixel": {"f1": 0.7, "iou": 0.5}, "mask_map50": 0.6, "mask_map50_95": 0.2}
    outcome = PromotionOutcome(
        candidate=summary,
        shipped=summary,
        candidate_test=summary,
        better=False,
        promoted=False,
        reasons=["crack_seg_mask_map50: 0.6000 is more than 0.01 below the shipped 0.6200"],
        gains={"crack_seg_pixel_f1": gain},
    )
    lines = outcome.summary().splitlines()
    assert "paired bootstrap" in lines[-4] and "mean_gain gates" in lines[-4]
    assert lines[-3] == f"  crack_seg_pixel_f1   {gain.describe()}"
    assert lines[-2] == "not better: kept the shipped model" and lines[-1].startswith("crack_seg_mask_map50")
    assert gain.low > 0  # one more crack pixel found on half the photos, nothing lost on the others
