"""Overlays: the cracks (or the errors against ground truth) drawn on a copy of the photo.

Drawing functions return a NEW ``uint8 (H, W, 3)`` RGB image and never change
their input. Text is drawn with OpenCV's built-in Hershey font (no font files).
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from crackseg.inference.prediction import CrackPrediction

CRACK_COLOR_RGB = (255, 64, 0)
# Okabe-Ito-like colours, distinguishable with the common colour-vision deficiencies.
TP_COLOR_RGB = (0, 158, 115)  # bluish green: crack found
FP_COLOR_RGB = (204, 0, 153)  # magenta: predicted, not in the ground truth
FN_COLOR_RGB = (0, 114, 178)  # blue: missed crack


def check_rgb(rgb: np.ndarray) -> None:
    if not isinstance(rgb, np.ndarray) or rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        shape = getattr(rgb, "shape", None)
        dtype = getattr(rgb, "dtype", type(rgb).__name__)
        raise ValueError(f"rgb must be (H, W, 3) uint8, got shape {shape} dtype {dtype}")


def _check_mask(mask: np.ndarray, shape: tuple[int, int], name: str) -> np.ndarray:
    mask = np.asarray(mask)
    if mask.shape != shape:
        raise ValueError(f"{name} must be {shape} to match the image, got {mask.shape}")
    if mask.dtype != bool:
        raise ValueError(f"{name} must be bool, got dtype {mask.dtype}")
    return mask


def _check_alpha(alpha: float) -> float:
    if not (isinstance(alpha, (int, float)) and 0.0 <= alpha <= 1.0):
        raise ValueError(f"alpha must be in [0, 1], got {alpha!r}")
    return float(alpha)


def _tint(out: np.ndarray, mask: np.ndarray, color_rgb: tuple[int, int, int], alpha: float) -> None:
    """Blend ``color_rgb`` into ``out`` (a private working copy) where ``mask`` is True."""
    if not mask.any():
        return
    pixels = out[mask].astype(np.float32)
    blended = pixels * (1.0 - alpha) + np.asarray(color_rgb, np.float32) * alpha
    out[mask] = np.clip(np.rint(blended), 0, 255).astype(np.uint8)


def _line_thickness(shape: tuple[int, ...]) -> int:
    return max(1, int(round(min(shape[0], shape[1]) / 500)))


def draw_overlay(
    rgb: np.ndarray,
    prediction: CrackPrediction,
    *,
    alpha: float = 0.5,
    show_boxes: bool = True,
    show_ids: bool = True,
    crack_ids: Sequence[int] | None = None,
) -> np.ndarray:
    """Draw predicted cracks on a copy of ``rgb`` ``(H, W, 3)`` uint8; returns a new array of the same shape.

    Mask pixels are blended with ``CRACK_COLOR_RGB`` at ``alpha`` (pixels off
    every mask are untouched unless boxes/ids are drawn), each instance gets a
    1-px outline on its own edge pixels, and optionally its box and id label. Ids default to
    ``i + 1`` for instance ``i``, as ``measure_prediction`` numbers them.
    Raises ``ValueError`` when the image, the masks or ``crack_ids`` do not match.
    """
    check_rgb(rgb)
    alpha = _check_alpha(alpha)
    height, width = rgb.shape[:2]
    if prediction.resolution_wh != (width, height):
        raise ValueError(f"prediction is for {prediction.resolution_wh} (w, h) but the image is {(width, height)}")
    ids = list(range(1, len(prediction) + 1)) if crack_ids is None else [int(value) for value in crack_ids]
    if len(ids) != len(prediction):
        raise ValueError(f"crack_ids has {len(ids)} entries for {len(prediction)} cracks")

    out = np.ascontiguousarray(rgb.copy())
    _tint(out, prediction.union_mask, CRACK_COLOR_RGB, alpha)
    thickness = _line_thickness(out.shape)
    for mask in prediction.masks:
        contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        cv2.drawContours(out, contours, -1, CRACK_COLOR_RGB, thickness=1)
    for index in range(len(prediction)):
        x1, y1, x2, y2 = (int(round(value)) for value in prediction.xyxy[index])
        if show_boxes:
            cv2.rectangle(out, (x1, y1), (max(x1, x2 - 1), max(y1, y2 - 1)), CRACK_COLOR_RGB, thickness)
        if show_ids:
            _draw_label(out, f"#{ids[index]}", (x1, y1), thickness)
    return out


def _draw_label(out: np.ndarray, text: str, top_left_xy: tuple[int, int], thickness: int) -> None:
    """White text on a crack-coloured tag just above (or inside, at the top edge) ``top_left_xy``."""
    scale = 0.4 * thickness + 0.1
    (text_w, text_h), baseline = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
    height, width = out.shape[:2]
    x = min(max(top_left_xy[0], 0), max(width - text_w - 4, 0))
    y_top = top_left_xy[1] - text_h - baseline - 4
    if y_top < 0:
        y_top = min(max(top_left_xy[1], 0), max(height - text_h - baseline - 4, 0))
    cv2.rectangle(out, (x, y_top), (x + text_w + 4, y_top + text_h + baseline + 4), CRACK_COLOR_RGB, -1)
    origin = (x + 2, y_top + text_h + 2)
    cv2.putText(out, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), thickness, cv2.LINE_AA)


def draw_error_overlay(
    rgb: np.ndarray, pred_mask: np.ndarray, truth_mask: np.ndarray, *, alpha: float = 0.6
) -> np.ndarray:
    """Colour true positives, false positives and misses on a copy of ``rgb`` ``(H, W, 3)`` uint8.

    ``pred_mask`` and ``truth_mask`` are ``(H, W)`` bool. TP pixels get
    ``TP_COLOR_RGB``, FP ``FP_COLOR_RGB``, FN ``FN_COLOR_RGB``, each blended at
    ``alpha`` (1.0 paints the exact colour); true negatives are untouched.
    Returns a new ``(H, W, 3)`` uint8 array.
    """
    check_rgb(rgb)
    alpha = _check_alpha(alpha)
    shape = rgb.shape[:2]
    pred = _check_mask(pred_mask, shape, "pred_mask")
    truth = _check_mask(truth_mask, shape, "truth_mask")
    out = rgb.copy()
    _tint(out, pred & truth, TP_COLOR_RGB, alpha)
    _tint(out, pred & ~truth, FP_COLOR_RGB, alpha)
    _tint(out, ~pred & truth, FN_COLOR_RGB, alpha)
    return out


def downscale_to_fit(rgb: np.ndarray, max_side_px: int) -> np.ndarray:
    """``rgb`` ``(H, W, 3)`` uint8 shrunk (area interpolation) so its longer side is at most ``max_side_px``.

    Returns the input itself when it already fits, else a new array.
    """
    height, width = rgb.shape[:2]
    scale = max_side_px / max(height, width)
    if scale >= 1:
        return rgb
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)


REGION_COLOR_RGB = (0, 114, 178)  # blue: the street view's inspected road region


def draw_region_outline(rgb: np.ndarray, corners_px: np.ndarray) -> np.ndarray:
    """A copy of ``rgb`` with the street view's road region (four frame points) outlined, so users see what
    was inspected and that nothing outside it is reported."""
    check_rgb(rgb)
    out = rgb.copy()
    points = np.round(np.asarray(corners_px, dtype=np.float64) * 16).astype(np.int32).reshape(-1, 1, 2)
    cv2.polylines(out, [points], True, REGION_COLOR_RGB, _line_thickness(rgb.shape), cv2.LINE_AA, shift=4)
    return out
