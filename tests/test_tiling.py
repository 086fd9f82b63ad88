"""Tiled inference (crackseg.inference.tiling) with fake per-tile predictors whose answers are known."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import pytest

from crackseg.inference.prediction import CrackPrediction
from crackseg.inference.tiling import TiledPredictor, TileWindow, tile_starts


def dark_pixels_as_instances(tiles: Sequence[np.ndarray]) -> list[CrackPrediction]:
    """A fake model: each 8-connected blob of dark pixels in a tile is one instance (confidence 0.5)."""
    predictions = []
    for tile in tiles:
        dark = (tile[:, :, 0] < 100).astype(np.uint8)
        count, labels = cv2.connectedComponents(dark, connectivity=8)
        masks = labels[None] == np.arange(1, count)[:, None, None]
        predictions.append(CrackPrediction.from_masks(masks, np.full(count - 1, 0.5, np.float32)))
    return predictions


def road(height: int, width: int) -> np.ndarray:
    return np.full((height, width, 3), 200, dtype=np.uint8)


# --- construction and windows ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"tile_size": 32}, "tile_size must be >= 64"),
        ({"overlap_ratio": -0.1}, r"overlap_ratio must be in \[0, 0.9\)"),
        ({"overlap_ratio": 0.9}, r"overlap_ratio must be in \[0, 0.9\)"),
        ({"batch_size": 0}, "batch_size must be >= 1"),
        ({"merge_overlap": 0.0}, r"merge_overlap must be in \(0, 1\]"),
        ({"merge_overlap": 1.5}, r"merge_overlap must be in \(0, 1\]"),
    ],
)
def test_constructor_validates(options: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TiledPredictor(dark_pixels_as_instances, **options)


@pytest.mark.parametrize(
    ("length", "tile", "step", "expected"),
    [
        (100, 100, 80, [0]),
        (50, 100, 80, [0]),  # smaller than a tile: one (short) tile
        (180, 100, 80, [0, 80]),  # exactly two steps: last tile flush, no duplicate
        (200, 100, 80, [0, 80, 100]),
        (1000, 640, 512, [0, 360]),
    ],
)
def test_tile_starts(length: int, tile: int, step: int, expected: list[int]) -> None:
    assert tile_starts(length, tile, step) == expected


@pytest.mark.parametrize(("width", "height"), [(1000, 700), (640, 640), (300, 2000), (100, 80), (1281, 1279)])
@pytest.mark.parametrize("overlap", [0.0, 0.2, 0.5])
def test_windows_cover_the_image_and_the_last_tile_is_flush(width: int, height: int, overlap: float) -> None:
    tiler = TiledPredictor(dark_pixels_as_instances, tile_size=640, overlap_ratio=overlap)
    windows = tiler.windows((width, height))
    covered = np.zeros((height, width), dtype=int)
    for window in windows:
        assert 0 <= window.x0 < window.x1 <= width and 0 <= window.y0 < window.y1 <= height
        assert window.x1 - window.x0 == min(640, width) and window.y1 - window.y0 == min(640, height)
        covered[window.y0 : window.y1, window.x0 : window.x1] += 1
    assert covered.min() >= 1
    assert max(w.x1 for w in windows) == width and max(w.y1 for w in windows) == height
    assert len(set(windows)) == len(windows)


def test_window_grid_of_a_known_image() -> None:
    tiler = TiledPredictor(dark_pixels_as_instances, tile_size=100, overlap_ratio=0.2)
    assert tiler.windows((180, 100)) == [TileWindow(0, 0, 100, 100), TileWindow(80, 0, 180, 100)]


# --- merging -----------------------------------------------------------------------------------------------


def test_line_across_many_tiles_comes_back_as_one_full_size_instance() -> None:
    rgb = road(300, 1000)
    rgb[148:152, 20:980] = 30  # a 4 px dark line across every tile
    tiler = TiledPredictor(dark_pixels_as_instances, tile_size=128, overlap_ratio=0.25)
    prediction = tiler(rgb)
    assert prediction.resolution_wh == (1000, 300)
    assert len(prediction) == 1
    expected = rgb[:, :, 0] < 100
    np.testing.assert_array_equal(prediction.masks[0], expected)
    np.testing.assert_array_equal(prediction.xyxy, [[20, 148, 980, 152]])
    assert prediction.confidence[0] == pytest.approx(0.5)


def test_diagonal_crack_and_separate_blobs() -> None:
    rgb = road(500, 500)
    cv2.line(rgb, (10, 10), (480, 470), (20, 20, 20), thickness=3)
    rgb[450:460, 30:40] = 20  # a separate spot far from the line
    prediction = TiledPredictor(dark_pixels_as_instances, tile_size=128, overlap_ratio=0.25)(rgb)
    assert len(prediction) == 2
    np.testing.assert_array_equal(prediction.union_mask, rgb[:, :, 0] < 100)
    assert sorted(int(m.sum()) for m in prediction.masks)[0] == 100


def test_overlapping_instances_of_one_tile_stay_separate() -> None:
    """Tiling must not change what the model reports within a tile (only join pieces across tiles)."""

    def two_overlapping(tiles: Sequence[np.ndarray]) -> list[CrackPrediction]:
        out = []
        for tile in tiles:
            masks = np.zeros((2, *tile.shape[:2]), dtype=bool)
            if tile[:, :, 0].min() < 100:
                masks[0, 10:20, 10:40] = True
                masks[1, 12:22, 15:45] = True
            out.append(CrackPrediction.from_masks(masks[masks.any(axis=(1, 2))], None))
        return out

    rgb = road(200, 200)
    rgb[0:5, 0:5] = 0  # only the top-left tile "sees" something
    prediction = TiledPredictor(two_overlapping, tile_size=128, overlap_ratio=0.25)(rgb)
    assert len(prediction) == 2


def test_merged_instance_keeps_the_highest_confidence_and_sorts_by_it() -> None:
    def scored(tiles: Sequence[np.ndarray]) -> list[CrackPrediction]:
        predictions = dark_pixels_as_instances(tiles)
        return [
            CrackPrediction(p.masks, p.xyxy, np.full(len(p), float(tile[:, :, 1].max()) / 255, np.float32))
            for p, tile in zip(predictions, tiles, strict=True)
        ]

    rgb = road(128, 400)
    rgb[:, :, 1] = np.linspace(50, 250, 400).astype(np.uint8)[None, :]  # green encodes the tile's score
    rgb[60:64, 10:390, 0] = 30
    rgb[5:10, 5:10, 0] = 30  # small spot in the first tile only
    prediction = TiledPredictor(scored, tile_size=128, overlap_ratio=0.25)(rgb)
    assert len(prediction) == 2
    assert prediction.confidence[0] == pytest.approx(250 / 255)  # the line, scored by its best tile
    assert np.all(np.diff(prediction.confidence) <= 0)


def test_image_smaller_than_a_tile_is_one_call() -> None:
    calls = []

    def spy(tiles: Sequence[np.ndarray]) -> list[CrackPrediction]:
        calls.append([tile.shape for tile in tiles])
        return dark_pixels_as_instances(tiles)

    rgb = road(50, 90)
    rgb[20:25, 10:80] = 0
    prediction = TiledPredictor(spy, tile_size=128)(rgb)
    assert calls == [[(50, 90, 3)]]
    np.testing.assert_array_equal(prediction.union_mask, rgb[:, :, 0] < 100)


def test_nothing_found_gives_an_empty_full_size_prediction() -> None:
    prediction = TiledPredictor(dark_pixels_as_instances, tile_size=64)(road(100, 150))
    assert len(prediction) == 0 and prediction.resolution_wh == (150, 100)


# --- batching ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("batch_size", [1, 3, 8, 100])
def test_batches_hold_at_most_batch_size_tiles(batch_size: int) -> None:
    sizes: list[int] = []

    def spy(tiles: Sequence[np.ndarray]) -> list[CrackPrediction]:
        sizes.append(len(tiles))
        assert all(tile.shape == (64, 64, 3) for tile in tiles)
        return dark_pixels_as_instances(tiles)

    tiler = TiledPredictor(spy, tile_size=64, overlap_ratio=0.0, batch_size=batch_size)
    tiler(road(320, 448))  # 5 x 7 = 35 tiles
    assert sum(sizes) == 35 and max(sizes) <= batch_size
    assert len(sizes) == -(-35 // batch_size)


def test_callback_answering_the_wrong_number_or_size_is_an_error() -> None:
    with pytest.raises(ValueError, match="returned 0 predictions for 3 tiles"):
        TiledPredictor(lambda tiles: [], tile_size=64)(road(64, 120))  # starts 0, 51, 56
    with pytest.raises(ValueError, match="expected the tile size"):
        TiledPredictor(lambda tiles: [CrackPrediction.empty((10, 10)) for _ in tiles], tile_size=64)(road(64, 120))
