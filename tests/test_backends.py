"""ONNX Runtime / OpenVINO backends against the PyTorch model (crackseg.inference: backends, segmenter).

The exports are made once per session from a temporary copy of ``model/best.pt``
(seeded from the repo's export cache when it holds them), so the tests never
depend on, or write to, the repo's cache.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from crackseg.core.errors import ModelLoadError
from crackseg.core.locations import SHIPPED_MODEL
from crackseg.inference import backends
from crackseg.inference.backends import ensure_export, export_cache_dir, exported_model_path, open_backend
from crackseg.inference.model_loading import file_sha256
from crackseg.inference.prediction import CrackPrediction
from crackseg.inference.segmenter import MODEL_BATCH, InferenceSettings, Segmenter
from crackseg.io.image_io import load_image

SAMPLE_NAMES = sorted(path.name for path in (Path(__file__).resolve().parents[1] / "samples" / "images").glob("*.jpg"))
# (name, (row slice, column slice)): the full 416x416 image and two non-square crops, one wide and one tall,
# so the minimal letterbox pads differently than the square one.
CROPS = {
    "full": (slice(None), slice(None)),
    "wide 260x390": (slice(30, 290), slice(10, 400)),
    "tall 416x160": (slice(None), slice(100, 260)),
}
EXPORTED = ("onnx", "openvino")


def union_iou(a: CrackPrediction, b: CrackPrediction) -> float:
    """IoU of the two union masks; 1.0 when both are empty (a crack-free road agreed on)."""
    union = np.count_nonzero(a.union_mask | b.union_mask)
    return 1.0 if union == 0 else np.count_nonzero(a.union_mask & b.union_mask) / union


@pytest.fixture(scope="session")
def weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private copy of the shipped weights with both exports in its cache."""
    copy = tmp_path_factory.mktemp("model") / "best.pt"
    shutil.copy2(SHIPPED_MODEL, copy)
    repo_cache = export_cache_dir(SHIPPED_MODEL)
    if repo_cache.is_dir():  # reuse the repo's exports of these very weights (same hash, same key)
        shutil.copytree(repo_cache, export_cache_dir(copy), dirs_exist_ok=True)
    for backend in EXPORTED:
        ensure_export(copy, backend)
    return copy


@pytest.fixture(scope="session")
def segmenters(weights: Path) -> dict[str, Segmenter]:
    return {backend: Segmenter(weights, backend=backend) for backend in ("torch", *EXPORTED)}


@pytest.fixture(scope="session")
def sample_crops() -> dict[tuple[str, str], np.ndarray]:
    root = Path(__file__).resolve().parents[1] / "samples" / "images"
    images = {name: load_image(root / name) for name in SAMPLE_NAMES}
    return {
        (name, crop): np.ascontiguousarray(images[name][rows, cols])
        for name in SAMPLE_NAMES
        for crop, (rows, cols) in CROPS.items()
    }


@pytest.fixture(scope="session")
def predictions(
    segmenters: dict[str, Segmenter], sample_crops: dict[tuple[str, str], np.ndarray]
) -> dict[tuple[str, str, str], CrackPrediction]:
    return {
        (backend, name, crop): segmenter.predict(rgb)
        for backend, segmenter in segmenters.items()
        for (name, crop), rgb in sample_crops.items()
    }


# --- equivalence ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("crop", list(CROPS))
@pytest.mark.parametrize("name", SAMPLE_NAMES)
@pytest.mark.parametrize("backend", EXPORTED)
def test_exported_backend_matches_torch(
    predictions: dict[tuple[str, str, str], CrackPrediction],
    sample_crops: dict[tuple[str, str], np.ndarray],
    backend: str,
    name: str,
    crop: str,
) -> None:
    reference, exported = predictions[("torch", name, crop)], predictions[(backend, name, crop)]
    height, width = sample_crops[(name, crop)].shape[:2]
    assert exported.resolution_wh == reference.resolution_wh == (width, height)
    assert len(exported) == len(reference)
    assert union_iou(exported, reference) >= 0.98


