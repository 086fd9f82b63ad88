"""``python -m crackseg evaluate`` against box labels, end to end with the shipped model on a tiny generated folder.

Two sample images get D00 boxes around their true cracks (from their polygon labels) and, as a
control, the same boxes mirrored through the image centre, where there is no crack. Whatever the
model's exact output, the true boxes must hold more of its crack pixels and be found more often.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crackseg.cli import main
from crackseg.datasets.labelled import YoloDataset
from crackseg.metrics.boxes import BOX_COLUMNS, CLASS_COLUMNS

REPO = Path(__file__).resolve().parents[1]
CHOSEN = ("1616", "2454")  # sample images whose cracks sit away from the image centre


@pytest.fixture(autouse=True)
def shipped_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CRACKSEG_MODEL", raising=False)


@pytest.fixture(scope="module")
def box_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``root/images`` (two samples), ``root/labels`` (true crack boxes) and ``root/mirrored`` (empty road)."""
    root = tmp_path_factory.mktemp("boxes")
    for name in ("images", "labels", "mirrored"):
        (root / name).mkdir()
    items = [item for item in YoloDataset.from_yaml(REPO / "samples" / "data.yaml").items("test")]
    for item in items:
        if not item.name.startswith(CHOSEN):
            continue
        (root / "images" / item.name).write_bytes(item.image_path.read_bytes())
        true_lines, mirrored_lines = [], []
        for mask in item.truth_masks((416, 416)):
            ys, xs = np.nonzero(mask)
            cx, cy = (xs.min() + xs.max() + 1) / 2 / 416, (ys.min() + ys.max() + 1) / 2 / 416
            w, h = (xs.max() + 1 - xs.min()) / 416, (ys.max() + 1 - ys.min()) / 416
            true_lines.append(f"0 {cx:.6f} {cy:.6f} {w:.6f} {h:.6f}")
            mirrored_lines.append(f"0 {1 - cx:.6f} {1 - cy:.6f} {w:.6f} {h:.6f}")
        stem = item.image_path.stem
        (root / "labels" / f"{stem}.txt").write_text("\n".join(true_lines) + "\n")
        (root / "mirrored" / f"{stem}.txt").write_text("\n".join(mirrored_lines) + "\n")
    return root


def run_cli(capfd: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capfd.readouterr()
    return code, out, err


def test_true_boxes_hold_the_models_cracks_and_mirrored_boxes_do_not(
    box_folder: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_cli(
        capfd, "evaluate", "--box-data", str(box_folder), "--backend", "torch", "--json", "--save", str(tmp_path / "a")
    )
    assert code == 0, err
    true = json.loads(out)
    code, out, err = run_cli(
        capfd,
        "evaluate",
        "--images",
        str(box_folder / "images"),
        "--boxes",
        str(box_folder / "mirrored"),
        "--backend",
        "torch",
        "--save",
        str(tmp_path / "b"),
    )
    assert code == 0, err
    assert "all_cracks" in out and "crack boxes found" in out and "Traceback" not in err
    mirrored = json.loads((tmp_path / "b" / "box_report.json").read_text())
    assert true["images"] == mirrored["images"] == 2 and true["crack_boxes"] == mirrored["crack_boxes"] > 0
    assert true["predicted_px"] == mirrored["predicted_px"] > 0  # the same predictions, other boxes
    assert true["in_box_share"] > mirrored["in_box_share"] and true["crack_found"] > mirrored["crack_found"]
    assert true["in_box_share"] == pytest.approx(true["in_box_px"] / true["predicted_px"])
    assert true["crack_recall"] == pytest.approx(true["crack_found"] / true["crack_boxes"])
    assert true["settings"]["view"] == "top-down" and true["settings"]["box_format"] == "yolo"
    assert true["settings"]["model"]["backend"] == "torch" and true["min_coverage"] == 0.02
    per_class = pd.read_csv(tmp_path / "a" / "box_classes.csv")
    assert list(per_class.columns) == list(CLASS_COLUMNS)
    assert per_class["class_name"].tolist() == ["D00", "all_cracks", "all_boxes"]
    per_box = pd.read_csv(tmp_path / "a" / "boxes.csv")
    assert list(per_box.columns) == list(BOX_COLUMNS) and len(per_box) == true["crack_boxes"]
    assert int(per_box["found"].sum()) == true["crack_found"]


def _voc_bomb_folder(root: Path, box_folder: Path) -> Path:
    (root / "images").mkdir(parents=True)
    (root / "xmls").mkdir()
    image = sorted((box_folder / "images").iterdir())[0]
    (root / "images" / image.name).write_bytes(image.read_bytes())
    (root / "xmls" / f"{image.stem}.xml").write_text(
        '<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x "xx"><!ENTITY y "&x;&x;&x;">]><annotation>&y;</annotation>'
    )
    return root


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--boxes", "{tmp}"], "one of the arguments"),
        (["--images", "{boxes}/images", "--boxes", "{boxes}/labels", "--masks", "{tmp}"], "no --masks or --regions"),
        (["--box-data", "{tmp}"], "no images/ folder"),
        (["--images", "{boxes}/images", "--boxes", "{tmp}"], "no .txt or .xml label files"),
        (["--images", "{bomb}/images", "--boxes", "{bomb}/xmls"], "XML with a DTD, entities or external references"),
        (["--images", "{boxes}/images", "--boxes", "{boxes}/labels", "--min-coverage", "0"], "min_coverage must be"),
    ],
    ids=["boxes-alone", "with-masks", "no-layout", "no-labels", "entity-bomb", "zero-coverage"],
)
def test_box_input_errors_are_one_line(
    argv: list[str], message: str, box_folder: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    bomb = _voc_bomb_folder(tmp_path / "bomb", box_folder)
    argv = [part.format(tmp=tmp_path / "empty", boxes=box_folder, bomb=bomb) for part in argv]
    (tmp_path / "empty").mkdir()
    try:
        code, out, err = run_cli(capfd, "evaluate", *argv, "--backend", "torch")
    except SystemExit as exit_:  # argparse's own usage errors
        code, (out, err) = int(exit_.code or 0), capfd.readouterr()
    assert code == 2 and out == ""
    assert message in err and "Traceback" not in err
    if "one of the arguments" not in message:
        assert len(err.strip().splitlines()) == 1
