"""YOLO segmentation pre- and post-processing in NumPy and OpenCV: letterbox, NMS, mask decoding.

The same steps, in the same order and with the same rounding, as Ultralytics'
predictor for a dynamic-shape export (``LetterBox`` with minimal padding,
``non_max_suppression``, ``process_mask`` with upsampling, ``scale_boxes``), so an
exported model run directly (``crackseg.inference.openvino_runner``) gives the
predictions the Ultralytics path gives, without importing torch, torchvision or
Ultralytics: those imports are two thirds of the batch command's start-up.

Model outputs, for ``N`` images at the letterboxed size ``(h, w)``:
``detections`` ``(N, 4 + classes + 32, anchors)`` (centre x, centre y, width,
height in letterbox pixels, then class scores, then mask coefficients) and
``protos`` ``(N, 32, h / 4, w / 4)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from crackseg.inference.prediction import CrackPrediction, masks_to_original_size

PADDING_VALUE = 114  # Ultralytics' letterbox grey
MAX_NMS_CANDIDATES = 30000  # boxes kept (by score) before NMS, as Ultralytics
CLASS_OFFSET_PX = 7680  # per-class box offset that keeps NMS within a class (Ultralytics' max_wh)


@dataclass(frozen=True)
class Letterbox:
    """How one image was resized and padded to the model input.

    ``resized_wh`` is the image's size inside the input, ``input_wh`` the padded
    input size, ``left``/``top`` the padding before the image.
    """

    original_wh: tuple[int, int]
    resized_wh: tuple[int, int]
    input_wh: tuple[int, int]
    left: int
    top: int


def letterbox_geometry(original_wh: tuple[int, int], imgsz: int, stride: int = 32) -> Letterbox:
    """Ultralytics' ``LetterBox(imgsz, auto=True, stride)`` sizes: fit in ``imgsz``, pad to a multiple of ``stride``.

    The padding is split between both sides; with an odd total the extra pixel
    goes to the bottom / right (``round(pad - 0.1)`` before, ``round(pad + 0.1)`` after).
    """
    width, height = original_wh
    gain = min(imgsz / height, imgsz / width)
    resized_w, resized_h = max(round(width * gain), 1), max(round(height * gain), 1)
    pad_w = float(np.mod(imgsz - resized_w, stride)) / 2
    pad_h = float(np.mod(imgsz - resized_h, stride)) / 2
    left, right = round(pad_w - 0.1), round(pad_w + 0.1)
    top, bottom = round(pad_h - 0.1), round(pad_h + 0.1)
    return Letterbox(
        original_wh=(width, height),
        resized_wh=(resized_w, resized_h),
        input_wh=(resized_w + left + right, resized_h + top + bottom),
        left=left,
        top=top,
    )


def letterbox_image(rgb: np.ndarray, box: Letterbox) -> np.ndarray:
    """``rgb`` resized (bilinear) and padded with grey 114 to ``box.input_wh``."""
    resized = rgb if rgb.shape[1::-1] == box.resized_wh else cv2.resize(rgb, box.resized_wh, cv2.INTER_LINEAR)
    right = box.input_wh[0] - box.resized_wh[0] - box.left
    bottom = box.input_wh[1] - box.resized_wh[1] - box.top
    return cv2.copyMakeBorder(
        resized, box.top, bottom, box.left, right, cv2.BORDER_CONSTANT, value=(PADDING_VALUE,) * 3
    )


def input_tensor(letterboxed: list[np.ndarray]) -> np.ndarray:
    """``(N, 3, h, w)`` float32 in [0, 1] from same-size RGB ``uint8`` images."""
    batch = np.stack(letterboxed) if len(letterboxed) > 1 else letterboxed[0][None]
    return np.ascontiguousarray(batch.transpose(0, 3, 1, 2), dtype=np.float32) / np.float32(255.0)


def non_max_suppression(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Indices kept by greedy NMS, highest score first (torchvision's ``nms``: drop when IoU > threshold)."""
    order = np.argsort(-scores, kind="stable")
    x1, y1, x2, y2 = boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3]
    areas = (x2 - x1) * (y2 - y1)
    keep = []
    while order.size:
        best, rest = order[0], order[1:]
        keep.append(best)
        inter_w = np.clip(np.minimum(x2[best], x2[rest]) - np.maximum(x1[best], x1[rest]), 0, None)
        inter_h = np.clip(np.minimum(y2[best], y2[rest]) - np.maximum(y1[best], y1[rest]), 0, None)
        inter = inter_w * inter_h
        with np.errstate(divide="ignore", invalid="ignore"):
            overlap = inter / (areas[best] + areas[rest] - inter)
        order = rest[~(overlap > iou_threshold)]  # a NaN overlap (two empty boxes) suppresses nothing
    return np.asarray(keep, dtype=np.int64)


