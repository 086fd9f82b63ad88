"""Sections, the grid cracking ratio and the MCI1 rating from hand-made findings; stitching of pieces; the CLI
end to end with the shipped model (smoke test)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from survey_drive import PROFILE, north_of, write_drive

from crackseg.cli import main
from crackseg.survey.findings import CrackPiece, Finding, merge_pieces
from crackseg.survey.rating import RatingScheme, mci_cracking
from crackseg.survey.route import Route
from crackseg.survey.sampling import Sample
from crackseg.survey.sections import cut_sections, sections_table
from crackseg.survey.track import Track

REGION = PROFILE.ground_region  # 2.4 m wide, 3.5-6.5 m ahead


def _route(length_m: float) -> Route:
    fixes = [north_of(d) for d in np.arange(0.0, length_m + 1e-9, 5.0)]
    times = 1_700_000_000.0 + np.arange(len(fixes), dtype=float)
    return Route.from_track(Track(times, np.array([f[0] for f in fixes]), np.array([f[1] for f in fixes])))


def _finding(number: int, chainage: float, cells: list[tuple[int, int]], crack_type: str = "transverse") -> Finding:
    return Finding(number, chainage, 0.0, crack_type, 1000.0, 5.0, 8.0, 5000.0, "low", 0.9, "f", 0, 1, tuple(cells))


def _piece(sample: int, chainage: float, near=None, far=None, length=1000.0) -> CrackPiece:
    return CrackPiece(
        sample,
        f"frame_{sample}",
        1,
        chainage,
        0.0,
        length,
        5.0,
        6.0,
        100.0,
        0.0,
        "longitudinal",
        0.9,
        near,
        far,
        ((int(chainage / 0.5), 2),),
    )


@pytest.mark.parametrize(
    ("ratio", "expected", "rating"),
    [
        (0.0, 10.0, "good"),
        (10.0, 10 - 2.23 * 10**0.3, "good"),
        (20.0, 10 - 2.23 * 20**0.3, "fair"),
        (40.0, 10 - 2.23 * 40**0.3, "poor"),
        (80.0, 10 - 2.23 * 80**0.3, "very poor"),
    ],
)
def test_mci_cracking_term_and_default_classes(ratio: float, expected: float, rating: str) -> None:
    assert mci_cracking(ratio) == pytest.approx(expected)
    assert RatingScheme().classify(mci_cracking(ratio)) == rating


def test_rating_thresholds_are_configurable_and_checked() -> None:
    assert RatingScheme((7.0, 6.0, 5.0)).classify(5.5) == "poor"
    assert RatingScheme().classify(None) == "none"
    with pytest.raises(ValueError, match="thresholds"):
        RatingScheme((3.0, 4.0, 5.0))


def test_cells_weigh_sixty_percent_with_one_crack_and_full_with_two() -> None:
    route = _route(20.0)
    sections = cut_sections(route, 10.0)
    samples = [Sample(i, i, f"f{i}", i, None, c, 0, 3.0) for i, c in enumerate(np.arange(-3.5, 16.6, 3.0))]
    findings = [
        _finding(1, 2.2, [(4, 0), (4, 1)]),  # one crack in two cells
        _finding(2, 2.4, [(4, 1)]),  # a second crack in one of them
        _finding(3, 15.0, [(30, 0)], "network"),  # one network cell: full weight
    ]
    table = sections_table(route, sections, samples, findings, REGION)
    first, second = table.iloc[0], table.iloc[1]
    assert first["surveyed_length_m"] == pytest.approx(10.0) and first["surveyed_area_m2"] == pytest.approx(24.0)
    assert (first["cracked_cells_one"], first["cracked_cells_two_plus"]) == (1, 1)
    assert first["cracking_ratio_pct"] == pytest.approx(100 * (0.6 + 1.0) * 0.25 / 24.0, abs=1e-3)
    assert first["crack_count"] == 2 and first["transverse_count"] == 2 and first["crack_length_m"] == 2.0
    assert second["network_count"] == 1 and second["cracked_cells_two_plus"] == 1
    assert first["mci_cracking"] == pytest.approx(round(mci_cracking(first["cracking_ratio_pct"]), 2), abs=0.01)
    assert list(table["rating_colour"])[0].startswith("#")


def test_short_tail_joins_the_last_section() -> None:
    assert [round(s.end_m - s.start_m, 3) for s in cut_sections(_route(35.0), 17.0)] == [17, 18]
    assert [round(s.end_m - s.start_m, 3) for s in cut_sections(_route(35.0), 10.0)] == [10, 10, 10, 5]
    assert [round(s.end_m - s.start_m, 3) for s in cut_sections(_route(30.0), 10.0)] == [10, 10, 10]


def test_pieces_touching_across_a_slice_boundary_are_one_crack() -> None:
    samples = [
        Sample(0, 0, "a", 0, None, 0.0, 0, 2.0),
        Sample(1, 1, "b", 0, None, 2.0, 0, 2.0),
        Sample(2, 2, "c", 0, None, 4.0, 0, 3.0),
    ]
    pieces = [
        _piece(0, 5.0, far=(0.4, 0.5)),
        _piece(1, 6.5, near=(0.45, 0.5), far=(0.45, 0.6)),
        _piece(2, 8.0, near=(0.5, 0.6)),
        _piece(2, 9.0, near=(-1.0, -0.8)),  # touches the boundary elsewhere: another crack
    ]
    findings = merge_pieces(pieces, samples)
    assert [f.pieces for f in findings] == [3, 1]
    assert findings[0].length_mm == 3000.0 and findings[0].chainage_m == pytest.approx(6.5)
    gap = [samples[0], Sample(1, 1, "b", 0, None, 2.5, 0, 2.0)]  # slices do not touch: no stitching
    assert len(merge_pieces(pieces[:2], gap)) == 2


@pytest.mark.slow
def test_cli_survey_with_the_shipped_model(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    video, gpx = write_drive(tmp_path, length_m=20.0)
    camera = tmp_path / "camera.json"
    camera.write_text(json.dumps(PROFILE.to_dict()))
    out = tmp_path / "out"
    argv = ["survey", str(video), "--gpx", str(gpx), "--camera", str(camera), "--every-m", "2.4", "--out", str(out)]
    code = main([*argv, "--backend", "torch"])
    stdout, stderr = capfd.readouterr()
    assert code == 0, stderr
    assert stdout.startswith("0.02 km surveyed, 2 sections") and "cracks" in stdout
    assert "Traceback" not in stderr
    assert json.loads((out / "sections.geojson").read_text())["features"][0]["geometry"]["type"] == "LineString"
    code = main(["survey", str(video), "--out", str(out)])
    assert code == 2 and "--speed-kmh" in capfd.readouterr().err
