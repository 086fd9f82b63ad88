"""The batch writer: rows appended as results finish, a crash survived, --resume equal to an uninterrupted run."""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from crackseg.core.errors import CrackSegError
from crackseg.export.schema import CRACK_COLUMNS, IMAGE_COLUMNS
from crackseg.inference.prediction import CrackPrediction
from crackseg.inference.segmenter import InferenceSettings, Segmenter
from crackseg.io.inputs import NamedPayload
from crackseg.measurement.measure import MeasurementSettings
from crackseg.pipeline.batch import RUN_RECORD, BatchOptions, BatchWriter
from crackseg.pipeline.inspection import inspect_payloads, settings_record

REPO = Path(__file__).resolve().parents[1]
SAMPLES = sorted((REPO / "samples" / "images").glob("*.jpg"))


class StripeSegmenter:
    """Finds one horizontal stripe at a row set by the image's grey level (so every image differs)."""

    def predict(self, rgb: np.ndarray, settings: InferenceSettings | None = None) -> CrackPrediction:
        height, width = rgb.shape[:2]
        mask = np.zeros((1, height, width), dtype=bool)
        row = int(rgb[0, 0, 0]) % (height - 4)
        mask[0, row : row + 3, 5 : width - 5] = True
        return CrackPrediction.from_masks(mask, np.array([0.7], np.float32))

    def info(self) -> dict[str, str]:
        return {"name": "stripe.pt", "sha256": "cd" * 32, "backend": "fake"}

    predict_many = Segmenter.predict_many


def png(grey: int) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.full((40, 60, 3), grey, np.uint8)).save(buffer, "PNG")
    return buffer.getvalue()


def payloads() -> list[NamedPayload]:
    items = [
        NamedPayload(f"site/img{index}.png", png(10 * index + 5), source_path=f"/in/img{index}.png")
        for index in range(6)
    ]
    items.insert(3, NamedPayload("broken.jpg", error="/in/broken.jpg: not an image", source_path="/in/broken.jpg"))
    return items


RECORD = settings_record(StripeSegmenter(), InferenceSettings(), MeasurementSettings())


def run_batch(
    out: Path,
    inputs: list[NamedPayload],
    *,
    resume: bool,
    options: BatchOptions | None = None,
    record: dict | None = None,
) -> None:
    writer = BatchWriter(out, record or RECORD, options or BatchOptions(reports=False), resume=resume)
    pending = list(writer.pending_inputs(inputs))
    digests = [digest for _, digest in pending]
    for result, digest in zip(inspect_payloads(StripeSegmenter(), [p for p, _ in pending]), digests, strict=True):
        writer.add(result, digest)
    writer.close()


def test_tables_have_every_input_in_order_with_fixed_columns(tmp_path: Path) -> None:
    run_batch(tmp_path, payloads(), resume=False)
    images = pd.read_csv(tmp_path / "images.csv")
    cracks = pd.read_csv(tmp_path / "cracks.csv")
    assert list(images.columns) == list(IMAGE_COLUMNS) and list(cracks.columns) == list(CRACK_COLUMNS)
    assert list(images["image"]) == ["site/img0.png", "site/img1.png", "site/img2.png", "broken.jpg"] + [
        "site/img3.png",
        "site/img4.png",
        "site/img5.png",
    ]
    assert list(images["status"]).count("failed") == 1 and len(cracks) == 6
    assert sorted(p.name for p in (tmp_path / "overlays").iterdir())[0] == "site_img0.jpg"
    assert not (tmp_path / "reports").exists()  # reports off for this batch


def test_a_crash_midway_then_resume_gives_the_uninterrupted_tables(tmp_path: Path) -> None:
    whole, crashed = tmp_path / "whole", tmp_path / "crashed"
    run_batch(whole, payloads(), resume=False)
    run_batch(crashed, payloads()[:4], resume=False)  # the process died after four inputs...
    with (crashed / "cracks.csv").open("ab") as handle:  # ...in the middle of writing the next image's rows
        handle.write(b"site/img3.png,/in/img3.png,1,12.5")
    run_batch(crashed, payloads(), resume=True)
    for table in ("images.csv", "cracks.csv"):
        assert (crashed / table).read_bytes() == (whole / table).read_bytes(), table
    assert sorted(p.name for p in (crashed / "masks").iterdir()) == sorted(p.name for p in (whole / "masks").iterdir())


def test_resume_skips_by_path_and_content(tmp_path: Path) -> None:
    run_batch(tmp_path, payloads(), resume=False)
    changed = payloads()
    changed[0] = NamedPayload("site/img0.png", png(200), source_path="/in/img0.png")  # same path, new content
    writer = BatchWriter(tmp_path, RECORD, BatchOptions(reports=False), resume=True)
    todo = [payload.name for payload, _ in writer.pending_inputs(changed)]
    writer.close()
    assert todo == ["site/img0.png"] and writer.totals.skipped == 6


