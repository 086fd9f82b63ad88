"""Inference backends: PyTorch weights, or their ONNX Runtime / OpenVINO exports.

All three run through Ultralytics' own predictor, so pre- and post-processing
(letterbox, NMS, mask decoding) are the same code and the same
``CrackPrediction`` comes out. Exports are made once, offline, into a cache
folder next to the weights, keyed by the weights' SHA-256 so new weights are
re-exported. ``auto`` picks the fastest backend that works here: OpenVINO,
then ONNX Runtime, then PyTorch.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any

from crackseg.errors import ModelLoadError
from crackseg.model_loading import file_sha256, load_yolo, verify_weights
from crackseg.offline import enforce_offline

BACKENDS = ("torch", "onnx", "openvino")
AUTO_ORDER = ("openvino", "onnx", "torch")
EXPORT_IMGSZ = 416
CACHE_DIR_NAME = ".export-cache"

_EXPORT_LOCK = threading.Lock()
_log = logging.getLogger(__name__)


def backend_available(backend: str) -> bool:
    """Whether the runtime a backend needs is installed."""
    if backend == "torch":
        return True
    module = {"onnx": "onnxruntime", "openvino": "openvino"}.get(backend)
    return module is not None and importlib.util.find_spec(module) is not None


def export_cache_dir(weights: Path) -> Path:
    """Where the exports of ``weights`` live: ``<weights dir>/.export-cache/<stem>-<sha12>/``."""
    return weights.parent / CACHE_DIR_NAME / f"{weights.stem}-{file_sha256(weights)[:12]}"


def exported_model_path(weights: Path, backend: str) -> Path:
    """The file or folder Ultralytics loads for ``backend`` inside the export cache."""
    cache = export_cache_dir(weights)
    if backend == "onnx":
        return cache / f"{weights.stem}.onnx"
    if backend == "openvino":
        return cache / f"{weights.stem}_openvino_model"
    raise ValueError(f"{backend!r} has no export")


def ensure_export(weights: Path, backend: str, *, imgsz: int = EXPORT_IMGSZ) -> Path:
    """Export ``weights`` for ``backend`` unless the cache has it; returns the exported model path.

    The export runs in a temporary folder inside the cache and is moved into
    place atomically, so concurrent processes never load a half-written model.
    Dynamic input shapes let one export serve any batch size and image size.
    """
    target = exported_model_path(weights, backend)
    if target.exists():
        return target
    verify_weights(weights)
    enforce_offline()
    with _EXPORT_LOCK:
        if target.exists():
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        workdir = Path(tempfile.mkdtemp(prefix="export-", dir=target.parent))
        try:
            staged_weights = workdir / weights.name
            shutil.copy2(weights, staged_weights)
            model = load_yolo_unchecked(staged_weights)
            fmt = "onnx" if backend == "onnx" else "openvino"
            options: dict[str, Any] = {"format": fmt, "imgsz": imgsz, "dynamic": True, "half": False, "verbose": False}
            if fmt == "onnx":
                options["simplify"] = True
            produced = Path(model.export(**options))
            try:
                os.replace(produced, target)
            except OSError:
                if not target.exists():
                    raise
        except ModelLoadError:
            raise
        except Exception as error:  # noqa: BLE001 - exporters raise anything; callers fall back
            raise ModelLoadError(f"{weights}: {backend} export failed ({str(error).splitlines()[0][:160]})") from error
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
    return target


def load_yolo_unchecked(path: Path) -> Any:
    """Open a model file already verified (a staged copy of checked weights or an export of them)."""
    enforce_offline()
    from ultralytics import YOLO

    try:
        return YOLO(str(path), task="segment")
    except Exception as error:  # noqa: BLE001
        raise ModelLoadError(f"{path}: cannot open model ({str(error).splitlines()[0][:160]})") from error


def open_backend(weights: Path, backend: str = "torch") -> tuple[Any, str, Path]:
    """Open ``weights`` on ``backend``; returns ``(ultralytics model, backend used, file loaded)``.

    ``auto`` tries OpenVINO, ONNX Runtime, then PyTorch, exporting on first
    use; a backend that fails to export or load is skipped with a log message.
    An explicit backend that fails raises ``ModelLoadError``.
    """
    if backend not in (*BACKENDS, "auto"):
        raise ValueError(f"backend must be one of {', '.join((*BACKENDS, 'auto'))}, got {backend!r}")
    weights = Path(weights)
    if backend == "torch":
        return load_yolo(weights), "torch", weights
    if backend != "auto":
        return _open_exported(weights, backend), backend, exported_model_path(weights, backend)
    verify_weights(weights)
    for candidate in AUTO_ORDER:
        if candidate == "torch":
            break
        if not backend_available(candidate):
            continue
        try:
            return _open_exported(weights, candidate), candidate, exported_model_path(weights, candidate)
        except ModelLoadError as error:
            _log.warning("backend %s unavailable, trying the next one: %s", candidate, error)
    return load_yolo(weights), "torch", weights


def _open_exported(weights: Path, backend: str) -> Any:
    if not backend_available(backend):
        raise ModelLoadError(f"backend {backend}: its runtime is not installed")
    verify_weights(weights)
    return load_yolo_unchecked(ensure_export(weights, backend))
