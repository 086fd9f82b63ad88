"""Safe image loading (crackseg.io.image_io): every format and mode, EXIF, bombs and broken files.

Every input is generated here with Pillow, so each test knows the pixels it expects.
"""

from __future__ import annotations

import io
import random
import struct
import time
import tracemalloc
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from crackseg.core.errors import ImageLoadError
from crackseg.io.image_io import load_image


def encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def gradient_rgb(height: int = 24, width: int = 32) -> np.ndarray:
    """Smooth colour ramps (lossy codecs keep them within a few grey levels)."""
    ys, xs = np.mgrid[:height, :width]
    return np.stack([xs * 255 // (width - 1), ys * 255 // (height - 1), np.full_like(xs, 90)], axis=-1).astype(np.uint8)


def png_header_only(width: int, height: int) -> bytes:
    """A valid PNG signature + IHDR claiming ``width`` x ``height`` RGB, with a tiny IDAT: a decompression bomb."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 1000)) + chunk(b"IEND", b"")
    )


def load_error(source: bytes | Path, **kwargs: object) -> str:
    with pytest.raises(ImageLoadError) as caught:
        load_image(source, **kwargs)
    message = str(caught.value)
    assert "\n" not in message and message.strip() == message and message
    return message


# --- formats ------------------------------------------------------------------------------------------------

LOSSLESS = [("PNG", {}), ("BMP", {}), ("TIFF", {}), ("TIFF", {"compression": "tiff_lzw"}), ("WEBP", {"lossless": True})]


@pytest.mark.parametrize(("fmt", "options"), LOSSLESS, ids=lambda v: str(v))
def test_lossless_formats_round_trip_exactly(fmt: str, options: dict) -> None:
    rgb = gradient_rgb()
    out = load_image(encode(Image.fromarray(rgb), fmt, **options))
    assert out.dtype == np.uint8 and out.shape == (24, 32, 3) and out.flags["C_CONTIGUOUS"]
    np.testing.assert_array_equal(out, rgb)


@pytest.mark.parametrize(("fmt", "options"), [("JPEG", {"quality": 95}), ("WEBP", {"quality": 95})])
def test_lossy_formats_round_trip_closely(fmt: str, options: dict) -> None:
    rgb = gradient_rgb()
    out = load_image(encode(Image.fromarray(rgb), fmt, **options))
    assert out.shape == rgb.shape and out.dtype == np.uint8
    assert np.abs(out.astype(int) - rgb).mean() < 4


def test_path_and_bytes_give_the_same_pixels(tmp_path: Path) -> None:
    path = tmp_path / "road.png"
    path.write_bytes(encode(Image.fromarray(gradient_rgb()), "PNG"))
    np.testing.assert_array_equal(load_image(path), load_image(path.read_bytes()))
    np.testing.assert_array_equal(load_image(str(path)), gradient_rgb())


# --- EXIF orientation ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("orientation", "shape", "marker_corner"),
    [
        (1, (20, 30), "top_left"),  # stored as shown
        (3, (20, 30), "bottom_right"),  # rotated 180
        (6, (30, 20), "top_right"),  # camera held rotated: display = stored turned 90 degrees clockwise
        (8, (30, 20), "bottom_left"),  # display = stored turned 90 degrees counter-clockwise
    ],
)
def test_exif_orientation_is_applied(orientation: int, shape: tuple[int, int], marker_corner: str) -> None:
    stored = np.full((20, 30, 3), 128, dtype=np.uint8)
    stored[:6, :6] = (255, 0, 0)  # red marker in the stored top-left corner
    exif = Image.Exif()
    exif[0x0112] = orientation
    out = load_image(encode(Image.fromarray(stored), "JPEG", quality=95, exif=exif.tobytes()))
    assert out.shape[:2] == shape
    corners = {
        "top_left": out[1, 1],
        "top_right": out[1, -2],
        "bottom_left": out[-2, 1],
        "bottom_right": out[-2, -2],
    }
    for corner, pixel in corners.items():
        is_red = pixel[0] > 200 and pixel[1] < 60 and pixel[2] < 60
        assert is_red == (corner == marker_corner), (corner, pixel)


# --- pixel modes --------------------------------------------------------------------------------------------


def test_grayscale_becomes_three_equal_channels() -> None:
    gray = np.arange(24 * 32, dtype=np.uint16).reshape(24, 32) % 256
    out = load_image(encode(Image.fromarray(gray.astype(np.uint8), "L"), "PNG"))
    assert out.shape == (24, 32, 3)
    for channel in range(3):
        np.testing.assert_array_equal(out[:, :, channel], gray)


def test_bilevel_image_is_black_and_white() -> None:
    bits = Image.new("1", (16, 16), 0)
    bits.paste(1, (0, 0, 8, 16))
    out = load_image(encode(bits, "PNG"))
    assert (out[:, :8] == 255).all() and (out[:, 8:] == 0).all()


@pytest.mark.parametrize(
    ("mode", "fill", "expected_rgb"),
    [
        ("RGBA", (10, 200, 30, 0), (10, 200, 30)),  # fully transparent: colour kept, alpha dropped
        ("RGBA", (10, 200, 30, 128), (10, 200, 30)),
        ("LA", (77, 0), (77, 77, 77)),
    ],
)
def test_alpha_is_dropped_and_colour_kept(mode: str, fill: tuple[int, ...], expected_rgb: tuple[int, int, int]) -> None:
    out = load_image(encode(Image.new(mode, (16, 16), fill), "PNG"))
    assert out.shape == (16, 16, 3)
    assert (out == expected_rgb).all()


def test_palette_image_gives_its_colours() -> None:
    rgb = np.zeros((16, 16, 3), dtype=np.uint8)
    rgb[:, :8] = (10, 200, 30)
    rgb[:, 8:] = (250, 5, 120)
    palette = Image.fromarray(rgb).convert("P", palette=Image.Palette.ADAPTIVE, colors=4)
    data = encode(palette, "PNG")
    assert Image.open(io.BytesIO(data)).mode == "P"
    np.testing.assert_array_equal(load_image(data), rgb)


def test_palette_with_transparency_keeps_colour() -> None:
    palette = Image.new("P", (16, 16), 1)
    palette.putpalette([0, 0, 0, 40, 90, 200] + [0] * 762)
    data = encode(palette, "PNG", transparency=1)
    assert (load_image(data) == (40, 90, 200)).all()


def test_cmyk_jpeg_is_converted_to_rgb() -> None:
    data = encode(Image.new("CMYK", (16, 16), (0, 255, 255, 0)), "JPEG", quality=95)  # pure red in CMYK
    assert Image.open(io.BytesIO(data)).mode == "CMYK"
    red, green, blue = load_image(data)[8, 8].astype(int)
    assert red > 240 and green < 15 and blue < 15


@pytest.mark.parametrize("fmt", ["PNG", "TIFF"])
def test_16_bit_images_are_scaled_not_clipped(fmt: str) -> None:
    values = np.zeros((10, 12), dtype=np.uint16)
    values[:, 4:8] = 32768
    values[:, 8:] = 65535
    data = encode(Image.fromarray(values), fmt)
    assert Image.open(io.BytesIO(data)).mode.startswith("I;16")
    out = load_image(data)
    assert (out[:, :4] == 0).all()
    assert (np.abs(out[:, 4:8].astype(int) - 128) <= 1).all()  # mid-grey, not clipped to white
    assert (out[:, 8:] == 255).all()
    assert (out[..., 0] == out[..., 2]).all()


def test_16_bit_ramp_keeps_its_order() -> None:
    ramp = np.tile(np.linspace(0, 65535, 64).astype(np.uint16), (8, 1))
    out = load_image(encode(Image.fromarray(ramp), "PNG"))[0, :, 0].astype(int)
    assert out[0] == 0 and out[-1] == 255
    assert np.all(np.diff(out) >= 0) and len(np.unique(out)) > 50


def test_animated_gif_gives_its_first_frame() -> None:
    frames = [Image.new("RGB", (16, 16), colour) for colour in ((255, 0, 0), (0, 0, 255), (0, 255, 0))]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100)
    assert Image.open(io.BytesIO(data)).n_frames == 3
    assert (load_image(data) == (255, 0, 0)).all()


# --- size caps ------------------------------------------------------------------------------------------------


def test_pixel_cap_is_checked_before_decoding() -> None:
    bomb = png_header_only(40_000, 40_000)  # 1.6 Gpx claimed, 74 bytes on disk
    assert len(bomb) < 200
    tracemalloc.start()
    started = time.perf_counter()
    try:
        message = load_error(bomb)
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert "40000x40000" in message and "Mpx" in message
    assert elapsed < 1.0
    assert peak < 50 * 2**20  # a decode would need 4.8 GB


def test_pixel_cap_is_configurable() -> None:
    data = encode(Image.fromarray(gradient_rgb(100, 100)), "PNG")  # 10,000 px
    assert load_image(data, max_pixels=10_000).shape == (100, 100, 3)
    assert "Mpx" in load_error(data, max_pixels=9_999)


@pytest.mark.parametrize(
    ("size_wh", "expected"),
    [
        ((1, 1), "1x1"),
        ((100_000, 3), "100000x3"),
        ((3, 100_000), "3x100000"),
        ((2000, 10), "aspect ratio"),
    ],
)
def test_degenerate_sizes_are_refused_with_a_clear_message(size_wh: tuple[int, int], expected: str) -> None:
    message = load_error(encode(Image.new("L", size_wh), "PNG"), name="sliver.png")
    assert message.startswith("sliver.png: ") and expected in message


# --- broken inputs ------------------------------------------------------------------------------------------


def test_bad_bytes_give_one_line_errors() -> None:
    jpeg = encode(Image.fromarray(gradient_rgb(64, 64)), "JPEG")
    png = encode(Image.fromarray(gradient_rgb(64, 64)), "PNG")
    cases = {
        b"this is not an image at all": "not an image",
        b"": "empty",
        jpeg[: len(jpeg) // 2]: "truncated",
        png[: len(png) // 2]: "truncated",
        encode(Image.new("RGB", (16, 16)), "PPM"): "not supported",
    }
    for data, expected in cases.items():
        message = load_error(data, name="upload.jpg")
        assert message.startswith("upload.jpg: ") and expected in message, message


def test_text_file_named_jpg_is_refused_by_name(tmp_path: Path) -> None:
    path = tmp_path / "holiday.jpg"
    path.write_text("just some text\nwith two lines\n")
    assert load_error(path) == "holiday.jpg: not an image (or an unsupported format)"


@pytest.mark.parametrize(("is_folder", "expected"), [(False, "file not found"), (True, "is a folder, not an image")])
def test_unreadable_paths(tmp_path: Path, is_folder: bool, expected: str) -> None:
    path = tmp_path / "photo.png"
    if is_folder:
        path.mkdir()
    assert load_error(path) == f"photo.png: {expected}"


def test_randomly_damaged_files_never_escape_as_other_errors() -> None:
    """Flipped header bytes and cut-offs: either a valid RGB image or an ImageLoadError, nothing else."""
    source = Image.fromarray((np.random.default_rng(0).random((24, 30, 3)) * 255).astype(np.uint8))
    exif = Image.Exif()
    exif[0x0112] = 6
    seeds = [
        encode(source, "JPEG", exif=exif.tobytes()),
        encode(source, "PNG"),
        encode(source, "BMP"),
        encode(source, "TIFF"),
        encode(source, "WEBP"),
        encode(source, "GIF"),
    ]
    rng = random.Random(7)
    for seed in seeds:
        for _ in range(40):
            data = bytearray(seed)
            for _ in range(rng.randint(1, 4)):
                data[rng.randrange(min(len(data), 200))] = rng.randrange(256)
            if rng.random() < 0.3:
                data = data[: rng.randrange(1, len(data))]
            try:
                out = load_image(bytes(data))
            except ImageLoadError as error:
                assert "\n" not in str(error)
            else:
                assert out.dtype == np.uint8 and out.ndim == 3 and out.shape[2] == 3


@pytest.fixture(scope="module")
def ultralytics_imported() -> None:
    """Import Ultralytics outside any captured output (its logger keeps the stdout it finds at import)."""
    from crackseg.core.offline import enforce_offline

    enforce_offline()
    import ultralytics.utils.patches  # noqa: F401 - the import patches PIL.Image.open


def test_non_image_is_refused_quietly_after_ultralytics_patched_pillow(
    ultralytics_imported: None, capfd: pytest.CaptureFixture[str]
) -> None:
    """Ultralytics' ``Image.open`` wrapper warns about a HEIF plugin on every non-image; the loader avoids it."""
    if Image.open.__module__ == Image.__name__:
        pytest.skip("this Ultralytics version does not patch PIL.Image.open")
    capfd.readouterr()
    for _ in range(2):
        message = load_error(b"plain text, no image", name="notes.jpg")
        assert message == "notes.jpg: not an image (or an unsupported format)"
    out, err = capfd.readouterr()
    assert "heif" not in (out + err).lower()
    assert load_image(encode(Image.fromarray(gradient_rgb()), "PNG")).shape == (24, 32, 3)
