"""The hostile-input corpus, generated (never committed as binaries) and shared by every test level.

Each ``make_*`` function returns ``(file name, bytes)`` for one kind of input a
phone, a survey van or a shared drive can hand the tool. The tables below say
what must happen to each kind, so the loader, the CLI's ``predict`` and the
Segment page are held to the same answer:

- ``IMAGE_KINDS``: single files. A refused kind names the text its one-line
  message contains; an accepted kind has a check of the decoded RGB pixels.
- ``ARCHIVE_KINDS``: ZIPs. Either the whole archive is refused, or each member
  (by display name) is inspected or refused with a given text.
- ``RESULTS_CSV_KINDS`` / ``LABEL_LINE_KINDS``: a training history and YOLO
  label lines, for the Training page and the evaluation.

Names carry a per-process ``TOKEN`` where a test must check that nothing was
written outside its folder (ZIP member names with ``../`` or absolute paths).
"""

from __future__ import annotations

import functools
import io
import struct
import uuid
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

TOKEN = uuid.uuid4().hex[:10]
BOMB_SIDE_PX = 40_000
HTML = b"<!DOCTYPE html><html><body><script>alert('x')</script>road.jpg</body></html>\n"
EXIF_ORIENTATION_TAG = 0x0112


# --------------------------------------------------------------------------- encoding helpers


def encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    """``image`` saved in ``fmt`` (Pillow format name) as bytes."""
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def road_rgb(height: int = 64, width: int = 96) -> np.ndarray:
    """A grey road-like ``uint8 (H, W, 3)`` image with a dark diagonal stroke (a crack-like line)."""
    ys, xs = np.mgrid[:height, :width]
    grey = 120 + (xs * 7 + ys * 3) % 40
    rgb = np.stack([grey, grey, grey], axis=-1).astype(np.uint8)
    stroke = np.abs(ys - xs * height / width) < 2
    rgb[stroke] = 30
    return rgb


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    """One PNG chunk: length, type, data, CRC."""
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def make_zip(members: list[tuple[str, bytes]], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    """A ZIP of ``(member name, bytes)``; ``zipfile`` keeps names such as ``../x`` or ``/abs/x`` as given."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as archive:
        for name, data in members:
            archive.writestr(zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0)), data, compress_type=method)
    return buffer.getvalue()


def small_png(colour: tuple[int, int, int] = (120, 120, 120), size_wh: tuple[int, int] = (64, 48)) -> bytes:
    """A plain, valid PNG big enough to be inspected."""
    return encode(Image.new("RGB", size_wh, colour), "PNG")


# --------------------------------------------------------------------------- single files: refused


def make_zero_byte() -> tuple[str, bytes]:
    return "empty.jpg", b""


def make_text_named_jpg() -> tuple[str, bytes]:
    return "notes.jpg", b"Survey notes, km 12.4: two transverse cracks.\nNot a photo.\n"


def make_html_named_jpg() -> tuple[str, bytes]:
    return "page.jpg", HTML


def make_truncated_jpeg() -> tuple[str, bytes]:
    data = encode(Image.fromarray(road_rgb(128, 128)), "JPEG", quality=90)
    return "cut.jpg", data[: len(data) // 2]


def make_truncated_png() -> tuple[str, bytes]:
    data = encode(Image.fromarray(road_rgb(128, 128)), "PNG")
    return "cut.png", data[: len(data) // 2]


def make_one_pixel() -> tuple[str, bytes]:
    return "dot.png", encode(Image.new("RGB", (1, 1), (90, 90, 90)), "PNG")


def make_sliver() -> tuple[str, bytes]:
    """3 px wide, 100,000 px tall: a few hundred bytes on disk."""
    return "sliver.png", encode(Image.new("L", (3, 100_000), 128), "PNG")


@functools.lru_cache(maxsize=1)
def make_png_bomb() -> tuple[str, bytes]:
    """A *valid* 40000x40000 1-bit PNG (1.6 Gpx; ~4.8 GB as RGB) of ~0.2 MB: its IDAT is zlib of zeros, streamed.

    Built row block by row block with one reused buffer, so making it needs a few MB, not the image.
    """
    side = BOMB_SIDE_PX
    row = b"\0" * (1 + (side + 7) // 8)  # filter byte + packed 1-bit pixels
    block = row * 1000
    compressor = zlib.compressobj(9)
    idat = b"".join([compressor.compress(block) for _ in range(side // 1000)] + [compressor.flush()])
    ihdr = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)  # bit depth 1, greyscale
    data = b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")
    return "bomb.png", data


def make_png_signature_garbage() -> tuple[str, bytes]:
    """A PNG signature followed by random bytes (a corrupt header)."""
    return "fake.png", b"\x89PNG\r\n\x1a\n" + np.random.default_rng(6).bytes(2000)


def make_jpeg_soi_html() -> tuple[str, bytes]:
    """A JPEG start-of-image marker followed by an HTML page (a polyglot header)."""
    return "soi.jpg", b"\xff\xd8\xff\xe0" + HTML * 20


# --------------------------------------------------------------------------- single files: accepted


def make_png16() -> tuple[str, bytes]:
    """16-bit greyscale: left third 0, middle 32768 (mid grey), right 65535."""
    values = np.zeros((48, 72), dtype=np.uint16)
    values[:, 24:48] = 32768
    values[:, 48:] = 65535
    return "depth16.png", encode(Image.fromarray(values), "PNG")


def make_tiff16() -> tuple[str, bytes]:
    """The same 16-bit ramp as ``make_png16``, as TIFF."""
    values = np.zeros((48, 72), dtype=np.uint16)
    values[:, 24:48] = 32768
    values[:, 48:] = 65535
    return "depth16.tif", encode(Image.fromarray(values), "TIFF")


def make_rgba_png() -> tuple[str, bytes]:
    return "alpha.png", encode(Image.new("RGBA", (64, 48), (40, 90, 200, 100)), "PNG")


def make_la_png() -> tuple[str, bytes]:
    return "grey-alpha.png", encode(Image.new("LA", (64, 48), (150, 30)), "PNG")


def make_palette_png() -> tuple[str, bytes]:
    """Palette image: left half palette entry 1 (dark), right half entry 2 (orange)."""
    indices = np.ones((48, 64), dtype=np.uint8)
    indices[:, 32:] = 2
    image = Image.fromarray(indices, "P")
    image.putpalette([0, 0, 0, 20, 20, 20, 230, 120, 10] + [0] * (256 * 3 - 9))
    return "palette.png", encode(image, "PNG")


def make_cmyk_jpeg() -> tuple[str, bytes]:
    return "print.jpg", encode(Image.new("CMYK", (64, 48), (0, 255, 255, 0)), "JPEG", quality=95)  # pure red


def make_exif_rotated_jpeg() -> tuple[str, bytes]:
    """Stored 48 high x 64 wide with a dark *horizontal* line; EXIF orientation 6 shows it 64 x 48, line vertical."""
    stored = np.full((48, 64, 3), 190, dtype=np.uint8)
    stored[22:27, :] = 20
    exif = Image.Exif()
    exif[EXIF_ORIENTATION_TAG] = 6
    return "phone.jpg", encode(Image.fromarray(stored), "JPEG", quality=95, exif=exif.tobytes())


def make_animated_gif() -> tuple[str, bytes]:
    frames = [Image.new("RGB", (64, 48), colour) for colour in ((200, 30, 30), (30, 30, 200), (30, 200, 30))]
    return "clip.gif", encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)


def make_png_with_html_tail() -> tuple[str, bytes]:
    """A valid PNG with an HTML page after IEND: decoded pixels are used, the tail never reaches a browser."""
    return "tail.png", encode(Image.fromarray(road_rgb()), "PNG") + HTML


def make_hostile_file_name() -> tuple[str, bytes]:
    """A valid PNG whose *name* is markup and a spreadsheet formula: shown and written as text, never run."""
    return "<img src=x onerror=alert(1)>=1+1.png", encode(Image.fromarray(road_rgb()), "PNG")


# --------------------------------------------------------------------------- pixel checks of accepted kinds


def is_16bit_ramp_scaled(rgb: np.ndarray) -> bool:
    """0 -> 0, 32768 -> ~128 (mid grey, not white), 65535 -> 255; grey (equal channels)."""
    grey = rgb[..., 0].astype(int)
    return (
        rgb.shape == (48, 72, 3)
        and bool((grey[:, :24] == 0).all())
        and bool((np.abs(grey[:, 24:48] - 128) <= 1).all())
        and bool((grey[:, 48:] == 255).all())
        and bool((rgb[..., 0] == rgb[..., 2]).all())
    )


def is_colour(expected_rgb: tuple[int, int, int], tolerance: int = 0) -> Callable[[np.ndarray], bool]:
    """A check that every pixel is ``expected_rgb`` (within ``tolerance`` per channel)."""

    def check(rgb: np.ndarray) -> bool:
        return bool((np.abs(rgb.astype(int) - np.array(expected_rgb)) <= tolerance).all())

    return check


def is_palette_halves(rgb: np.ndarray) -> bool:
    return bool((rgb[:, :32] == (20, 20, 20)).all() and (rgb[:, 32:] == (230, 120, 10)).all())


def is_line_vertical(rgb: np.ndarray) -> bool:
    """Shown upright (64 high, 48 wide) with the dark line running top to bottom in a few adjacent columns."""
    if rgb.shape != (64, 48, 3):
        return False
    dark = rgb.mean(axis=2) < 100
    columns = np.flatnonzero(dark.any(axis=0))
    return bool(dark.any(axis=1).all() and 3 <= len(columns) <= 7 and columns[-1] - columns[0] == len(columns) - 1)


def is_road(rgb: np.ndarray) -> bool:
    return rgb.shape == (64, 96, 3) and bool(np.array_equal(rgb, road_rgb()))


@dataclass(frozen=True)
class ImageKind:
    """One kind of single-file input and what the loader must make of it.

    ``refusal``: text the one-line refusal contains (``None`` when accepted);
    ``check``: for accepted kinds, whether the decoded RGB ``uint8 (H, W, 3)`` is right.
    """

    kind: str
    make: Callable[[], tuple[str, bytes]]
    refusal: str | None = None
    check: Callable[[np.ndarray], bool] | None = None

    @property
    def accepted(self) -> bool:
        return self.refusal is None


IMAGE_KINDS: tuple[ImageKind, ...] = (
    ImageKind("zero-byte", make_zero_byte, refusal="empty file (0 bytes)"),
    ImageKind("text-named-jpg", make_text_named_jpg, refusal="not an image"),
    ImageKind("html-named-jpg", make_html_named_jpg, refusal="not an image"),
    ImageKind("truncated-jpeg", make_truncated_jpeg, refusal="truncated or damaged"),
    ImageKind("truncated-png", make_truncated_png, refusal="truncated or damaged"),
    ImageKind("1x1", make_one_pixel, refusal="1x1, too small to inspect"),
    ImageKind("3x100000", make_sliver, refusal="3x100000, too small to inspect"),
    ImageKind("png-bomb-40000x40000", make_png_bomb, refusal="40000x40000 = 1600.0 Mpx, over the 60 Mpx limit"),
    ImageKind("png-signature-garbage", make_png_signature_garbage, refusal="not an image"),
    ImageKind("jpeg-soi-html", make_jpeg_soi_html, refusal="truncated or damaged"),
    ImageKind("png-16bit", make_png16, check=is_16bit_ramp_scaled),
    ImageKind("tiff-16bit", make_tiff16, check=is_16bit_ramp_scaled),
    ImageKind("rgba", make_rgba_png, check=is_colour((40, 90, 200))),
    ImageKind("la", make_la_png, check=is_colour((150, 150, 150))),
    ImageKind("palette", make_palette_png, check=is_palette_halves),
    ImageKind("cmyk-jpeg", make_cmyk_jpeg, check=is_colour((255, 0, 0), tolerance=12)),
    ImageKind("exif-rotated-jpeg", make_exif_rotated_jpeg, check=is_line_vertical),
    ImageKind("animated-gif", make_animated_gif, check=is_colour((200, 30, 30), tolerance=8)),
    ImageKind("png-html-tail", make_png_with_html_tail, check=is_road),
    ImageKind("hostile-file-name", make_hostile_file_name, check=is_road),
)


# --------------------------------------------------------------------------- archives


def make_zip_traversal() -> tuple[str, bytes]:
    """Members named ``../``, ``../../``, absolute, Windows-absolute; and one ordinary member. All valid PNGs."""
    png = small_png()
    return "traversal.zip", make_zip(
        [
            (f"../up-{TOKEN}.png", png),
            (f"../../up2-{TOKEN}.png", png),
            (f"/tmp/abs-{TOKEN}.png", png),
            (f"C:\\Windows\\win-{TOKEN}.png", png),
            ("photos/ok.png", png),
        ]
    )


def traversal_escape_targets() -> list[str]:
    """Where a careless extractor of ``make_zip_traversal`` would have written (relative to its folder, or absolute)."""
    return [f"../up-{TOKEN}.png", f"../../up2-{TOKEN}.png", f"/tmp/abs-{TOKEN}.png"]


@functools.lru_cache(maxsize=1)
def make_zip_bomb_declared() -> tuple[str, bytes]:
    """One honest member of 150 MB of zeros (~150 kB compressed): over the per-member size cap by its header."""
    return "bomb-size.zip", make_zip([("road.bmp", b"\0" * 150_000_000), ("ok.png", small_png())])


def make_zip_bomb_ratio() -> tuple[str, bytes]:
    """A 20 MB member of zeros (ratio ~1000:1), under the size cap: refused by its compression ratio."""
    return "bomb-ratio.zip", make_zip([("flat.png", b"\0" * 20_000_000), ("ok.png", small_png())])


def make_zip_bomb_lying() -> tuple[str, bytes]:
    """A member whose headers declare 4 kB but which inflates to 20 MB: never read past its declared size."""
    honest = make_zip([("liar.png", b"\0" * 20_000_000)])
    patched = bytearray(honest)
    local, central = patched.find(b"PK\x03\x04"), patched.find(b"PK\x01\x02")
    patched[local + 22 : local + 26] = struct.pack("<I", 4_000)
    patched[central + 24 : central + 28] = struct.pack("<I", 4_000)
    return "bomb-lying.zip", bytes(patched)


def make_zip_bomb_overlapping(entries: int = 200) -> tuple[str, bytes]:
    """A non-recursive ZIP bomb: ``entries`` central-directory entries all pointing at one compressed member.

    The member (5 MB, ratio ~150:1, so under both the size and the ratio caps) is stored once;
    each entry would inflate it again: 1 GB from ~40 kB.
    """
    rng = np.random.default_rng(3)
    payload = (rng.integers(0, 4, 5_000_000, dtype=np.uint8) * (rng.random(5_000_000) < 0.004)).tobytes()
    single = make_zip([("tile.bmp", payload)])
    eocd = single.rfind(b"PK\x05\x06")
    central_offset = struct.unpack("<I", single[eocd + 16 : eocd + 20])[0]
    central = single[central_offset:eocd] * entries
    end = single[eocd : eocd + 8] + struct.pack("<HHII", entries, entries, len(central), central_offset) + b"\0\0"
    return "bomb-overlap.zip", single[:central_offset] + central + end


def make_zip_many_members(count: int = 5000) -> tuple[str, bytes]:
    """Thousands of tiny members (over the per-archive member cap)."""
    png = small_png()
    return "many.zip", make_zip([(f"img/{index:05d}.png", png) for index in range(count)], zipfile.ZIP_STORED)


def make_zip_huge_file_list(entries: int = 200_000) -> tuple[str, bytes]:
    """One empty stored member listed ``entries`` times in the central directory: 10 MB, all file list.

    Parsing it would build one ``ZipInfo`` per entry (seconds and ~100 MB here; a 200 MB upload, gigabytes).
    """
    name = b"a.png"
    local = struct.pack("<4s5H3I2H", b"PK\x03\x04", 20, 0, 0, 0, 0, 0, 0, 0, len(name), 0) + name
    entry = struct.pack("<4s6H3I5H2I", b"PK\x01\x02", 20, 20, 0, 0, 0, 0, 0, 0, 0, len(name), 0, 0, 0, 0, 0, 0)
    directory = (entry + name) * entries
    end = struct.pack("<4s4H2IH", b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, len(directory), len(local), 0)
    return "huge-list.zip", local + directory + end


def make_zip_nested() -> tuple[str, bytes]:
    inner = make_zip([("inner.png", small_png())])
    return "nested.zip", make_zip([("more/inner.zip", inner), ("outer.png", small_png())])


def make_zip_corrupt() -> tuple[str, bytes]:
    """ZIP magic followed by garbage."""
    return "broken.zip", b"PK\x03\x04" + np.random.default_rng(8).bytes(500)


@dataclass(frozen=True)
class ArchiveKind:
    """One kind of ZIP and what must come out of it.

    ``archive_refusal``: text of the one-line message refusing the whole archive
    (``None`` when it is opened); ``members``: display name -> refusal text, or
    ``None`` for a member that is inspected.
    """

    kind: str
    make: Callable[[], tuple[str, bytes]]
    archive_refusal: str | None = None
    members: dict[str, str | None] = field(default_factory=dict)


ARCHIVE_KINDS: tuple[ArchiveKind, ...] = (
    ArchiveKind(
        "zip-traversal",
        make_zip_traversal,
        members={
            f"traversal.zip/up-{TOKEN}.png": None,
            f"traversal.zip/up2-{TOKEN}.png": None,
            f"traversal.zip/tmp/abs-{TOKEN}.png": None,
            f"traversal.zip/C_/Windows/win-{TOKEN}.png": None,
            "traversal.zip/photos/ok.png": None,
        },
    ),
    ArchiveKind(
        "zip-bomb-declared-size",
        make_zip_bomb_declared,
        members={"bomb-size.zip/road.bmp": "150 MB uncompressed, over the limit", "bomb-size.zip/ok.png": None},
    ),
    ArchiveKind(
        "zip-bomb-ratio",
        make_zip_bomb_ratio,
        members={"bomb-ratio.zip/flat.png": "compression ratio too high", "bomb-ratio.zip/ok.png": None},
    ),
    ArchiveKind(
        "zip-bomb-lying-header",
        make_zip_bomb_lying,
        members={"bomb-lying.zip/liar.png": "cannot be read"},
    ),
    ArchiveKind("zip-bomb-overlapping", make_zip_bomb_overlapping, archive_refusal="members overlap each other"),
    ArchiveKind("zip-5000-members", make_zip_many_members, archive_refusal="5000 files, over the limit of 1000"),
    ArchiveKind("zip-200000-entry-file-list", make_zip_huge_file_list, archive_refusal="too many files"),
    ArchiveKind(
        "zip-nested",
        make_zip_nested,
        members={"nested.zip/more/inner.zip": "nested archives are not opened", "nested.zip/outer.png": None},
    ),
    ArchiveKind("zip-corrupt", make_zip_corrupt, archive_refusal="not a readable ZIP archive"),
)


def corpus() -> list[tuple[str, bytes]]:
    """Every image kind, then every archive kind, as ``(file name, bytes)`` (names are unique)."""
    return [kind.make() for kind in IMAGE_KINDS] + [kind.make() for kind in ARCHIVE_KINDS]


def expected_outcomes(prefix: str = "") -> dict[str, str | None]:
    """For each name an inspection of ``corpus()`` yields, in order: the refusal text, or ``None`` (inspected).

    ``prefix`` goes before every file name (the CLI names files by their full path).
    """
    outcomes: dict[str, str | None] = {}
    for kind in IMAGE_KINDS:
        outcomes[prefix + kind.make()[0]] = kind.refusal
    for archive in ARCHIVE_KINDS:
        if archive.archive_refusal is not None:
            outcomes[prefix + archive.make()[0]] = archive.archive_refusal
        else:
            outcomes.update({prefix + name: refusal for name, refusal in archive.members.items()})
    return outcomes


# --------------------------------------------------------------------------- training histories and labels

RESULTS_HEADER = "epoch,train/box_loss,train/seg_loss,metrics/mAP50(M),metrics/mAP50-95(M),lr/pg0"


def good_results_rows(epochs: int = 6) -> list[str]:
    """Plausible rows for ``RESULTS_HEADER``: falling losses, rising mAP."""
    return [
        f"{epoch},{1.5 - 0.1 * epoch:.3f},{2.5 - 0.2 * epoch:.3f},{0.1 * epoch:.3f},{0.04 * epoch:.3f},0.01"
        for epoch in range(1, epochs + 1)
    ]


def results_with_some_text() -> bytes:
    """A good history whose learning rate reads ``n/a`` every other epoch: drawn, with gaps."""
    rows = [row.replace(",0.01", ",n/a") if index % 2 else row for index, row in enumerate(good_results_rows())]
    return "\n".join([RESULTS_HEADER, *rows]).encode()


@dataclass(frozen=True)
class CsvKind:
    """A results.csv upload: ``refusal`` text of the page's one-line error, or ``None`` when it is drawn."""

    kind: str
    data: bytes
    refusal: str | None = None


RESULTS_CSV_KINDS: tuple[CsvKind, ...] = (
    CsvKind("empty", b"", "empty file"),
    CsvKind("header-only", (RESULTS_HEADER + "\n").encode(), "no rows with an epoch number"),
    CsvKind("missing-metric-columns", b"epoch,time\n1,10\n2,20\n", "no metric, loss or lr columns"),
    CsvKind("missing-epoch-column", b"train/box_loss,metrics/mAP50(M)\n1.2,0.1\n1.1,0.2\n", "no 'epoch' column"),
    CsvKind(
        "text-in-every-number",
        (RESULTS_HEADER + "\none,high,high,low,low,fast\ntwo,lower,lower,better,better,slow\n").encode(),
        "no rows with an epoch number",
    ),
    CsvKind("ragged-rows", (RESULTS_HEADER + '\n1,2\n2,"unterminated\n').encode(), "not a readable CSV"),
    CsvKind("binary", b"\x89PNG\r\n\x1a\n\x00\x00binary", "binary data"),
    CsvKind(
        "oversized", (RESULTS_HEADER + "\n" + ("\n".join(good_results_rows()) + "\n") * 30_000).encode(), "too large"
    ),
    CsvKind("text-in-some-numbers", results_with_some_text(), None),
)


# Malformed YOLO segmentation label lines (appended after an image's good label lines) -> text of the message.
LABEL_LINE_KINDS: dict[str, tuple[str, str]] = {
    "text": ("0 a 0.2 0.3 0.4 0.5 0.6", "non-numeric value"),
    "odd-coordinates": ("0 0.1 0.2 0.3 0.4 0.5", "expected class and >= 3 x y pairs"),
    "box-label": ("0 0.5 0.5 0.2 0.2", "box label"),
    "out-of-range": ("0 0.1 0.2 1.9 0.4 0.3 0.9", "normalised to [0, 1]"),
    "negative-class": ("-1 0.1 0.2 0.3 0.4 0.5 0.6", "class id must be a non-negative integer"),
    "nan": ("0 nan 0.2 0.3 0.4 0.5 0.6", "normalised to [0, 1]"),
}
