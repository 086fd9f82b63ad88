"""An OpenVINO export (FP32 or INT8) run directly: no torch, torchvision or Ultralytics at prediction time.

Through Ultralytics, opening the INT8 model imports torch and torchvision
(about 7 of the 10.5 CPU seconds before a batch's first result, measured by
``benchmarks/startup_stages.py``). Here the compiled OpenVINO model is called
with the letterbox, NMS and mask decoding of ``crackseg.inference.yolo_decoding``,
which reproduce Ultralytics' (``tests/test_openvino_runner.py`` holds the two
paths to the same predictions). Ultralytics' validator still opens the export
its own way (``crackseg.inference.backends.ultralytics_model``).

The model compiles for the CPU in FP32 for its floating-point layers (as the
Ultralytics path does, see ``openvino_full_precision``), with the latency hint.
Compiled models are cached by OpenVINO in ``compiled_cache_dir()`` (keyed by
the model and the settings): a later process opens the model in about a fifth
of the CPU time. The warm-up runs at the usual input size, so the first photo
does not pay for preparing that shape.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from crackseg.core.errors import ModelLoadError
from crackseg.core.locations import user_cache_root
from crackseg.core.offline import offline_environment
from crackseg.inference.prediction import CrackPrediction
from crackseg.inference.yolo_decoding import decode_prediction, input_tensor, letterbox_geometry, letterbox_image

MAX_STATIC_SHAPES = 8  # compiled models kept when each input shape needs its own (INT8 on AMX CPUs)


class OpenVinoSegmentationModel:
    """A YOLO segmentation model exported to OpenVINO (``<name>_openvino_model/`` with ``.xml``, ``.bin``, metadata).

    ``predict_rgb`` takes same-size RGB ``uint8`` images and returns one
    ``CrackPrediction`` per image at its original size. Not thread-safe on its
    own; the ``Segmenter`` serialises calls.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        xml = _model_xml(self.folder)
        metadata = _read_metadata(self.folder / "metadata.yaml")
        self.stride = int(metadata.get("stride", 32))
        self.names = {int(key): str(value) for key, value in dict(metadata.get("names") or {0: "crack"}).items()}
        if metadata.get("task", "segment") != "segment":
            raise ModelLoadError(f"{self.folder}: not a segmentation model (task {metadata.get('task')!r})")
        offline_environment()  # before the first ``import openvino``: that import alone would start its telemetry
        try:
            import openvino
        except ImportError as error:
            raise ModelLoadError("the openvino backend needs openvino (pip install -r requirements.txt)") from error
        try:
            self._core = openvino.Core()
            self._core.set_property("CPU", {"INFERENCE_PRECISION_HINT": openvino.Type.f32})
            cache = compiled_cache_dir()
            if cache is not None:
                self._core.set_property({"CACHE_DIR": str(cache)})
            self._xml = xml
            model = self._core.read_model(model=str(xml), weights=str(xml.with_suffix(".bin")))
            self._static_shapes = _needs_static_shapes(model)
            self._compiled: dict[tuple[int, ...], Any] = {}
            self.compiled_model = None if self._static_shapes else self._compile(model)
        except ModelLoadError:
            raise
        except Exception as error:  # noqa: BLE001 - OpenVINO raises its own RuntimeError subclasses
            raise ModelLoadError(f"{xml}: cannot open OpenVINO model ({_first_line(error)})") from error

    def predict_rgb(
        self, images: Sequence[np.ndarray], *, conf: float, iou: float, imgsz: int, max_det: int
    ) -> list[CrackPrediction]:
        """Predictions for same-size RGB ``uint8 (H, W, 3)`` images, letterboxed to fit ``imgsz``."""
        if not images:
            return []
        height, width = images[0].shape[:2]
        box = letterbox_geometry((width, height), imgsz, self.stride)
        tensor = input_tensor([letterbox_image(image, box) for image in images])
        detections, protos = self._run(tensor)
        return [
            decode_prediction(
                detections[index],
                protos[index],
                box,
                conf=conf,
                iou=iou,
                max_det=max_det,
                class_count=len(self.names),
            )
            for index in range(len(images))
        ]

    def _run(self, tensor: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Raw outputs ``(detections, protos)`` for an ``(N, 3, h, w)`` input."""
        compiled = self._compiled_for(tensor.shape)
        outputs = list(compiled(tensor).values())
        detections = next(output for output in outputs if output.ndim == 3)
        protos = next(output for output in outputs if output.ndim == 4)
        return np.asarray(detections, dtype=np.float32), np.asarray(protos, dtype=np.float32)

    def _compiled_for(self, shape: tuple[int, ...]) -> Any:
        if not self._static_shapes:
            return self.compiled_model
        compiled = self._compiled.get(tuple(shape))
        if compiled is None:
            if len(self._compiled) >= MAX_STATIC_SHAPES:
                self._compiled.pop(next(iter(self._compiled)))
            model = self._core.read_model(model=str(self._xml), weights=str(self._xml.with_suffix(".bin")))
            model.reshape(list(shape))
            compiled = self._compiled[tuple(shape)] = self._compile(model)
            self.compiled_model = compiled
        return compiled

    def _compile(self, model: Any) -> Any:
        return self._core.compile_model(model, "CPU", {"PERFORMANCE_HINT": "LATENCY"})


def compiled_cache_dir() -> Path | None:
    """Where OpenVINO keeps compiled models (``<user cache>/crackseg/openvino-compiled``); None if not writable."""
    folder = user_cache_root().parent / "openvino-compiled"
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError:
        return None
    return folder if os.access(folder, os.W_OK | os.X_OK) else None


def _model_xml(folder: Path) -> Path:
    if not folder.is_dir():
        raise ModelLoadError(f"{folder}: no OpenVINO model folder here")
    xmls = sorted(folder.glob("*.xml"))
    if len(xmls) != 1 or not xmls[0].with_suffix(".bin").is_file():
        raise ModelLoadError(f"{folder}: expected one model .xml with its .bin, found {[p.name for p in xmls]}")
    return xmls[0]


def _read_metadata(path: Path) -> dict[str, Any]:
    """The export's ``metadata.yaml`` (stride, class names, task), read with the safe loader."""
    try:
        metadata = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise ModelLoadError(f"{path}: cannot read the export's metadata ({_first_line(error)})") from error
    if not isinstance(metadata, dict):
        raise ModelLoadError(f"{path}: the export's metadata is not a mapping")
    return metadata


def _needs_static_shapes(model: Any) -> bool:
    """INT8 models with dynamic shapes crash OpenVINO's CPU plugin on AMX CPUs: those run one shape at a time.

    (openvinotoolkit/openvino#37577; Ultralytics works around it the same way.)
    """
    if not model.input().get_partial_shape().is_dynamic:
        return False
    if not any(op.get_type_name() == "FakeQuantize" for op in model.get_ops()):
        return False
    cpuinfo = Path("/proc/cpuinfo")
    try:
        return cpuinfo.is_file() and "amx_int8" in cpuinfo.read_text()
    except OSError:
        return False


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0][:160] if text else type(error).__name__
