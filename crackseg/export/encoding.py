"""Images and masks to file bytes (PNG, JPEG), with the encoder settings chosen once."""

from __future__ import annotations

import io

import cv2
import numpy as np
from PIL import Image

from crackseg.export.overlays import check_rgb

PNG_MASK_COMPRESSION = 1  # zlib level: masks are mostly zeros, level 1 is about as small and several times faster
JPEG_OVERLAY_QUALITY = 90


def mask_to_png_bytes(mask: np.ndarray) -> bytes:
    """``(H, W)`` bool mask -> single-channel 8-bit PNG with 0 (background) and 255 (crack), lossless.

    OpenCV's encoder (it releases the GIL, so a writer thread runs beside inference) at low compression.
    """
    mask = np.asarray(mask)
    if mask.ndim != 2 or mask.dtype != bool:
        raise ValueError(f"mask must be (H, W) bool, got shape {mask.shape} dtype {mask.dtype}")
    ok, encoded = cv2.imencode(".png", mask.astype(np.uint8) * 255, [cv2.IMWRITE_PNG_COMPRESSION, PNG_MASK_COMPRESSION])
    if not ok:
        raise ValueError("PNG encoding of the mask failed")
    return encoded.tobytes()


def overlay_jpeg_bytes(rgb: np.ndarray, quality: int = JPEG_OVERLAY_QUALITY) -> bytes:
    """An overlay ``(H, W, 3)`` uint8 RGB -> JPEG: overlays are for looking at, so the fast lossy encoder
    (several times faster than PNG on photos, and smaller); the mask PNG is the exact result."""
    check_rgb(rgb)
    if not (isinstance(quality, int) and 1 <= quality <= 100):
        raise ValueError(f"quality must be an int in [1, 100], got {quality!r}")
    ok, encoded = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("JPEG encoding of the overlay failed")
    return encoded.tobytes()


def rgb_to_png_bytes(rgb: np.ndarray) -> bytes:
    """``(H, W, 3)`` uint8 RGB -> PNG bytes (lossless)."""
    check_rgb(rgb)
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb)).save(buffer, format="PNG")
    return buffer.getvalue()


def rgb_to_jpeg_bytes(rgb: np.ndarray, quality: int = 90) -> bytes:
    """``(H, W, 3)`` uint8 RGB -> JPEG bytes at ``quality`` (1..100)."""
    check_rgb(rgb)
    if not (isinstance(quality, int) and 1 <= quality <= 100):
        raise ValueError(f"quality must be an int in [1, 100], got {quality!r}")
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb)).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()
