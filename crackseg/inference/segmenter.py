"""Inference: RGB arrays in, ``CrackPrediction`` out, on the operator's model.

``Segmenter`` wraps one opened model (PyTorch weights or an ONNX / OpenVINO
export of them, see ``crackseg.inference.backends``) behind one call. It
applies the chosen preprocessing, switches to tiled inference for large
photos, and is safe to call from several threads (one lock around the model:
neither Ultralytics nor an OpenVINO infer request is thread-safe).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from crackseg.core.errors import CrackSegError
from crackseg.datasets.labelled import YoloDataset
from crackseg.inference.backends import open_backend, ultralytics_model
from crackseg.inference.model_loading import default_model_path, file_sha256
from crackseg.inference.prediction import (
    CrackPrediction,
    concatenate_predictions,
    merge_duplicate_instances,
    mirror_prediction,
)
from crackseg.inference.preprocessing import PreprocessSpec, apply_preprocessing
from crackseg.inference.tiling import TiledPredictor
from crackseg.inference.validation import ValidationImageStats, validate_model_per_image
from crackseg.io.image_io import DEFAULT_MAX_PIXELS, load_image

TILE_MODES = ("auto", "always", "never")
MODEL_BATCH = 8  # images (or tiles) per model call: bounds memory; on the CPU larger batches gain nothing


@dataclass(frozen=True)
class InferenceSettings:
    """Everything that changes a prediction; hashable so it can key caches.

    ``conf`` drops instances below it; ``iou`` is the NMS IoU; ``imgsz`` the model
    input size (px). ``tile`` is ``auto`` (tile when the longer side exceeds
    ``tile_threshold`` x ``tile_size``), ``always`` or ``never``. ``flip_tta`` also predicts
    each image (or tile) mirrored left to right and keeps the instances of both passes (test-time
    augmentation: a thin crack the model half-sees one way is often found the other way); it
    doubles the model's work.
    """

    conf: float = 0.25
    iou: float = 0.7
    imgsz: int = 416
    preprocess: PreprocessSpec = field(default_factory=PreprocessSpec)
    tile: str = "auto"
    tile_size: int = 640
    tile_overlap: float = 0.2
    tile_threshold: float = 1.5
    max_det: int = 300
    merge_overlap: float | None = 0.5
    flip_tta: bool = False

    def __post_init__(self) -> None:
        if self.merge_overlap is not None and not 0.0 < self.merge_overlap <= 1.0:
            raise ValueError(f"merge_overlap must be None or in (0, 1], got {self.merge_overlap}")
        if not 0.0 <= self.conf <= 1.0:
            raise ValueError(f"conf must be in [0, 1], got {self.conf}")
        if not 0.0 < self.iou <= 1.0:
            raise ValueError(f"iou must be in (0, 1], got {self.iou}")
        if self.imgsz < 32 or self.imgsz % 32:
            raise ValueError(f"imgsz must be a multiple of 32 and >= 32, got {self.imgsz}")
        if self.tile not in TILE_MODES:
            raise ValueError(f"tile must be one of {TILE_MODES}, got {self.tile!r}")
        if self.tile_size < 64:
            raise ValueError(f"tile_size must be >= 64 px, got {self.tile_size}")
        if not 0.0 <= self.tile_overlap < 0.9:
            raise ValueError(f"tile_overlap must be in [0, 0.9), got {self.tile_overlap}")

    def uses_tiling(self, resolution_wh: tuple[int, int]) -> bool:
        """Whether an image of ``resolution_wh`` is predicted tile by tile."""
        if self.tile == "always":
            return max(resolution_wh) > self.tile_size
        if self.tile == "never":
            return False
        return max(resolution_wh) > self.tile_threshold * self.tile_size

    def to_dict(self) -> dict[str, Any]:
        """Plain values for reports and JSON."""
        return {
            "conf": self.conf,
            "iou": self.iou,
            "imgsz": self.imgsz,
            "preprocess": self.preprocess.label,
            "tile": self.tile,
            "tile_size": self.tile_size,
            "tile_overlap": self.tile_overlap,
            "merge_overlap": self.merge_overlap,
            "flip_tta": self.flip_tta,
        }


@dataclass
class PredictionItem:
    """One result of ``predict_many``: the image and its prediction, or the reason it failed."""

    name: str
    rgb: np.ndarray | None = None
    prediction: CrackPrediction | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


Source = Path | str | bytes | np.ndarray | tuple[str, bytes] | tuple[str, CrackSegError]
"""What ``predict_many`` streams: a path, encoded bytes, an RGB array, or a named upload. A named
``CrackSegError`` is an input that already failed upstream (an archive member refused, say): it comes
out as a failed item in its place, so results stay in input order."""


class Segmenter:
    """A crack segmentation model on the CPU (or a given device), thread-safe.

    ``weights`` defaults to the operator's model (``$CRACKSEG_MODEL`` or the
    shipped ``model/best.pt``). ``backend`` is ``torch``, ``onnx``, ``openvino``,
    ``openvino-int8`` or ``auto`` (the fastest available, exporting on first use; see
    ``crackseg.inference.backends``); ``self.backend`` is the one in use. The model is
    warmed up on ``device`` when opened, so a runtime that cannot run raises
    ``ModelLoadError`` here rather than on the first image.
    """

    def __init__(self, weights: Path | str | None = None, *, backend: str = "torch", device: str = "cpu") -> None:
        self.weights = Path(weights) if weights is not None else default_model_path()
        self.device = device
        self._model, self.backend, self.model_file = open_backend(self.weights, backend, device=device)
        self._lock = threading.Lock()
        self._validation_model: Any = None  # the Ultralytics model its validator drives, opened on first use

    # -- model information -------------------------------------------------------------------------------------
    @cached_property
    def sha256(self) -> str:
        """SHA-256 of the weights file (the identity of the model in reports and caches), hashed once."""
        return file_sha256(self.weights)

    def info(self) -> dict[str, Any]:
        """Name, path, hash and backend of the model, for reports and the UI."""
        return {
            "weights": str(self.weights),
            "name": self.weights.name,
            "sha256": self.sha256,
            "backend": self.backend,
            "model_file": str(self.model_file),
        }

    def validate(self, dataset: YoloDataset | Path | str, split: str, imgsz: int) -> dict[str, float]:
        """Ultralytics' validator (conf 0.001, NMS IoU 0.7) on a YOLO split with this model: box and mask mAP."""
        return self.validate_per_image(dataset, split, imgsz)[0]

    def validate_per_image(
        self, dataset: YoloDataset | Path | str, split: str, imgsz: int
    ) -> tuple[dict[str, float], ValidationImageStats]:
        """``validate``, plus the mask matches image by image (for a bootstrap interval of the mAP50).

        Holds the model's lock: the validator drives the same Ultralytics model object as prediction.
        """
        with self._lock:
            if self._validation_model is None:
                self._validation_model = ultralytics_model(self._model)
            return validate_model_per_image(self._validation_model, dataset, split, imgsz, device=self.device)

    # -- prediction --------------------------------------------------------------------------------------------
    def predict(self, rgb: np.ndarray, settings: InferenceSettings | None = None) -> CrackPrediction:
        """Cracks in one RGB ``uint8 (H, W, 3)`` image; masks at the image's size."""
        settings = settings or InferenceSettings()
        _check_rgb(rgb)
        prepared = apply_preprocessing(rgb, settings.preprocess)
        resolution_wh = (rgb.shape[1], rgb.shape[0])
        if settings.uses_tiling(resolution_wh):
            tiler = TiledPredictor(
                lambda tiles: self._infer(tiles, settings),
                tile_size=settings.tile_size,
                overlap_ratio=settings.tile_overlap,
                batch_size=MODEL_BATCH,
            )
            return tiler(prepared)
        return self._infer([prepared], settings)[0]

    def predict_batch(
        self, images: Sequence[np.ndarray], settings: InferenceSettings | None = None
    ) -> list[CrackPrediction]:
        """Several RGB images, one prediction each in order; same-size images share model calls.

        Images are grouped by size (up to ``MODEL_BATCH`` per call) so each is
        letterboxed exactly as ``predict`` would, and predictions match it.
        """
        settings = settings or InferenceSettings()
        for rgb in images:
            _check_rgb(rgb)
        results: list[CrackPrediction | None] = [None] * len(images)
        groups: dict[tuple[int, ...], list[int]] = {}
        for index, rgb in enumerate(images):
            if settings.uses_tiling((rgb.shape[1], rgb.shape[0])):
                results[index] = self.predict(rgb, settings)
            else:
                groups.setdefault(rgb.shape, []).append(index)
        for indices in groups.values():
            for start in range(0, len(indices), MODEL_BATCH):
                chunk = indices[start : start + MODEL_BATCH]
                prepared = [apply_preprocessing(images[index], settings.preprocess) for index in chunk]
                for index, prediction in zip(chunk, self._infer(prepared, settings), strict=True):
                    results[index] = prediction
        return [result for result in results if result is not None]

    def predict_many(
        self,
        sources: Iterable[Source],
        settings: InferenceSettings | None = None,
        *,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        keep_images: bool = True,
    ) -> Iterator[PredictionItem]:
        """Stream predictions over paths, bytes or arrays; memory stays flat however long the stream.

        Sources are pulled lazily, one ahead: the next image is decoded in a
        background thread while the current one is predicted (and while the
        caller handles the item yielded), so at most two decoded images are held
        here. A source that fails to load or predict yields an item with
        ``error`` set (one line) and the stream goes on.
        """
        settings = settings or InferenceSettings()
        for name, decoded in decode_ahead(sources, max_pixels=max_pixels):
            if isinstance(decoded, CrackSegError):
                yield PredictionItem(name=name, error=str(decoded))
                continue
            try:
                prediction = self.predict(decoded, settings)
            except CrackSegError as error:
                yield PredictionItem(name=name, error=str(error))
                continue
            except (ValueError, RuntimeError, MemoryError) as error:
                yield PredictionItem(name=name, error=f"{name}: prediction failed ({error})")
                continue
            yield PredictionItem(name=name, rgb=decoded if keep_images else None, prediction=prediction)

    def _infer(self, images: Sequence[np.ndarray], settings: InferenceSettings) -> list[CrackPrediction]:
        """One model call over RGB images (already preprocessed, all the same size for the same letterbox).

        Returns full-size predictions, duplicates merged as ``settings`` say. With ``flip_tta`` the
        mirrored images go through the same call; their instances are mirrored back and added to
        the originals' (the same crack found both ways is then one instance once merged).
        """
        batch = list(images)
        if settings.flip_tta:
            batch += [np.ascontiguousarray(image[:, ::-1]) for image in images]
        with self._lock:
            predictions = self._model.predict_rgb(
                batch, conf=settings.conf, iou=settings.iou, imgsz=settings.imgsz, max_det=settings.max_det
            )
        if settings.flip_tta:
            count = len(images)
            predictions = [
                concatenate_predictions([plain, mirror_prediction(mirrored)])
                for plain, mirrored in zip(predictions[:count], predictions[count:], strict=True)
            ]
        if settings.merge_overlap is None:
            return predictions
        return [merge_duplicate_instances(prediction, settings.merge_overlap) for prediction in predictions]


