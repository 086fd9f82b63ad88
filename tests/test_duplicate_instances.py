"""merge_duplicate_instances: one crack found twice becomes one instance; the union mask never changes."""

from __future__ import annotations

import numpy as np
import pytest

from crackseg.inference.prediction import CrackPrediction, merge_duplicate_instances


def _prediction(rectangles: list[tuple[int, int, int, int]], confidence: list[float]) -> CrackPrediction:
    masks = np.zeros((len(rectangles), 40, 40), dtype=bool)
    for index, (y0, y1, x0, x1) in enumerate(rectangles):
        masks[index, y0:y1, x0:x1] = True
    return CrackPrediction.from_masks(masks, np.array(confidence, dtype=np.float32))


@pytest.mark.parametrize(
    ("scenario", "rectangles", "confidence", "min_overlap", "expected_count", "expected_confidence"),
    [
        ("piece inside a longer crack", [(0, 40, 10, 13), (20, 40, 10, 13)], [0.4, 0.8], 0.5, 1, [0.8]),
        ("two separate cracks", [(0, 40, 10, 13), (0, 40, 30, 33)], [0.4, 0.8], 0.5, 2, [0.8, 0.4]),
        ("crossing cracks share little", [(0, 40, 18, 21), (18, 21, 0, 40)], [0.7, 0.6], 0.5, 2, [0.7, 0.6]),
        ("chain of three duplicates", [(0, 20, 5, 8), (5, 25, 5, 8), (10, 30, 5, 8)], [0.3, 0.5, 0.4], 0.5, 1, [0.5]),
        ("half overlap below a strict threshold", [(0, 20, 5, 8), (10, 30, 5, 8)], [0.3, 0.5], 0.9, 2, [0.5, 0.3]),
        ("single instance", [(0, 10, 0, 10)], [0.9], 0.5, 1, [0.9]),
    ],
)
def test_merge_duplicates(scenario, rectangles, confidence, min_overlap, expected_count, expected_confidence) -> None:
    prediction = _prediction(rectangles, confidence)
    masks_before = prediction.masks.copy()
    merged = merge_duplicate_instances(prediction, min_overlap)
    assert len(merged) == expected_count, scenario
    np.testing.assert_allclose(merged.confidence, expected_confidence)
    assert np.array_equal(merged.union_mask, prediction.union_mask)
    assert np.array_equal(prediction.masks, masks_before)  # input untouched
    for mask, box in zip(merged.masks, merged.xyxy, strict=True):
        rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
        assert tuple(box) == (cols[0], rows[0], cols[-1] + 1, rows[-1] + 1)


def test_merged_piece_takes_the_union_of_both_masks() -> None:
    prediction = _prediction([(0, 30, 10, 13), (20, 40, 10, 13)], [0.6, 0.5])
    merged = merge_duplicate_instances(prediction, 0.5)
    assert len(merged) == 1
    assert merged.masks[0].sum() == 40 * 3  # rows 0..39, three columns


def test_empty_prediction_and_bad_threshold() -> None:
    empty = CrackPrediction.empty((10, 8))
    assert len(merge_duplicate_instances(empty)) == 0
    with pytest.raises(ValueError, match="min_overlap"):
        merge_duplicate_instances(empty, 0.0)


def test_segmenter_merges_duplicates_by_default_and_keeps_the_union() -> None:
    from pathlib import Path

    from crackseg.inference.segmenter import InferenceSettings, Segmenter
    from crackseg.io.image_io import load_image

    samples = sorted((Path(__file__).resolve().parents[1] / "samples" / "images").glob("*.jpg"))
    segmenter = Segmenter(backend="torch")
    merged_any = False
    for path in samples:
        rgb = load_image(path)
        raw = segmenter.predict(rgb, InferenceSettings(merge_overlap=None))
        merged = segmenter.predict(rgb)
        assert np.array_equal(merged.union_mask, raw.union_mask), path.name
        assert len(merged) == len(merge_duplicate_instances(raw, 0.5)) <= len(raw)
        merged_any |= len(merged) < len(raw)
    assert merged_any  # the shipped model does find some cracks twice on the samples
