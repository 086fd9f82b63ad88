"""A video synchronised with its track by the MP4's recorded creation time (``mvhd``), version 0 and 1.

OpenCV writes no creation time (0), so the test writes one into the synthetic drive's
bytes: the video's true start, 3 s after a GPX that starts 30 m south of the first frame.
Synchronised from the metadata alone, the survey must place everything exactly as with
``--offset-s 3``, and every drawn crack at its drawn position (chainage + 30 m on the
route, and its latitude); without the creation time it would sit 30 m off.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
from survey_drive import CRACKS, PROFILE, START_TIME_S, DarkSegmenter, gpx_text, north_of, write_drive

from crackseg.survey.mp4_header import MP4_EPOCH_OFFSET_S, read_mp4_header
from crackseg.survey.run import SurveySettings, run_survey

OFFSET_S = 3.0  # the video starts this long after the track
SPEED_MPS = 10.0  # write_drive's default
LOCATION_TOLERANCE_M = 0.2  # as in test_survey_drive.py


def box_at(data: bytes, box_type: bytes) -> int:
    """Offset of the (only) box of this type; its 4-byte size field starts there."""
    where = data.find(box_type) - 4
    assert where >= 0 and data.count(box_type) == 1, box_type
    return where


def with_creation_time(data: bytes, unix_s: int, version: int) -> bytes:
    """The MP4 ``data`` with ``mvhd`` set to ``version`` (0: 32-bit times, 1: 64-bit) and creation time ``unix_s``.

    Version 1 is 12 bytes longer; the ``moov`` holding it grows by as much. OpenCV's muxer puts ``moov`` after
    ``mdat``, so no chunk offset moves.
    """
    mvhd, moov = box_at(data, b"mvhd"), box_at(data, b"moov")
    assert moov < mvhd and data.find(b"mdat") < moov, "moov must follow mdat"
    size = struct.unpack(">I", data[mvhd : mvhd + 4])[0]
    body = data[mvhd + 8 : mvhd + size]
    assert body[0] == 0, "OpenCV writes a version 0 mvhd"
    _, modified, timescale, duration = struct.unpack(">IIII", body[4:20])
    created = unix_s + MP4_EPOCH_OFFSET_S
    if version == 0:
        times = struct.pack(">IIII", created, modified, timescale, duration)
    else:
        times = struct.pack(">QQIQ", created, modified, timescale, duration)
    new_body = bytes([version]) + body[1:4] + times + body[20:]
    grown = len(new_body) - len(body)
    moov_size = struct.unpack(">I", data[moov : moov + 4])[0]
    patched = data[:moov] + struct.pack(">I", moov_size + grown) + data[moov + 4 : mvhd]
    return patched + struct.pack(">I", size + grown) + b"mvhd" + new_body + data[mvhd + size :]


@pytest.fixture(scope="module")
def drive(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The 70 m drive (7 s, first frame at START_TIME_S and 0 m) and a GPX from 3 s (30 m) before it to its end."""
    folder = tmp_path_factory.mktemp("sync")
    video, _ = write_drive(folder)
    fixes = [(START_TIME_S + t, *north_of(SPEED_MPS * t)) for t in range(-int(OFFSET_S), 9)]
    gpx = folder / "early.gpx"
    gpx.write_text(gpx_text(fixes))
    return video, gpx


def survey(video: Path, gpx: Path, out: Path, **settings: float):
    return run_survey(
        [video], DarkSegmenter(), out, track_path=gpx, profile=PROFILE, settings=SurveySettings(every_m=1.2, **settings)
    )


@pytest.mark.parametrize("version", [0, 1])
def test_header_creation_time_is_read_in_both_mvhd_versions(drive: tuple[Path, Path], tmp_path: Path, version: int):
    video, _ = drive
    assert read_mp4_header(video).creation_time_s is None  # OpenCV's 0 means unset
    patched = tmp_path / f"v{version}.mp4"
    patched.write_bytes(with_creation_time(video.read_bytes(), int(START_TIME_S), version))
    header = read_mp4_header(patched)
    assert header.creation_time_s == START_TIME_S
    assert header.duration_s == pytest.approx(read_mp4_header(video).duration_s)  # the fields after it still line up