def test_resume_with_other_settings_is_refused_naming_the_difference(tmp_path: Path) -> None:
    run_batch(tmp_path, payloads(), resume=False)
    other = RECORD | {"inference": RECORD["inference"] | {"conf": 0.4}}
    with pytest.raises(CrackSegError, match=r"inference\.conf: 0\.25 -> 0\.4"):
        BatchWriter(tmp_path, other, BatchOptions(reports=False), resume=True)
    with pytest.raises(CrackSegError, match="nothing to resume"):
        BatchWriter(tmp_path / "fresh", RECORD, BatchOptions(), resume=True)


def test_a_run_recorded_before_the_mirror_pass_existed_resumes(tmp_path: Path) -> None:
    """Outputs written by a version without ``flip_tta`` resume with it off, and only then."""
    with_flag = RECORD | {"inference": RECORD["inference"] | {"flip_tta": False}}
    without_flag = RECORD | {"inference": {k: v for k, v in RECORD["inference"].items() if k != "flip_tta"}}
    run_batch(tmp_path, payloads()[:2], resume=False, record=without_flag)
    stored = json.loads((tmp_path / RUN_RECORD).read_text(encoding="utf-8"))
    assert "flip_tta" not in stored["inference"]
    BatchWriter(tmp_path, with_flag, BatchOptions(reports=False), resume=True).close()
    run_batch(tmp_path / "old", payloads()[:2], resume=False, record=without_flag)
    mirrored = RECORD | {"inference": RECORD["inference"] | {"flip_tta": True}}
    with pytest.raises(CrackSegError, match=r"inference\.flip_tta: False -> True"):
        BatchWriter(tmp_path / "old", mirrored, BatchOptions(reports=False), resume=True)


def test_parquet_tables_equal_the_csv_ones(tmp_path: Path) -> None:
    run_batch(tmp_path, payloads(), resume=False, options=BatchOptions(reports=False, table_format="parquet"))
    for name in ("images", "cracks"):
        from_parquet = pd.read_parquet(tmp_path / f"{name}.parquet")
        from_csv = pd.read_csv(tmp_path / f"{name}.csv")
        assert list(from_parquet.columns) == list(from_csv.columns)
        assert len(from_parquet) == len(from_csv)
    images = pd.read_parquet(tmp_path / "images.parquet")
    assert str(images["crack_count"].dtype) == "Int64" and images["crack_count"].isna().sum() == 1


# --- the CLI, killed for real ----------------------------------------------------------------------------------


def cli(*argv: str) -> subprocess.Popen:
    env = {key: value for key, value in os.environ.items() if key != "CRACKSEG_MODEL"} | {"PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, "-m", "crackseg", *argv], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


@pytest.mark.slow
def test_cli_killed_midway_then_resumed_writes_the_same_tables(tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    for copy in ("a", "b"):
        (photos / copy).mkdir(parents=True)
        for sample in SAMPLES:
            shutil.copy(sample, photos / copy / sample.name)
    (photos / "a" / "notes.jpg").write_text("not a photo")
    common = ["--backend", "torch", "--reports", "never"]
    whole = cli("predict", str(photos), "--out", str(tmp_path / "whole"), *common)
    assert whole.wait(timeout=600) == 1  # the bad file makes the exit code 1

    killed_out = tmp_path / "killed"
    run = cli("predict", str(photos), "--out", str(killed_out), *common)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        table = killed_out / "images.csv"
        if table.is_file() and table.read_text().count("\n") >= 5:  # header + four images done
            break
        time.sleep(0.05)
    run.send_signal(signal.SIGKILL)
    run.wait(timeout=60)
    done_before = pd.read_csv(killed_out / "images.csv")
    assert 4 <= len(done_before) < 17, "the run was killed midway"

    resumed = cli("predict", str(photos), "--out", str(killed_out), *common, "--resume")
    stdout, stderr = resumed.communicate(timeout=600)
    assert resumed.returncode == 1, stderr
    assert f"{len(done_before)} already done" in stdout or "already done" in stdout
    for table in ("images.csv", "cracks.csv"):
        assert (killed_out / table).read_bytes() == (tmp_path / "whole" / table).read_bytes(), table
    images = pd.read_csv(killed_out / "images.csv")
    assert list(images["image"][:3]) == [f"a/{SAMPLES[0].name}", f"a/{SAMPLES[1].name}", f"a/{SAMPLES[2].name}"]
    assert len(images) == 17 and (images["status"] == "failed").sum() == 1


def test_tables_only_writes_the_same_tables_and_no_per_image_files(tmp_path: Path) -> None:
    run_batch(tmp_path / "all", payloads(), resume=False)
    run_batch(tmp_path / "tables", payloads(), resume=False, options=BatchOptions(per_image_files=False))
    assert sorted(p.name for p in (tmp_path / "tables").iterdir()) == [
        "cracks.csv",
        "images.csv",
        "run.json",
        "summary.json",
    ]
    for table in ("images.csv", "cracks.csv"):
        assert (tmp_path / "tables" / table).read_bytes() == (tmp_path / "all" / table).read_bytes()
