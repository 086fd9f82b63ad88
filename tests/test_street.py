"""Street view: camera profiles, the ground homography, and the pipeline on frames rendered through a known camera."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from crackseg.geometry.camera import (
    DEFAULT_PROFILE,
    CameraProfile,
    CameraProfileError,
    GroundRegion,
    load_profile,
    save_profile,
)
from crackseg.geometry.ground import GroundView
from crackseg.io.inputs import NamedPayload
from crackseg.pipeline.inspection import inspect_payloads, inspection_files, settings_record
from crackseg.pipeline.street import inspect_street_frame
from tests.synthetic_road import DarkLineSegmenter, asphalt, draw_crack, render_frame

CAMERA = CameraProfile(
    name="test-camera",
    image_wh=(1280, 720),
    height_m=1.5,
    pitch_deg=12.0,
    hfov_deg=60.0,
    region=GroundRegion((-2.0, 2.0), (3.5, 9.0)),
    mm_per_px=5.0,
    inspect_on="top-view",
)


def _drawn_road(inspect_on: str = "top-view") -> tuple[np.ndarray, GroundView]:
    """A frame of a road with two known cracks: longitudinal 3 m x 15 mm, transverse 1.5 m x 40 mm."""
    view = GroundView.for_frame(replace(CAMERA, inspect_on=inspect_on), CAMERA.image_wh)
    texture = asphalt((-3.0, 3.0), (2.0, 12.0), mm_per_px=2.5)
    draw_crack(texture, (0.6, 4.5), (0.6, 7.5), width_mm=15)  # longitudinal, 3000 mm
    draw_crack(texture, (-1.5, 4.2), (0.0, 4.2), width_mm=40)  # transverse, 1500 mm
    frame = render_frame(texture, view)
    cv2.line(frame, (0, 40), (1279, 90), (10, 10, 10), 3)  # a power line in the sky
    return frame, view


# --- geometry -----------------------------------------------------------------------------------------------


def test_camera_homography_round_trips_and_matches_the_pinhole_model() -> None:
    view = GroundView.for_frame(CAMERA, CAMERA.image_wh)
    points = np.array([[0.0, 5.0], [1.2, 7.5], [-1.8, 3.6]])
    assert np.allclose(view.to_ground(view.to_image(points)), points, atol=1e-9)
    # the camera axis crosses the road at h / tan(pitch) ahead, at the image centre
    centre = view.to_ground(np.array([[640.0, 360.0]]))[0]
    assert centre[0] == pytest.approx(0.0, abs=1e-9)
    assert centre[1] == pytest.approx(1.5 / np.tan(np.radians(12.0)), rel=1e-9)
    focal = 640 / np.tan(np.radians(30.0))
    assert view.horizon_row() == pytest.approx(360 - focal * np.tan(np.radians(12.0)), rel=1e-9)


def test_four_point_profile_gives_the_same_ground_as_the_camera_it_was_measured_on() -> None:
    camera_view = GroundView.for_frame(CAMERA, CAMERA.image_wh)
    corners = camera_view.to_image(np.array([[-1.75, 5.0], [1.75, 5.0], [1.75, 11.0], [-1.75, 11.0]]))
    points = CameraProfile(
        name="lane", image_wh=(1280, 720), points_px=tuple(map(tuple, corners)), rectangle_m=(3.5, 6.0), near_m=5.0
    )
    points_view = GroundView.for_frame(points, (1280, 720))
    pixels = np.array([[300.0, 700.0], [640.0, 500.0], [1000.0, 420.0]])
    assert np.allclose(points_view.to_ground(pixels), camera_view.to_ground(pixels), atol=1e-6)
    assert points.ground_region == GroundRegion((-1.75, 1.75), (5.0, 11.0))


def test_region_lies_below_the_horizon_and_resolution_worsens_with_distance() -> None:
    view = GroundView.for_frame(DEFAULT_PROFILE, (1920, 1080))
    rows = np.nonzero(view.region_mask().any(axis=1))[0]
    assert rows.min() > view.horizon_row()
    table = view.resolution_table()
    along = [row["along_mm_per_px"] for row in table]
    across = [row["across_mm_per_px"] for row in table]
    assert along == sorted(along) and across == sorted(across)
    # flat ground: the forward size of a pixel grows about with distance squared, the lateral size linearly
    near, far = table[1], table[5]
    ratio = far["forward_m"] / near["forward_m"]
    assert far["across_mm_per_px"] / near["across_mm_per_px"] == pytest.approx(ratio, rel=0.05)
    assert far["along_mm_per_px"] / near["along_mm_per_px"] == pytest.approx(ratio**2, rel=0.25)


def test_frame_of_another_size_rescales_the_profile_with_a_note() -> None:
    view = GroundView.for_frame(CAMERA, (640, 360))
    assert view.rescaled and "rescaled" in view.note
    same = GroundView.for_frame(CAMERA, (1280, 720))
    point = np.array([[0.5, 6.0]])
    assert np.allclose(view.to_image(point) * 2, same.to_image(point), atol=1e-6)
    assert not same.note


# --- bad profiles ---------------------------------------------------------------------------------------------

BAD_PROFILES = [
    ({"height_m": 0.0}, "height_m"),
    ({"height_m": -1.5}, "height_m"),
    ({"hfov_deg": 5.0}, "hfov_deg"),
    ({"hfov_deg": 175.0}, "hfov_deg"),
    ({"pitch_deg": None, "horizon_row": 900.0}, "horizon_row"),  # below a 720-row frame
    ({"pitch_deg": None}, "pitch_deg"),
    ({"focal_px": 800.0}, "hfov_deg and focal_px"),
    ({"mm_per_px": 0.0}, "mm_per_px"),
    ({"region": {"forward_m": [9.0, 3.0]}}, "region.forward_m"),
    ({"region": {"forward_m": [3.0, 150.0]}}, "horizon"),  # pitched 1 deg up: 150 m ahead is above the horizon
    ({"image_wh": [0, 720]}, "image_wh"),
    ({"inspect_on": "sky"}, "inspect_on"),
]


@pytest.mark.parametrize(("change", "field"), BAD_PROFILES)
def test_degenerate_camera_profiles_name_the_field(tmp_path: Path, change: dict, field: str) -> None:
    values = {**CAMERA.to_dict(), "pitch_deg": -1.0 if "region" in change else 12.0, **change}
    values = {key: value for key, value in values.items() if value is not None}
    path = tmp_path / "camera.json"
    path.write_text(json.dumps(values))
    with pytest.raises(CameraProfileError) as caught:
        GroundView.for_frame(load_profile(path), (1280, 720))
    message = str(caught.value)
    assert field in message and "\n" not in message


@pytest.mark.parametrize(
    "points",
    [
        ((100, 700), (1100, 700), (200, 400), (1000, 400)),  # crossed (bow-tie) order
        ((100, 700), (1100, 700), (600, 400), (600, 400)),  # two points the same
        ((100, 700), (1100, 700), (1200, 720), (0, 720)),  # far edge below the near edge
        ((100, 700), (1100, 700), (600, 650), (600, 300)),  # concave
    ],
)
def test_four_points_must_be_a_convex_quadrilateral(points: tuple) -> None:
    with pytest.raises(CameraProfileError, match="points_px"):
        CameraProfile(name="bad", image_wh=(1280, 720), points_px=points, rectangle_m=(3.5, 6.0))


def test_malformed_profile_files_name_the_file_and_key(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{"height_m": 1.5,')
    with pytest.raises(CameraProfileError, match=r"broken\.json: not valid JSON"):
        load_profile(broken)
    unknown = tmp_path / "typo.json"
    unknown.write_text(json.dumps({**CAMERA.to_dict(), "hieght_m": 1.2}))
    with pytest.raises(CameraProfileError, match=r"typo\.json: unknown key 'hieght_m'"):
        load_profile(unknown)
    wrong_type = tmp_path / "type.json"
    wrong_type.write_text(json.dumps({**CAMERA.to_dict(), "height_m": "tall"}))
    with pytest.raises(CameraProfileError, match=r"type\.json: height_m"):
        load_profile(wrong_type)
    with pytest.raises(CameraProfileError, match="not found"):
        load_profile(tmp_path / "missing.json")


def test_profile_saves_and_loads_back_equal(tmp_path: Path) -> None:
    path = save_profile(CAMERA, tmp_path / "camera.json")
    assert load_profile(path) == CAMERA


# --- the street pipeline ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("inspect_on", ["top-view", "frame"])
def test_street_pipeline_recovers_crack_lengths_and_widths_in_mm(inspect_on: str) -> None:
    frame, view = _drawn_road(inspect_on)
    inspection = inspect_street_frame(DarkLineSegmenter(), frame, "road.png", view)
    cracks = sorted(inspection.measurement.cracks, key=lambda crack: crack.length_mm or 0)
    assert len(cracks) == 2
    transverse, longitudinal = cracks
    assert longitudinal.crack_type == "longitudinal" and transverse.crack_type == "transverse"
    # lengths within 5 %, widths within 30 % (the top view is 5 mm/px; the 15 mm crack is 3 px wide there)
    assert longitudinal.length_mm == pytest.approx(3000, rel=0.05)
    assert transverse.length_mm == pytest.approx(1500, rel=0.05)
    assert longitudinal.mean_width_mm == pytest.approx(15, rel=0.30)
    assert transverse.mean_width_mm == pytest.approx(40, rel=0.30)
    assert transverse.severity == "medium" and longitudinal.severity == "medium"  # 10 mm <= width <= 75 mm
    # each crack is located on the road where it was drawn (centroids: (0.6, 6.0) and (-0.75, 4.2))
    positions = inspection.street.positions_m
    by_id = {crack.crack_id: positions[crack.crack_id - 1] for crack in cracks}
    assert np.allclose(by_id[longitudinal.crack_id], (0.6, 6.0), atol=0.05)
    assert np.allclose(by_id[transverse.crack_id], (-0.75, 4.2), atol=0.05)


@pytest.mark.parametrize("inspect_on", ["top-view", "frame"])
def test_street_overlay_marks_the_drawn_cracks_and_nothing_above_the_horizon(inspect_on: str) -> None:
    frame, view = _drawn_road(inspect_on)
    inspection = inspect_street_frame(DarkLineSegmenter(), frame, "road.png", view)
    marked = inspection.prediction.union_mask
    assert marked.shape == frame.shape[:2]
    dark = frame.max(axis=2) < 80
    # every marked pixel is a drawn crack pixel or touches one (nearest-neighbour warps move edges by a pixel)
    near_dark = cv2.dilate(dark.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    assert marked.any() and np.all(near_dark[marked])
    # most of the drawn crack inside the region is marked
    assert (marked & dark & view.region_mask()).sum() >= 0.7 * (dark & view.region_mask()).sum()
    rows = np.nonzero(marked.any(axis=1))[0]
    assert rows.min() > view.horizon_row()
    assert not (marked & ~view.region_mask()).any()
    # the top-down view marks the power line in the sky; the street view never does
    top_down = DarkLineSegmenter().predict(frame).union_mask
    assert top_down[: int(view.horizon_row())].any()


def test_street_outputs_record_the_view_and_profile() -> None:
    frame, view = _drawn_road()
    ok, encoded = cv2.imencode(".png", cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    payloads = [NamedPayload("road.png", encoded.tobytes()), NamedPayload("bad.png", b"not an image")]
    segmenter = DarkLineSegmenter()
    results = list(inspect_payloads(segmenter, payloads, camera=CAMERA))
    assert [type(r).__name__ for r in results] == ["Inspection", "InspectionFailure"]
    assert segmenter.calls == [view.top_wh]  # the model ran on the top view only
    inspection = results[0]
    assert inspection.image_record()["view"] == "street"
    assert inspection.image_record()["camera_profile"] == "test-camera"
    table = inspection.cracks_table()
    assert table["lateral_m"].notna().all() and table["forward_m"].between(3.5, 9.0).all()
    record = settings_record(_FakeInfo(), _settings(), _measurement_settings(), CAMERA)
    files = dict(inspection_files(inspection, record, "road"))
    assert {"top_views/road.jpg", "top_masks/road.png", "overlays/road.jpg", "masks/road.png"} <= set(files)
    top_mask = cv2.imdecode(np.frombuffer(files["top_masks/road.png"], np.uint8), cv2.IMREAD_GRAYSCALE)
    assert top_mask.shape == (view.top_wh[1], view.top_wh[0])
    frame_mask = cv2.imdecode(np.frombuffer(files["masks/road.png"], np.uint8), cv2.IMREAD_GRAYSCALE)
    assert frame_mask.shape == frame.shape[:2]
    document = json.loads(files["json/road.json"])
    assert document["settings"]["view"] == "street"
    assert document["settings"]["ground_view"]["profile"]["name"] == "test-camera"
    assert document["settings"]["mm_per_px"] == CAMERA.mm_per_px
    assert pd.read_csv(__import__("io").BytesIO(files["cracks/road.csv"]))["forward_m"].notna().all()


class _FakeInfo:
    def info(self) -> dict:
        return {"weights": "dark-line", "backend": "none"}


def _settings():  # noqa: ANN202
    from crackseg.inference.segmenter import InferenceSettings

    return InferenceSettings()


def _measurement_settings():  # noqa: ANN202
    from crackseg.measurement.measure import MeasurementSettings

    return MeasurementSettings()


# --- lane calibration ---------------------------------------------------------------------------------------------


def test_lane_masks_calibrate_the_camera_they_were_rendered_with() -> None:
    from crackseg.geometry.lane_calibration import fit_lane, profile_from_lane

    camera = CameraProfile(name="truth", image_wh=(1024, 640), height_m=2.4, pitch_deg=25.0, hfov_deg=60.0)
    view = GroundView.for_frame(camera, (1024, 640))
    lane = np.array([[-1.8, 2.6], [1.8, 2.6], [1.8, 60.0], [-1.8, 60.0]])
    mask = np.zeros((640, 1024), np.uint8)
    cv2.fillPoly(mask, [np.round(view.to_image(lane)).astype(np.int32)], 1)
    fit = fit_lane(mask.astype(bool))
    assert fit.horizon_row == pytest.approx(view.horizon_row(), abs=3.0)
    profile = profile_from_lane(fit, name="fitted", lane_width_m=3.6, hfov_deg=60.0, near_row=600, far_row=60)
    fitted = GroundView.for_frame(profile, (1024, 640))
    # with the right field of view, road points come back where they are (within 2 % of the distance)
    for point in ([0.0, 4.0], [1.0, 8.0], [-1.2, 12.0]):
        pixel = view.to_image(np.array([point]))
        assert np.allclose(fitted.to_ground(pixel)[0], point, atol=0.02 * point[1])


def test_lane_calibration_refuses_a_mask_without_a_lane() -> None:
    from crackseg.geometry.lane_calibration import fit_lane

    with pytest.raises(CameraProfileError, match="lane"):
        fit_lane(np.zeros((640, 1024), bool))


# --- the command line ---------------------------------------------------------------------------------------------


def test_cli_street_predict_writes_top_views_and_records_the_profile(tmp_path: Path) -> None:
    from crackseg.cli import main

    frame, _ = _drawn_road()
    images = tmp_path / "frames"
    images.mkdir()
    cv2.imwrite(str(images / "road.jpg"), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    profile = save_profile(CAMERA, tmp_path / "camera.json")
    out = tmp_path / "out"
    args = ["predict", str(images), "--out", str(out), "--view", "street", "--camera", str(profile)]
    assert main([*args, "--backend", "torch", "--conf", "0.1"]) == 0
    table = pd.read_csv(out / "images.csv")
    assert table.loc[0, "view"] == "street" and table.loc[0, "camera_profile"] == "test-camera"
    assert table.loc[0, "mm_per_px"] == CAMERA.mm_per_px
    top = cv2.imread(str(out / "top_views" / "road.jpg"))
    view = GroundView.for_frame(CAMERA, CAMERA.image_wh)
    assert top.shape[:2] == (view.top_wh[1], view.top_wh[0])
    mask = cv2.imread(str(out / "masks" / "road.png"), cv2.IMREAD_GRAYSCALE)
    assert mask.shape == frame.shape[:2] and not (mask[~view.region_mask()] > 0).any()


def test_cli_camera_prints_the_resolution_table_and_refuses_bad_profiles(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from crackseg.cli import main

    saved = tmp_path / "phone.json"
    assert main(["camera", "--camera-height", "1.4", "--hfov", "65", "--save", str(saved)]) == 0
    printed = capsys.readouterr().out
    assert "across_mm_per_px" in printed and load_profile(saved).height_m == 1.4
    assert main(["camera", "--camera-height", "1.4", "--hfov", "200"]) == 2
    error = capsys.readouterr().err.strip()
    assert "hfov_deg" in error and len(error.splitlines()) == 1
    assert (
        main(["predict", str(tmp_path), "--out", str(tmp_path / "o"), "--view", "street", "--camera-height", "0"]) == 2
    )
    assert "height_m" in capsys.readouterr().err