def select_detections(detections: np.ndarray, *, conf: float, iou: float, max_det: int, class_count: int) -> np.ndarray:
    """Rows ``x1, y1, x2, y2, score, class, coefficients...`` kept for one image ``(4 + classes + 32, anchors)``.

    Best class per anchor, score strictly above ``conf``, at most 30,000 by score,
    class-aware NMS at ``iou``, at most ``max_det``, highest score first.
    """
    rows = detections.T
    class_scores = rows[:, 4 : 4 + class_count]
    scores = class_scores.max(axis=1)
    rows, class_scores, scores = rows[scores > conf], class_scores[scores > conf], scores[scores > conf]
    if not rows.shape[0]:
        return np.zeros((0, 6 + rows.shape[1] - 4 - class_count), dtype=np.float32)
    centre, size = rows[:, 0:2], rows[:, 2:4]
    boxes = np.concatenate([centre - size / 2, centre + size / 2], axis=1)
    classes = class_scores.argmax(axis=1).astype(np.float32)
    selected = np.concatenate([boxes, scores[:, None], classes[:, None], rows[:, 4 + class_count :]], axis=1)
    if selected.shape[0] > MAX_NMS_CANDIDATES:
        selected = selected[np.argsort(-selected[:, 4], kind="stable")[:MAX_NMS_CANDIDATES]]
    offset_boxes = selected[:, :4] + selected[:, 5:6] * CLASS_OFFSET_PX
    kept = non_max_suppression(offset_boxes, selected[:, 4], iou)[:max_det]
    return selected[kept].astype(np.float32, copy=False)


def decode_masks(protos: np.ndarray, selected: np.ndarray, input_wh: tuple[int, int]) -> np.ndarray:
    """``(K, h, w)`` uint8 0/1 masks at the letterboxed size: coefficients x prototypes, upsampled, > 0, in the box.

    As Ultralytics' ``process_mask(upsample=True)``: the linear combination is
    upsampled bilinearly (half-pixel centres) before thresholding at 0, and each
    mask is cut to its box (columns ``x1 <= c < x2``, rows ``y1 <= r < y2``).
    """
    channels, proto_h, proto_w = protos.shape
    count = selected.shape[0]
    width, height = input_wh
    if count == 0:
        return np.zeros((0, height, width), dtype=np.uint8)
    combined = (selected[:, 6 : 6 + channels] @ protos.reshape(channels, -1)).reshape(count, proto_h, proto_w)
    masks = np.empty((count, height, width), dtype=np.uint8)
    columns = np.arange(width, dtype=np.float32)
    rows = np.arange(height, dtype=np.float32)
    for index in range(count):
        upsampled = cv2.resize(combined[index], (width, height), interpolation=cv2.INTER_LINEAR)
        x1, y1, x2, y2 = selected[index, :4]
        inside = ((rows >= y1) & (rows < y2))[:, None] & ((columns >= x1) & (columns < x2))[None, :]
        masks[index] = (upsampled > 0) & inside
    return masks


def boxes_to_original(boxes: np.ndarray, box: Letterbox) -> np.ndarray:
    """Letterbox-pixel ``xyxy`` boxes mapped back to the original image and clipped to it (``scale_boxes``)."""
    width, height = box.original_wh
    gain_x, gain_y = box.resized_wh[0] / width, box.resized_wh[1] / height
    mapped = boxes.astype(np.float32, copy=True)
    mapped[:, [0, 2]] = (mapped[:, [0, 2]] - box.left) / gain_x
    mapped[:, [1, 3]] = (mapped[:, [1, 3]] - box.top) / gain_y
    mapped[:, [0, 2]] = mapped[:, [0, 2]].clip(0, width)
    mapped[:, [1, 3]] = mapped[:, [1, 3]].clip(0, height)
    return mapped


def decode_prediction(
    detections: np.ndarray,
    protos: np.ndarray,
    box: Letterbox,
    *,
    conf: float,
    iou: float,
    max_det: int,
    class_count: int,
) -> CrackPrediction:
    """One image's raw outputs -> ``CrackPrediction`` at the original size; instances whose mask is empty dropped."""
    selected = select_detections(detections, conf=conf, iou=iou, max_det=max_det, class_count=class_count)
    masks = decode_masks(protos, selected, box.input_wh)
    keep = masks.any(axis=(1, 2))
    selected, masks = selected[keep], masks[keep]
    if not selected.shape[0]:
        return CrackPrediction.empty(box.original_wh)
    return CrackPrediction(
        masks=masks_to_original_size(masks, box.original_wh),
        xyxy=boxes_to_original(selected[:, :4], box),
        confidence=np.ascontiguousarray(selected[:, 4], dtype=np.float32),
    )
