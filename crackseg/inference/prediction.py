"""The one prediction type every consumer sees: ``CrackPrediction``.

Pages, metrics, measurement and reports take this, never an Ultralytics
``Results``. Masks are at the *original* image size; the conversion from
Ultralytics' letterboxed mask tensor happens once, in ``from_ultralytics``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from crackseg.core.grouping import linked_groups


@dataclass(frozen=True)
class CrackPrediction:
    """Crack instances predicted on one image.

    Attributes:
        masks: ``(N, H, W)`` bool, one mask per instance, at the original image size.
        xyxy: ``(N, 4)`` float32 boxes in pixels of the original image.
        confidence: ``(N,)`` float32 scores in [0, 1].
    """

    masks: np.ndarray
    xyxy: np.ndarray
    confidence: np.ndarray

    def __post_init__(self) -> None:
        if self.masks.ndim != 3 or self.masks.dtype != bool:
            raise ValueError(f"masks must be (N, H, W) bool, got shape {self.masks.shape} dtype {self.masks.dtype}")
        count = self.masks.shape[0]
        if self.xyxy.shape != (count, 4):
            raise ValueError(f"xyxy must be ({count}, 4), got {self.xyxy.shape}")
        if self.confidence.shape != (count,):
            raise ValueError(f"confidence must be ({count},), got {self.confidence.shape}")

    @classmethod
    def empty(cls, resolution_wh: tuple[int, int]) -> CrackPrediction:
        """No cracks on an image of ``resolution_wh`` (a crack-free road is a normal answer)."""
        width, height = resolution_wh
        return cls(
            masks=np.zeros((0, height, width), dtype=bool),
            xyxy=np.zeros((0, 4), dtype=np.float32),
            confidence=np.zeros((0,), dtype=np.float32),
        )

    @classmethod
    def from_masks(cls, masks: np.ndarray, confidence: np.ndarray | None = None) -> CrackPrediction:
        """Build from ``(N, H, W)`` bool masks; boxes are the masks' tight bounds."""
        masks = np.asarray(masks, dtype=bool)
        if masks.ndim != 3:
            raise ValueError(f"masks must be (N, H, W), got shape {masks.shape}")
        count = masks.shape[0]
        scores = np.ones(count, dtype=np.float32) if confidence is None else np.asarray(confidence, np.float32)
        return cls(masks=masks, xyxy=masks_to_xyxy(masks), confidence=scores)

    @classmethod
    def from_ultralytics(cls, result: Any) -> CrackPrediction:
        """Convert one Ultralytics ``Results`` to a prediction at the original image size.

        ``result.masks.data`` is at the letterboxed inference size; it is mapped
        back with ``masks_to_original_size`` (the one place that does it).
        """
        height, width = result.orig_shape[:2]
        if result.masks is None or result.boxes is None or len(result.boxes) == 0:
            return cls.empty((width, height))
        mask_data = (
            result.masks.data.detach().cpu().numpy()
            if hasattr(result.masks.data, "detach")
            else np.asarray(result.masks.data)
        )
        masks = masks_to_original_size(mask_data, (width, height))
        boxes = result.boxes
        xyxy = np.asarray(
            boxes.xyxy.detach().cpu().numpy() if hasattr(boxes.xyxy, "detach") else boxes.xyxy, np.float32
        )
        conf = np.asarray(
            boxes.conf.detach().cpu().numpy() if hasattr(boxes.conf, "detach") else boxes.conf, np.float32
        )
        return cls(masks=masks, xyxy=xyxy.reshape(-1, 4), confidence=conf.reshape(-1))

    @property
    def resolution_wh(self) -> tuple[int, int]:
        """``(width, height)`` of the image the masks belong to."""
        return int(self.masks.shape[2]), int(self.masks.shape[1])

    @property
    def union_mask(self) -> np.ndarray:
        """``(H, W)`` bool: every pixel covered by any instance."""
        if len(self) == 0:
            return np.zeros(self.masks.shape[1:], dtype=bool)
        return self.masks.any(axis=0)

    def __len__(self) -> int:
        return int(self.masks.shape[0])

    def __getitem__(self, index: np.ndarray | slice | int) -> CrackPrediction:
        """Boolean or integer indexing over instances (``pred[pred.confidence > 0.5]``)."""
        if isinstance(index, (int, np.integer)):
            index = np.array([int(index)])
        return CrackPrediction(masks=self.masks[index], xyxy=self.xyxy[index], confidence=self.confidence[index])

    def with_min_confidence(self, threshold: float) -> CrackPrediction:
        """Instances scoring at least ``threshold``."""
        return self[self.confidence >= threshold]


def mirror_prediction(prediction: CrackPrediction) -> CrackPrediction:
    """The prediction mirrored left to right: what it says about the mirrored image, in that image's pixels.

    Mirroring twice gives the prediction back; a prediction made on a mirrored image, mirrored, lies on
    the original image.
    """
    width = prediction.resolution_wh[0]
    xyxy = prediction.xyxy.copy()
    xyxy[:, 0], xyxy[:, 2] = width - prediction.xyxy[:, 2], width - prediction.xyxy[:, 0]
    return CrackPrediction(
        masks=np.ascontiguousarray(prediction.masks[:, :, ::-1]), xyxy=xyxy, confidence=prediction.confidence.copy()
    )


