"""Survey frames as bird's-eye training crops: a dashed crack drawn at a known place on the road lands, joined,
where the street view's geometry puts it, in the right tile, and the build writes YOLO labels there."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from crackseg.datasets.labelled import yolo_label_to_masks
from crackseg.geometry.camera import load_profile
from crackseg.geometry.ground import GroundView
from crackseg.training.top_view_crops import (
    TopViewCropSettings,
    build_top_view_crops,
    pick_tiles,
    top_view_crops,
)

ROOT = Path(__file__).resolve().parents[1]
PROFILE = load_profile(ROOT / "profiles" / "survey-vehicle-br.json")  # 1024x640 frames, 10 mm per top-view px
FORWARD_M = 5.0  # the transverse crack lies 5 m ahead of the camera
LATERAL_M = (-1.0, 1.0)  # from 1 m left to 1 m right of the lane centre


def dashed_transverse_crack(view: GroundView) -> np.ndarray:
    """The frame mask of a dashed crack across the lane at ``FORWARD_M``: 3 px thick, 4-px dashes every 8 px."""
    (x0, y0), (x1, y1) = view.to_image(np.array([[LATERAL_M[0], FORWARD_M], [LATERAL_M[1], FORWARD_M]]))
    assert abs(y1 - y0) < 1e-6  # across the lane, a frame row (the camera looks straight ahead)
    mask = np.zeros((640, 1024), dtype=bool)
    row = round(y0)
    for x in range(round(x0), round(x1) - 3, 8):
        mask[row - 1 : row + 2, x : x + 4] = True
    return mask


def test_a_dashed_crack_lands_joined_where_the_view_puts_it() -> None:
    view = GroundView.for_frame(PROFILE, (1024, 640))
    top_w, top_h = view.top_wh
    assert (top_w, top_h) == (380, 1463)  # the lane region, 3.8 m x 14.6 m at 10 mm per px
    crack = dashed_transverse_crack(view)
    assert cv2.connectedComponents(crack.astype(np.uint8))[0] - 1 > 20  # dashes, before the closing
    rgb = np.full((640, 1024, 3), 120, dtype=np.uint8)
    crops = top_view_crops(rgb, crack, view, TopViewCropSettings())
    assert [row for row, _, _ in crops] == [0, 512, 823]  # 640-px tiles, 20 % overlap, the last flush
    assert all(image.shape == (640, 380, 3) and mask.shape == (640, 380) for _, image, mask in crops)
    # 5 m ahead is top-view row (17.04 - 5) * 100 = 1204: only the nearest tile holds it, at its row 381.
    expected_row = round((PROFILE.ground_region.forward_m[1] - FORWARD_M) * 100)
    assert expected_row == 1204
    holding = [(row, mask) for row, _, mask in crops if mask.any()]
    assert [row for row, _ in holding] == [823]
    ys, xs = np.nonzero(holding[0][1])
    assert abs(np.median(ys) + 823 - expected_row) <= 2
    # 1 m either side of the centre: columns 90 to 290 (the region starts 1.9 m left).
    assert abs(xs.min() - 90) <= 3 and abs(xs.max() - 290) <= 3
    # The closing on the frame joined the dashes: one crack.
    assert cv2.connectedComponents(holding[0][1].astype(np.uint8))[0] - 1 == 1


def test_tiles_are_taken_in_turn_so_every_position_is_used_equally() -> None:
    picks = [pick_tiles(3, index, 2) for index in range(6)]
    assert picks[:3] == [[0, 1], [1, 2], [0, 2]]
    assert [sum(tile in pick for pick in picks) for tile in range(3)] == [4, 4, 4]
    assert pick_tiles(3, 4, 0) == [0, 1, 2] and pick_tiles(2, 1, 5) == [0, 1]


def test_settings_out_of_range_are_refused() -> None:
    with pytest.raises(ValueError, match="tile_px"):
        TopViewCropSettings(tile_px=32)


def test_build_writes_yolo_labels_at_the_crack(tmp_path: Path) -> None:
    view = GroundView.for_frame(PROFILE, (1024, 640))
    crack = dashed_transverse_crack(view)
    survey = tmp_path / "survey" / "Dataset"
    for index in range(12):  # sorted names: index 5 is val, 0 and 10 test, the rest train
        name = f"frame{index:02d}"
        (survey / name).mkdir(parents=True)
        rgb = np.random.default_rng(index).integers(60, 200, (640, 1024, 3), dtype=np.uint8)
        assert cv2.imwrite(str(survey / name / f"{name}_RAW.jpg"), rgb)
        assert cv2.imwrite(str(survey / name / f"{name}_CRACK.png"), crack.astype(np.uint8) * 255)
        assert cv2.imwrite(str(survey / name / f"{name}_LANE.png"), np.full((640, 1024), 255, np.uint8))
    out = tmp_path / "street-top"
    data_yaml = build_top_view_crops(tmp_path / "survey", out, PROFILE)
    counts = json.loads((out / "manifest.json").read_text(encoding="utf-8"))["counts"]
    assert counts["train"] == {"frames": 9, "images": 18, "instances": 6, "empty": 12}  # 2 tiles of 3 per frame
    assert counts["val"] == {"frames": 1, "images": 3, "instances": 1, "empty": 2}  # val keeps every tile
    assert "train: train/images" in data_yaml.read_text(encoding="utf-8")
    label = out / "val" / "labels" / "svt_frame05_y823.txt"
    masks = yolo_label_to_masks(label, (380, 640))
    ys, xs = np.nonzero(masks.any(axis=0))
    assert abs(np.median(ys) - 381) <= 3 and abs(xs.min() - 90) <= 4 and abs(xs.max() - 290) <= 4
    assert sorted(path.name for path in (out / "val" / "images").iterdir()) == [
        "svt_frame05_y0.jpg",
        "svt_frame05_y512.jpg",
        "svt_frame05_y823.jpg",
    ]
