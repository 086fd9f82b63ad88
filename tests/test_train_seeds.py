"""Seeds trained side by side and each run's last epochs averaged: a real tiny run on the CPU, and its helpers."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from crackseg.inference.segmenter import Segmenter
from train.train_seeds import epoch_checkpoints, label_caches, parse_args, results_csv_as_columns

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "samples"


def _weights(checkpoint: dict) -> dict[str, torch.Tensor]:
    """A checkpoint's network weights: its EMA's where it has one (training), else its model's (an average)."""
    return (checkpoint.get("ema") or checkpoint["model"]).state_dict()


def test_epoch_checkpoints_follow_ultralytics_zero_based_names(tmp_path: Path) -> None:
    assert [path.name for path in epoch_checkpoints(tmp_path, 2, 4)] == ["epoch1.pt", "epoch2.pt", "epoch3.pt"]
    assert epoch_checkpoints(tmp_path, 1, 1) == [tmp_path / "epoch0.pt"]


def test_results_csv_is_read_into_columns_without_polars(tmp_path: Path) -> None:
    path = tmp_path / "results.csv"
    path.write_text("                  epoch,  train/box_loss,lr/pg0\n1,3.5,0.0002\n2,3.25,0.0001\n")
    assert results_csv_as_columns(path) == {"epoch": [1.0, 2.0], "train/box_loss": [3.5, 3.25], "lr/pg0": [2e-4, 1e-4]}
    (tmp_path / "empty.csv").write_text("epoch,lr/pg0\n")
    assert results_csv_as_columns(tmp_path / "empty.csv") == {}


def test_label_caches_sit_beside_each_labels_folder(tmp_path: Path) -> None:
    (tmp_path / "data.yaml").write_text(f"path: {tmp_path}\ntrain: train/images\nval: val/images\nnames: [crack]\n")
    assert label_caches(tmp_path / "data.yaml") == [
        tmp_path / "train" / "labels.cache",
        tmp_path / "val" / "labels.cache",
    ]


@pytest.mark.parametrize(
    ("scenario", "arguments"),
    [
        ("average from after the last epoch", ["--epochs", "2", "--avg-from", "3"]),
        ("a seed twice", ["--seeds", "1", "1"]),
    ],
)
def test_inconsistent_options_are_refused(scenario: str, arguments: list[str]) -> None:
    with pytest.raises(SystemExit) as raised:
        parse_args(["--data", "d.yaml", *arguments])
    assert raised.value.code == 2, scenario


@pytest.fixture(scope="module")
def two_seed_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, subprocess.CompletedProcess]:
    """Seeds 1 and 2, two epochs each at 64 px on the eight samples, on the CPU, each run's epochs 1-2 averaged."""
    root = tmp_path_factory.mktemp("seeds")
    shutil.copytree(SAMPLES / "images", root / "images")
    shutil.copytree(SAMPLES / "labels", root / "labels")
    (root / "data.yaml").write_text("train: images\nval: images\nnames:\n  0: crack\n")
    project, out = root / "runs", root / "out"
    command = [sys.executable, str(REPO / "train" / "train_seeds.py"), "--data", str(root / "data.yaml")]
    command += ["--weights", str(REPO / "model" / "best.pt"), "--seeds", "1", "2", "--epochs", "2", "--avg-from", "1"]
    command += ["--imgsz", "64", "--batch", "4", "--workers", "0", "--device", "cpu"]
    command += ["--project", str(project), "--out", str(out), "--deadline-s", "400"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=500, cwd=REPO)
    return project, out, result


def test_each_seed_is_averaged_over_its_epochs(two_seed_run: tuple[Path, Path, subprocess.CompletedProcess]) -> None:
    project, out, result = two_seed_run
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "2 of 2 runs averaged" in result.stdout
    for seed in (1, 2):
        epochs = [
            torch.load(path, map_location="cpu", weights_only=False)
            for path in epoch_checkpoints(project / f"s{seed}" / "weights", 1, 2)
        ]
        average = torch.load(out / f"s{seed}-avg.pt", map_location="cpu", weights_only=False)
        name, tensor = next((k, v) for k, v in _weights(average).items() if v.is_floating_point() and v.numel() > 99)
        expected = (_weights(epochs[0])[name].double() + _weights(epochs[1])[name].double()) / 2
        assert torch.allclose(tensor.double(), expected, atol=1e-3)
        assert (project / f"s{seed}" / "args.yaml").read_text().count("save_period: 1") == 1


def test_seeds_differ_and_each_average_segments(two_seed_run: tuple[Path, Path, subprocess.CompletedProcess]) -> None:
    _, out, result = two_seed_run
    assert result.returncode == 0
    one, two = (torch.load(out / f"s{seed}-avg.pt", map_location="cpu", weights_only=False) for seed in (1, 2))
    differences = [
        (a - b).abs().max().item()
        for a, b in zip(_weights(one).values(), _weights(two).values(), strict=True)
        if a.is_floating_point()
    ]
    assert max(differences) > 0
    assert Segmenter(out / "s1-avg.pt", backend="torch").info()["sha256"]


def test_a_run_that_fails_is_reported_and_nothing_is_averaged(tmp_path: Path) -> None:
    (tmp_path / "data.yaml").write_text("train: images\nval: images\nnames:\n  0: crack\n")
    command = [sys.executable, str(REPO / "train" / "train_seeds.py"), "--data", str(tmp_path / "data.yaml")]
    command += ["--seeds", "3", "--epochs", "1", "--avg-from", "1", "--device", "cpu", "--workers", "0"]
    command += ["--project", str(tmp_path / "runs"), "--out", str(tmp_path / "out"), "--deadline-s", "120"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=200, cwd=REPO)
    assert result.returncode == 2
    assert "s3: no average" in result.stdout and "0 of 1 runs averaged" in result.stdout
    assert (tmp_path / "out" / "logs" / "s3.log").read_text()