@pytest.mark.parametrize("version", [0, 1])
def test_creation_time_places_the_drive_as_the_equivalent_offset(
    drive: tuple[Path, Path], tmp_path: Path, version: int
) -> None:
    video, gpx = drive
    synced = tmp_path / "synced.mp4"
    synced.write_bytes(with_creation_time(video.read_bytes(), int(START_TIME_S), version))
    by_metadata = survey(synced, gpx, tmp_path / "metadata")
    assert "video synchronised by its recorded creation time" in by_metadata.warnings
    by_offset = survey(synced, gpx, tmp_path / "offset", offset_s=OFFSET_S)
    assert by_metadata.sections.equals(by_offset.sections)
    assert by_metadata.findings.equals(by_offset.findings)
    assert by_metadata.samples.drop(columns=["overlay"]).equals(by_offset.samples.drop(columns=["overlay"]))

    shift_m = SPEED_MPS * OFFSET_S  # the route starts 30 m before the first frame
    assert by_metadata.samples["chainage_m"].iloc[0] == pytest.approx(shift_m, abs=0.01)
    assert by_metadata.samples["time_utc"].iloc[0].startswith("2023-11-14T22:13:20")  # START_TIME_S
    findings = by_metadata.findings
    assert len(findings) == len(CRACKS)
    for crack in CRACKS:
        chainage, lateral = crack.centre
        distance = np.hypot(findings["chainage_m"] - (chainage + shift_m), findings["lateral_m"] - lateral)
        assert (distance < LOCATION_TOLERANCE_M).sum() == 1, (crack, findings[["chainage_m", "lateral_m"]])
        nearest = findings.loc[distance.idxmin()]
        assert nearest["lat"] == pytest.approx(north_of(chainage)[0], abs=2e-6)  # where it was drawn (~0.2 m)

    unsynced = survey(video, gpx, tmp_path / "unsynced")  # no creation time: placed at the track's start
    assert any("assumed to start at the track's first point" in note for note in unsynced.warnings)
    assert unsynced.findings["chainage_m"].to_numpy() == pytest.approx(
        findings["chainage_m"].to_numpy() - shift_m, abs=LOCATION_TOLERANCE_M
    )


def test_a_video_started_before_the_first_fix_is_still_placed_by_its_creation_time(
    drive: tuple[Path, Path], tmp_path: Path
) -> None:
    video, _ = drive
    late_gpx = tmp_path / "late.gpx"  # the logger got its first fix 2 s (20 m) into the recording
    late_gpx.write_text(gpx_text([(START_TIME_S + t, *north_of(SPEED_MPS * t)) for t in range(2, 9)]))
    synced = tmp_path / "synced.mp4"
    synced.write_bytes(with_creation_time(video.read_bytes(), int(START_TIME_S), 0))
    by_metadata = survey(synced, late_gpx, tmp_path / "metadata")
    assert "video synchronised by its recorded creation time" in by_metadata.warnings
    assert any("lie outside the track's times: not surveyed" in note for note in by_metadata.warnings)
    by_offset = survey(synced, late_gpx, tmp_path / "offset", offset_s=-2.0)
    assert by_metadata.findings.equals(by_offset.findings) and by_metadata.sections.equals(by_offset.sections)
    for crack in CRACKS[1:]:  # the first (12.3 m) lies before the first fix's 20 m
        chainage, _ = crack.centre
        distance = (by_metadata.findings["chainage_m"] - (chainage - 2 * SPEED_MPS)).abs()
        assert (distance < LOCATION_TOLERANCE_M).sum() == 1, (crack, by_metadata.findings["chainage_m"])
