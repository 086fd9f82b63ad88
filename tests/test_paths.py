"""Typed data paths stay inside the operator's allowed folders; labelled data opens from them."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from crackseg.core.errors import CrackSegError, DatasetError
from crackseg.core.locations import SAMPLES_DIR
from crackseg.datasets.opening import open_labelled_data, open_report_data
from crackseg.io.allowed_paths import DATA_DIRS_ENV_VAR, allowed_data_roots, resolve_allowed_path

REPO_ROOT = Path(__file__).resolve().parents[1]
SAMPLES_YAML = REPO_ROOT / "samples" / "data.yaml"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("samples/data.yaml", SAMPLES_YAML),
        ("  samples/data.yaml  ", SAMPLES_YAML),
        ("samples/../samples/data.yaml", SAMPLES_YAML),
        ("samples", REPO_ROOT / "samples"),
        (str(SAMPLES_YAML), SAMPLES_YAML),
    ],
    ids=["relative", "padded", "dotdot-inside", "root-itself", "absolute"],
)
def test_paths_inside_an_allowed_root_resolve(text: str, expected: Path) -> None:
    assert resolve_allowed_path(text, [SAMPLES_DIR]) == expected.resolve()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("samples/../model/best.pt", "outside the allowed data folders"),
        ("../../etc/passwd", "outside the allowed data folders"),
        ("/etc/passwd", "outside the allowed data folders"),
        ("samples-other/data.yaml", "outside the allowed data folders"),  # a sibling sharing the prefix
        ("", "No path given"),
        ("   ", "No path given"),
        ("samples/\x00data.yaml", "not a usable path"),
        ("samples/" + "x" * 1200, "not a usable path"),
        ("samples/missing.yaml", "not found"),
    ],
    ids=["dotdot-escape", "parent", "absolute-outside", "prefix-sibling", "empty", "blank", "nul", "long", "missing"],
)
def test_paths_outside_or_unusable_are_refused(text: str, message: str) -> None:
    with pytest.raises(CrackSegError, match=message):
        resolve_allowed_path(text, [SAMPLES_DIR])


def test_a_symlink_out_of_a_root_is_refused(tmp_path: Path) -> None:
    root, outside = tmp_path / "data", tmp_path / "secret"
    root.mkdir()
    outside.mkdir()
    (outside / "data.yaml").write_text("train: x\n")
    (root / "link").symlink_to(outside, target_is_directory=True)
    with pytest.raises(CrackSegError, match="outside the allowed"):
        resolve_allowed_path(str(root / "link" / "data.yaml"), [root])


def test_missing_path_is_accepted_when_existence_is_not_required(tmp_path: Path) -> None:
    assert (
        resolve_allowed_path("new/file.csv", [tmp_path], base=tmp_path, must_exist=False) == tmp_path / "new/file.csv"
    )


def test_allowed_roots_come_from_the_environment_then_samples(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    monkeypatch.setenv(DATA_DIRS_ENV_VAR, f"{first}{os.pathsep} {os.pathsep}{second}")
    assert allowed_data_roots() == [first, second, SAMPLES_DIR.resolve()]
    monkeypatch.delenv(DATA_DIRS_ENV_VAR)
    assert allowed_data_roots() == [SAMPLES_DIR.resolve()]


@pytest.mark.parametrize("text", ["samples/data.yaml", "samples"], ids=["yaml", "folder"])
def test_samples_open_as_a_yolo_split(text: str) -> None:
    data = open_labelled_data(text, "test")
    assert len(data.items) == 8
    assert data.yaml_path == SAMPLES_YAML.resolve()
    assert data.split == "test"
    assert data.source == f"{SAMPLES_YAML.resolve()}:test"
    assert {item.name for item in data.items} == {path.name for path in (SAMPLES_DIR / "images").iterdir()}


def test_a_data_yaml_cannot_point_its_split_outside_the_roots(tmp_path: Path) -> None:
    (tmp_path / "data.yaml").write_text(f"test: {SAMPLES_DIR / 'images'}\n")
    with pytest.raises(CrackSegError, match="outside the allowed"):
        open_labelled_data(str(tmp_path / "data.yaml"), "test", allowed_roots=[tmp_path])


def test_image_and_mask_folders_pair_by_stem(tmp_path: Path) -> None:
    (tmp_path / "images").mkdir()
    (tmp_path / "masks").mkdir()
    for stem in ("a", "b"):
        cv2.imwrite(str(tmp_path / "images" / f"{stem}.png"), np.full((16, 16, 3), 128, np.uint8))
        cv2.imwrite(str(tmp_path / "masks" / f"{stem}_mask.png"), np.zeros((16, 16), np.uint8))
    data = open_labelled_data(str(tmp_path / "images"), masks_text=str(tmp_path / "masks"), allowed_roots=[tmp_path])
    assert [(item.name, item.mask_path.name) for item in data.items] == [
        ("a.png", "a_mask.png"),
        ("b.png", "b_mask.png"),
    ]
    assert data.yaml_path is None


@pytest.mark.parametrize(
    ("text", "error"),
    [("samples/README.md", "expected a data.yaml"), ("samples/images", "folder without data.yaml")],
    ids=["not-yaml", "folder-without-yaml"],
)
def test_other_files_are_not_datasets(text: str, error: str) -> None:
    with pytest.raises(DatasetError, match=error):
        open_labelled_data(text)


def test_report_sources_reopen_with_the_same_checks() -> None:
    assert len(open_report_data(f"{SAMPLES_YAML}:test").items) == 8
    with pytest.raises(DatasetError, match="not a '<data.yaml>:<split>'"):
        open_report_data("images a + masks b")
    with pytest.raises(CrackSegError, match="outside the allowed"):
        open_report_data("/srv/datasets/crack-seg/data.yaml:test", allowed_roots=[SAMPLES_DIR])
