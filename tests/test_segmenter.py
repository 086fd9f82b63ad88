"""The segmenter with the shipped model on the PyTorch backend (crackseg.inference: segmenter, model_loading).

Integration tests on ``samples/``: masks at the image size, colour order,
automatic tiling, streaming with bad items, thread safety; plus the clear
errors for a missing, corrupt or altered model file.
"""

from __future__ import annotations

import io
import json
import shutil
import threading
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

import crackseg.inference.model_loading as model_loading
from crackseg.core.errors import ModelLoadError
from crackseg.core.locations import SHIPPED_MODEL
from crackseg.inference.model_loading import default_model_path, load_yolo, verify_weights
from crackseg.inference.prediction import mirror_prediction
from crackseg.inference.segmenter import InferenceSettings, Segmenter
from crackseg.io.image_io import load_image

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "samples" / "images"
SAMPLE_PATHS = sorted(SAMPLES.glob("*.jpg"))
CRACKED = SAMPLES / "2222.rf.bfd72b1a6235ed53983e11289c619b4e.jpg"  # several cracks
# Labelled cracks that the models find well above conf 0.25 (1616's sits near it).
CLEARLY_CRACKED = [
    SAMPLES / f"{name}.jpg"
    for name in (
        "2222.rf.bfd72b1a6235ed53983e11289c619b4e",
        "2275.rf.586655e669fa91476d091094ff24d359",
        "2400.rf.e2dbfc7baf8e55f3ee71cde186d199c2",
    )
]


@pytest.fixture(scope="module")
def segmenter() -> Segmenter:
    return Segmenter(backend="torch")


def iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return 1.0 if union == 0 else float(np.logical_and(a, b).sum() / union)


def assert_same_prediction(a, b) -> None:
    assert len(a) == len(b)
    np.testing.assert_array_equal(a.masks, b.masks)
    np.testing.assert_allclose(a.confidence, b.confidence, atol=1e-5)
    np.testing.assert_allclose(a.xyxy, b.xyxy, atol=1e-3)


# --- settings ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"conf": 1.5}, "conf must be in"),
        ({"conf": -0.1}, "conf must be in"),
        ({"iou": 0.0}, "iou must be in"),
        ({"imgsz": 400}, "multiple of 32"),
        ({"imgsz": 0}, "multiple of 32"),
        ({"tile": "sometimes"}, "tile must be one of"),
        ({"tile_size": 32}, "tile_size must be >= 64"),
        ({"tile_overlap": 0.95}, "tile_overlap must be in"),
    ],
)
def test_settings_are_validated(options: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        InferenceSettings(**options)


@pytest.mark.parametrize(
    ("tile", "resolution_wh", "expected"),
    [
        ("auto", (416, 416), False),
        ("auto", (960, 500), False),  # 960 = 1.5 x 640: not above the threshold
        ("auto", (961, 500), True),
        ("auto", (4000, 3000), True),
        ("never", (4000, 3000), False),
        ("always", (640, 400), False),  # one tile would be the whole image
        ("always", (641, 400), True),
    ],
)
def test_when_tiling_is_used(tile: str, resolution_wh: tuple[int, int], expected: bool) -> None:
    assert InferenceSettings(tile=tile).uses_tiling(resolution_wh) is expected


# --- prediction on the samples ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "crop", [(slice(None), slice(None)), (slice(30, 330), slice(None)), (slice(None), slice(0, 250))]
)
def test_masks_come_back_at_the_image_size(segmenter: Segmenter, crop: tuple[slice, slice]) -> None:
    rgb = np.ascontiguousarray(load_image(CRACKED)[crop])
    prediction = segmenter.predict(rgb)
    height, width = rgb.shape[:2]
    assert prediction.masks.shape[1:] == (height, width) and prediction.resolution_wh == (width, height)
    assert len(prediction) >= 1 and np.all(prediction.confidence >= 0.25)
    assert np.all(prediction.xyxy[:, 2] <= width + 0.5) and np.all(prediction.xyxy[:, 3] <= height + 0.5)


