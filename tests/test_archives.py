"""ZIP archives read in memory (crackseg.io.archives): hostile names, bombs, lying headers, caps.

Archives are built here with ``zipfile``; a member's bytes are known, so what comes
out can be compared exactly.
"""

from __future__ import annotations

import io
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import crackseg.io.archives as archives
from crackseg.core.errors import ImageLoadError
from crackseg.io.archives import display_name, is_zip, iter_zip_images


def png_bytes(colour: tuple[int, int, int] = (1, 2, 3)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), colour).save(buffer, "PNG")
    return buffer.getvalue()


def make_zip(members: list[tuple[str, bytes]], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as archive:
        for name, data in members:
            archive.writestr(name, data)
    return buffer.getvalue()


def test_images_are_yielded_and_junk_skipped() -> None:
    red, blue = png_bytes((255, 0, 0)), png_bytes((0, 0, 255))
    data = make_zip(
        [
            ("photos/a.png", red),
            ("photos/readme.txt", b"notes"),
            ("__MACOSX/photos/._a.png", b"\x00\x05\x16\x07 resource fork"),
            ("photos/._b.png", b"\x00\x05\x16\x07 resource fork"),  # AppleDouble outside __MACOSX
            ("photos/sub/", b""),
            ("photos/sub/B.PNG", blue),
        ]
    )
    members = list(iter_zip_images(data, "upload.zip"))
    assert [(m.name, m.data, m.error) for m in members] == [
        ("upload.zip/photos/a.png", red, None),
        ("upload.zip/photos/sub/B.PNG", blue, None),
    ]


@pytest.mark.parametrize(
    ("member_name", "expected"),
    [
        ("../../etc/evil.png", "a.zip/etc/evil.png"),
        ("/abs/path/x.png", "a.zip/abs/path/x.png"),
        ("C:\\Windows\\y.png", "a.zip/C_/Windows/y.png"),
        ("./dir/../z.png", "a.zip/dir/z.png"),
        ("..", "a.zip/unnamed"),
    ],
)
def test_display_names_are_sanitised(member_name: str, expected: str) -> None:
    assert display_name("a.zip", member_name) == expected


def test_hostile_member_names_write_nothing_to_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    data = make_zip([("../escaped.png", png_bytes()), ("/tmp_abs_escape.png", png_bytes()), ("ok.png", png_bytes())])
    before = {p for p in tmp_path.rglob("*")}
    members = list(iter_zip_images(data, "up.zip"))
    assert [m.name for m in members] == ["up.zip/escaped.png", "up.zip/tmp_abs_escape.png", "up.zip/ok.png"]
    assert all(m.data == png_bytes() for m in members)
    assert {p for p in tmp_path.rglob("*")} == before
    assert not Path("/tmp_abs_escape.png").exists()


def test_zip_bomb_is_refused_by_compression_ratio() -> None:
    data = make_zip([("bomb.png", b"\0" * 50_000_000), ("fine.png", png_bytes())])
    assert len(data) < 200_000  # ~1000:1
    members = list(iter_zip_images(data, "b.zip"))
    assert members[0].data is None and "ZIP bomb" in members[0].error and members[0].error.startswith("b.zip/bomb.png")
    assert members[1].data == png_bytes()


def test_member_over_the_size_cap_is_refused() -> None:
    payload = np.random.default_rng(0).bytes(300_000)  # incompressible: ratio ~1
    members = list(iter_zip_images(make_zip([("big.png", payload)]), "s.zip", max_member_bytes=200_000))
    assert members[0].data is None and "over the limit" in members[0].error


def test_total_uncompressed_cap_stops_the_archive() -> None:
    rng = np.random.default_rng(1)
    data = make_zip([(f"{i}.png", rng.bytes(100_000)) for i in range(5)])
    members = list(iter_zip_images(data, "t.zip", max_total_bytes=250_000))
    assert [m.data is not None for m in members] == [True, True, False]
    assert "exceeds" in members[-1].error


def _lie_about_size(data: bytes, declared: int) -> bytes:
    """Patch the uncompressed size in both the local header and the central directory."""
    patched = bytearray(data)
    local = patched.find(b"PK\x03\x04")
    central = patched.find(b"PK\x01\x02")
    patched[local + 22 : local + 26] = struct.pack("<I", declared)
    patched[central + 24 : central + 28] = struct.pack("<I", declared)
    return bytes(patched)


def test_member_whose_header_lies_about_its_size_is_not_inflated() -> None:
    honest = make_zip([("lie.png", b"\0" * 2_000_000)])
    lying = _lie_about_size(honest, 5_000)  # ratio 5000 / ~2000 bytes looks harmless
    info = zipfile.ZipFile(io.BytesIO(lying)).infolist()[0]
    assert info.file_size == 5_000 and info.file_size / info.compress_size < archives.MAX_RATIO
    members = list(iter_zip_images(lying, "l.zip"))
    assert len(members) == 1 and members[0].data is None
    assert members[0].error.startswith("l.zip/lie.png: ") and "cannot be read" in members[0].error


def test_member_count_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    data = make_zip([(f"{i}.png", b"x") for i in range(30)], method=zipfile.ZIP_STORED)
    monkeypatch.setattr(archives, "MAX_MEMBERS", 20)  # read at call time
    with pytest.raises(ImageLoadError, match=r"^m\.zip: 30 files, over the limit of 20 per archive$"):
        list(iter_zip_images(data, "m.zip"))
    monkeypatch.setattr(archives, "MAX_MEMBERS", 30)
    assert len(list(iter_zip_images(data, "m.zip"))) == 30


def test_thousands_of_members_are_refused_at_the_default_cap() -> None:
    data = make_zip([(f"{i}.txt", b"") for i in range(archives.MAX_MEMBERS + 1)], method=zipfile.ZIP_STORED)
    with pytest.raises(ImageLoadError, match="over the limit"):
        list(iter_zip_images(data, "many.zip"))


def test_nested_zip_is_a_per_member_error() -> None:
    inner = make_zip([("b.png", png_bytes())])
    members = list(iter_zip_images(make_zip([("inner.zip", inner), ("a.png", png_bytes())]), "outer.zip"))
    assert members[0].name == "outer.zip/inner.zip" and "nested archives" in members[0].error
    assert members[1].data == png_bytes()


def test_encrypted_member_is_a_per_member_error() -> None:
    data = bytearray(make_zip([("secret.png", png_bytes())], method=zipfile.ZIP_STORED))
    # set the "encrypted" flag bit in the local header and the central directory
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = data.find(signature) + offset
        data[at : at + 2] = struct.pack("<H", struct.unpack("<H", data[at : at + 2])[0] | 0x1)
    members = list(iter_zip_images(bytes(data), "e.zip"))
    assert members[0].data is None and "encrypted" in members[0].error


@pytest.mark.parametrize("data", [b"PK\x03\x04 not really a zip", b"PK\x05\x06" + b"\0" * 5, b""])
def test_damaged_archive_raises_one_line_error(data: bytes) -> None:
    with pytest.raises(ImageLoadError) as caught:
        list(iter_zip_images(data, "bad.zip"))
    assert str(caught.value) == "bad.zip: not a readable ZIP archive"


def test_is_zip_by_magic_number() -> None:
    assert is_zip(make_zip([("a.png", png_bytes())]))
    assert is_zip(make_zip([]))
    assert not is_zip(png_bytes()) and not is_zip(b"") and not is_zip(b"PK")
