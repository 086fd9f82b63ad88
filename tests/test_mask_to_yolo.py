"""Mask -> YOLO polygon conversion on hand-drawn masks: round trips, holes, thin cracks, dashes, specks."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from crackseg.datasets.labelled import parse_yolo_label, polygons_to_masks
from crackseg.datasets.mask_to_yolo import (
    ConversionSettings,
    close_dashes,
    mask_to_polygons,
    mask_to_yolo_lines,
)


def round_trip(mask: np.ndarray, tmp_path: Path, settings: ConversionSettings | None = None) -> np.ndarray:
    """Convert, write a label file, read it back with the dataset reader and rasterise: ``(N, H, W)``."""
    height, width = mask.shape
    label = tmp_path / "label.txt"
    label.write_text("\n".join(mask_to_yolo_lines(mask, settings)) + "\n", encoding="utf-8")
    return polygons_to_masks(parse_yolo_label(label), (width, height))


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.logical_and(a, b).sum() / np.logical_or(a, b).sum())


def test_filled_rectangle_round_trips_exactly(tmp_path: Path) -> None:
    mask = np.zeros((60, 80), dtype=bool)
    mask[10:30, 20:70] = True
    masks = round_trip(mask, tmp_path)
    assert masks.shape == (1, 60, 80)
    assert iou(masks[0], mask) == 1.0


def test_ring_keeps_its_hole_empty(tmp_path: Path) -> None:
    mask = np.zeros((100, 100), dtype=bool)
    cv2.circle(mask.view(np.uint8), (50, 50), 30, 1, thickness=6)
    hole = np.zeros_like(mask)
    cv2.circle(hole.view(np.uint8), (50, 50), 24, 1, thickness=-1)
    hole &= ~mask
    masks = round_trip(mask, tmp_path)
    assert masks.shape[0] == 1  # one crack loop is one instance, not an outline plus a hole polygon
    union = masks.any(axis=0)
    assert union[mask].mean() >= 0.97
    assert union[hole].mean() <= 0.03  # without the bridged hole the whole disc would be filled
    assert iou(union, mask) >= 0.9


def test_two_holes_in_one_network_crack(tmp_path: Path) -> None:
    mask = np.zeros((80, 140), dtype=bool)
    mask[10:70, 10:130] = True
    mask[20:60, 20:60] = False
    mask[20:60, 80:120] = False
    masks = round_trip(mask, tmp_path)
    assert masks.shape[0] == 1
    union = masks[0]
    assert union[20:60, 20:60][2:-2, 2:-2].sum() <= 40  # each hole stays empty but for the bridge line
    assert union[20:60, 80:120][2:-2, 2:-2].sum() <= 40
    assert iou(union, mask) >= 0.93


@pytest.mark.parametrize(
    ("scenario", "start", "end"),
    [("diagonal", (5, 5), (90, 60)), ("horizontal", (5, 30), (95, 30)), ("vertical", (40, 2), (40, 97))],
)
def test_one_pixel_crack_survives(tmp_path: Path, scenario: str, start: tuple[int, int], end: tuple[int, int]) -> None:
    mask = np.zeros((100, 100), dtype=np.uint8)
    cv2.line(mask, start, end, 1, thickness=1)
    mask = mask.astype(bool)
    polygons = mask_to_polygons(mask)
    assert len(polygons) == 1 and len(polygons[0]) >= 3
    masks = round_trip(mask, tmp_path)
    assert masks[0][mask].mean() >= 0.95, scenario
    assert iou(masks[0], mask) >= 0.8, scenario


def test_specks_below_min_area_are_dropped() -> None:
    mask = np.zeros((50, 50), dtype=bool)
    mask[5:8, 5:8] = True  # 9 px: a speck
    mask[20:40, 20:24] = True  # 80 px: a crack
    assert len(mask_to_polygons(mask, ConversionSettings(min_area_px=12))) == 1
    assert len(mask_to_polygons(mask, ConversionSettings(min_area_px=5))) == 2


def test_empty_mask_gives_no_label_lines() -> None:
    assert mask_to_yolo_lines(np.zeros((30, 40), dtype=bool)) == []


def test_closing_joins_dashes_into_one_crack_but_keeps_parallel_cracks_apart() -> None:
    mask = np.zeros((60, 200), dtype=bool)
    for x in range(5, 180, 11):  # dashes 7 px long, 3 px thick, 4-px gaps, like the survey annotations
        mask[15:18, x : x + 7] = True
        mask[40:43, x : x + 7] = True  # a second crack 25 px below
    assert len(mask_to_polygons(mask, ConversionSettings(closing_px=0, min_area_px=1))) == 32
    joined = mask_to_polygons(mask, ConversionSettings(closing_px=7))
    assert len(joined) == 2
    closed = close_dashes(mask, 7)
    assert closed[16, 5:177].all()  # the gaps between dashes are filled
    assert not closed[25:32].any()  # nothing bridges the two cracks


def test_closing_does_not_grow_the_mask_at_the_image_border() -> None:
    mask = np.zeros((20, 20), dtype=bool)
    mask[0:3, :] = True
    assert np.array_equal(close_dashes(mask, 7), mask)


def test_coordinates_are_normalised_and_pixel_centred() -> None:
    mask = np.zeros((10, 20), dtype=bool)
    mask[0:10, 0:20] = True
    (line,) = mask_to_yolo_lines(mask, ConversionSettings(min_area_px=1))
    values = np.array(line.split()[1:], dtype=float).reshape(-1, 2)
    assert line.split()[0] == "0"
    assert values.min() == pytest.approx(0.5 / 20) and values[:, 0].max() == pytest.approx(19.5 / 20)
    assert values[:, 1].max() == pytest.approx(9.5 / 10)


def test_settings_are_validated() -> None:
    with pytest.raises(ValueError, match="closing_px"):
        ConversionSettings(closing_px=-1)
    with pytest.raises(ValueError, match="mask must be"):
        mask_to_polygons(np.zeros((2, 3, 4), dtype=bool))
