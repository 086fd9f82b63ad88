"""Tiled inference for photos larger than the model input.

A 4000x3000 road photo squashed to 416 px loses every hairline crack, so
large images are cut into overlapping tiles at full resolution, each tile is
predicted (in batches, through a callback), and instances that continue across
tile borders are merged into one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from crackseg.core.grouping import linked_groups
from crackseg.inference.prediction import CrackPrediction

PredictBatch = Callable[[Sequence[np.ndarray]], list[CrackPrediction]]


@dataclass(frozen=True)
class TileWindow:
    """A tile's position in the full image: ``x0, y0`` top-left, ``x1, y1`` exclusive."""

    x0: int
    y0: int
    x1: int
    y1: int


def tile_starts(length: int, tile: int, step: int) -> list[int]:
    """Start offsets covering ``[0, length)`` with tiles of ``tile`` px every ``step`` px; the last tile ends flush."""
    if length <= tile:
        return [0]
    starts = list(range(0, length - tile, step))
    starts.append(length - tile)
    return starts


@dataclass(frozen=True)
class _Piece:
    """One instance from one tile, kept as a crop so merging never holds full-size masks."""

    x0: int
    y0: int
    mask: np.ndarray  # (h, w) bool crop
    confidence: float
    tile: int  # index of the tile it came from (-1 once merged across tiles)


