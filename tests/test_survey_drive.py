"""The survey end to end on a synthetic drive: known cracks, known camera, known speed (tests/survey_drive.py)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from survey_drive import CRACKS, PROFILE, START_LON, DarkSegmenter, north_of, write_drive

from crackseg.survey.errors import SurveyError
from crackseg.survey.route import haversine_m
from crackseg.survey.run import SurveySettings, run_survey

LOCATION_TOLERANCE_M = 0.2  # chainage and lateral error allowed between a drawn crack's centre and its finding


@pytest.fixture(scope="module")
def drive(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return write_drive(tmp_path_factory.mktemp("drive"))


@pytest.fixture(scope="module")
def surveyed(drive: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory):
    video, gpx = drive
    out = tmp_path_factory.mktemp("survey")
    return run_survey(
        [video], DarkSegmenter(), out, track_path=gpx, profile=PROFILE, settings=SurveySettings(every_m=1.2)
    )


def test_drive_is_cut_into_known_sections_of_haversine_length(surveyed) -> None:
    sections = surveyed.sections
    assert len(sections) == 7  # 70 m at 10 m
    lengths = haversine_m(sections["start_lat"], sections["start_lon"], sections["end_lat"], sections["end_lon"])
    assert np.allclose(lengths, 10.0, rtol=0.01)
    assert np.allclose(sections["length_m"], 10.0, rtol=0.01)
    # the first 3.5 m lie before the camera's region at the start: everything else is covered once
    assert sections["surveyed_length_m"].iloc[0] == pytest.approx(6.5, abs=0.05)
    assert np.allclose(sections["surveyed_length_m"].iloc[1:], 10.0, atol=0.05)


def test_each_drawn_crack_is_found_once_where_it_was_drawn(surveyed) -> None:
    findings = surveyed.findings
    assert len(findings) == len(CRACKS)
    for crack in CRACKS:
        chainage, lateral = crack.centre
        distance = np.hypot(findings["chainage_m"] - chainage, findings["lateral_m"] - lateral)
        assert (distance < LOCATION_TOLERANCE_M).sum() == 1, (crack, findings[["chainage_m", "lateral_m"]])
    longitudinal = findings.loc[findings["crack_type"] == "longitudinal"].iloc[0]
    assert longitudinal["pieces"] > 2  # 6 m long: stitched from several slices into one crack
    assert longitudinal["length_mm"] == pytest.approx(6000, rel=0.05)
    assert set(findings["crack_type"]) == {"transverse", "longitudinal", "diagonal"}


def test_a_crack_seen_in_many_frames_is_one_crack(drive: tuple[Path, Path], tmp_path: Path) -> None:
    video, gpx = drive
    result = run_survey(
        [video], DarkSegmenter(), tmp_path, track_path=gpx, profile=PROFILE, settings=SurveySettings(every_m=0.5)
    )
    chainage = result.samples["chainage_m"]
    frames_seeing_first = int(((chainage + 3.5 <= 12.3) & (chainage + 6.5 >= 12.3)).sum())
    assert frames_seeing_first >= 5
    assert len(result.findings) == len(CRACKS)
    first = result.findings.iloc[0]
    assert abs(first["chainage_m"] - 12.3) < LOCATION_TOLERANCE_M


def test_geojson_is_rfc7946_longitude_first(surveyed) -> None:
    findings = json.loads(surveyed.paths["findings_geojson"].read_text())
    sections = json.loads(surveyed.paths["sections_geojson"].read_text())
    assert findings["type"] == sections["type"] == "FeatureCollection"
    assert len(findings["features"]) == len(CRACKS) and len(sections["features"]) == 7
    for feature in findings["features"]:
        assert feature["type"] == "Feature" and feature["geometry"]["type"] == "Point"
        lon, lat = feature["geometry"]["coordinates"]
        expected_lat, expected_lon = north_of(feature["properties"]["chainage_m"])
        assert lat == pytest.approx(expected_lat, abs=1e-6)  # 1e-6 deg ~ 0.11 m
        assert abs(lon - START_LON) < 2e-5  # a lateral offset of < 1.5 m
        assert set(feature["properties"]) >= {"crack_type", "length_mm", "max_width_mm", "severity", "frame"}
    for feature in sections["features"]:
        line = feature["geometry"]["coordinates"]
        assert feature["geometry"]["type"] == "LineString" and len(line) >= 2
        assert all(abs(lon - START_LON) < 1e-9 and 44 < lat < 46 for lon, lat in line)
        start = north_of(feature["properties"]["start_chainage_m"])
        assert line[0][1] == pytest.approx(start[0], abs=1e-7)
        assert "mci_cracking" in feature["properties"] and "rating_class" in feature["properties"]


def test_outputs_tables_and_report(surveyed) -> None:
    out = surveyed.out_dir
    for name in ("sections.csv", "sections.parquet", "findings.csv", "report.html", "survey.json"):
        assert (out / name).is_file(), name
    assert len(list((out / "frames" / "overlays").glob("*.jpg"))) == surveyed.summary["samples"]
    html = (out / "report.html").read_text()
    assert "<polyline" in html and "<circle" in html and "MCI1" in html
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "") and "https://" not in html
    cracked = surveyed.sections[surveyed.sections["crack_count"] > 0]
    assert (cracked["cracking_ratio_pct"] > 0).all() and (cracked["mci_cracking"] < 10).all()
    assert surveyed.summary_line().startswith("0.07 km surveyed, 7 sections")


def test_resume_redoes_only_what_is_missing(drive: tuple[Path, Path], tmp_path: Path, surveyed) -> None:
    video, gpx = drive
    settings = SurveySettings(every_m=1.2)
    first = run_survey([video], DarkSegmenter(), tmp_path, track_path=gpx, profile=PROFILE, settings=settings)
    log = tmp_path / "pieces.jsonl"
    lines = log.read_text().splitlines()
    cut = next(i for i, line in enumerate(lines) if json.loads(line)["pieces"])  # the redone frame has a crack
    log.write_text("\n".join(lines[:cut]) + "\n" + lines[cut][:15])  # a crash mid-line
    calls = []
    again = run_survey(
        [video],
        DarkSegmenter(),
        tmp_path,
        track_path=gpx,
        profile=PROFILE,
        settings=settings,
        resume=True,
        progress=lambda done, total, name: calls.append((done, total)),
    )
    assert len(calls) == len(lines) - cut and calls[-1] == (len(lines), len(lines))
    assert again.findings.drop(columns=["time_utc"]).equals(first.findings.drop(columns=["time_utc"]))
    with pytest.raises(SurveyError, match="differ"):
        run_survey(
            [video],
            DarkSegmenter(),
            tmp_path,
            track_path=gpx,
            profile=PROFILE,
            settings=SurveySettings(every_m=2.0),
            resume=True,
        )


def test_track_not_overlapping_the_video_is_one_line(drive: tuple[Path, Path], tmp_path: Path) -> None:
    video, gpx = drive
    with pytest.raises(SurveyError, match="does not overlap") as error:
        run_survey(
            [video], DarkSegmenter(), tmp_path, track_path=gpx, profile=PROFILE, settings=SurveySettings(offset_s=3600)
        )
    assert "\n" not in str(error.value)


def test_without_gps_a_speed_places_frames_and_there_is_no_map(drive: tuple[Path, Path], tmp_path: Path) -> None:
    video, _ = drive
    with pytest.raises(SurveyError, match="--speed-kmh"):
        run_survey([video], DarkSegmenter(), tmp_path, profile=PROFILE)
    result = run_survey(
        [video], DarkSegmenter(), tmp_path, profile=PROFILE, settings=SurveySettings(every_s=0.12, speed_kmh=36)
    )
    assert len(result.sections) == 7 and len(result.findings) == len(CRACKS)
    features = json.loads(result.paths["findings_geojson"].read_text())["features"]
    assert all(feature["geometry"] is None for feature in features)
    assert not math.isnan(result.sections["mci_cracking"].iloc[1])
