"""The header of an MP4/MOV file, read box by box before any decoder sees the file.

Only the box tree is walked (``moov`` is read, ``mdat`` is skipped by seeking),
so a hostile header is refused cheaply: a box running past the end of the file
(a truncated download or recording), an index over ``MAX_MOOV_BYTES``, a frame
size over ``MAX_FRAME_PIXELS``, a sample (frame) count over ``MAX_FRAME_COUNT``
or a duration over ``MAX_DURATION_S``. It also gives the recording's creation
time (``mvhd``), used to synchronise the video with a GPS track.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

from crackseg.survey.errors import SurveyError

MAX_FRAME_PIXELS = 8192 * 4320  # 8K
MAX_FRAME_COUNT = 12 * 3600 * 120  # 12 hours at 120 fps
MAX_DURATION_S = 12 * 3600
MAX_MOOV_BYTES = 256 * 1024 * 1024
MP4_EPOCH_OFFSET_S = 2_082_844_800  # 1904-01-01 -> 1970-01-01
_CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl", b"edts"}


@dataclass(frozen=True)
class Mp4Header:
    """What the header claims: the video track's frame size and sample count, duration and creation time."""

    frame_wh: tuple[int, int] | None
    frame_count: int | None
    duration_s: float | None
    creation_time_s: float | None  # seconds since the Unix epoch, None when unset


def is_iso_media(path: Path) -> bool:
    """True when the file starts with an ISO base media box (``ftyp``, ``moov``, ``mdat``, ...)."""
    with path.open("rb") as handle:
        head = handle.read(12)
    return len(head) >= 8 and head[4:8] in (b"ftyp", b"moov", b"mdat", b"wide", b"free", b"skip")


def read_mp4_header(path: Path) -> Mp4Header:
    """Walk the top-level boxes and the ``moov`` tree; raises ``SurveyError`` (one line) on any refusal."""
    size = path.stat().st_size
    moov = None
    with path.open("rb") as handle:
        offset = 0
        while offset + 8 <= size:
            handle.seek(offset)
            box_size, box_type, header = _box_header(handle.read(16), size - offset)
            if offset + box_size > size:
                raise SurveyError(
                    f"{path.name}: truncated: box '{_name(box_type)}' claims {box_size} bytes, {size - offset} are left"
                )
            if box_type == b"moov":
                if box_size > MAX_MOOV_BYTES:
                    raise SurveyError(f"{path.name}: its index (moov) is {box_size / 1e6:.0f} MB: not a real video")
                handle.seek(offset + header)
                moov = handle.read(box_size - header)
            offset += box_size
    if moov is None:
        raise SurveyError(f"{path.name}: no index (moov box): the file is truncated or still being recorded")
    info: dict[str, object] = {}
    _walk(moov, info, path.name)
    header = Mp4Header(
        frame_wh=info.get("frame_wh"),  # type: ignore[arg-type]
        frame_count=info.get("frame_count"),  # type: ignore[arg-type]
        duration_s=info.get("duration_s"),  # type: ignore[arg-type]
        creation_time_s=info.get("creation_time_s"),  # type: ignore[arg-type]
    )
    check_claims(header, path.name)
    return header


def check_claims(header: Mp4Header, name: str) -> None:
    """Refuse absurd claimed sizes before a decoder allocates for them."""
    if header.frame_wh is not None:
        width, height = header.frame_wh
        if width * height > MAX_FRAME_PIXELS:
            raise SurveyError(f"{name}: header claims {width}x{height} frames, over the {MAX_FRAME_PIXELS:,} px limit")
    if header.frame_count is not None and header.frame_count > MAX_FRAME_COUNT:
        raise SurveyError(f"{name}: header claims {header.frame_count:,} frames, over the limit of {MAX_FRAME_COUNT:,}")
    if header.duration_s is not None and header.duration_s > MAX_DURATION_S:
        raise SurveyError(f"{name}: header claims {header.duration_s / 3600:.0f} hours, over the 12-hour limit")


def _box_header(head: bytes, left: int) -> tuple[int, bytes, int]:
    if len(head) < 8:
        raise SurveyError("truncated box header")
    box_size, box_type = struct.unpack(">I4s", head[:8])
    if box_size == 1:
        if len(head) < 16:
            raise SurveyError("truncated box header")
        return struct.unpack(">Q", head[8:16])[0], box_type, 16
    if box_size == 0:
        return left, box_type, 8
    if box_size < 8:
        raise SurveyError(f"malformed box '{_name(box_type)}' of {box_size} bytes")
    return box_size, box_type, 8


def _walk(data: bytes, info: dict[str, object], name: str, video: list[bool] | None = None) -> None:
    offset = 0
    in_track = [False] if video is None else video
    while offset + 8 <= len(data):
        try:
            box_size, box_type, header = _box_header(data[offset : offset + 16], len(data) - offset)
        except SurveyError as error:
            raise SurveyError(f"{name}: {error}") from None
        if offset + box_size > len(data):
            raise SurveyError(f"{name}: damaged index: box '{_name(box_type)}' runs past its parent")
        body = data[offset + header : offset + box_size]
        if box_type == b"trak":
            track_is_video = [False]
            track: dict[str, object] = {}
            _walk(body, track, name, track_is_video)
            if track_is_video[0] and "frame_wh" not in info:
                info.update({k: v for k, v in track.items() if k in ("frame_wh", "frame_count")})
        elif box_type in _CONTAINERS:
            _walk(body, info, name, in_track)
        elif box_type == b"mvhd" and len(body) >= 20:
            _read_mvhd(body, info)
        elif box_type == b"hdlr" and len(body) >= 12:
            in_track[0] = in_track[0] or body[8:12] == b"vide"
        elif box_type == b"tkhd" and len(body) >= 84:
            width, height = struct.unpack(">II", body[-8:])
            info["tkhd_wh"] = (width >> 16, height >> 16)
        elif box_type == b"stsd" and len(body) >= 8 + 8 + 36:
            entry = body[8:]  # version/flags and entry count skipped
            width, height = struct.unpack(">HH", entry[8 + 24 : 8 + 28])
            info["frame_wh"] = (int(width), int(height))
        elif box_type == b"stsz" and len(body) >= 12:
            info["frame_count"] = int(struct.unpack(">I", body[8:12])[0])
        offset += box_size
    if "tkhd_wh" in info and in_track[0]:
        stsd = info.get("frame_wh")
        tkhd = info.pop("tkhd_wh")
        if stsd is None or tkhd[0] * tkhd[1] > stsd[0] * stsd[1]:  # type: ignore[index,operator]
            info["frame_wh"] = tkhd


def _read_mvhd(body: bytes, info: dict[str, object]) -> None:
    version = body[0]
    if version == 1 and len(body) >= 32:
        created, _, timescale, duration = struct.unpack(">QQIQ", body[4:32])
    else:
        created, _, timescale, duration = struct.unpack(">IIII", body[4:20])
    if timescale:
        info["duration_s"] = duration / timescale
    if created > MP4_EPOCH_OFFSET_S:  # 0 (unset) and pre-1970 values are not a recording time
        info["creation_time_s"] = float(created - MP4_EPOCH_OFFSET_S)


def _name(box_type: bytes) -> str:
    return box_type.decode("latin-1").encode("ascii", "replace").decode()
