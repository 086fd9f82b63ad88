"""Safe image loading: bytes or a path in, RGB ``uint8 (H, W, 3)`` out, or one clear error.

Every image in the product (uploads, CLI inputs, dataset images) enters here,
so the checks live in one place:

- the header is read first and the pixel count checked *before* decoding,
  so a decompression bomb is refused without allocating it;
- EXIF orientation is applied, so cracks are measured the right way up;
- grayscale, RGBA/LA (alpha dropped), CMYK, palette and 16-bit images are
  converted; 16-bit data is scaled by 1/257 (full range kept), not clipped;
- any failure is an ``ImageLoadError`` whose message is one line.
"""

from __future__ import annotations

import io
import sys
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from crackseg.core.errors import ImageLoadError

DEFAULT_MAX_PIXELS = 60_000_000
SUPPORTED_FORMATS = ("JPEG", "PNG", "BMP", "TIFF", "WEBP", "GIF", "MPO")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".gif")
MIN_SIDE_PX = 8
MAX_ASPECT_RATIO = 100.0

# Pillow's own bomb guard would raise a different error type at a different
# threshold; we check ourselves, before decode, with the configured cap.
Image.MAX_IMAGE_PIXELS = None


def _pillow_open() -> Callable[..., Image.Image]:
    """Pillow's own ``Image.open``, even after Ultralytics has replaced it.

    On import Ultralytics swaps ``PIL.Image.open`` for a wrapper that, for every
    file Pillow cannot identify, checks for an optional HEIF plugin and logs a
    warning about it. A non-image upload should get Pillow's plain answer,
    quickly and without that noise (HEIF is not a supported format here anyway).
    """
    opener = Image.open
    if getattr(opener, "__module__", Image.__name__) != Image.__name__:
        patches = sys.modules.get("ultralytics.utils.patches")
        opener = getattr(patches, "_image_open", opener)
    return opener


def read_image_bytes(path: Path | str) -> bytes:
    """Read a file's bytes, turning OS errors into ``ImageLoadError``."""
    path = Path(path)
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise ImageLoadError(f"{path.name}: file not found") from None
    except IsADirectoryError:
        raise ImageLoadError(f"{path.name}: is a folder, not an image") from None
    except OSError as error:
        raise ImageLoadError(f"{path.name}: cannot be read ({error.strerror or error})") from None


def load_image(
    source: bytes | bytearray | Path | str,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    name: str | None = None,
) -> np.ndarray:
    """Decode an image into RGB ``uint8`` of shape ``(H, W, 3)``.

    ``source`` is the file's bytes or a path. ``max_pixels`` caps width x height,
    checked from the header before the pixels are decoded. ``name`` is used in
    error messages (defaults to the file name, or "image").
    Raises ``ImageLoadError`` with a one-line message on any problem.
    """
    if isinstance(source, (str, Path)):
        label = name or Path(source).name
        data = read_image_bytes(source)
    else:
        label = name or "image"
        data = bytes(source)
    if not data:
        raise ImageLoadError(f"{label}: empty file (0 bytes)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with _pillow_open()(io.BytesIO(data)) as image:
                _check_header(image, label, max_pixels)
                image.load()
                image = ImageOps.exif_transpose(image) or image
                return _to_rgb_uint8(image, label)
    except ImageLoadError:
        raise
    except (UnidentifiedImageError, ImportError):
        # ImportError: once Ultralytics is imported, its patched Image.open tries to import pi_heif
        # (HEIC support, not installed) on any file Pillow cannot identify, instead of raising.
        raise ImageLoadError(f"{label}: not an image (or an unsupported format)") from None
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        if "truncated" in reason.lower() or isinstance(error, EOFError):
            raise ImageLoadError(f"{label}: the file is truncated or damaged") from None
        raise ImageLoadError(f"{label}: cannot decode image ({reason[:120]})") from None
    except MemoryError:
        raise ImageLoadError(f"{label}: image too large to decode in memory") from None


def _check_header(image: Image.Image, label: str, max_pixels: int) -> None:
    """Refuse unsupported formats, bombs, slivers and degenerate sizes before decoding."""
    if image.format not in SUPPORTED_FORMATS:
        raise ImageLoadError(f"{label}: {image.format or 'unknown'} images are not supported")
    width, height = image.size
    if width <= 0 or height <= 0:
        raise ImageLoadError(f"{label}: image has no pixels ({width}x{height})")
    if width * height > max_pixels:
        raise ImageLoadError(
            f"{label}: image is {width}x{height} = {width * height / 1e6:.1f} Mpx, "
            f"over the {max_pixels / 1e6:.0f} Mpx limit"
        )
    if min(width, height) < MIN_SIDE_PX:
        raise ImageLoadError(f"{label}: image is {width}x{height}, too small to inspect (min {MIN_SIDE_PX} px a side)")
    if max(width, height) / min(width, height) > MAX_ASPECT_RATIO:
        raise ImageLoadError(f"{label}: image is {width}x{height}, aspect ratio over {MAX_ASPECT_RATIO:.0f}:1")


def _to_rgb_uint8(image: Image.Image, label: str) -> np.ndarray:
    """Convert any decoded Pillow mode to RGB uint8; 16-bit and float data are scaled, not clipped."""
    mode = image.mode
    if mode in {"I;16", "I;16B", "I;16L", "I;16N", "I", "F"}:
        array = np.asarray(image, dtype=np.float64)
        if mode == "F":
            low, high = float(np.nanmin(array)), float(np.nanmax(array))
            scaled = (array - low) / (high - low) * 255.0 if high > low else np.zeros_like(array)
        elif mode == "I" and array.max(initial=0) > 65535:
            scaled = array / max(array.max(), 1.0) * 255.0
        else:
            scaled = array / 257.0
        gray = np.clip(np.rint(scaled), 0, 255).astype(np.uint8)
        return np.ascontiguousarray(np.stack([gray] * 3, axis=-1))
    if mode in {"RGBA", "LA", "PA", "RGBa", "La"}:
        image = image.convert("RGBA").convert("RGB")  # alpha dropped, colour kept
    elif mode == "P":
        image = image.convert("RGBA").convert("RGB")
    elif mode != "RGB":
        image = image.convert("RGB")  # L, 1, CMYK, YCbCr, LAB, HSV
    array = np.asarray(image)
    if array.dtype != np.uint8 or array.ndim != 3 or array.shape[2] != 3:
        raise ImageLoadError(f"{label}: unsupported pixel layout ({mode})")
    return np.ascontiguousarray(array)