def test_rgb_input_equals_ultralytics_on_the_bgr_file(segmenter: Segmenter) -> None:
    """Ultralytics reads files with OpenCV (BGR); the Segmenter takes RGB and must flip it, once."""
    for path in CLEARLY_CRACKED:
        theirs = segmenter._model.yolo.predict(str(path), imgsz=416, conf=0.25, iou=0.7, verbose=False)[0]
        assert theirs.masks is not None and tuple(theirs.masks.data.shape[1:]) == (416, 416)  # no letterbox
        their_union = theirs.masks.data.numpy().any(axis=0)
        rgb = cv2.imread(str(path))[:, :, ::-1].copy()
        ours = segmenter.predict(rgb, InferenceSettings(conf=0.25, iou=0.7, imgsz=416, merge_overlap=None))
        assert len(ours) == len(theirs.boxes) >= 1
        assert iou(ours.union_mask, their_union) > 0.999
        np.testing.assert_allclose(np.sort(ours.confidence), np.sort(theirs.boxes.conf.numpy()), atol=1e-4)
        # Pillow's and OpenCV's JPEG decoders differ by a grey level here and there: nearly the same masks
        from_pillow = segmenter.predict(load_image(path))
        assert iou(from_pillow.union_mask, ours.union_mask) > 0.9


def test_large_image_is_tiled_automatically(segmenter: Segmenter, monkeypatch: pytest.MonkeyPatch) -> None:
    rgb = load_image(CRACKED)
    single = segmenter.predict(rgb, InferenceSettings(tile="never"))
    big = np.tile(rgb, (3, 4, 1))  # 1248 x 1664, over 1.5 x 416
    calls: list[int] = []
    infer = segmenter._infer
    monkeypatch.setattr(
        segmenter, "_infer", lambda images, settings: calls.append(len(images)) or infer(images, settings)
    )
    prediction = segmenter.predict(big, InferenceSettings(tile="auto", tile_size=416, tile_overlap=0.0))
    assert sum(calls) == 12 and max(calls) > 1  # 3 x 4 tiles, batched
    assert prediction.masks.shape == (len(prediction), 1248, 1664)
    # each tile is exactly the sample: the same cracks, shifted into place
    assert len(prediction) == 12 * len(single)
    assert iou(prediction.union_mask, np.tile(single.union_mask, (3, 4))) > 0.99


def test_default_tiles_also_return_full_size_masks(segmenter: Segmenter) -> None:
    big = np.tile(load_image(CRACKED), (3, 4, 1))
    prediction = segmenter.predict(big)
    assert InferenceSettings().uses_tiling((1664, 1248))
    assert prediction.masks.shape[1:] == (1248, 1664) and len(prediction) >= 1


def test_preprocessing_is_applied_to_a_copy(segmenter: Segmenter) -> None:
    from crackseg.inference.preprocessing import PreprocessSpec

    rgb = load_image(CRACKED)
    before = rgb.copy()
    segmenter.predict(rgb, InferenceSettings(preprocess=PreprocessSpec("histeq")))
    np.testing.assert_array_equal(rgb, before)


@pytest.mark.parametrize(
    "bad",
    [np.zeros((50, 50), np.uint8), np.zeros((50, 50, 4), np.uint8), np.zeros((50, 50, 3), np.float32), [1, 2, 3]],
    ids=["2d", "rgba", "float", "list"],
)
def test_non_rgb_arrays_are_refused(segmenter: Segmenter, bad) -> None:
    with pytest.raises(ValueError, match=r"expected an RGB uint8 \(H, W, 3\) array"):
        segmenter.predict(bad)


def test_predict_many_streams_and_reports_bad_items(segmenter: Segmenter) -> None:
    png = io.BytesIO()
    Image.fromarray(load_image(SAMPLE_PATHS[1])).save(png, "PNG")
    sources = [
        SAMPLE_PATHS[0],
        ("upload.jpg", b"definitely not a jpeg"),
        ("good.png", png.getvalue()),
        str(SAMPLES / "missing.jpg"),
        load_image(SAMPLE_PATHS[2]),
    ]
    items = list(segmenter.predict_many(sources, keep_images=False))
    assert [item.name for item in items] == [SAMPLE_PATHS[0].name, "upload.jpg", "good.png", "missing.jpg", "image 5"]
    assert [item.ok for item in items] == [True, False, True, False, True]
    assert items[1].error == "upload.jpg: not an image (or an unsupported format)"
    assert items[3].error == "missing.jpg: file not found"
    assert all(item.rgb is None for item in items)
    expected = segmenter.predict(load_image(SAMPLE_PATHS[1]))
    assert_same_prediction(items[2].prediction, expected)


