"""`predict --engine ray`: a local Ray with 2 CPUs gives the local engine's tables and files, byte for byte."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("ray.data", reason="Ray Data is in requirements.txt; this machine lacks it")

REPO = Path(__file__).resolve().parents[1]
SAMPLES = sorted((REPO / "samples" / "images").glob("*.jpg"))
COMMON = ["--backend", "torch", "--reports", "never"]


def cli(*argv: str, timeout: int = 900) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if key != "CRACKSEG_MODEL"} | {"PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "crackseg", *argv], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def files_under(folder: Path) -> dict[str, bytes]:
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("ray") / "photos"
    folder.mkdir()
    for sample in SAMPLES[:4]:
        shutil.copy(sample, folder / sample.name)
    (folder / "broken.jpg").write_text("not a photo")
    return folder


@pytest.fixture(scope="module")
def local_run(photos: Path) -> Path:
    out = photos.parent / "local"
    result = cli("predict", str(photos), "--out", str(out), *COMMON)
    assert result.returncode == 1, result.stderr  # the broken file
    return out


@pytest.mark.slow
def test_ray_writes_what_the_local_engine_writes(photos: Path, local_run: Path) -> None:
    out = photos.parent / "ray"
    result = cli("predict", str(photos), "--out", str(out), *COMMON, "--engine", "ray", "--workers", "2")
    assert result.returncode == 1, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    broken = photos / "broken.jpg"
    assert [line for line in result.stderr.splitlines() if line.startswith(str(photos))] == [
        f"{broken}: not an image (or an unsupported format)"
    ]  # the bad file reported as the local engine reports it
    local, remote = files_under(local_run), files_under(out)
    assert sorted(remote) == sorted(local)
    for name in local:
        if name not in ("summary.json",):  # the summary's settings are the same; the rest byte for byte
            assert remote[name] == local[name], name


@pytest.mark.slow
def test_ray_resumes_a_run_the_local_engine_began(photos: Path, local_run: Path) -> None:
    out = photos.parent / "resumed"
    shutil.copytree(local_run, out)
    lines = (out / "images.csv").read_text().splitlines(keepends=True)
    (out / "images.csv").write_text("".join(lines[:3]))  # as if the run died after two inputs
    result = cli("predict", str(photos), "--out", str(out), *COMMON, "--engine", "ray", "--resume")
    assert result.returncode == 1, result.stderr[-3000:]
    assert "2 already done" in result.stdout
    for table in ("images.csv", "cracks.csv"):
        assert (out / table).read_bytes() == (local_run / table).read_bytes(), table


def test_an_unreachable_cluster_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = cli(
        "predict", str(SAMPLES[0]), "--out", str(tmp_path), "--engine", "ray", "--address", "127.0.0.1:9", timeout=120
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: Ray at 127.0.0.1:9 cannot be reached (Connection refused); is the cluster running?"
    ]
