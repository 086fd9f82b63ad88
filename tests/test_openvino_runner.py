"""OpenVINO models run directly (crackseg.inference: openvino_runner, yolo_decoding) against Ultralytics' predictor.

The native path must give the predictions Ultralytics gives on the same export
(same letterbox, NMS and mask decoding), and the batch command must reach its
first result without importing torch or Ultralytics.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from crackseg.core.errors import ModelLoadError
from crackseg.core.locations import SHIPPED_MODEL, STREET_MODEL
from crackseg.inference.backends import (
    UltralyticsSegmentationModel,
    compiled_precision,
    ensure_export,
    export_cache_dir,
    load_yolo_unchecked,
    open_backend,
    openvino_full_precision,
    openvino_on_pytorch_inputs,
)
from crackseg.inference.int8_lookup import usable_int8_model
from crackseg.inference.openvino_runner import OpenVinoSegmentationModel
from crackseg.inference.prediction import CrackPrediction
from crackseg.inference.yolo_decoding import (
    boxes_to_original,
    decode_masks,
    letterbox_geometry,
    letterbox_image,
    non_max_suppression,
    select_detections,
)
from crackseg.io.image_io import load_image

REPO = Path(__file__).resolve().parents[1]
SAMPLES = sorted((REPO / "samples" / "images").glob("*.jpg"))
CROPS = {
    "full": (slice(None), slice(None)),
    "wide": (slice(30, 290), slice(10, 400)),
    "tall": (slice(None), slice(100, 261)),
}


def union_iou(a: CrackPrediction, b: CrackPrediction) -> float:
    union = np.count_nonzero(a.union_mask | b.union_mask)
    return 1.0 if union == 0 else np.count_nonzero(a.union_mask & b.union_mask) / union


# --- pre- and post-processing on hand-made numbers -------------------------------------------------------------


def test_letterbox_fits_the_long_side_and_pads_to_the_stride() -> None:
    box = letterbox_geometry((640, 480), 416)
    assert box.resized_wh == (416, 312)
    assert box.input_wh == (416, 320) and (box.left, box.top) == (0, 4)
    odd = letterbox_geometry((416, 161), 416)  # 161 rows -> pad 31 to 192: 15 above, 16 below
    assert odd.resized_wh == (416, 161) and odd.input_wh == (416, 192) and odd.top == 15


def test_letterbox_image_pads_with_grey_around_the_resized_picture() -> None:
    rgb = np.full((480, 640, 3), 200, dtype=np.uint8)
    box = letterbox_geometry((640, 480), 416)
    padded = letterbox_image(rgb, box)
    assert padded.shape == (320, 416, 3)
    assert np.all(padded[:4] == 114) and np.all(padded[-4:] == 114) and np.all(padded[4:-4] == 200)


def test_nms_keeps_the_best_of_overlapping_boxes_and_all_separate_ones() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [50, 50, 60, 60], [0, 0, 10, 10.5]], dtype=np.float32)
    scores = np.array([0.5, 0.9, 0.7, 0.3], dtype=np.float32)
    kept = non_max_suppression(boxes, scores, iou_threshold=0.7)
    assert kept.tolist() == [1, 2]  # box 0 (IoU 0.82 with 1) and 3 (0.78) suppressed
    assert non_max_suppression(boxes, scores, iou_threshold=0.96).tolist() == [1, 2, 0, 3]


def test_detections_need_a_score_strictly_above_conf_and_come_best_first() -> None:
    # 4 box + 1 class + 2 coefficient rows, 3 anchors: centre/size boxes in letterbox pixels
    raw = np.array(
        [
            [20, 100, 60],
            [20, 100, 60],
            [10, 8, 4],
            [10, 8, 4],
            [0.25, 0.6, 0.9],
            [1, 2, 3],
            [4, 5, 6],
        ],
        dtype=np.float32,
    )
    rows = select_detections(raw, conf=0.25, iou=0.7, max_det=300, class_count=1)
    assert rows[:, 4].tolist() == pytest.approx([0.9, 0.6])
    np.testing.assert_allclose(rows[0, :4], [58, 58, 62, 62])
    np.testing.assert_allclose(rows[0, 6:], [3, 6])
    assert select_detections(raw, conf=0.25, iou=0.7, max_det=1, class_count=1).shape[0] == 1


def test_masks_are_positive_combinations_cut_to_their_box() -> None:
    protos = np.ones((2, 4, 4), dtype=np.float32)
    protos[1] = -1.0
    # one instance whose coefficients give +1 everywhere, boxed to columns 2..5 and rows 0..7 of an 8x8 input
    selected = np.array([[2, 0, 6, 8, 0.9, 0, 2.0, 1.0]], dtype=np.float32)
    masks = decode_masks(protos, selected, (8, 8))
    assert masks.shape == (1, 8, 8)
    assert masks[0, :, 2:6].all() and not masks[0, :, :2].any() and not masks[0, :, 6:].any()
    negative = selected.copy()
    negative[0, 6:] = (1.0, 2.0)  # 1 - 2 < 0 everywhere: nothing
    assert not decode_masks(protos, negative, (8, 8)).any()


def test_boxes_map_back_through_the_padding_and_are_clipped() -> None:
    box = letterbox_geometry((640, 480), 416)  # gain 0.65, 4 rows of padding above
    mapped = boxes_to_original(np.array([[13, 4 + 65, 416, 330]], dtype=np.float32), box)
    np.testing.assert_allclose(mapped[0], [20, 100, 640, 480], atol=1e-3)


# --- the same predictions as Ultralytics on real exports -----------------------------------------------------


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The shipped INT8 top-down model, and FP32 exports of private copies of the top-down and street weights."""
    exported = {"int8": usable_int8_model(SHIPPED_MODEL)}
    for name, weights in (("fp32", SHIPPED_MODEL), ("street-fp32", STREET_MODEL)):
        copy = tmp_path_factory.mktemp(name) / weights.name
        shutil.copy2(weights, copy)
        repo_cache = export_cache_dir(weights)
        if repo_cache.is_dir():  # the repo's exports of these very weights (same hash, same key)
            shutil.copytree(repo_cache, export_cache_dir(copy), dirs_exist_ok=True)
        exported[name] = ensure_export(copy, "openvino")
    return exported


