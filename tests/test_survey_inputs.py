"""Survey inputs, good and bad: GPX/CSV tracks, GPS jumps, a stationary vehicle, videos, EXIF-GPS photos."""

from __future__ import annotations

import io
import json
import struct
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from survey_drive import PROFILE, START_TIME_S, DarkSegmenter, gpx_text, north_of, write_drive

from crackseg.geometry.ground import GroundView
from crackseg.survey.errors import SurveyError
from crackseg.survey.frames import iter_frames, probe_video
from crackseg.survey.photos import read_photo_meta
from crackseg.survey.route import Route
from crackseg.survey.run import SurveySettings, run_survey
from crackseg.survey.sampling import plan_video_samples
from crackseg.survey.sections import cut_sections
from crackseg.survey.track import Track, parse_gpx, parse_track_csv, read_track

REGION = PROFILE.ground_region


def _one_line(error: pytest.ExceptionInfo) -> str:
    message = str(error.value)
    assert "\n" not in message and message
    return message


@pytest.fixture(scope="module")
def drive(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return write_drive(tmp_path_factory.mktemp("drive"), length_m=30.0)


# --- tracks ---------------------------------------------------------------------------------------------------


def test_gpx_and_csv_tracks_read_the_same_fixes(tmp_path: Path) -> None:
    fixes = [(START_TIME_S + t, *north_of(10.0 * t)) for t in range(5)]
    gpx = parse_gpx(gpx_text(fixes).encode())
    rows = "time,lat,lon,speed\n" + "".join(f"{t},{lat},{lon},10\n" for t, lat, lon in fixes)
    csv_track = parse_track_csv(rows.encode())
    assert np.allclose(gpx.times_s, csv_track.times_s) and np.allclose(gpx.lat_deg, csv_track.lat_deg)
    assert csv_track.speed_mps is not None and np.allclose(csv_track.speed_mps, 10)
    assert Route.from_track(gpx).length_m == pytest.approx(40.0, rel=1e-6)
    path = tmp_path / "t.csv"
    path.write_text(rows.replace(str(START_TIME_S), "2023-11-14T22:13:20Z", 1))
    assert read_track(path).start_s == START_TIME_S


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (b'<?xml version="1.0"?><gpx version="1.1"><trk><trkseg></trkseg></trk></gpx>', "no track or route points"),
        (b'<?xml version="1.0"?><gpx version="1.1"><trk><trkseg><trkpt lat="1"', "not valid XML"),
        (b"just some text", "not valid XML"),
        (
            b'<?xml version="1.0"?><!DOCTYPE gpx [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">'
            b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;">]><gpx><trk><name>&c;</name></trk></gpx>',
            "refused",
        ),
        (
            b'<?xml version="1.0"?><!DOCTYPE gpx [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
            b"<gpx><trk><name>&x;</name></trk></gpx>",
            "refused",
        ),
        (b'<gpx><trk><trkseg><trkpt lat="45" lon="7"></trkpt></trkseg></trk></gpx>', "no <time>"),
        (
            b'<gpx><trk><trkseg><trkpt lat="95" lon="7"><time>2023-01-01T00:00:00Z</time></trkpt></trkseg></trk></gpx>',
            "out of range",
        ),
        (b"<kml></kml>", "not a GPX file"),
    ],
    ids=["no-points", "broken", "not-xml", "entity-bomb", "external-entity", "no-time", "bad-lat", "not-gpx"],
)
def test_bad_gpx_is_one_line(document: bytes, message: str) -> None:
    with pytest.raises(SurveyError) as error:
        parse_gpx(document, "bad.gpx")
    assert message in _one_line(error) and _one_line(error).startswith("bad.gpx:")


def test_bad_csv_tracks_are_one_line(tmp_path: Path) -> None:
    for text, message in [
        ("", "empty"),
        ("when,lat,lon\n1,2,3\n", "no 'time' column"),
        ("time,lat,lon\n", "no points"),
        ("time,lat,lon\nyesterday,45,7\n", "not ISO 8601"),
    ]:
        with pytest.raises(SurveyError, match=message) as error:
            parse_track_csv(text.encode(), "t.csv")
        _one_line(error)
    with pytest.raises(SurveyError, match="not found"):
        read_track(tmp_path / "missing.gpx")