def concatenate_predictions(predictions: list[CrackPrediction]) -> CrackPrediction:
    """The instances of several predictions on the same image, in order, as one prediction."""
    if not predictions:
        raise ValueError("concatenate_predictions needs at least one prediction")
    sizes = {prediction.resolution_wh for prediction in predictions}
    if len(sizes) != 1:
        raise ValueError(f"predictions are for different image sizes: {sorted(sizes)}")
    return CrackPrediction(
        masks=np.concatenate([prediction.masks for prediction in predictions]),
        xyxy=np.concatenate([prediction.xyxy for prediction in predictions]).astype(np.float32),
        confidence=np.concatenate([prediction.confidence for prediction in predictions]).astype(np.float32),
    )


def masks_to_xyxy(masks: np.ndarray) -> np.ndarray:
    """Tight ``(N, 4)`` float32 boxes ``x_min, y_min, x_max, y_max`` (exclusive max) of bool masks."""
    boxes = np.zeros((masks.shape[0], 4), dtype=np.float32)
    for index, mask in enumerate(masks):
        rows = np.flatnonzero(mask.any(axis=1))
        cols = np.flatnonzero(mask.any(axis=0))
        if rows.size:
            boxes[index] = (cols[0], rows[0], cols[-1] + 1, rows[-1] + 1)
    return boxes


def masks_to_original_size(mask_data: np.ndarray, resolution_wh: tuple[int, int]) -> np.ndarray:
    """Map Ultralytics' letterboxed masks ``(N, h, w)`` back to ``(N, H, W)`` bool at ``resolution_wh``.

    Ultralytics resizes the image by ``gain = min(h / H, w / W)`` and pads the
    rest symmetrically. This removes the padding, then resizes the remaining
    region to the original size (bilinear on the soft values, threshold 0.5).
    """
    width, height = resolution_wh
    if mask_data.ndim != 3:
        raise ValueError(f"mask_data must be (N, h, w), got {mask_data.shape}")
    count, mask_h, mask_w = mask_data.shape
    if count == 0:
        return np.zeros((0, height, width), dtype=bool)
    gain = min(mask_h / height, mask_w / width)
    pad_w = (mask_w - width * gain) / 2
    pad_h = (mask_h - height * gain) / 2
    # The same rounding as Ultralytics' ``LetterBox`` (top = round(pad - 0.1), bottom = round(pad + 0.1)):
    # with an odd total padding the extra row/column is at the bottom/right.
    top, left = int(round(pad_h - 0.1)), int(round(pad_w - 0.1))
    bottom, right = mask_h - int(round(pad_h + 0.1)), mask_w - int(round(pad_w + 0.1))
    cropped = np.ascontiguousarray(mask_data[:, top:bottom, left:right], dtype=np.float32)
    out = np.empty((count, height, width), dtype=bool)
    for index in range(count):
        resized = cv2.resize(cropped[index], (width, height), interpolation=cv2.INTER_LINEAR)
        out[index] = resized > 0.5
    return out


def merge_duplicate_instances(prediction: CrackPrediction, min_overlap: float = 0.5) -> CrackPrediction:
    """Merge instances that are the same crack found twice; the union mask is unchanged.

    YOLO's box NMS keeps overlapping masks whose *boxes* differ (a long crack
    and a piece of it), which would count the crack twice in totals. Two
    instances are duplicates when their shared pixels are at least
    ``min_overlap`` of the smaller one (intersection over smaller area). A
    group of duplicates becomes one instance: the union of their masks, the
    tight box of that union and the highest confidence; instances are ordered
    by confidence, highest first. ``min_overlap`` in (0, 1]; 1 merges only
    instances contained in another.
    """
    if not 0.0 < min_overlap <= 1.0:
        raise ValueError(f"min_overlap must be in (0, 1], got {min_overlap}")
    count = len(prediction)
    if count < 2:
        return prediction[np.arange(count)]
    flat = prediction.masks.reshape(count, -1)
    areas = flat.sum(axis=1).astype(np.int64)
    boxes = prediction.xyxy
    links = []
    for i in range(count):
        for j in range(i + 1, count):
            if (
                boxes[i, 0] >= boxes[j, 2]
                or boxes[j, 0] >= boxes[i, 2]
                or boxes[i, 1] >= boxes[j, 3]
                or boxes[j, 1] >= boxes[i, 3]
            ):
                continue  # boxes apart: masks cannot overlap
            smaller = min(areas[i], areas[j])
            if smaller and np.count_nonzero(flat[i] & flat[j]) >= min_overlap * smaller:
                links.append((i, j))
    groups = linked_groups(count, links)
    if len(groups) == count:
        return prediction[np.argsort(-prediction.confidence, kind="stable")]
    masks = np.stack([prediction.masks[members].any(axis=0) for members in groups])
    confidence = np.array([prediction.confidence[members].max() for members in groups], dtype=np.float32)
    order = np.argsort(-confidence, kind="stable")
    return CrackPrediction(masks=masks[order], xyxy=masks_to_xyxy(masks[order]), confidence=confidence[order])
