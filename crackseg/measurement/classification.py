"""What kind of crack and how bad: orientation, type (longitudinal, transverse, diagonal, network), severity.

The rules (AASHTO R 85 orientation bands, closed cells for network cracking, ASTM
D6433 width thresholds for severity) are stated in ``crackseg.measurement.measure``.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

CRACK_TYPES = ("longitudinal", "transverse", "diagonal", "network")
SEVERITIES = ("low", "medium", "high", "unknown")
SEVERITY_RANK = {"low": 0, "medium": 1, "high": 2}


def orientation_deg(mask: np.ndarray) -> float:
    """Principal-axis angle of the mask pixels from the image vertical, in (-90, 90]; 0 when isotropic."""
    ys, xs = np.nonzero(mask)
    xs = xs - xs.mean()
    ys = ys - ys.mean()
    covariance = np.array([[np.mean(xs * xs), np.mean(xs * ys)], [np.mean(xs * ys), np.mean(ys * ys)]])
    eigenvalues, eigenvectors = np.linalg.eigh(covariance)
    if np.isclose(eigenvalues[1], eigenvalues[0], rtol=1e-6, atol=1e-9):
        return 0.0
    vx, vy = eigenvectors[:, 1]
    angle = math.degrees(math.atan2(vx, -vy))  # image y points down, so "up" is -y
    if angle > 90:
        angle -= 180
    elif angle <= -90:
        angle += 180
    return float(angle)


def has_cells(mask: np.ndarray, mean_width_px: float) -> bool:
    """True when the padded mask encloses a hole of at least ``max(4, mean_width_px ** 2)`` px."""
    # 4-connected background components, the dual of 8-connected cracks (OpenCV's label 0 is the crack itself)
    count, background, stats, _ = cv2.connectedComponentsWithStats((~mask).view(np.uint8), connectivity=4)
    if count <= 2:
        return False
    sizes = stats[:, cv2.CC_STAT_AREA]
    outside = background[0, 0]  # the 1-px pad belongs to the outside component
    holes = np.delete(sizes, [0, outside])
    return bool((holes >= max(4.0, mean_width_px**2)).any())


def crack_type_of(mask: np.ndarray, orientation_deg: float, mean_width_px: float, tolerance_deg: float) -> str:
    if has_cells(mask, mean_width_px):
        return "network"
    tilt = abs(orientation_deg)
    if tilt <= tolerance_deg:
        return "longitudinal"
    if tilt >= 90 - tolerance_deg:
        return "transverse"
    return "diagonal"


def severity_of(mean_width_mm: float | None, thresholds_mm: tuple[float, float]) -> str:
    if mean_width_mm is None:
        return "unknown"
    low, high = thresholds_mm
    if mean_width_mm < low:
        return "low"
    if mean_width_mm > high:
        return "high"
    return "medium"
