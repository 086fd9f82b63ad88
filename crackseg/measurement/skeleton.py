"""The skeleton of one crack as a graph: its length (link counting with end caps) and its widths.

Used by ``measure`` on one tightly cropped, zero-padded crack mask; the method and
its accuracy are stated in ``crackseg.measurement.measure``'s docstring.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

SQRT2 = math.sqrt(2.0)


def distance_transform(mask: np.ndarray) -> np.ndarray:
    """``(h, w)`` float64 exact Euclidean distance of each pixel centre to the nearest background centre.

    The same values as ``scipy.ndimage.distance_transform_edt`` (bit for bit), several times faster: OpenCV's
    exact transform (Felzenszwalb) in float32, snapped back to ``sqrt`` of the integer squared distance. The
    mask must have background on its border (the crop is padded), as OpenCV treats outside as foreground.
    """
    distance = cv2.distanceTransform(mask.view(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    return np.sqrt(np.rint(np.square(distance, dtype=np.float64)))


def skeleton_links(skeleton: np.ndarray) -> dict[tuple[int, int], np.ndarray]:
    """Links of the skeleton graph by offset ``(dy, dx)``: bool arrays marking the link's first pixel.

    Diagonal links whose pixels share a skeleton 4-neighbour are dropped (the staircase corner is already
    connected through that neighbour). The skeleton must not touch the array border (the crop is padded).
    """
    s = skeleton
    right = np.zeros_like(s)
    right[:, :-1] = s[:, :-1] & s[:, 1:]
    down = np.zeros_like(s)
    down[:-1, :] = s[:-1, :] & s[1:, :]
    down_right = np.zeros_like(s)
    down_right[:-1, :-1] = s[:-1, :-1] & s[1:, 1:] & ~(s[:-1, 1:] | s[1:, :-1])
    down_left = np.zeros_like(s)
    down_left[:-1, 1:] = s[:-1, 1:] & s[1:, :-1] & ~(s[:-1, :-1] | s[1:, 1:])
    return {(0, 1): right, (1, 0): down, (1, 1): down_right, (1, -1): down_left}


def degree(links: dict[tuple[int, int], np.ndarray], shape: tuple[int, int]) -> np.ndarray:
    """``(h, w)`` int: number of kept links at each pixel."""
    degree = np.zeros(shape, dtype=np.int32)
    for (dy, dx), starts in links.items():
        degree += starts
        degree += np.roll(starts, (dy, dx), axis=(0, 1))  # the link's second pixel; no wrap (padded crop)
    return degree


def prune_spurs(
    skeleton: np.ndarray,
    edt: np.ndarray,
    *,
    links: dict[tuple[int, int], np.ndarray] | None = None,
    degree: np.ndarray | None = None,
) -> np.ndarray:
    """Copy of ``skeleton`` without spurs: end branches shorter than the crack's full width where they join.

    Thinning turns every bump of a ragged boundary into a short branch running from the centre line to the
    edge. A branch from an endpoint to a junction (3+ links) whose length is below ``2 * edt(junction)`` stays
    inside the crack's own width there, so it is boundary noise rather than a branch crack; one pass.
    """
    if links is None or degree is None:  # the caller's graph of this skeleton saves rebuilding it
        links = skeleton_links(skeleton)
        degree = degree(links, skeleton.shape)
    if not (degree >= 3).any():
        return skeleton
    pruned = skeleton.copy()
    limit = 2 * float(edt.max())  # no spur can be longer; bounds each walk
    for y, x in zip(*np.nonzero(skeleton & (degree == 1)), strict=True):
        branch, length, previous, current = [], 0.0, None, (int(y), int(x))
        while degree[current] <= 2 and length < limit:
            branch.append(current)
            steps = [step for step in linked(links, current) if step != previous]
            if not steps:  # a free segment ending in another endpoint: not a spur
                break
            previous, current = current, steps[0]
            length += 1.0 if previous[0] == current[0] or previous[1] == current[1] else SQRT2
        else:
            if degree[current] >= 3 and length < 2 * edt[current]:
                for pixel in branch:
                    pruned[pixel] = False
    return pruned


def linked(links: dict[tuple[int, int], np.ndarray], pixel: tuple[int, int]) -> list[tuple[int, int]]:
    """Pixels joined to ``pixel`` by a kept skeleton link."""
    y, x = pixel
    found = []
    for (dy, dx), starts in links.items():
        if starts[y, x]:
            found.append((y + dy, x + dx))
        if starts[y - dy, x - dx]:
            found.append((y - dy, x - dx))
    return found


def length(
    links: dict[tuple[int, int], np.ndarray], degree: np.ndarray, skeleton: np.ndarray, edt: np.ndarray
) -> float:
    """Skeleton length in px: links (1 or sqrt 2) plus ``edt - 0.5`` per endpoint (twice for a lone pixel)."""
    straight = np.count_nonzero(links[(0, 1)]) + np.count_nonzero(links[(1, 0)])
    diagonal = np.count_nonzero(links[(1, 1)]) + np.count_nonzero(links[(1, -1)])
    ends = (edt[skeleton & (degree == 1)] - 0.5).sum() + 2 * (edt[skeleton & (degree == 0)] - 0.5).sum()
    return float(straight + SQRT2 * diagonal + ends)


def widths(skeleton: np.ndarray, edt: np.ndarray) -> np.ndarray:
    """Full width at each skeleton pixel (raster order of ``skeleton``), see the module docstring.

    Only a 4-neighbour pair lying across the skeleton (both pixels off it) is used for the half-pixel
    correction, so a neighbour further along the crack never widens it. Computed at the skeleton pixels only.
    """
    padded_edt = np.pad(edt, 1)
    padded_skeleton = np.pad(skeleton, 1)
    ys, xs = np.nonzero(skeleton)
    ys, xs = ys + 1, xs + 1  # in padded coordinates
    neighbour = np.zeros(ys.size, dtype=np.float64)
    for dy, dx in ((1, 0), (0, 1)):  # (above, below), (left, right)
        first, second = (ys - dy, xs - dx), (ys + dy, xs + dx)
        across = ~padded_skeleton[first] & ~padded_skeleton[second]
        pair = np.maximum(padded_edt[first], padded_edt[second])
        neighbour = np.maximum(neighbour, np.where(across, pair, 0.0))
    centre = edt[skeleton]
    return np.clip(centre + neighbour, 2 * centre - 1, 2 * centre)


def trimmed_widths(skeleton: np.ndarray, degree: np.ndarray, edt: np.ndarray, widths: np.ndarray) -> np.ndarray:
    """Widths of skeleton pixels outside the end caps (closer than ``edt(end)`` to an endpoint); all if none left."""
    ends_y, ends_x = np.nonzero(skeleton & (degree <= 1))
    if ends_y.size == 0:
        return widths
    caps = np.zeros(skeleton.shape, dtype=np.uint8)
    for y, x in zip(ends_y.tolist(), ends_x.tolist(), strict=True):
        radius = max(int(math.ceil(edt[y, x])) - 1, 0)
        cv2.circle(caps, (x, y), radius, 1, thickness=-1)
    keep = caps[skeleton] == 0
    return widths[keep] if keep.any() else widths
