"""The survey decodes H.264 and H.265 drives as it decodes mp4v: the same samples and sections.

Phones and dashcams record H.264 or H.265. The synthetic drive (tests/survey_drive.py)
is encoded with the first writer this machine has for the codec: OpenCV's
``VideoWriter`` (fourccs tried in turn; the pip wheels of OpenCV carry no H.264/H.265
encoder), else PyAV's FFmpeg (libx264 / libx265; PyAV is in requirements-dev.txt).
Without any, the test is skipped and says what was tried. The survey always decodes
with OpenCV's FFmpeg, as the product does.

PyAV encodes with one encoder thread: x264 and x265 split work by frames across as
many threads as the machine has cores, and their bytes (so a crack's edge pixels)
change with that count. Measured on this drive: section 2's crack length was 1.581,
1.581, 1.615 and 1.598 m with 1, 3, 8 and 24 x264 threads (mp4v: 1.615 m), and the CI
machine, whose core count is not known here, got 1.561 m. One thread gives the same video on every machine.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
from survey_drive import CRACKS, PROFILE, DarkSegmenter, drive_frames, write_drive

from crackseg.survey.run import SurveySettings, run_survey

FPS = 15.0
SETTINGS = SurveySettings(every_m=1.2)
# sections' columns that depend only on where frames and cracks are, not on a crack's exact pixels
PLACE_COLUMNS = [
    "section_id",
    "run_id",
    "start_chainage_m",
    "end_chainage_m",
    "length_m",
    "surveyed_length_m",
    "surveyed_area_m2",
    "samples",
    "crack_count",
    "longitudinal_count",
    "transverse_count",
    "diagonal_count",
    "network_count",
    "rating_class",
    "start_lat",
    "end_lat",
]
# the measures from crack pixels: lossy codecs move a few pixels at a crack's edge
MEASURE_COLUMNS = ["crack_area_m2", "cracking_ratio_pct", "mci_cracking"]
# a trace's length moves with its two ends, not with its length: each end may move this many top-view pixels
TRACE_END_PX = 2
WRITERS = {
    "H.264": [("opencv", "avc1"), ("opencv", "H264"), ("opencv", "X264"), ("pyav", "libx264")],
    "H.265": [("opencv", "hev1"), ("opencv", "HEVC"), ("opencv", "hvc1"), ("pyav", "libx265")],
}


def opencv_writer(fourcc: str) -> Callable[[Path], bool]:
    def write(path: Path) -> bool:
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), FPS, PROFILE.image_wh)
        if not writer.isOpened():
            return False
        for rgb in drive_frames(fps=FPS):
            writer.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
        writer.release()
        return True

    return write


def pyav_writer(codec: str) -> Callable[[Path], bool]:
    def write(path: Path) -> bool:
        try:
            import av
        except ImportError:
            return False
        if codec not in av.codecs_available:
            return False
        with av.open(str(path), "w") as container:
            stream = container.add_stream(codec, rate=int(FPS))
            stream.width, stream.height = PROFILE.image_wh
            stream.pix_fmt = "yuv420p"
            # one encoder thread: the same bytes on every machine (see the module's docstring)
            stream.options = {"crf": "18", "preset": "fast"} | (
                {"x265-params": "log-level=error:frame-threads=1"} if codec == "libx265" else {"threads": "1"}
            )
            for rgb in drive_frames(fps=FPS):
                for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                    container.mux(packet)
            for packet in stream.encode():  # flush the encoder's delayed frames
                container.mux(packet)
        return True

    return write


def encode(folder: Path, codec: str) -> tuple[Path, str]:
    """The drive encoded with the first writer that works here, and which one; skips naming all it tried."""
    tried = []
    for library, name in WRITERS[codec]:
        path = folder / f"{codec}-{library}-{name}.mp4"
        write = opencv_writer(name) if library == "opencv" else pyav_writer(name)
        if write(path) and path.stat().st_size > 0:
            capture = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
            decodes = capture.read()[0]
            capture.release()
            if decodes:
                return path, f"{library} {name}"
            tried.append(f"{library} {name} (written, but OpenCV cannot decode it)")
        else:
            tried.append(f"{library} {name} (no encoder)")
    pytest.skip(f"no {codec} encoder on this machine: tried {', '.join(tried)}")


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory):
    """The drive as mp4v (OpenCV's own encoder), its GPX, and its survey."""
    folder = tmp_path_factory.mktemp("codecs")
    video, gpx = write_drive(folder, fps=FPS)
    result = run_survey([video], DarkSegmenter(), folder / "mp4v", track_path=gpx, profile=PROFILE, settings=SETTINGS)
    assert len(result.findings) == len(CRACKS)
    return folder, gpx, result


@pytest.mark.parametrize("codec", ["H.264", "H.265"])
def test_h264_and_h265_drives_give_the_mp4v_sections(
    baseline, codec: str, record_property: Callable[[str, object], None]
) -> None:
    folder, gpx, expected = baseline
    video, writer = encode(folder, codec)
    record_property("writer", writer)
    result = run_survey([video], DarkSegmenter(), folder / codec, track_path=gpx, profile=PROFILE, settings=SETTINGS)
    # the same frames are sampled (frame count and rate decoded as from mp4v) ...
    assert result.samples["frame"].tolist() == expected.samples["frame"].tolist()
    assert not [note for note in result.warnings if "could not be decoded" in note]
    # ... every section is placed, counted and rated the same, its measures within a few crack-edge pixels
    assert result.sections[PLACE_COLUMNS].equals(expected.sections[PLACE_COLUMNS])
    for column in MEASURE_COLUMNS:
        assert np.allclose(result.sections[column], expected.sections[column], rtol=0.03, atol=1e-3), column
    ends_m = 2 * TRACE_END_PX * PROFILE.mm_per_px / 1000 * expected.sections["crack_count"]
    length_gap_m = (result.sections["crack_length_m"] - expected.sections["crack_length_m"]).abs()
    assert (length_gap_m <= ends_m + 1e-3).all(), (length_gap_m.tolist(), ends_m.tolist())
    edge_px_mm = 2 * PROFILE.mm_per_px  # a widest point one top-view pixel wider or narrower at each edge
    assert np.allclose(result.sections["max_width_mm"], expected.sections["max_width_mm"], atol=edge_px_mm)
    assert result.findings["crack_type"].tolist() == expected.findings["crack_type"].tolist()
    assert np.allclose(result.findings["chainage_m"], expected.findings["chainage_m"], atol=0.05)