@pytest.mark.parametrize(("model", "conf"), [("int8", 0.25), ("fp32", 0.25), ("street-fp32", 0.05)])
def test_native_openvino_predicts_what_ultralytics_predicts(exports: dict[str, Path], model: str, conf: float) -> None:
    native = OpenVinoSegmentationModel(exports[model])
    # Ultralytics compiles at its first prediction: that must be inside the blocks
    with openvino_full_precision(), openvino_on_pytorch_inputs():
        ultralytics = UltralyticsSegmentationModel(load_yolo_unchecked(exports[model]))
        ultralytics.predict_rgb([np.zeros((416, 416, 3), dtype=np.uint8)], conf=conf, iou=0.7, imgsz=416, max_det=300)
    # an INT8 model on an AMX CPU compiles per input shape, at its first prediction: precision is known after it
    native.predict_rgb([np.zeros((416, 416, 3), dtype=np.uint8)], conf=conf, iou=0.7, imgsz=416, max_det=300)
    assert "float32" in str(compiled_precision(ultralytics)) and "float32" in str(compiled_precision(native))
    compared = 0
    for path in SAMPLES:
        for rows, columns in CROPS.values():
            rgb = np.ascontiguousarray(load_image(path)[rows, columns])
            ours = native.predict_rgb([rgb], conf=conf, iou=0.7, imgsz=416, max_det=300)[0]
            theirs = ultralytics.predict_rgb([rgb], conf=conf, iou=0.7, imgsz=416, max_det=300)[0]
            assert ours.resolution_wh == theirs.resolution_wh == (rgb.shape[1], rgb.shape[0])
            assert len(ours) == len(theirs), path.name
            np.testing.assert_allclose(ours.confidence, theirs.confidence, atol=1e-4)
            np.testing.assert_allclose(ours.xyxy, theirs.xyxy, atol=0.05)
            assert union_iou(ours, theirs) >= 0.999
            compared += len(ours)
    assert compared >= 10  # the comparison means something only if instances were found


def test_a_batch_gives_what_single_images_give(exports: dict[str, Path]) -> None:
    native = OpenVinoSegmentationModel(exports["int8"])
    images = [load_image(path) for path in SAMPLES[:4]]
    batch = native.predict_rgb(images, conf=0.25, iou=0.7, imgsz=416, max_det=300)
    for rgb, together in zip(images, batch, strict=True):
        alone = native.predict_rgb([rgb], conf=0.25, iou=0.7, imgsz=416, max_det=300)[0]
        assert len(alone) == len(together) and union_iou(alone, together) >= 0.99


def test_openvino_backends_open_natively_in_fp32(exports: dict[str, Path]) -> None:
    model, used, path = open_backend(SHIPPED_MODEL, "auto")
    assert used == "openvino-int8" and path == exports["int8"]
    assert isinstance(model, OpenVinoSegmentationModel)
    assert "float32" in str(compiled_precision(model)).lower()


def test_a_broken_openvino_folder_is_one_clear_error(tmp_path: Path, exports: dict[str, Path]) -> None:
    broken = tmp_path / "best_openvino_model"
    shutil.copytree(exports["int8"], broken)
    (broken / "metadata.yaml").write_text("names: [unclosed", encoding="utf-8")
    with pytest.raises(ModelLoadError, match="metadata"):
        OpenVinoSegmentationModel(broken)
    (broken / "metadata.yaml").write_text("task: segment\nstride: 32\n", encoding="utf-8")
    next(broken.glob("*.xml")).write_text("<net><layers", encoding="utf-8")
    with pytest.raises(ModelLoadError, match="cannot open OpenVINO model"):
        OpenVinoSegmentationModel(broken)
    with pytest.raises(ModelLoadError, match="no OpenVINO model folder"):
        OpenVinoSegmentationModel(tmp_path / "absent_openvino_model")


def test_batch_predict_reaches_its_results_without_torch_or_ultralytics(tmp_path: Path) -> None:
    """The start-up promise: ``crackseg predict`` on the INT8 model never imports torch, torchvision or Ultralytics."""
    script = (
        "import json, runpy, sys\n"
        "sys.argv = ['crackseg', 'predict', sys.argv[1], '--out', sys.argv[2], '--no-reports']\n"
        "try:\n"
        "    runpy.run_module('crackseg', run_name='__main__')\n"
        "except SystemExit as done:\n"
        "    code = done.code\n"
        "print(json.dumps({'code': code, 'loaded': sorted(m for m in ('torch', 'torchvision', 'ultralytics')"
        " if m in sys.modules)}))\n"
    )
    out = tmp_path / "out"
    completed = subprocess.run(
        [sys.executable, "-c", script, str(SAMPLES[0]), str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    report = json.loads(completed.stdout.strip().splitlines()[-1])
    assert report == {"code": 0, "loaded": []}, completed.stderr[-2000:]
    assert (out / "images.csv").is_file()
