"""Images and masks to file bytes (PNG, JPEG), with the encoder settings chosen once."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from crackseg.export.overlays import check_rgb


def mask_to_png_bytes(mask: np.ndarray) -> bytes:
    """``(H, W)`` bool mask -> single-channel 8-bit PNG with 0 (background) and 255 (crack)."""
    mask = np.asarray(mask)
    if mask.ndim != 2 or mask.dtype != bool:
        raise ValueError(f"mask must be (H, W) bool, got shape {mask.shape} dtype {mask.dtype}")
    buffer = io.BytesIO()
    Image.fromarray(mask.astype(np.uint8) * 255).save(buffer, format="PNG")
    return buffer.getvalue()


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
