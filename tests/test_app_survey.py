"""The Survey page under AppTest: a short synthetic drive (tests/survey_drive.py) surveyed with the shipped model.

The drive is rendered through a known camera, whose profile the test uploads as
JSON; the page streams the video and its GPX to a private temporary folder, runs
the survey and shows the sections table, the map and the rating chart.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest
from survey_drive import PROFILE, write_drive

PAGE = Path(__file__).resolve().parents[1] / "app_pages" / "survey.py"
DRIVE_M = 20.0

pytestmark = pytest.mark.usefixtures("app_env")


@pytest.fixture(scope="module")
def drive(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, bytes]:
    """A 20 m drive at 10 m/s (2 s of 480x270 video) and its GPX, as bytes."""
    video, gpx = write_drive(tmp_path_factory.mktemp("drive"), length_m=DRIVE_M)
    return video.read_bytes(), gpx.read_bytes()


def page() -> AppTest:
    return AppTest.from_file(str(PAGE), default_timeout=300)


def with_drive(video: bytes, track: bytes, track_name: str = "drive.gpx") -> AppTest:
    """The page with the test camera's profile uploaded, the video and the track chosen."""
    at = page().run()
    at.radio(key="survey_camera_source").set_value("upload").run()
    profile = json.dumps(PROFILE.to_dict()).encode()
    at.file_uploader(key="survey_camera_upload").set_value(("test-camera.json", profile, "application/json"))
    at.file_uploader(key="survey_video").set_value(("drive.mp4", video, "video/mp4"))
    at.file_uploader(key="survey_track").set_value((track_name, track, "application/gpx+xml"))
    return at.run()


def survey_folders() -> set[str]:
    return {path.name for path in Path(tempfile.gettempdir()).glob("crackseg-survey-*")}


def test_without_input_the_page_asks_for_a_drive():
    at = page().run()
    assert not at.exception
    assert any("Upload a video" in element.value for element in at.info)
    assert at.button(key="survey_run").disabled


def test_a_video_with_its_gpx_gives_rated_sections_on_a_map(drive):
    before = survey_folders()
    at = with_drive(*drive)
    assert not at.exception
    assert not at.error, [element.value for element in at.error]
    at.button(key="survey_run").click().run()
    assert not at.exception
    assert not at.error, [element.value for element in at.error]

    sections = next(frame.value for frame in at.dataframe if "mci_cracking" in frame.value.columns)
    assert len(sections) == 2, "20 m in 10 m sections"
    assert {"section_id", "length_m", "cracking_ratio_pct", "rating_class"} <= set(sections.columns)
    assert sections["length_m"].sum() == pytest.approx(DRIVE_M, rel=0.02)
    assert set(sections["rating_class"]) <= {"good", "fair", "poor", "very poor", "none"}

    assert len(at.get("plotly_chart")) == 2, "the map and the rating along chainage"
    figure = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert {trace["type"] for trace in figure["data"]} == {"scatter"}, "no tile map by default"
    assert "mapbox" not in figure["layout"] and "map" not in figure["layout"]
    lons = [lon for trace in figure["data"] for lon in trace["x"]]
    assert all(6.99 < lon < 7.01 for lon in lons), "longitude on x"

    labels = [button.label for button in at.get("download_button")]
    assert {"Sections (GeoJSON)", "Findings (GeoJSON)", "Sections (CSV)", "Survey report (HTML)"} <= set(labels)
    assert any(element.label == "Sections" for element in at.metric)
    assert survey_folders() == before, "the private temporary folder is deleted after the survey"


def test_a_broken_gpx_is_one_line_and_no_exception(drive):
    video, _ = drive
    at = with_drive(video, b"<gpx><trk><trkseg><trkpt lat=", "broken.gpx")
    at.button(key="survey_run").click().run()
    assert not at.exception
    assert len(at.error) == 1
    message = at.error[0].value
    assert "broken.gpx" in message and "\n" not in message and "Traceback" not in message
    assert not at.dataframe


def test_a_broken_video_is_one_line(drive):
    _, track = drive
    at = with_drive(b"\x00\x00\x00\x18ftypmp42 not really a video", track)
    at.button(key="survey_run").click().run()
    assert not at.exception
    assert len(at.error) == 1 and "drive.mp4" in at.error[0].value


def test_photos_without_gps_are_refused_in_one_line(samples_dir):
    at = page().run()
    at.radio(key="survey_kind").set_value("photos").run()
    photo = (samples_dir / next(p.name for p in samples_dir.iterdir() if p.suffix == ".jpg")).read_bytes()
    at.file_uploader(key="survey_photos").set_value([("a.jpg", photo, "image/jpeg"), ("b.jpg", photo, "image/jpeg")])
    at.run()
    at.button(key="survey_run").click().run()
    assert not at.exception
    assert len(at.error) == 1 and "GPS" in at.error[0].value, [element.value for element in at.error]


def test_the_map_uses_tiles_only_when_the_operator_sets_a_tile_url(monkeypatch):
    import pandas as pd

    from crackseg.survey.outputs import FINDING_COLUMNS
    from ui import survey_view

    line = {"type": "LineString", "coordinates": [[7.0, 45.0], [7.0, 45.0001]]}
    feature = {"type": "Feature", "geometry": line, "properties": {"section_id": 0, "rating_class": "fair"}}
    geojson = json.dumps({"type": "FeatureCollection", "features": [feature]}).encode()
    findings = pd.DataFrame([dict.fromkeys(FINDING_COLUMNS, 0) | {"lat": 45.00005, "lon": 7.0}])

    monkeypatch.delenv(survey_view.TILE_URL_ENV_VAR, raising=False)
    assert survey_view.tile_url() is None
    offline = survey_view.map_figure(geojson, findings, tiles=survey_view.tile_url())
    assert {trace.type for trace in offline.data} == {"scatter"}
    assert list(offline.data[0].x) == [7.0, 7.0], "longitude on x"

    monkeypatch.setenv(survey_view.TILE_URL_ENV_VAR, "https://tiles.example.org/{z}/{x}/{y}.png")
    tiled = survey_view.map_figure(geojson, findings, tiles=survey_view.tile_url())
    assert {trace.type for trace in tiled.data} == {"scattermap"}
    assert tiled.layout.map.layers[0].source == ("https://tiles.example.org/{z}/{x}/{y}.png",)