def test_the_samples_have_cracks_to_compare(predictions: dict[tuple[str, str, str], CrackPrediction]) -> None:
    """The equivalence above means something only if the torch model finds cracks on most samples."""
    found = [name for name in SAMPLE_NAMES if len(predictions[("torch", name, "full")]) > 0]
    assert len(found) >= 6


@pytest.mark.parametrize("crop", ["wide 260x390", "tall 416x160"])
def test_square_and_minimal_letterbox_give_aligned_masks(
    weights: Path, sample_crops: dict[tuple[str, str], np.ndarray], crop: str
) -> None:
    """Ultralytics pads a non-square image to a square (``rect=False``) or to the next stride (``rect=True``);
    ``masks_to_original_size`` must undo either, so both predictions land on the same pixels."""
    import cv2

    model = backends.load_yolo_unchecked(weights)
    ious = []
    for name in SAMPLE_NAMES:
        bgr = cv2.cvtColor(sample_crops[(name, crop)], cv2.COLOR_RGB2BGR)
        minimal, square = (
            CrackPrediction.from_ultralytics(model.predict(bgr, imgsz=416, rect=rect, verbose=False)[0])
            for rect in (True, False)
        )
        if len(minimal) and len(square):
            ious.append(union_iou(minimal, square))
    assert len(ious) >= 5
    # The two paddings show the model different borders, so its masks differ a little with any weights
    # (median 0.89-0.92 for the models shipped so far); a mask shifted by the padding (tens of px) scores near 0.
    assert float(np.median(ious)) >= 0.8


@pytest.mark.parametrize("backend", EXPORTED)
def test_batches_of_tiles_match_single_calls(
    segmenters: dict[str, Segmenter], sample_crops: dict[tuple[str, str], np.ndarray], backend: str
) -> None:
    """Dynamic batch axis: several same-size images in one call give what one call each gives."""
    tiles = [sample_crops[(name, "wide 260x390")] for name in SAMPLE_NAMES[:5]]
    segmenter = segmenters[backend]
    batched = segmenter.predict_batch(tiles)
    single = [segmenter.predict(tile) for tile in tiles]
    assert [len(p) for p in batched] == [len(p) for p in single]
    assert min(union_iou(a, b) for a, b in zip(batched, single, strict=True)) >= 0.98