def decode_ahead(
    sources: Iterable[Source], *, max_pixels: int = DEFAULT_MAX_PIXELS
) -> Iterator[tuple[str, np.ndarray | CrackSegError]]:
    """Decoded images in input order, the next one decoded in a background thread while the caller works.

    Sources are paths, bytes, arrays or ``(name, bytes | CrackSegError)`` pairs; at most two decoded images
    are held here, so memory stays flat however long the stream. A source that cannot be decoded yields its
    ``CrackSegError`` (one line) in its place, and the stream goes on.
    """
    iterator = iter(enumerate(sources))
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="crackseg-decode") as pool:
        pending = _submit_next(pool, iterator, max_pixels)
        while pending is not None:
            name, future = pending
            pending = _submit_next(pool, iterator, max_pixels)
            try:
                yield name, future.result()
            except CrackSegError as error:
                yield name, error
            except (ValueError, MemoryError) as error:
                yield name, CrackSegError(f"{name}: cannot decode ({error})")


def _check_rgb(rgb: np.ndarray) -> None:
    if not isinstance(rgb, np.ndarray) or rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        shape = getattr(rgb, "shape", None)
        dtype = getattr(rgb, "dtype", type(rgb).__name__)
        raise ValueError(f"expected an RGB uint8 (H, W, 3) array, got shape {shape} dtype {dtype}")


def source_name(source: Source, index: int) -> str:
    """A display name for a ``predict_many`` source."""
    if isinstance(source, (str, Path)):
        return Path(source).name
    return f"image {index + 1}"


def _load_source(source: Source | BaseException, name: str, max_pixels: int) -> np.ndarray:
    if isinstance(source, BaseException):  # an input that failed upstream keeps its place in the stream
        raise source
    if isinstance(source, np.ndarray):
        _check_rgb(source)
        return source
    if isinstance(source, (bytes, bytearray)):
        return load_image(source, max_pixels=max_pixels, name=name)
    return load_image(Path(source), max_pixels=max_pixels)


def _submit_next(
    pool: ThreadPoolExecutor, iterator: Iterator[tuple[int, Source]], max_pixels: int
) -> tuple[str, Future[np.ndarray]] | None:
    try:
        index, source = next(iterator)
    except StopIteration:
        return None
    if isinstance(source, tuple):  # (name, bytes) pairs from uploads
        name, payload = source
        return name, pool.submit(_load_source, payload, name, max_pixels)
    name = source_name(source, index)
    return name, pool.submit(_load_source, source, name, max_pixels)
