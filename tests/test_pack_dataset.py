"""Packing a dataset for a size-limited transfer: resized WebP images, labels as they are, parts under the limit."""

from __future__ import annotations

import shutil
import tarfile
from pathlib import Path

import cv2
import numpy as np
import pytest

from train import pack_dataset
from train.pack_dataset import PackedFile, resize_for_training, share_into_parts

SAMPLES = Path(__file__).resolve().parents[1] / "samples"


@pytest.fixture
def sample_dataset(tmp_path: Path) -> Path:
    """The eight labelled samples (416 x 416) as train and as val."""
    for split in ("train", "val"):
        shutil.copytree(SAMPLES / "images", tmp_path / split / "images")
        shutil.copytree(SAMPLES / "labels", tmp_path / split / "labels")
    (tmp_path / "data.yaml").write_text("train: train/images\nval: val/images\nnames:\n  0: crack\n")
    return tmp_path / "data.yaml"


def _unpack(parts: list[Path], into: Path) -> None:
    for part in parts:
        with tarfile.open(part, "r:xz") as archive:
            archive.extractall(into, filter="data")


@pytest.mark.parametrize(
    ("scenario", "height_width", "imgsz", "expected_height_width"),
    [
        ("wide image shrunk by its long side", (50, 100), 40, (20, 40)),
        ("tall image shrunk by its long side", (90, 30), 45, (45, 15)),
        ("odd sides rounded up as Ultralytics does", (100, 333), 64, (20, 64)),
        ("image no larger than imgsz kept", (30, 40), 64, (30, 40)),
    ],
)
def test_resize_for_training_sets_the_long_side(
    scenario: str, height_width: tuple[int, int], imgsz: int, expected_height_width: tuple[int, int]
) -> None:
    bgr = np.random.default_rng(0).integers(0, 255, (*height_width, 3), dtype=np.uint8)
    assert resize_for_training(bgr, imgsz).shape == (*expected_height_width, 3), scenario


def test_parts_keep_each_image_with_its_label_and_share_the_bytes() -> None:
    files = []
    for index in range(10):
        files += [PackedFile(f"train/images/{index}.webp", b"x" * 1000), PackedFile(f"train/labels/{index}.txt", b"0")]
    parts = share_into_parts(files, parts_count=3)
    assert len(parts) == 3
    assert [item for part in parts for item in part] == files
    for part in parts:
        assert part[0].arcname.split("/")[1] == "images"
        assert 3000 <= sum(item.packed_size_estimate for item in part) <= 4100  # 10,000 bytes of images in 3


def test_packed_dataset_unpacks_to_resized_images_and_the_same_labels(sample_dataset: Path, tmp_path: Path) -> None:
    out = tmp_path / "packed"
    code = pack_dataset.main(
        [str(sample_dataset), "--out", str(out), "--imgsz", "64", "--val-images", "3", "--part-mib", "0.02"]
    )
    assert code == 0
    parts = sorted(out.glob("part*.tar.xz"))
    assert len(parts) >= 2
    assert all(part.stat().st_size <= 0.02 * 2**20 for part in parts)
    unpacked = tmp_path / "unpacked"
    _unpack(parts, unpacked)
    train_images = sorted((unpacked / "train" / "images").glob("*.webp"))
    assert [path.stem for path in train_images] == sorted(path.stem for path in (SAMPLES / "images").iterdir())
    assert len(list((unpacked / "val" / "images").glob("*.webp"))) == 3
    for label in (SAMPLES / "labels").glob("*.txt"):
        assert (unpacked / "train" / "labels" / label.name).read_bytes() == label.read_bytes()
    first = train_images[0]
    packed = cv2.imread(str(first))
    source = next((SAMPLES / "images").glob(f"{first.stem}.*"))
    expected = cv2.resize(cv2.imread(str(source)), (64, 64), interpolation=cv2.INTER_LINEAR)
    assert packed.shape == (64, 64, 3)
    assert cv2.PSNR(packed, expected) > 25.0


def test_a_dataset_without_a_val_split_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "images").mkdir()
    (tmp_path / "data.yaml").write_text("train: images\nval: missing\nnames:\n  0: crack\n")
    code = pack_dataset.main([str(tmp_path / "data.yaml"), "--out", str(tmp_path / "out")])
    error = capsys.readouterr().err
    assert code == 2 and error.startswith("error: ") and error.count("\n") == 1


def test_a_part_limit_below_one_image_is_refused(sample_dataset: Path, tmp_path: Path, capsys) -> None:
    code = pack_dataset.main([str(sample_dataset), "--out", str(tmp_path / "o"), "--part-mib", "0.001"])
    assert code == 2
    assert "over --part-mib" in capsys.readouterr().err
