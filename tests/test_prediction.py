"""The one prediction type (crackseg.inference.prediction): invariants, indexing and the letterbox mapping.

``masks_to_original_size`` is checked on synthetic letterboxed masks whose
padding is worked out by hand, then against Ultralytics' own polygons
(``Results.masks.xy``, in image coordinates) with the shipped model.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from crackseg.core.locations import SHIPPED_MODEL
from crackseg.inference.model_loading import load_yolo
from crackseg.inference.prediction import (
    CrackPrediction,
    concatenate_predictions,
    masks_to_original_size,
    masks_to_xyxy,
    mirror_prediction,
)

SAMPLES = Path(__file__).resolve().parents[1] / "samples" / "images"


def rect_masks(shape_hw: tuple[int, int], rects: list[tuple[int, int, int, int]]) -> np.ndarray:
    """``(N, H, W)`` bool with one filled ``x0, y0, x1, y1`` (exclusive) rectangle per mask."""
    masks = np.zeros((len(rects), *shape_hw), dtype=bool)
    for index, (x0, y0, x1, y1) in enumerate(rects):
        masks[index, y0:y1, x0:x1] = True
    return masks


# --- invariants -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("masks", "xyxy", "confidence", "message"),
    [
        (np.zeros((2, 8, 8), np.uint8), np.zeros((2, 4)), np.zeros(2), r"masks must be \(N, H, W\) bool"),
        (np.zeros((8, 8), bool), np.zeros((1, 4)), np.zeros(1), r"got shape \(8, 8\)"),
        (np.zeros((2, 8, 8), bool), np.zeros((3, 4)), np.zeros(2), r"xyxy must be \(2, 4\), got \(3, 4\)"),
        (np.zeros((2, 8, 8), bool), np.zeros((2, 5)), np.zeros(2), r"xyxy must be \(2, 4\), got \(2, 5\)"),
        (np.zeros((2, 8, 8), bool), np.zeros((2, 4)), np.zeros(1), r"confidence must be \(2,\), got \(1,\)"),
    ],
)
def test_invariants_name_expected_and_actual_shapes(
    masks: np.ndarray, xyxy: np.ndarray, confidence: np.ndarray, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        CrackPrediction(masks=masks, xyxy=xyxy, confidence=confidence)


def test_empty_prediction() -> None:
    empty = CrackPrediction.empty((30, 20))
    assert len(empty) == 0 and empty.resolution_wh == (30, 20)
    assert empty.masks.shape == (0, 20, 30) and empty.xyxy.shape == (0, 4) and empty.confidence.shape == (0,)
    assert empty.union_mask.shape == (20, 30) and not empty.union_mask.any()
    assert len(empty.with_min_confidence(0.0)) == 0


def test_from_masks_boxes_are_tight_with_exclusive_max() -> None:
    masks = rect_masks((20, 30), [(2, 3, 10, 7), (25, 0, 30, 20)])
    masks = np.concatenate([masks, np.zeros((1, 20, 30), bool)])  # an empty mask gets a zero box
    prediction = CrackPrediction.from_masks(masks, confidence=[0.9, 0.4, 0.1])
    np.testing.assert_array_equal(prediction.xyxy, [[2, 3, 10, 7], [25, 0, 30, 20], [0, 0, 0, 0]])
    assert prediction.xyxy.dtype == np.float32 and prediction.confidence.dtype == np.float32
    np.testing.assert_array_equal(CrackPrediction.from_masks(masks[:1]).confidence, [1.0])
    with pytest.raises(ValueError, match=r"masks must be \(N, H, W\)"):
        CrackPrediction.from_masks(np.zeros((20, 30), bool))


def test_union_and_indexing() -> None:
    masks = rect_masks((10, 10), [(0, 0, 4, 4), (2, 2, 6, 6), (8, 8, 10, 10)])
    prediction = CrackPrediction.from_masks(masks, confidence=[0.2, 0.7, 0.5])
    assert int(prediction.union_mask.sum()) == 16 + 16 - 4 + 4
    strong = prediction[prediction.confidence > 0.4]
    assert len(strong) == 2 and np.allclose(strong.confidence, [0.7, 0.5])
    np.testing.assert_array_equal(strong.masks, masks[1:])
    single = prediction[1]
    assert len(single) == 1 and single.masks.shape == (1, 10, 10) and np.allclose(single.xyxy, [[2, 2, 6, 6]])
    assert len(prediction[np.int64(2)]) == 1 and len(prediction[0:2]) == 2
    assert np.allclose(prediction.with_min_confidence(0.5).confidence, [0.7, 0.5])  # threshold inclusive
    assert masks_to_xyxy(masks).shape == (3, 4)


# --- letterbox mapping on non-square images --------------------------------------------------------------


def letterbox(original: np.ndarray, canvas_hw: tuple[int, int], gain: float, pad_top: int, pad_left: int) -> np.ndarray:
    """Place ``original`` (N, H, W) resized by ``gain`` on a zero canvas at ``pad_top, pad_left``."""
    count, height, width = original.shape
    new_w, new_h = round(width * gain), round(height * gain)
    out = np.zeros((count, *canvas_hw), dtype=np.float32)
    for index in range(count):
        resized = cv2.resize(original[index].astype(np.float32), (new_w, new_h), interpolation=cv2.INTER_LINEAR)
        out[index, pad_top : pad_top + new_h, pad_left : pad_left + new_w] = resized
    return out


@pytest.mark.parametrize(
    ("original_hw", "canvas_hw", "gain", "pad_top", "pad_left"),
    [
        ((300, 416), (320, 416), 1.0, 10, 0),  # Ultralytics' minimal (stride 32) letterbox
        ((300, 416), (416, 416), 1.0, 58, 0),  # square letterbox (exported backends)
        ((301, 416), (320, 416), 1.0, 9, 0),  # odd padding: 9 rows on top, 10 below (as Ultralytics)
        ((416, 203), (416, 224), 1.0, 0, 10),  # portrait, odd padding left/right
        ((600, 832), (320, 416), 0.5, 10, 0),  # downscaled by 2
    ],
)
def test_letterboxed_masks_map_back_to_the_original_rectangle(
    original_hw: tuple[int, int], canvas_hw: tuple[int, int], gain: float, pad_top: int, pad_left: int
) -> None:
    height, width = original_hw
    original = rect_masks(original_hw, [(width // 8, height // 3, width // 2, height // 2), (0, 0, width, 12)])
    mapped = masks_to_original_size(letterbox(original, canvas_hw, gain, pad_top, pad_left), (width, height))
    assert mapped.shape == (2, height, width) and mapped.dtype == bool
    if gain == 1.0:
        np.testing.assert_array_equal(mapped, original)
    else:  # resampling may move an edge by one pixel
        for got, want in zip(mapped, original, strict=True):
            assert int((got ^ want).sum()) <= 2 * (got.shape[0] + got.shape[1])
            assert (got & want).sum() / (got | want).sum() > 0.97


def test_soft_mask_values_threshold_at_one_half() -> None:
    soft = np.zeros((1, 32, 32), dtype=np.float32)
    soft[0, :, :10] = 0.49
    soft[0, :, 10:20] = 0.51
    mapped = masks_to_original_size(soft, (32, 32))
    assert not mapped[0, :, :10].any() and mapped[0, :, 10:20].all() and not mapped[0, :, 20:].any()


def test_mask_mapping_input_checks() -> None:
    assert masks_to_original_size(np.zeros((0, 320, 416), np.float32), (416, 300)).shape == (0, 300, 416)
    with pytest.raises(ValueError, match=r"mask_data must be \(N, h, w\)"):
        masks_to_original_size(np.zeros((320, 416), np.float32), (416, 300))


# --- against Ultralytics' polygons with the shipped model --------------------------------------------------


@pytest.fixture(scope="module")
def yolo():
    return load_yolo(SHIPPED_MODEL)


def rasterised_polygons(result, shape_hw: tuple[int, int]) -> np.ndarray:
    canvas = np.zeros(shape_hw, dtype=np.uint8)
    for polygon in result.masks.xy:
        if len(polygon):
            cv2.fillPoly(canvas, [np.rint(polygon).astype(np.int32)], 1)
    return canvas.astype(bool)


@pytest.mark.parametrize(
    ("image", "crop"),
    [
        ("2275.rf.586655e669fa91476d091094ff24d359.jpg", "rows 50:351"),  # 301x416: odd vertical padding
        ("2275.rf.586655e669fa91476d091094ff24d359.jpg", "cols 40:341"),  # 416x301: padding left/right
        ("2222.rf.bfd72b1a6235ed53983e11289c619b4e.jpg", "resize 416x203"),
    ],
)
def test_masks_match_ultralytics_polygons_on_non_square_images(yolo, image: str, crop: str) -> None:
    bgr = cv2.imread(str(SAMPLES / image))
    kind, spec = crop.split()
    if kind == "rows":
        start, stop = map(int, spec.split(":"))
        bgr = bgr[start:stop]
    elif kind == "cols":
        start, stop = map(int, spec.split(":"))
        bgr = bgr[:, start:stop]
    else:
        width, height = map(int, spec.split("x"))
        bgr = cv2.resize(bgr, (width, height), interpolation=cv2.INTER_AREA)
    bgr = np.ascontiguousarray(bgr)
    result = yolo.predict(bgr, imgsz=416, conf=0.25, verbose=False, retina_masks=False)[0]
    assert result.masks is not None and tuple(result.masks.data.shape[1:]) != bgr.shape[:2]  # letterboxed
    prediction = CrackPrediction.from_ultralytics(result)
    assert prediction.resolution_wh == (bgr.shape[1], bgr.shape[0]) and len(prediction) >= 1
    np.testing.assert_allclose(prediction.xyxy, result.boxes.xyxy.numpy(), atol=1e-4)
    np.testing.assert_allclose(prediction.confidence, result.boxes.conf.numpy(), atol=1e-6)
    ours, theirs = prediction.union_mask, rasterised_polygons(result, bgr.shape[:2])
    assert (ours & theirs).sum() / (ours | theirs).sum() > 0.9


def test_no_detection_gives_an_empty_prediction(yolo) -> None:
    flat = np.full((200, 300, 3), 128, dtype=np.uint8)
    result = yolo.predict(flat, imgsz=416, conf=0.25, verbose=False)[0]
    prediction = CrackPrediction.from_ultralytics(result)
    assert len(prediction) == 0 and prediction.resolution_wh == (300, 200)


def test_mirroring_moves_masks_and_boxes_to_the_other_side() -> None:
    masks = np.zeros((2, 4, 10), dtype=bool)
    masks[0, 1:3, 0:3] = True  # columns 0-2 -> 7-9 once mirrored
    masks[1, 0, 6] = True  # column 6 -> 3
    prediction = CrackPrediction.from_masks(masks, np.array([0.9, 0.4]))
    mirrored = mirror_prediction(prediction)
    np.testing.assert_array_equal(mirrored.xyxy, [[7, 1, 10, 3], [3, 0, 4, 1]])
    np.testing.assert_array_equal(mirrored.xyxy, masks_to_xyxy(mirrored.masks))  # boxes stay tight
    assert mirrored.masks[0, 1:3, 7:10].all() and mirrored.masks[0].sum() == 6
    np.testing.assert_array_equal(mirrored.confidence, prediction.confidence)
    twice = mirror_prediction(mirrored)
    np.testing.assert_array_equal(twice.masks, masks)
    np.testing.assert_array_equal(twice.xyxy, prediction.xyxy)


def test_concatenation_keeps_every_instance_in_order() -> None:
    first = CrackPrediction.from_masks(np.eye(3, dtype=bool)[None], np.array([0.3]))
    second = CrackPrediction.from_masks(np.stack([np.fliplr(np.eye(3, dtype=bool)), np.ones((3, 3), bool)]), [0.8, 0.1])
    both = concatenate_predictions([first, second, CrackPrediction.empty((3, 3))])
    assert len(both) == 3
    np.testing.assert_allclose(both.confidence, [0.3, 0.8, 0.1])
    np.testing.assert_array_equal(both.masks[1], np.fliplr(np.eye(3, dtype=bool)))
    assert both.union_mask.all()
    with pytest.raises(ValueError, match="different image sizes"):
        concatenate_predictions([first, CrackPrediction.empty((4, 3))])
    with pytest.raises(ValueError, match="at least one"):
        concatenate_predictions([])
