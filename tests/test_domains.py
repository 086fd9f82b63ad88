"""The promotion rule across domains: better together, and no domain worse than the tolerance."""

from __future__ import annotations

import pytest

from crackseg.training.domains import GATE_METRICS, domain_gate

SHIPPED = {
    "crack_seg_mask_map50": 0.65,
    "crack_seg_pixel_f1": 0.76,
    "deepcrack_f1_2px": 0.80,
    "survey_lane_cell_f1": 0.16,
}


def scores(**changes: float) -> dict[str, float]:
    return SHIPPED | changes


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
        ("a domain not measured", {k: v for k, v in SHIPPED.items() if k != "deepcrack_f1_2px"}, False, ["deepcrack"]),
        ("NaN is not a score", scores(survey_lane_cell_f1=float("nan")), False, ["survey_lane_cell_f1"]),
    ],
)
def test_domain_gate(scenario: str, candidate: dict, better: bool, blamed: list[str]) -> None:
    verdict, reasons = domain_gate(candidate, SHIPPED, tolerance=0.01)
    assert verdict is better, scenario
    for name in blamed:
        assert any(name in reason for reason in reasons), (scenario, reasons)
    assert (not reasons) is better


def test_the_gate_covers_the_four_validation_sets() -> None:
    assert GATE_METRICS == ("crack_seg_mask_map50", "crack_seg_pixel_f1", "deepcrack_f1_2px", "survey_lane_cell_f1")