def test_predict_batch_keeps_order_and_groups_sizes(
    segmenters: dict[str, Segmenter], sample_crops: dict[tuple[str, str], np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    segmenter = segmenters["torch"]
    keys = [(SAMPLE_NAMES[0], "full"), (SAMPLE_NAMES[1], "tall 416x160"), (SAMPLE_NAMES[2], "full")]
    images = [sample_crops[key] for key in keys]
    calls = _spy_model_calls(segmenter, monkeypatch)
    batched = segmenter.predict_batch(images)
    assert sorted(calls) == [1, 2]  # the two 416x416 images together, the tall crop alone
    assert [p.resolution_wh for p in batched] == [(rgb.shape[1], rgb.shape[0]) for rgb in images]
    monkeypatch.undo()
    for rgb, prediction in zip(images, batched, strict=True):
        alone = segmenter.predict(rgb)
        assert len(alone) == len(prediction) and union_iou(alone, prediction) >= 0.98


# --- tiling ------------------------------------------------------------------------------------------------


def test_tiles_go_through_the_backend_in_batches(
    segmenters: dict[str, Segmenter], sample_crops: dict[tuple[str, str], np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 1664x1248 mosaic of samples at tile 640 / overlap 0.2 (step 512) is 3 x 3 = 9 tiles: calls of 8 and 1."""
    rows = [np.hstack([sample_crops[(SAMPLE_NAMES[(r * 4 + c) % 8], "full")] for c in range(4)]) for r in range(3)]
    mosaic = np.ascontiguousarray(np.vstack(rows))
    segmenter = segmenters["openvino"]
    calls = _spy_model_calls(segmenter, monkeypatch)
    prediction = segmenter.predict(mosaic, InferenceSettings(tile="always"))
    assert calls == [MODEL_BATCH, 9 - MODEL_BATCH]
    assert prediction.resolution_wh == (1664, 1248)
    assert len(prediction) > 0


def _spy_model_calls(segmenter: Segmenter, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Record the number of images in each call into the segmenter's model."""
    calls: list[int] = []
    model = segmenter._model
    original = model.predict_rgb

    def counting(source: list[np.ndarray], **kwargs: object) -> list[object]:
        calls.append(len(source))
        return original(source, **kwargs)

    monkeypatch.setattr(model, "predict_rgb", counting)
    return calls


# --- export cache ----------------------------------------------------------------------------------------


def test_cached_export_is_reused(weights: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_export(path: Path) -> None:
        raise AssertionError(f"re-exported {path}")

    monkeypatch.setattr(backends, "load_yolo_unchecked", no_export)
    for backend in EXPORTED:
        assert ensure_export(weights, backend) == exported_model_path(weights, backend)


def test_new_weights_are_exported_again_offline(weights: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Changed weights hash to a new cache folder and are exported there, with no network and no pip."""
    import torch

    changed = tmp_path / "best.pt"
    checkpoint = torch.load(weights, map_location="cpu", weights_only=False)  # our own shipped file
    checkpoint["date"] = "2000-01-01T00:00:00"  # different bytes, same network
    torch.save(checkpoint, changed)
    assert file_sha256(changed) != file_sha256(weights)
    old_path, new_path = exported_model_path(weights, "onnx"), exported_model_path(changed, "onnx")
    assert new_path.parent != old_path.parent and new_path.parent.name.startswith("best-")
    assert not new_path.exists()

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the export tried to reach the network or run a subprocess (pip)")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(subprocess, "check_output", refuse)
    monkeypatch.setattr(subprocess, "run", refuse)
    assert ensure_export(changed, "onnx") == new_path
    assert new_path.is_file() and old_path.is_file()
    assert [p.name for p in new_path.parent.iterdir()] == [new_path.name]  # no staging folder left behind


def test_broken_cached_export_is_rebuilt(weights: Path, tmp_path: Path) -> None:
    copy = tmp_path / "best.pt"
    shutil.copy2(weights, copy)
    broken = exported_model_path(copy, "onnx")
    broken.parent.mkdir(parents=True, exist_ok=True)
    broken.write_bytes(b"not an onnx model")
    _, used, path = open_backend(copy, "onnx")
    assert (used, path) == ("onnx", broken)
    assert broken.stat().st_size > 1_000_000


def test_read_only_weights_folder_caches_in_the_user_cache(
    weights: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shipped_elsewhere = tmp_path / "share" / "best.pt"
    shipped_elsewhere.parent.mkdir()
    shutil.copy2(weights, shipped_elsewhere)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(backends, "_writable", lambda folder: False)
    expected = tmp_path / "cache" / "crackseg" / "export-cache" / f"best-{file_sha256(weights)[:12]}"
    assert export_cache_dir(shipped_elsewhere) == expected


# --- choosing a backend -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("available", "expected"),
    [
        ({"torch", "onnx", "openvino"}, "openvino"),
        ({"torch", "onnx"}, "onnx"),
        ({"torch"}, "torch"),
    ],
    ids=["all installed", "no openvino", "no runtime"],
)
def test_auto_picks_the_fastest_available(
    weights: Path, monkeypatch: pytest.MonkeyPatch, available: set[str], expected: str
) -> None:
    monkeypatch.setattr(backends, "backend_available", lambda backend: backend in available)
    segmenter = Segmenter(weights, backend="auto")
    assert segmenter.backend == expected
    assert segmenter.info()["backend"] == expected
    assert segmenter.model_file == (weights if expected == "torch" else exported_model_path(weights, expected))


def test_auto_falls_back_to_torch_when_exports_fail(weights: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def failing_export(path: Path, backend: str, **kwargs: object) -> Path:
        raise ModelLoadError(f"{path}: {backend} export failed (simulated)")

    def no_int8_model(path: Path, sha256: str | None = None) -> Path:
        raise ModelLoadError(f"{path}: no INT8 model (simulated)")

    monkeypatch.setattr(backends, "ensure_export", failing_export)
    monkeypatch.setattr(backends, "usable_int8_model", no_int8_model)
    assert Segmenter(weights, backend="auto").backend == "torch"
    with pytest.raises(ModelLoadError, match="simulated"):
        Segmenter(weights, backend="openvino")


def test_explicit_backend_without_its_runtime_is_an_error(weights: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(backends, "backend_available", lambda backend: backend == "torch")
    with pytest.raises(ModelLoadError, match="not installed"):
        Segmenter(weights, backend="onnx")


@pytest.mark.parametrize("backend", ["tensorrt", "Torch", "", "openvino "])
def test_unknown_backend_is_a_value_error(weights: Path, backend: str) -> None:
    with pytest.raises(ValueError, match="backend must be one of"):
        Segmenter(weights, backend=backend)


def test_cli_export_prints_the_cached_models(weights: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from crackseg.cli import main

    assert main(["export", "--weights", str(weights)]) == 0
    printed = capsys.readouterr().out
    for backend in EXPORTED:
        assert f"{backend}: {exported_model_path(weights, backend)}" in printed


# --- streaming -------------------------------------------------------------------------------------------------


def test_predict_many_streams_one_image_ahead(segmenters: dict[str, Segmenter], samples_dir: Path) -> None:
    """Sources are pulled lazily (the current one plus one decoding ahead); a bad one yields an error and the
    stream goes on."""
    paths = [samples_dir / name for name in SAMPLE_NAMES[:3]]
    sources: list[object] = [paths[0], ("broken.jpg", b"not an image"), paths[1], paths[2]]
    pulled: list[int] = []

    def lazily() -> Iterator[object]:
        for index, source in enumerate(sources):
            pulled.append(index)
            yield source

    stream = segmenters["openvino"].predict_many(lazily(), keep_images=False)
    first = next(stream)
    assert first.ok and first.name == paths[0].name and first.rgb is None
    assert len(pulled) <= 2
    rest = list(stream)
    assert [item.name for item in rest] == ["broken.jpg", paths[1].name, paths[2].name]
    assert [item.ok for item in rest] == [False, True, True]
    assert "broken.jpg" in (rest[0].error or "")


def test_exports_of_weights_outside_the_project_never_go_beside_them(
    weights: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An operator's model in a shared folder: root could write there, the cache must not."""
    elsewhere = tmp_path / "shared-models" / "best.pt"
    elsewhere.parent.mkdir()
    shutil.copy2(weights, elsewhere)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    cache = export_cache_dir(elsewhere)
    assert not cache.is_relative_to(elsewhere.parent)
    assert cache.is_relative_to(tmp_path / "cache")
    assert export_cache_dir(SHIPPED_MODEL).parent == SHIPPED_MODEL.parent / ".export-cache"


def test_openvino_runs_in_fp32_even_where_the_cpu_has_bf16(segmenters: dict[str, Segmenter]) -> None:
    """OpenVINO would pick BF16 on AVX-512 BF16 / AMX CPUs; crackseg pins FP32 so the backends agree."""
    from crackseg.inference.backends import compiled_precision

    assert "float32" in str(compiled_precision(segmenters["openvino"]._model)).lower()
    assert compiled_precision(segmenters["onnx"]._model) is None
