"""Turning paths, folders, uploads and ZIPs into named image bytes (crackseg.io.inputs)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from PIL import Image

import crackseg.io.archives as archives
import crackseg.io.inputs as inputs
from crackseg.io.inputs import NamedPayload, expand_named_payloads, expand_paths


def png_bytes(colour: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), colour).save(buffer, "PNG")
    return buffer.getvalue()


def make_zip(members: list[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members:
            archive.writestr(name, data)
    return buffer.getvalue()


RED, GREEN, BLUE = png_bytes((255, 0, 0)), png_bytes((0, 255, 0)), png_bytes((0, 0, 255))


def summary(payloads: list[NamedPayload]) -> list[tuple[str, bytes | None, bool]]:
    return [(p.name, p.data, p.ok) for p in payloads]


def test_uploads_pass_through_and_zips_open_by_content() -> None:
    archive = make_zip([("x/green.png", GREEN), ("__MACOSX/x/._green.png", b"junk"), ("notes.txt", b"hi")])
    payloads = list(expand_named_payloads([("red.png", RED), ("photos.dat", archive), ("blue.png", BLUE)]))
    assert summary(payloads) == [
        ("red.png", RED, True),
        ("photos.dat/x/green.png", GREEN, True),  # a ZIP by its magic number, whatever its name
        ("blue.png", BLUE, True),
    ]


def test_bad_zip_upload_is_one_failed_item_and_the_rest_go_on() -> None:
    payloads = list(expand_named_payloads([("broken.zip", b"PK\x03\x04 junk"), ("red.png", RED)]))
    assert payloads[0] == NamedPayload("broken.zip", error="broken.zip: not a readable ZIP archive")
    assert not payloads[0].ok and payloads[1].ok


def test_zip_member_cap_is_read_at_call_time(monkeypatch: pytest.MonkeyPatch) -> None:
    archive = make_zip([(f"{i}.png", RED) for i in range(5)])
    monkeypatch.setattr(archives, "MAX_MEMBERS", 4)
    [payload] = list(expand_named_payloads([("five.zip", archive)]))
    assert payload.error == "five.zip: 5 files, over the limit of 4 per archive"


def test_folder_is_expanded_recursively_and_sorted(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "a.png").write_bytes(RED)
    (tmp_path / "b" / "c.PNG").write_bytes(GREEN)
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / "b" / "more.zip").write_bytes(make_zip([("inside.png", BLUE)]))
    payloads = list(expand_paths([tmp_path]))
    # named relative to the folder given, never by the flattened absolute path; the full path is the source
    assert summary(payloads) == [("a.png", RED, True), ("b/c.PNG", GREEN, True), ("b/more.zip/inside.png", BLUE, True)]
    assert [payload.source_path for payload in payloads] == [
        str(tmp_path / "a.png"),
        str(tmp_path / "b" / "c.PNG"),
        f"{tmp_path / 'b' / 'more.zip'}/inside.png",
    ]
    [single] = list(expand_paths([tmp_path / "b" / "c.PNG"]))
    assert (single.name, single.source_path) == ("c.PNG", str(tmp_path / "b" / "c.PNG"))


def test_missing_path_and_empty_folder_are_per_item_errors(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    (tmp_path / "ok.png").write_bytes(RED)
    missing = tmp_path / "nowhere.jpg"
    payloads = list(expand_paths([missing, empty, tmp_path / "ok.png"]))
    assert payloads[0] == NamedPayload("nowhere.jpg", error=f"{missing}: file not found", source_path=str(missing))
    assert payloads[1] == NamedPayload("empty", error=f"{empty}: no images in this folder", source_path=str(empty))
    assert payloads[2].ok and payloads[2].data == RED


def test_file_over_the_size_limit_is_refused_without_reading(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "huge.png"
    path.write_bytes(RED)
    monkeypatch.setattr(inputs, "MAX_FILE_BYTES", len(RED) - 1)
    [payload] = list(expand_paths([path]))
    assert payload.data is None and payload.error.startswith(f"{path}: ") and "file limit" in payload.error


def test_expand_paths_is_lazy(tmp_path: Path) -> None:
    """Files are read one at a time as the caller asks (bounded memory for big batches)."""
    for index in range(3):
        (tmp_path / f"{index}.png").write_bytes(RED)
    stream = expand_paths([tmp_path])
    first = next(stream)
    (tmp_path / "2.png").write_bytes(BLUE)  # changed after the first item was produced
    rest = list(stream)
    assert first.data == RED and [p.data for p in rest] == [RED, BLUE]