def test_gps_jump_is_flagged_and_splits_the_sections() -> None:
    distances = [0, 10, 20, 30, 530, 540, 550, 560]  # a 500 m jump between the 4th and 5th fixes
    fixes = [north_of(d) for d in distances]
    track = Track(START_TIME_S + np.arange(8.0), np.array([f[0] for f in fixes]), np.array([f[1] for f in fixes]))
    route = Route.from_track(track)
    assert len(route.jumps) == 1 and route.jumps[0].distance_m == pytest.approx(500, rel=1e-6)
    sections = cut_sections(route, 10.0)
    assert [(s.run_id, round(s.start_m), round(s.end_m)) for s in sections] == [
        (0, 0, 10),
        (0, 10, 20),
        (0, 20, 30),
        (1, 530, 540),
        (1, 540, 550),
        (1, 550, 560),
    ]
    assert not any(s.start_m < 300 < s.end_m for s in sections)
    samples, _ = plan_video_samples(route, 8 * 30, 30.0, START_TIME_S, REGION, every_m=2.0)
    assert not any(30 < s.chainage_m < 530 for s in samples)  # nothing placed inside the jump
    assert {s.run_id for s in samples} == {0, 1}
    run_end = {0: 30.0, 1: 560.0}
    owned = [s for s in samples if s.slice_m > 0]
    assert all(s.chainage_m + REGION.forward_m[0] + s.slice_m <= run_end[s.run_id] + 1e-6 for s in owned)


def test_stationary_vehicle_adds_no_frames() -> None:
    distances = [0, 10, 20, 20, 20, 20, 20, 30, 40]  # standing still for 4 s
    fixes = [north_of(d) for d in distances]
    track = Track(START_TIME_S + np.arange(9.0), np.array([f[0] for f in fixes]), np.array([f[1] for f in fixes]))
    samples, _ = plan_video_samples(Route.from_track(track), 9 * 30, 30.0, START_TIME_S, REGION, every_m=2.0)
    chainages = np.array([s.chainage_m for s in samples])
    assert 17 <= len(samples) <= 20  # 40 m every 2 m (a frame is 0.33 m), however long it stood
    standing = [s for s in samples if 3.0 < s.time_s < 6.0]
    assert len(standing) <= 1
    assert (np.diff(chainages) >= 2.0 - 1e-9).all()
    assert sum(s.slice_m for s in samples) == pytest.approx(40 - REGION.forward_m[0], abs=0.1)


# --- videos ---------------------------------------------------------------------------------------------------


def test_video_is_streamed_frame_by_frame(drive: tuple[Path, Path]) -> None:
    info = probe_video(drive[0])
    assert info.frame_wh == PROFILE.image_wh and info.fps == pytest.approx(15.0) and info.frame_count == 46
    frames = list(iter_frames(info, [40, 3, 7]))
    assert [index for index, _ in frames] == [3, 7, 40]
    assert all(rgb is not None and rgb.shape == (270, 480, 3) for _, rgb in frames)
    assert list(iter_frames(info, [45, 500]))[-1] == (500, None)  # past the end: None, not an exception


def _patched(source: Path, target: Path, box: bytes, patch) -> Path:
    data = bytearray(source.read_bytes())
    start = data.find(box) - 4
    size = struct.unpack(">I", data[start : start + 4])[0]
    patch(data, start, size)
    target.write_bytes(bytes(data))
    return target


