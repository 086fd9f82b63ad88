"""Inference backends: PyTorch weights, their ONNX Runtime / OpenVINO exports, or the INT8 OpenVINO model.

PyTorch and ONNX run through Ultralytics' own predictor
(``UltralyticsSegmentationModel``). The OpenVINO models (FP32 and INT8) run
directly on OpenVINO with the same letterbox, NMS and mask decoding in NumPy
(``crackseg.inference.openvino_runner``): the same ``CrackPrediction`` comes
out, without importing torch for a batch's first result. Exports have dynamic
input shapes, letterboxed minimally exactly as the PyTorch model is, so one
export serves any batch size (tiles) and image size. Every opened model has
``predict_rgb(images, conf=, iou=, imgsz=, max_det=)``.

Exports are made once, offline, into a cache folder next to the weights
(``<weights dir>/.export-cache/<stem>-<sha12>/``), keyed by the weights'
SHA-256 so new weights are re-exported. When that folder cannot be written
(weights on a read-only share) the cache goes to the user's cache folder
instead. ``auto`` picks the fastest backend that works here: the INT8 OpenVINO
model (only where one was made from these weights and passed its accuracy
check, see ``crackseg.training.int8_build``), then OpenVINO FP32, ONNX Runtime and
PyTorch; every model is warmed up with one tiny prediction
when opened, so a runtime that cannot run here fails at load time (and ``auto``
falls back) rather than on the first photo.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import shutil
import tempfile
import threading
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from crackseg.core.errors import ModelLoadError
from crackseg.core.locations import PROJECT_ROOT, user_cache_root
from crackseg.core.offline import enforce_offline, offline_environment
from crackseg.inference.int8_lookup import Int8Withdrawn, usable_int8_model
from crackseg.inference.model_loading import file_sha256, load_yolo, verify_weights
from crackseg.inference.openvino_runner import OpenVinoSegmentationModel
from crackseg.inference.prediction import CrackPrediction

INT8_BACKEND = "openvino-int8"
BACKENDS = ("torch", "onnx", "openvino", INT8_BACKEND)
AUTO_ORDER = (INT8_BACKEND, "openvino", "onnx", "torch")
EXPORT_IMGSZ = 416
CACHE_DIR_NAME = ".export-cache"
# Python modules each backend needs to run, and (superset) to be exported; all are in requirements.txt.
_RUNTIME_MODULES = {"onnx": ("onnxruntime",), "openvino": ("openvino",), INT8_BACKEND: ("openvino",)}
_EXPORT_MODULES = {"onnx": ("onnx", "onnxslim", "onnxruntime"), "openvino": ("openvino",)}

_NATIVE_BACKENDS = ("openvino", INT8_BACKEND)  # run on OpenVINO directly (on the CPU), not through Ultralytics

_EXPORT_LOCK = threading.Lock()
_PRECISION_LOCK = threading.RLock()
_INPUTS_LOCK = threading.RLock()
_log = logging.getLogger(__name__)


def backend_available(backend: str) -> bool:
    """Whether the runtime a backend needs is installed (``torch`` always is)."""
    if backend == "torch":
        return True
    modules = _RUNTIME_MODULES.get(backend)
    return modules is not None and all(importlib.util.find_spec(name) is not None for name in modules)


def export_cache_dir(weights: Path, sha256: str | None = None) -> Path:
    """Where the exports of ``weights`` live: ``<weights dir>/.export-cache/<stem>-<sha12>/``.

    Only for weights inside this project (``model/``, ``runs/``...): the cache
    is never written beside weights the operator keeps elsewhere (a shared or
    read-only folder; root may write where it should not), nor where the
    folder is not writable. Those use ``user_cache_root()/<stem>-<sha12>/``.
    ``sha256`` saves hashing the weights again when the caller has it.
    """
    weights = Path(weights)
    key = f"{weights.stem}-{(sha256 or file_sha256(weights))[:12]}"
    beside = weights.parent / CACHE_DIR_NAME / key
    inside_project = weights.resolve().is_relative_to(PROJECT_ROOT)
    if inside_project and (beside.is_dir() or _writable(weights.parent)):
        return beside
    return user_cache_root() / key


def exported_model_path(weights: Path, backend: str, sha256: str | None = None) -> Path:
    """The file (``.onnx``) or folder (``_openvino_model``) Ultralytics loads for ``backend``, in the cache."""
    if backend not in _EXPORT_MODULES:
        raise ValueError(f"{backend!r} has no export; exported backends are {', '.join(_EXPORT_MODULES)}")
    cache = export_cache_dir(weights, sha256)
    weights = Path(weights)
    return cache / (f"{weights.stem}.onnx" if backend == "onnx" else f"{weights.stem}_openvino_model")


def ensure_export(weights: Path, backend: str, *, imgsz: int = EXPORT_IMGSZ) -> Path:
    """Export ``weights`` for ``backend`` unless the cache has it; returns the exported model path.

    Offline and without installs: the exporter's packages must already be
    importable (``ModelLoadError`` names the missing one). The export runs in a
    temporary folder inside the cache and is moved into place atomically, so
    concurrent processes never load a half-written model. Input shapes are
    dynamic (batch, height, width); ``imgsz`` is only the traced example size.
    """
    weights = Path(weights)
    verify_weights(weights)
    sha256 = file_sha256(weights)
    target = exported_model_path(weights, backend, sha256)
    if target.exists():
        return target
    missing = [name for name in _EXPORT_MODULES[backend] if importlib.util.find_spec(name) is None]
    if missing:
        raise ModelLoadError(f"{backend} export needs {', '.join(missing)} (pip install -r requirements.txt)")
    enforce_offline()
    with _EXPORT_LOCK:
        if target.exists():
            return target
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            workdir = Path(tempfile.mkdtemp(prefix="export-", dir=target.parent))
        except OSError as error:
            raise ModelLoadError(f"{target.parent}: cannot write the export cache ({error})") from error
        try:
            staged_weights = workdir / weights.name
            shutil.copy2(weights, staged_weights)
            if file_sha256(staged_weights) != sha256:  # replaced meanwhile (e.g. a training run promoted new ones)
                raise ModelLoadError(f"{weights}: the weights changed while being exported; open them again")
            model = load_yolo_unchecked(staged_weights)
            options: dict[str, Any] = {"format": backend, "imgsz": imgsz, "dynamic": True, "device": "cpu"}
            if backend == "onnx":
                options["simplify"] = True
            with _quiet_exporter():
                produced = Path(model.export(**options, verbose=False))
            try:
                os.replace(produced, target)
            except OSError:
                if not target.exists():  # another process won the race: its export is as good as ours
                    raise
        except ModelLoadError:
            raise
        except Exception as error:  # noqa: BLE001 - exporters raise anything; callers fall back
            reason = str(error).strip().splitlines()[0][:160] if str(error).strip() else type(error).__name__
            raise ModelLoadError(f"{weights}: {backend} export failed ({reason})") from error
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


class UltralyticsSegmentationModel:
    """An Ultralytics ``YOLO`` model (PyTorch weights or an export) behind ``predict_rgb``; ``yolo`` is the model."""

    def __init__(self, yolo: Any, device: str = "cpu") -> None:
        self.yolo = yolo
        self.device = device

    def predict_rgb(
        self, images: Sequence[np.ndarray], *, conf: float, iou: float, imgsz: int, max_det: int
    ) -> list[CrackPrediction]:
        """Predictions for same-size RGB ``uint8`` images, at their original size.

        Ultralytics takes arrays as BGR; ``cvtColor`` makes that copy (also of tile
        views) several times faster than ``[..., ::-1]``.
        """
        bgr_images = [cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR) for rgb in images]
        results = self.yolo.predict(
            bgr_images,
            conf=conf,
            iou=iou,
            imgsz=imgsz,
            max_det=max_det,
            device=self.device,
            retina_masks=False,
            verbose=False,
        )
        return [CrackPrediction.from_ultralytics(result) for result in results]


SegmentationModel = UltralyticsSegmentationModel | OpenVinoSegmentationModel


def open_backend(weights: Path, backend: str = "torch", *, device: str = "cpu") -> tuple[SegmentationModel, str, Path]:
    """Open ``weights`` on ``backend``; returns ``(model, backend used, file loaded)``.

    ``auto`` tries OpenVINO, ONNX Runtime, then PyTorch, exporting on first use;
    a backend whose runtime is missing or that fails to export, load or run is
    skipped with a log message. An explicit backend that fails raises
    ``ModelLoadError``; an unknown name raises ``ValueError``. The model comes
    back warmed up on ``device`` (one prediction on a small blank image). On the
    CPU the OpenVINO backends run natively; on another ``device`` through Ultralytics.
    """
    if backend not in (*BACKENDS, "auto"):
        raise ValueError(f"backend must be one of {', '.join((*BACKENDS, 'auto'))}, got {backend!r}")
    weights = Path(weights)
    if backend == "torch":
        return _warm_up(UltralyticsSegmentationModel(load_yolo(weights), device), weights), "torch", weights
    if backend != "auto":
        model, path = _open_exported(weights, backend, device)
        return model, backend, path
    verify_weights(weights)
    for candidate in AUTO_ORDER:
        if candidate == "torch":
            break
        if not backend_available(candidate):
            _log.info("backend %s: runtime not installed, skipped", candidate)
            continue
        try:
            model, path = _open_exported(weights, candidate, device)
        except Int8Withdrawn as error:
            _log.info("backend %s not used, trying the next one: %s", candidate, error)
            continue
        except ModelLoadError as error:
            _log.warning("backend %s unavailable, trying the next one: %s", candidate, error)
            continue
        return model, candidate, path
    return _warm_up(UltralyticsSegmentationModel(load_yolo(weights), device), weights), "torch", weights


def _open_exported(weights: Path, backend: str, device: str) -> tuple[SegmentationModel, Path]:
    """Export if needed, open and warm up; a cached export that will not run is rebuilt once.

    The INT8 model is not made here (it needs a calibration dataset and an
    accuracy check: ``crackseg.training.int8_build``); it is opened only if it exists,
    matches these weights and passed its check.
    """
    if not backend_available(backend):
        raise ModelLoadError(f"backend {backend}: its runtime is not installed (pip install -r requirements.txt)")
    if backend == INT8_BACKEND:
        verify_weights(weights)
        path = usable_int8_model(weights)
        return _open_runtime(path, device), path
    path = ensure_export(weights, backend)
    try:
        return _open_runtime(path, device), path
    except ModelLoadError as error:
        _log.warning("cached %s export %s does not run (%s); exporting again", backend, path, error)
        _remove(path)
    path = ensure_export(weights, backend)
    return _open_runtime(path, device), path


def _open_runtime(path: Path, device: str) -> SegmentationModel:
    """Open an exported model (FP32 for OpenVINO, see ``openvino_full_precision``; letterboxed as for
    PyTorch, see ``openvino_on_pytorch_inputs``) and warm it up.

    OpenVINO folders on the CPU run natively (``OpenVinoSegmentationModel``), the rest through Ultralytics.
    """
    if path.is_dir() and path.name.endswith("_openvino_model") and device.lower() == "cpu":
        return _warm_up(OpenVinoSegmentationModel(path), path)
    with openvino_full_precision(), openvino_on_pytorch_inputs():
        return _warm_up(UltralyticsSegmentationModel(load_yolo_unchecked(path), device), path)


def ultralytics_model(model: SegmentationModel) -> Any:
    """The Ultralytics ``YOLO`` behind an opened model, for its validator (a native OpenVINO one is opened again)."""
    if isinstance(model, UltralyticsSegmentationModel):
        return model.yolo
    with openvino_full_precision():
        return load_yolo_unchecked(model.folder)


@contextlib.contextmanager
def openvino_full_precision() -> Iterator[None]:
    """Inside this block, every OpenVINO ``Core`` created compiles for CPU in FP32 (and stays so for recompiles).

    On CPUs with BF16 (AVX-512 BF16, AMX) OpenVINO runs FP32 models in BF16 by
    default: faster, but thin crack masks then drift from the PyTorch model's
    (union IoU down to 0.978 on the samples). The product promises the same
    cracks on every backend, so the precision is pinned to FP32, and so are the
    floating-point layers of the INT8 model (as fast here, and exact). Ultralytics
    creates its ``Core`` inside its OpenVINO backend (for prediction and again
    for its validator); while this block runs, ``openvino.Core`` is a subclass
    that sets the precision hint as the Core is made, so the compiled model and
    any recompile use FP32. Blocks are serialised by a lock; outside them
    ``openvino.Core`` is the library's own.
    """
    if importlib.util.find_spec("openvino") is None:
        yield
        return
    offline_environment()  # before the first ``import openvino``: that import alone would start its telemetry
    import openvino

    original = openvino.Core

    class FullPrecisionCore(original):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.set_property("CPU", {"INFERENCE_PRECISION_HINT": openvino.Type.f32})

    with _PRECISION_LOCK:
        openvino.Core = FullPrecisionCore
        try:
            yield
        finally:
            openvino.Core = original


@contextlib.contextmanager
def openvino_on_pytorch_inputs() -> Iterator[None]:
    """Inside this block, Ultralytics feeds an OpenVINO model the inputs it feeds a PyTorch model.

    Why: on CPUs with AMX INT8 (Intel Sapphire Rapids and newer) Ultralytics runs
    INT8 OpenVINO models as static models, recompiled per input shape (an
    OpenVINO crash with dynamic shapes there), and marks them not dynamic. Its
    predictor then letterboxes to squares, not to the photo's shape rounded to
    the stride as for PyTorch (and as ``OpenVinoSegmentationModel`` does), and its
    validator switches to batch 1 and square letterboxes,
    where the PyTorch model is validated in batches of rectangular letterboxes
    with half a stride of padding (416-px photos at 448 px). The INT8 gate would
    compare the two models on different inputs: on crack-seg valid, on such a
    CPU, the shipped INT8 model scored mask mAP50 0.6596 that way and 0.6800 on
    the PyTorch model's inputs (0.6815 where it was built, without AMX; FP32
    0.6821): a "drop" of 0.022 that was the letterbox, not the INT8 model.
    Marking the model dynamic again keeps Ultralytics on the PyTorch inputs; the
    backend still recompiles per shape, so nothing runs with dynamic shapes. The
    backend is made when a model first predicts or validates: that must happen
    inside the block. Blocks are serialised by a lock; outside them Ultralytics
    is unchanged.
    """
    try:
        backend_module = importlib.import_module("ultralytics.nn.backends.openvino")
        backend_class = backend_module.OpenVINOBackend
    except (ImportError, AttributeError):  # an Ultralytics without this backend has no such switch
        yield
        return
    original_load = backend_class.load_model

    def load_model(self: Any, weight: Any) -> None:
        original_load(self, weight)
        if getattr(self, "read_model", None) is not None:  # the static, per-shape path was chosen
            self.dynamic = True

    with _INPUTS_LOCK:
        backend_class.load_model = load_model
        try:
            yield
        finally:
            backend_class.load_model = original_load


def compiled_precision(model: Any) -> str | None:
    """The inference precision a model's OpenVINO runtime compiled with (``f32``), None if not OpenVINO.

    ``model`` is an opened model (native or Ultralytics) or an Ultralytics ``YOLO``.
    """
    if isinstance(model, OpenVinoSegmentationModel):
        compiled = model.compiled_model
        return None if compiled is None else str(compiled.get_property("INFERENCE_PRECISION_HINT"))
    if isinstance(model, UltralyticsSegmentationModel):
        model = model.yolo
    runtime = getattr(getattr(getattr(model, "predictor", None), "model", None), "backend", None)
    compiled = getattr(runtime, "ov_compiled_model", None)
    if compiled is None:
        return None
    return str(compiled.get_property("INFERENCE_PRECISION_HINT"))


def _warm_up(model: SegmentationModel, path: Path) -> SegmentationModel:
    """Run one prediction on a blank image so the runtime loads (and fails) now, on its device."""
    blank = [np.zeros((EXPORT_IMGSZ, EXPORT_IMGSZ, 3), dtype=np.uint8)]  # the usual input shape: prepared now
    try:
        quiet = _quiet_ultralytics() if isinstance(model, UltralyticsSegmentationModel) else contextlib.nullcontext()
        with quiet:
            model.predict_rgb(blank, conf=0.25, iou=0.7, imgsz=EXPORT_IMGSZ, max_det=300)
    except Exception as error:  # noqa: BLE001 - any runtime failure means this backend cannot serve
        reason = str(error).strip().splitlines()[0][:160] if str(error).strip() else type(error).__name__
        raise ModelLoadError(f"{path}: the model does not run here ({reason})") from error
    return model


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _writable(folder: Path) -> bool:
    return folder.is_dir() and os.access(folder, os.W_OK | os.X_OK)


@contextlib.contextmanager
def _quiet_ultralytics() -> Iterator[None]:
    """Hold Ultralytics' logger at WARNING: its 'Loading ...' / export progress lines would land on stdout,
    mixed into the CLI's output."""
    from ultralytics.utils import LOGGER

    level = LOGGER.level
    LOGGER.setLevel(logging.WARNING)
    try:
        yield
    finally:
        LOGGER.setLevel(level)


@contextlib.contextmanager
def _quiet_exporter() -> Iterator[None]:
    """Keep the exporter's progress lines and tracer warnings off the console; never let it pip-install.

    Ultralytics' ``check_requirements`` would try ``pip install`` for a missing or
    too old exporter package; ``AUTOINSTALL = False`` turns that into a warning
    (the export then fails with a clear error) even if Ultralytics was imported
    before ``enforce_offline`` set ``YOLO_AUTOINSTALL``.
    """
    from ultralytics.utils import checks

    autoinstall = checks.AUTOINSTALL
    checks.AUTOINSTALL = False
    try:
        with _quiet_ultralytics(), warnings.catch_warnings():
            for category in (FutureWarning, DeprecationWarning, UserWarning):  # tracer / exporter notices
                warnings.simplefilter("ignore", category)
            yield
    finally:
        checks.AUTOINSTALL = autoinstall
