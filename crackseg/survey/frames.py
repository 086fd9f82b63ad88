"""Video frames in, streamed: probe a video's header, then decode only the sampled frames.

``probe_video`` refuses what cannot be surveyed with one line before any frame
is decoded: a missing or unreadable file, a truncated MP4/MOV or one whose
header claims an absurd frame size, frame count or duration (``mp4_header``),
and a file OpenCV's FFmpeg cannot open or decode. ``iter_frames`` walks the
video once: frames not sampled are ``grab()``-ed (demuxed and decoded by FFmpeg
but never converted to RGB or kept), sampled ones are retrieved; nothing is
accumulated, so memory stays flat over an hour of video.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from crackseg.survey.errors import SurveyError
from crackseg.survey.mp4_header import MAX_DURATION_S, MAX_FRAME_COUNT, MAX_FRAME_PIXELS, is_iso_media, read_mp4_header

VIDEO_SUFFIXES = (".mp4", ".mov", ".m4v", ".avi", ".mkv", ".webm", ".mts", ".ts")
MAX_FPS = 480.0


@dataclass(frozen=True)
class VideoInfo:
    """A video as the header and the decoder report it."""

    path: Path
    frame_wh: tuple[int, int]
    fps: float
    frame_count: int
    creation_time_s: float | None = None

    @property
    def duration_s(self) -> float:
        return self.frame_count / self.fps

    def frame_time_s(self, frame_index: np.ndarray | int) -> np.ndarray:
        """Seconds from the video's start of frame(s) ``frame_index``."""
        return np.asarray(frame_index, dtype=np.float64) / self.fps


def is_video_path(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_SUFFIXES


def probe_video(path: Path | str) -> VideoInfo:
    """Check a video and read its size, rate and frame count; ``SurveyError`` (one line) if it cannot be used."""
    path = Path(path)
    if not path.is_file():
        raise SurveyError(f"{path}: video not found")
    if path.stat().st_size == 0:
        raise SurveyError(f"{path.name}: empty file (0 bytes)")
    creation = None
    if is_iso_media(path):
        header = read_mp4_header(path)
        creation = header.creation_time_s
    capture = _open(path)
    try:
        width = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH))
        height = int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
        fps = float(capture.get(cv2.CAP_PROP_FPS))
        count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        if width <= 0 or height <= 0 or width * height > MAX_FRAME_PIXELS:
            raise SurveyError(f"{path.name}: frame size {width}x{height} is not usable (limit {MAX_FRAME_PIXELS:,} px)")
        if not (math.isfinite(fps) and 0 < fps <= MAX_FPS):
            raise SurveyError(f"{path.name}: frame rate {fps:g} is not usable")
        if count <= 0 or count > MAX_FRAME_COUNT or count / fps > MAX_DURATION_S:
            raise SurveyError(f"{path.name}: frame count {count} is not usable")
        ok, frame = capture.read()
        if not ok or frame is None:
            raise SurveyError(f"{path.name}: no frame can be decoded (damaged or unsupported codec)")
        if frame.shape[:2] != (height, width):
            actual = f"{frame.shape[1]}x{frame.shape[0]}"
            raise SurveyError(f"{path.name}: frames are {actual}, the header says {width}x{height}")
    finally:
        capture.release()
    return VideoInfo(path, (width, height), fps, count, creation)


def iter_frames(info: VideoInfo, frame_indices: Iterable[int]) -> Iterator[tuple[int, np.ndarray | None]]:
    """Yield ``(frame_index, rgb)`` for sorted ``frame_indices``; ``rgb`` is ``None`` for a frame that failed
    to decode, and after the stream ends early (a damaged tail) every remaining index comes with ``None``."""
    wanted = iter(sorted(set(int(i) for i in frame_indices)))
    target = next(wanted, None)
    if target is None:
        return
    capture = _open(info.path)
    try:
        position = 0
        ended = False
        while target is not None:
            if ended:
                yield target, None
                target = next(wanted, None)
                continue
            if not capture.grab():
                ended = True
                continue
            if position == target:
                ok, bgr = capture.retrieve()
                rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB) if ok and bgr is not None else None
                if rgb is not None and rgb.shape[:2] != (info.frame_wh[1], info.frame_wh[0]):
                    rgb = None  # a frame of another size than the header's: not trusted
                yield target, rgb
                target = next(wanted, None)
            position += 1
    finally:
        capture.release()


def _open(path: Path) -> cv2.VideoCapture:
    capture = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    if not capture.isOpened():
        capture.release()
        raise SurveyError(f"{path.name}: cannot be decoded as a video (damaged, truncated or not a video)")
    return capture