class TiledPredictor:
    """Predict a large image tile by tile and merge instances across tiles.

    ``predict_batch`` maps a list of RGB tiles to one ``CrackPrediction`` per tile
    (masks at tile size). Tiles are ``tile_size`` px squares overlapping by
    ``overlap_ratio``; up to ``batch_size`` go through one call. Instances of
    *different* tiles whose masks share (within 1 px) at least ``merge_overlap``
    of the smaller one's pixels are merged into one crack, with the higher
    confidence. Two instances of the same tile are never merged with each other
    directly: overlapping instances the model keeps apart within one view stay
    apart, as they would without tiling.
    Merging relies on the shared band: with ``overlap_ratio=0`` a crack cut by a
    tile border stays in two pieces.
    """

    def __init__(
        self,
        predict_batch: PredictBatch,
        *,
        tile_size: int = 640,
        overlap_ratio: float = 0.2,
        batch_size: int = 8,
        merge_overlap: float = 0.1,
    ) -> None:
        if tile_size < 64:
            raise ValueError(f"tile_size must be >= 64 px, got {tile_size}")
        if not 0.0 <= overlap_ratio < 0.9:
            raise ValueError(f"overlap_ratio must be in [0, 0.9), got {overlap_ratio}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if not 0.0 < merge_overlap <= 1.0:
            raise ValueError(f"merge_overlap must be in (0, 1], got {merge_overlap}")
        self.predict_batch = predict_batch
        self.tile_size = int(tile_size)
        self.overlap_ratio = float(overlap_ratio)
        self.batch_size = int(batch_size)
        self.merge_overlap = float(merge_overlap)

    def windows(self, resolution_wh: tuple[int, int]) -> list[TileWindow]:
        """The tile grid over an image of ``resolution_wh``."""
        width, height = resolution_wh
        step = max(1, int(round(self.tile_size * (1.0 - self.overlap_ratio))))
        tile_w, tile_h = min(self.tile_size, width), min(self.tile_size, height)
        return [
            TileWindow(x0, y0, x0 + tile_w, y0 + tile_h)
            for y0 in tile_starts(height, tile_h, step)
            for x0 in tile_starts(width, tile_w, step)
        ]

    def __call__(self, rgb: np.ndarray) -> CrackPrediction:
        """Predict ``rgb`` (``(H, W, 3)`` uint8) tile by tile; masks come back at full size."""
        height, width = rgb.shape[:2]
        windows = self.windows((width, height))
        pieces: list[_Piece] = []
        for start in range(0, len(windows), self.batch_size):
            batch = windows[start : start + self.batch_size]
            tiles = [rgb[w.y0 : w.y1, w.x0 : w.x1] for w in batch]
            predictions = self.predict_batch(tiles)
            if len(predictions) != len(tiles):
                raise ValueError(f"predict_batch returned {len(predictions)} predictions for {len(tiles)} tiles")
            for offset, (window, prediction) in enumerate(zip(batch, predictions, strict=True)):
                expected = (window.x1 - window.x0, window.y1 - window.y0)
                if prediction.resolution_wh != expected:
                    raise ValueError(
                        f"tile prediction is {prediction.resolution_wh}, expected the tile size {expected}"
                    )
                pieces.extend(_pieces_of(prediction, window, start + offset))
        return _assemble(_merge_pieces(pieces, self.merge_overlap), (width, height))


def _pieces_of(prediction: CrackPrediction, window: TileWindow, tile: int) -> list[_Piece]:
    """Crop each tile instance to its bounding box, in full-image coordinates."""
    pieces = []
    for mask, confidence in zip(prediction.masks, prediction.confidence, strict=True):
        rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
        if rows.size == 0:
            continue
        crop = mask[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1].copy()
        pieces.append(_Piece(window.x0 + int(cols[0]), window.y0 + int(rows[0]), crop, float(confidence), tile))
    return pieces


def _overlap_pixels(a: _Piece, b: _Piece) -> int:
    """Pixels of ``b`` within 1 px (8-neighbourhood) of ``a``, in full-image coordinates."""
    x0, y0 = max(a.x0, b.x0) - 1, max(a.y0, b.y0) - 1
    x1 = min(a.x0 + a.mask.shape[1], b.x0 + b.mask.shape[1]) + 1
    y1 = min(a.y0 + a.mask.shape[0], b.y0 + b.mask.shape[0]) + 1
    if x1 <= x0 or y1 <= y0:
        return 0
    # one extra pixel around the window so the dilation sees a's pixels just outside it
    region_a = _window_of(a, x0 - 1, y0 - 1, x1 + 1, y1 + 1)
    near_a = cv2.dilate(region_a.astype(np.uint8), np.ones((3, 3), np.uint8))[1:-1, 1:-1].astype(bool)
    region_b = _window_of(b, x0, y0, x1, y1)
    return int(np.count_nonzero(near_a & region_b))


def _window_of(piece: _Piece, x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
    """The piece's mask over the full-image window ``[x0, x1) x [y0, y1)`` (zeros outside it)."""
    out = np.zeros((y1 - y0, x1 - x0), dtype=bool)
    sx0, sy0 = max(x0, piece.x0), max(y0, piece.y0)
    sx1, sy1 = min(x1, piece.x0 + piece.mask.shape[1]), min(y1, piece.y0 + piece.mask.shape[0])
    if sx1 > sx0 and sy1 > sy0:
        out[sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0] = piece.mask[
            sy0 - piece.y0 : sy1 - piece.y0, sx0 - piece.x0 : sx1 - piece.x0
        ]
    return out


def _merge_pieces(pieces: list[_Piece], merge_overlap: float) -> list[_Piece]:
    """Pieces that overlap enough are linked; each connected group becomes one piece."""
    areas = [int(piece.mask.sum()) for piece in pieces]
    links = []
    for i in range(len(pieces)):
        for j in range(i + 1, len(pieces)):
            if pieces[i].tile == pieces[j].tile:
                continue
            shared = _overlap_pixels(pieces[i], pieces[j])
            if shared and shared >= merge_overlap * min(areas[i], areas[j]):
                links.append((i, j))
    groups = [[pieces[index] for index in members] for members in linked_groups(len(pieces), links)]
    merged = []
    for group in groups:
        if len(group) == 1:
            merged.append(group[0])
            continue
        x0 = min(p.x0 for p in group)
        y0 = min(p.y0 for p in group)
        x1 = max(p.x0 + p.mask.shape[1] for p in group)
        y1 = max(p.y0 + p.mask.shape[0] for p in group)
        mask = np.zeros((y1 - y0, x1 - x0), dtype=bool)
        for p in group:
            mask[p.y0 - y0 : p.y0 - y0 + p.mask.shape[0], p.x0 - x0 : p.x0 - x0 + p.mask.shape[1]] |= p.mask
        merged.append(_Piece(x0, y0, mask, max(p.confidence for p in group), -1))
    return merged


def _assemble(pieces: list[_Piece], resolution_wh: tuple[int, int]) -> CrackPrediction:
    """Full-size ``CrackPrediction`` from merged pieces, most confident first."""
    width, height = resolution_wh
    if not pieces:
        return CrackPrediction.empty(resolution_wh)
    pieces = sorted(pieces, key=lambda p: -p.confidence)
    masks = np.zeros((len(pieces), height, width), dtype=bool)
    xyxy = np.zeros((len(pieces), 4), dtype=np.float32)
    for index, p in enumerate(pieces):
        h, w = p.mask.shape
        masks[index, p.y0 : p.y0 + h, p.x0 : p.x0 + w] = p.mask
        rows, cols = np.flatnonzero(p.mask.any(axis=1)), np.flatnonzero(p.mask.any(axis=0))
        xyxy[index] = (p.x0 + cols[0], p.y0 + rows[0], p.x0 + cols[-1] + 1, p.y0 + rows[-1] + 1)
    confidence = np.array([p.confidence for p in pieces], dtype=np.float32)
    return CrackPrediction(masks=masks, xyxy=xyxy, confidence=confidence)