def test_concurrent_predictions_equal_sequential_ones(segmenter: Segmenter) -> None:
    images = [load_image(path) for path in SAMPLE_PATHS[:4]]
    settings = InferenceSettings(imgsz=320)
    sequential = [segmenter.predict(rgb, settings) for rgb in images]
    results: dict[int, object] = {}
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def work(index: int) -> None:
        try:
            barrier.wait()
            results[index] = segmenter.predict(images[index % 4], settings)
        except BaseException as error:  # noqa: BLE001 - reported by the main thread
            errors.append(error)

    threads = [threading.Thread(target=work, args=(index,)) for index in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors and len(results) == 8
    for index in range(8):
        assert_same_prediction(results[index], sequential[index % 4])


def test_flip_tta_adds_what_the_mirrored_image_shows(segmenter: Segmenter) -> None:
    rgb = load_image(CRACKED)
    plain = InferenceSettings(conf=0.1, merge_overlap=None)
    tta = replace(plain, flip_tta=True)
    original = segmenter.predict(rgb, plain)
    seen_mirrored = mirror_prediction(segmenter.predict(np.ascontiguousarray(rgb[:, ::-1]), plain))
    both = segmenter.predict(rgb, tta)
    # Unmerged, the two passes are exactly the original's instances and the mirrored pass's, mirrored back.
    assert len(both) == len(original) + len(seen_mirrored)
    np.testing.assert_array_equal(both.masks, np.concatenate([original.masks, seen_mirrored.masks]))
    np.testing.assert_allclose(both.confidence, np.concatenate([original.confidence, seen_mirrored.confidence]))
    # The mirrored pass is a real second look: it finds pixels the plain pass does not.
    assert np.count_nonzero(seen_mirrored.union_mask & ~original.union_mask) > 0
    # Merged, the union is unchanged and the image predicts the same mirrored (TTA is mirror-symmetric).
    merged = segmenter.predict(rgb, replace(tta, merge_overlap=0.5))
    np.testing.assert_array_equal(merged.union_mask, both.union_mask)
    assert len(merged) < len(both)
    mirrored_tta = mirror_prediction(segmenter.predict(np.ascontiguousarray(rgb[:, ::-1]), tta))
    assert iou(mirrored_tta.union_mask, both.union_mask) > 0.98
    assert tta.to_dict()["flip_tta"] is True and plain.to_dict()["flip_tta"] is False


def test_info_names_the_model_and_its_hash(segmenter: Segmenter) -> None:
    info = segmenter.info()
    card = json.loads((REPO / "model" / "card.json").read_text())
    assert info["sha256"] == card["weights"]["sha256"]
    assert info["backend"] == "torch" and info["name"] == "best.pt"


# --- model files --------------------------------------------------------------------------------------------


def test_model_path_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("CRACKSEG_MODEL", raising=False)
    assert default_model_path() == SHIPPED_MODEL
    monkeypatch.setenv("CRACKSEG_MODEL", str(tmp_path / "other.pt"))
    assert default_model_path() == (tmp_path / "other.pt").resolve()


def test_missing_model_is_a_clear_error(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "best.pt"
    with pytest.raises(ModelLoadError, match="model file not found") as caught:
        Segmenter(missing, backend="torch")
    assert str(missing) in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.parametrize("content", [b"", np.random.default_rng(0).bytes(4096), b"PK\x03\x04" + b"\0" * 100])
def test_corrupt_model_is_a_clear_error(tmp_path: Path, content: bytes) -> None:
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(content)
    with pytest.raises(ModelLoadError, match="not a readable Ultralytics checkpoint") as caught:
        load_yolo(corrupt)
    assert str(caught.value).startswith(str(corrupt)) and "\n" not in str(caught.value)


def test_shipped_model_hash_is_checked_against_its_card(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    weights = tmp_path / "best.pt"
    shutil.copy(SHIPPED_MODEL, weights)
    card = tmp_path / "card.json"
    card.write_text(json.dumps({"weights": {"sha256": "0" * 64}}))
    monkeypatch.setattr(model_loading, "SHIPPED_MODEL", weights)
    monkeypatch.setattr(model_loading, "MODEL_CARD", card)
    with pytest.raises(ModelLoadError, match="SHA-256 does not match"):
        verify_weights(weights)
    with pytest.raises(ModelLoadError, match="SHA-256 does not match"):
        load_yolo(weights)
    card.write_text(json.dumps({"weights": {"sha256": model_loading.file_sha256(SHIPPED_MODEL)}}))
    verify_weights(weights)  # the right hash passes
    other = tmp_path / "other.pt"
    shutil.copy(weights, other)
    card.write_text(json.dumps({"weights": {"sha256": "0" * 64}}))
    verify_weights(other)  # only the shipped model is checked against the card


@pytest.fixture
def street_card(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A street model in tmp with its own card, found by the view lookup as the shipped street model would be."""
    import crackseg.inference.model_loading as model_loading

    weights = tmp_path / "street" / "best.pt"
    weights.parent.mkdir()
    weights.write_bytes(b"street weights")
    monkeypatch.delenv("CRACKSEG_STREET_MODEL", raising=False)
    monkeypatch.setattr(model_loading, "STREET_MODEL", weights)
    monkeypatch.setattr(model_loading, "STREET_MODEL_CARD", weights.parent / "card.json")
    return weights.parent / "card.json"


@pytest.mark.parametrize(
    ("street_view", "expected"),
    [
        ({"conf": 0.07, "imgsz": 512}, 512),
        ({"conf": 0.07}, 416),  # a card from before input sizes were recorded
        ({"conf": 0.07, "imgsz": 500}, 416),  # not a multiple of 32
        ({"conf": 0.07, "imgsz": "512"}, 416),
        ({"conf": 0.07, "imgsz": 4096}, 416),
    ],
)
def test_the_street_view_runs_at_its_model_cards_input_size(
    street_card: Path, street_view: dict, expected: int
) -> None:
    import json

    from crackseg.cli import _inference_settings, build_parser
    from crackseg.inference.model_loading import view_conf, view_imgsz

    street_card.write_text(json.dumps({"views": {"street": street_view}}), encoding="utf-8")
    assert view_imgsz("street") == expected and view_conf("street") == 0.07
    assert view_imgsz("top-down") == 416
    parser = build_parser()
    assert (
        _inference_settings(parser.parse_args(["predict", "x.jpg", "--out", "o", "--view", "street"])).imgsz == expected
    )
    assert _inference_settings(parser.parse_args(["survey", "drive.mp4", "--out", "o"])).imgsz == expected
    assert _inference_settings(parser.parse_args(["predict", "x.jpg", "--out", "o"])).imgsz == 416
    explicit = parser.parse_args(["predict", "x.jpg", "--out", "o", "--view", "street", "--imgsz", "320"])
    assert _inference_settings(explicit).imgsz == 320  # the operator's choice wins


def test_a_missing_or_broken_street_card_means_416(street_card: Path) -> None:
    from crackseg.inference.model_loading import view_imgsz

    assert view_imgsz("street") == 416  # no card at all
    street_card.write_text("{not json", encoding="utf-8")
    assert view_imgsz("street") == 416


@pytest.fixture
def top_down_card(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A top-down model in tmp with its own card, found by the view lookup as the shipped model would be."""
    import crackseg.inference.model_loading as model_loading

    weights = tmp_path / "best.pt"
    weights.write_bytes(b"top-down weights")
    monkeypatch.delenv("CRACKSEG_MODEL", raising=False)
    monkeypatch.setattr(model_loading, "SHIPPED_MODEL", weights)
    monkeypatch.setattr(model_loading, "MODEL_CARD", tmp_path / "card.json")
    return tmp_path / "card.json"


@pytest.mark.parametrize(
    ("top_down_view", "expected"),
    [
        ({"conf": 0.15}, 0.15),  # chosen on val by the gate that shipped the model
        ({}, 0.25),  # a card from before the top-down conf was chosen
        ({"conf": "0.15"}, 0.25),  # not a number
        ({"conf": 1.5}, 0.25),  # not a threshold
        ({"conf": True}, 0.25),
    ],
)
def test_the_top_down_view_runs_at_its_model_cards_conf(
    top_down_card: Path, monkeypatch: pytest.MonkeyPatch, top_down_view: dict, expected: float
) -> None:
    import json

    from crackseg.cli import _inference_settings, build_parser
    from crackseg.inference.model_loading import view_conf

    top_down_card.write_text(json.dumps({"views": {"top-down": top_down_view}}), encoding="utf-8")
    assert view_conf("top-down") == expected
    parser = build_parser()
    assert _inference_settings(parser.parse_args(["predict", "x.jpg", "--out", "o"])).conf == expected
    explicit = parser.parse_args(["predict", "x.jpg", "--out", "o", "--conf", "0.4"])
    assert _inference_settings(explicit).conf == 0.4  # the operator's choice wins
    monkeypatch.setenv("CRACKSEG_MODEL", str(top_down_card.parent / "other.pt"))
    assert view_conf("top-down") == 0.25  # another model has no card: the old default


def test_a_missing_or_broken_top_down_card_means_0_25(top_down_card: Path) -> None:
    from crackseg.inference.model_loading import view_conf

    assert view_conf("top-down") == 0.25
    top_down_card.write_text("{not json", encoding="utf-8")
    assert view_conf("top-down") == 0.25