def test_bad_videos_are_one_line(drive: tuple[Path, Path], tmp_path: Path) -> None:
    video = drive[0]
    noise = tmp_path / "noise.mp4"
    noise.write_bytes(np.random.default_rng(0).integers(0, 256, 50_000, dtype=np.uint8).tobytes())
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(video.read_bytes()[: video.stat().st_size // 2])
    huge = _patched(
        video,
        tmp_path / "huge.mp4",
        b"tkhd",
        lambda d, s, n: d.__setitem__(slice(s + n - 8, s + n), struct.pack(">II", 60000 << 16, 60000 << 16)),
    )
    many = _patched(
        video,
        tmp_path / "many.mp4",
        b"stsz",
        lambda d, s, n: d.__setitem__(slice(s + 16, s + 20), struct.pack(">I", 4_000_000_000)),
    )
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    cases = [
        (noise, "cannot be decoded"),
        (truncated, "truncated"),
        (huge, "60000x60000"),
        (many, "4,000,000,000 frames"),
        (empty, "empty file"),
        (tmp_path / "missing.mp4", "not found"),
    ]
    for path, message in cases:
        with pytest.raises(SurveyError) as error:
            probe_video(path)
        assert message in _one_line(error), (path.name, str(error.value))


def test_a_track_from_another_day_is_refused_with_one_line(drive: tuple[Path, Path], tmp_path: Path) -> None:
    video, _ = drive
    gpx = tmp_path / "old.gpx"
    gpx.write_text(gpx_text([(START_TIME_S - 86400 + t, *north_of(10.0 * t)) for t in range(4)]))
    with pytest.raises(SurveyError, match="does not overlap") as error:
        run_survey(
            [video],
            DarkSegmenter(),
            tmp_path / "out",
            track_path=gpx,
            profile=PROFILE,
            settings=SurveySettings(video_start="2023-11-14T22:13:20Z"),
        )
    _one_line(error)


# --- photos ---------------------------------------------------------------------------------------------------


def _photo(rgb: np.ndarray, distance_m: float | None, seconds: float, gps: bool = True) -> bytes:
    image = Image.fromarray(rgb)
    exif = Image.Exif()
    if gps and distance_m is not None:
        lat, lon = north_of(distance_m)
        ifd = exif.get_ifd(0x8825)
        minutes, degrees = np.modf(lat)
        ifd.update({1: "N", 2: (float(degrees), 0.0, float(minutes) * 3600), 3: "E", 4: (float(lon), 0.0, 0.0)})
    details = exif.get_ifd(0x8769)
    stamp = np.datetime64(int(START_TIME_S + seconds), "s").astype(object)
    details[0x9003] = stamp.strftime("%Y:%m:%d %H:%M:%S")
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=95, exif=exif)
    return buffer.getvalue()


def _photo_folder(folder: Path, gps: bool = True) -> Path:
    from survey_drive import render_frame, road_texture

    view = GroundView.for_frame(PROFILE, PROFILE.image_wh)
    texture = road_texture(40.0)
    folder.mkdir()
    for number, distance in enumerate(np.arange(0.0, 30.0, 2.4)):
        data = _photo(render_frame(texture, view, float(distance)), float(distance), float(number), gps=gps)
        (folder / f"IMG_{number:04d}.jpg").write_bytes(data)
    return folder


def test_exif_gps_photos_are_surveyed(tmp_path: Path) -> None:
    folder = _photo_folder(tmp_path / "photos")
    meta = read_photo_meta("a.jpg", (folder / "IMG_0002.jpg").read_bytes())
    assert meta.lat == pytest.approx(north_of(4.8)[0], abs=1e-7) and meta.time_s == START_TIME_S + 2
    result = run_survey([folder], DarkSegmenter(), tmp_path / "out", profile=PROFILE)
    assert len(result.sections) == 3
    assert list(result.findings["chainage_m"].round(0)) == [12.0, 25.0]  # the two cracks drawn before 30 m
    features = json.loads(result.paths["findings_geojson"].read_text())["features"]
    assert all(feature["geometry"]["type"] == "Point" for feature in features)


def test_photos_without_gps_are_refused_unless_a_speed_is_given(tmp_path: Path) -> None:
    folder = _photo_folder(tmp_path / "photos", gps=False)
    with pytest.raises(SurveyError, match="no photo has EXIF GPS") as error:
        run_survey([folder], DarkSegmenter(), tmp_path / "out", profile=PROFILE)
    _one_line(error)
    result = run_survey(
        [folder], DarkSegmenter(), tmp_path / "out2", profile=PROFILE, settings=SurveySettings(speed_kmh=2.4 * 3.6)
    )
    assert len(result.findings) == 2 and not result.summary["has_map"]
