"""The command line (crackseg.cli) on real files: samples, hand-made masks, bad inputs and bad models.

Commands run in-process through ``main([...])`` (output captured at the file
descriptor level, so nothing a library prints escapes the checks); the
``python -m crackseg`` entry point runs once as a real subprocess.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from crackseg.cli import main
from crackseg.evaluation.run import EvaluationReport
from tests.synthetic_survey import write_survey_frames

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "samples"
IMAGES = sorted((SAMPLES / "images").glob("*.jpg"))
CARD = json.loads((REPO / "model" / "card.json").read_text())
COMMANDS = ("predict", "measure", "evaluate", "info", "export")


@pytest.fixture(autouse=True)
def shipped_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CRACKSEG_MODEL", raising=False)


@pytest.fixture(scope="module", autouse=True)
def ultralytics_settings_ready() -> None:
    """On a fresh machine Ultralytics prints a settings banner once; let that happen before any output is checked."""
    from crackseg.core.offline import enforce_offline

    enforce_offline()


def run_cli(capfd: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capfd.readouterr()
    return code, out, err


def assert_no_traceback(err: str) -> None:
    assert "Traceback" not in err and 'File "' not in err


# --- help -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_every_command_has_help(command: str | None, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"] if command is None else [command, "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: python -m crackseg")
    for option in {"predict": "--mm-per-px", "measure": "--json", "evaluate": "--tolerance"}.get(command, "").split():
        assert option in out


def test_predict_options_reach_the_model_and_the_tables(capfd: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """--conf changes what is found, --mm-per-px fills the millimetre columns: the options act, not just parse."""
    counts = {}
    for conf in ("0.05", "0.6"):
        out = tmp_path / conf
        code, _, err = run_cli(capfd, "predict", *map(str, IMAGES[:3]), "--out", str(out), "--conf", conf)
        assert code == 0, err
        counts[conf] = pd.read_csv(out / "images.csv")["crack_count"].sum()
    assert counts["0.05"] > counts["0.6"]
    calibrated = tmp_path / "calibrated"
    cracked = SAMPLES / "images" / "2222.rf.bfd72b1a6235ed53983e11289c619b4e.jpg"  # cracks found well above 0.25
    code, _, err = run_cli(capfd, "predict", str(cracked), "--out", str(calibrated), "--mm-per-px", "0.5")
    assert code == 0, err
    cracks = pd.read_csv(calibrated / "cracks.csv")
    assert len(cracks) and list(cracks["length_mm"]) == pytest.approx(list(0.5 * cracks["length_px"]), abs=0.01)


def test_module_entry_point_runs() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "crackseg", "evaluate", "--help"], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0 and "--split" in result.stdout and result.stderr == ""


def test_usage_errors_exit_2(capfd: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["predict", "--out", "x"])  # no paths
    assert exit_info.value.code == 2
    assert "the following arguments are required: paths" in capfd.readouterr().err


# --- predict --------------------------------------------------------------------------------------------


def test_predict_with_a_bad_file_exits_1_and_writes_the_rest(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "broken.jpg"
    bad.write_text("this is not a photo")
    out = tmp_path / "out"
    code, stdout, err = run_cli(
        capfd, "predict", str(IMAGES[0]), str(bad), str(IMAGES[2]), "--out", str(out), "--backend", "torch"
    )
    assert code == 1
    assert_no_traceback(err)
    assert err.strip().splitlines() == [f"{bad}: not an image (or an unsupported format)"]
    assert "2 image(s) inspected" in stdout and "1 failed" in stdout
    for folder in ("overlays", "masks", "reports"):
        assert len(list((out / folder).glob("*"))) == 2, folder
    mask = np.asarray(Image.open(next((out / "masks").glob("*.png"))))
    assert mask.shape[:2] == (416, 416)
    images = pd.read_csv(out / "images.csv").set_index("image")
    assert list(images.index) == [IMAGES[0].name, bad.name, IMAGES[2].name]  # in input order, the failed one too
    assert images.loc[bad.name, "status"] == "failed" and images.loc[bad.name, "error"] == err.strip()
    assert images.loc[bad.name, "source_path"] == str(bad) and pd.isna(images.loc[bad.name, "crack_count"])
    assert (images.loc[[IMAGES[0].name, IMAGES[2].name], "status"] == "ok").all()
    cracks = pd.read_csv(out / "cracks.csv")
    assert set(cracks["image"]) <= {IMAGES[0].name, IMAGES[2].name} and len(cracks) >= 1
    assert set(cracks["source_path"]) <= {str(IMAGES[0]), str(IMAGES[2])}
    summary = json.loads((out / "summary.json").read_text())
    failed = [{"image": bad.name, "source_path": str(bad), "error": err.strip()}]
    assert summary["images"] == 2 and summary["failed"] == failed
    assert summary["cracks"] == len(cracks)
    assert summary["settings"]["model"]["sha256"] == CARD["weights"]["sha256"]


def test_predict_all_good_inputs_exits_0(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    archive = tmp_path / "batch.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(IMAGES[3], f"site/{IMAGES[3].name}")
        zf.writestr("site/notes.txt", "left lane")
    out = tmp_path / "out"
    code, stdout, err = run_cli(
        capfd, "predict", str(IMAGES[1]), str(archive), "--out", str(out), "--backend", "torch", "--no-reports"
    )
    assert code == 0 and err == ""
    assert "2 image(s) inspected" in stdout and "0 failed" in stdout
    assert not (out / "reports").exists()
    names = sorted(p.name for p in (out / "overlays").glob("*.jpg"))
    assert len(names) == 2 and any(name.startswith("batch") or "batch.zip" in name for name in names)


def test_predict_with_calibration_reports_millimetres(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    code, _, _ = run_cli(
        capfd, "predict", str(IMAGES[2]), "--out", str(out), "--backend", "torch", "--mm-per-px", "2", "--no-reports"
    )
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    [totals] = pd.read_csv(out / "images.csv").to_dict("records")
    assert totals["mm_per_px"] == 2.0
    assert totals["total_length_mm"] == pytest.approx(2 * totals["total_length_px"], rel=0.01)
    assert summary["settings"]["measurement"]["mm_per_px"] == 2.0


def test_bad_option_value_is_one_line(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(
        capfd, "predict", str(IMAGES[0]), "--out", str(tmp_path), "--conf", "2", "--backend", "torch"
    )
    assert code == 2 and err.strip() == "error: conf must be in [0, 1], got 2.0"


# --- measure ---------------------------------------------------------------------------------------------


def test_measure_a_hand_made_bar(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    mask = np.zeros((260, 100), dtype=np.uint8)
    mask[30:230, 40:46] = 255  # 200 px long, 6 px wide, vertical (along the direction of travel)
    path = tmp_path / "bar.png"
    Image.fromarray(mask).save(path)
    code, out, err = run_cli(capfd, "measure", str(path), "--json", "--mm-per-px", "0.5")
    assert code == 0 and err == ""
    result = json.loads(out)
    [crack] = result["cracks"]
    assert crack["length_px"] == pytest.approx(200, rel=0.02)
    assert crack["mean_width_px"] == pytest.approx(6, abs=1)
    assert crack["crack_type"] == "longitudinal" and crack["area_px2"] == 1200
    assert crack["length_mm"] == pytest.approx(100, rel=0.02)
    assert result["totals"]["crack_count"] == 1
    assert (result["totals"]["width_px"], result["totals"]["height_px"]) == (100, 260)


def test_measure_empty_mask_and_text_output(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "clean.png"
    Image.fromarray(np.zeros((50, 50), np.uint8)).save(path)
    code, out, _ = run_cli(capfd, "measure", str(path), "--json")
    assert code == 0 and json.loads(out)["cracks"] == [] and json.loads(out)["totals"]["crack_count"] == 0
    code, out, _ = run_cli(capfd, "measure", str(path))
    assert code == 0 and "no cracks in this mask" in out


def test_measure_missing_mask_is_one_line(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capfd, "measure", str(tmp_path / "none.png"), "--json")
    assert code == 2 and out == ""
    assert err.strip() == f"error: {tmp_path / 'none.png'}: mask none.png: file not found"


# --- evaluate --------------------------------------------------------------------------------------------


def test_evaluate_json_without_map(capfd: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(
        capfd,
        "evaluate",
        "--data",
        str(SAMPLES / "data.yaml"),
        "--split",
        "test",
        "--json",
        "--no-map",
        "--backend",
        "torch",
    )
    assert code == 0
    assert_no_traceback(err)
    summary = json.loads(out)  # exactly one JSON object on stdout
    assert summary["images"] == 8
    assert set(summary["pixel"]) >= {"precision", "recall", "f1", "iou"}
    assert summary["tolerance"]["px"] == 2 and set(summary["tolerance"]) >= {"precision", "recall", "f1"}
    assert set(summary["instance"]) >= {"tp", "fp", "fn", "precision", "recall"}
    # ODS is the best tolerance F1 over the sweep, which includes the report's own conf 0.25
    assert summary["ods"] >= summary["tolerance"]["f1"] - 1e-9 and summary["ods"] > 0.5
    assert "box_map50" not in summary


def test_evaluate_with_flip_tta_finds_at_least_what_one_pass_finds(capfd: pytest.CaptureFixture[str]) -> None:
    common = ("evaluate", "--data", str(SAMPLES / "data.yaml"), "--split", "test", "--json", "--no-map")
    plain = json.loads(run_cli(capfd, *common, "--backend", "torch")[1])
    code, out, err = run_cli(capfd, *common, "--backend", "torch", "--flip-tta")
    assert code == 0
    assert_no_traceback(err)
    tta = json.loads(out)
    assert tta["flip_tta"] is True and plain["flip_tta"] is False
    # The mirrored pass only adds instances: every crack pixel found once is still found.
    assert tta["pixel"]["recall"] >= plain["pixel"]["recall"]
    assert tta["pixel"]["recall"] > plain["pixel"]["recall"] or tta["pixel"]["precision"] != plain["pixel"]["precision"]


def test_library_logs_never_reach_stdout(monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]) -> None:
    """Ultralytics logs model loading on stdout (e.g. for exported backends); ``--json`` output must stay pure."""
    from ultralytics.utils import LOGGER

    import crackseg.inference.segmenter

    class ChattySegmenter(crackseg.inference.segmenter.Segmenter):
        def __init__(self, *args, **kwargs) -> None:
            LOGGER.info("Loading best_openvino_model for OpenVINO inference...")
            print("a library print")
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(crackseg.inference.segmenter, "Segmenter", ChattySegmenter)
    streams_before = [getattr(handler, "stream", None) for handler in LOGGER.handlers]
    code, out, err = run_cli(
        capfd, "evaluate", "--data", str(SAMPLES / "data.yaml"), "--json", "--no-map", "--backend", "torch"
    )
    assert code == 0
    assert json.loads(out)["images"] == 8
    assert "Loading best_openvino_model" in err and "a library print" in err
    assert [getattr(handler, "stream", None) for handler in LOGGER.handlers] == streams_before  # restored


def test_evaluate_with_map_and_saved_report(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    saved = tmp_path / "report"
    code, out, err = run_cli(
        capfd,
        "evaluate",
        "--data",
        str(SAMPLES / "data.yaml"),
        "--split",
        "val",
        "--tolerance",
        "3",
        "--json",
        "--save",
        str(saved),
        "--backend",
        "torch",
    )
    assert code == 0
    assert_no_traceback(err)
    summary = json.loads(out)
    stored = EvaluationReport.load(saved)
    for key in ("box_map50", "box_map50_95", "mask_map50", "mask_map50_95"):
        assert stored.ultralytics[key] == summary[key]  # what is printed is what is saved
    assert 0 < summary["mask_map50_95"] <= summary["mask_map50"]
    assert summary["tolerance"]["px"] == 3
    assert (saved / "report.json").is_file() and (saved / "per_image.csv").is_file()


def test_evaluate_image_and_mask_folders(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    from crackseg.datasets.labelled import YoloDataset

    images, masks = tmp_path / "images", tmp_path / "masks"
    images.mkdir()
    masks.mkdir()
    items = YoloDataset.from_yaml(SAMPLES / "data.yaml").items("test")[:2]
    for item in items:
        (images / item.name).write_bytes(item.image_path.read_bytes())
        truth = item.truth_masks((416, 416)).any(axis=0)
        Image.fromarray(truth.astype(np.uint8) * 255).save(masks / f"{item.image_path.stem}_mask.png")
    code, out, err = run_cli(
        capfd, "evaluate", "--images", str(images), "--masks", str(masks), "--json", "--backend", "torch"
    )
    assert code == 0, err
    summary = json.loads(out)
    assert summary["images"] == 2 and "box_map50" not in summary
    pixel = summary["pixel"]
    assert pixel["tp"] + pixel["fp"] + pixel["fn"] + pixel["tn"] == 2 * 416 * 416


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--images", "{tmp}"], "error: --images needs --masks"),
        (["--data", "{samples}/data.yaml", "--masks", "{tmp}"], "error: --masks goes with --images"),
        (["--images", "{tmp}/none", "--masks", "{tmp}"], "none: folder not found"),
        (["--data", "{tmp}/none.yaml"], "data.yaml not found"),
        (["--data", "{samples}/data.yaml", "--split", "holdout"], "no 'holdout' split"),
    ],
)
def test_evaluate_input_errors_are_one_line(
    argv: list[str], message: str, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    argv = [a.format(tmp=tmp_path, samples=SAMPLES) for a in argv]
    code, out, err = run_cli(capfd, "evaluate", *argv, "--backend", "torch", "--no-map")
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and message in err
    assert_no_traceback(err)


# --- info and model errors ------------------------------------------------------------------------------


def test_info_prints_the_model_hash_from_its_card(capfd: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capfd, "info")
    assert code == 0
    assert f"sha256: {CARD['weights']['sha256']}" in out
    assert str(REPO / "model" / "best.pt") in out


@pytest.mark.parametrize("command", ["info", "predict"])
def test_missing_model_exits_2_with_a_clear_message(
    command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "gone" / "best.pt"
    monkeypatch.setenv("CRACKSEG_MODEL", str(missing))
    argv = (
        ["info"]
        if command == "info"
        else ["predict", str(IMAGES[0]), "--out", str(tmp_path / "o"), "--backend", "torch"]
    )
    code, out, err = run_cli(capfd, *argv)
    assert code == 2
    assert err.strip().splitlines() == [
        f"error: {missing}: model file not found (set CRACKSEG_MODEL or restore model/best.pt)"
    ]


def test_corrupt_model_names_the_path_without_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    corrupt = tmp_path / "weights.pt"
    corrupt.write_bytes(os.urandom(2048))
    monkeypatch.setenv("CRACKSEG_MODEL", str(corrupt))
    code, out, err = run_cli(capfd, "predict", str(IMAGES[0]), "--out", str(tmp_path / "o"), "--backend", "torch")
    assert code == 2
    assert_no_traceback(err)
    [line] = err.strip().splitlines()
    assert line.startswith(f"error: {corrupt}: not a readable Ultralytics checkpoint")


def test_predict_bad_input_in_a_real_process(tmp_path: Path) -> None:
    """The same contract end to end: exit code, one stderr line per bad input, no traceback."""
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    env = {key: value for key, value in os.environ.items() if key != "CRACKSEG_MODEL"}
    result = subprocess.run(
        [sys.executable, "-m", "crackseg", "predict", str(empty), str(IMAGES[5]), "--out", str(tmp_path / "o")]
        + ["--backend", "torch", "--no-reports"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [f"{empty}: empty file (0 bytes)"]
    assert (tmp_path / "o" / "summary.json").is_file()


def test_unwritable_output_is_one_line(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("a file where the output folder should go")
    code, _, err = run_cli(capfd, "predict", str(IMAGES[0]), "--out", str(blocker / "out"), "--backend", "torch")
    assert code == 2
    assert_no_traceback(err)
    assert len(err.strip().splitlines()) == 1 and err.startswith("error: ")


def test_measure_reads_zero_one_masks(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    """Masks of public benchmarks are often stored as 0/1, not 0/255."""
    mask = np.zeros((80, 120), dtype=np.uint8)
    mask[38:42, 10:110] = 1  # horizontal: transverse to the direction of travel
    buffer = io.BytesIO()
    Image.fromarray(mask).save(buffer, "PNG")
    path = tmp_path / "zero_one.png"
    path.write_bytes(buffer.getvalue())
    code, out, _ = run_cli(capfd, "measure", str(path), "--json")
    assert code == 0
    [crack] = json.loads(out)["cracks"]
    assert crack["area_px2"] == 400 and crack["crack_type"] == "transverse"


def test_cli_backend_choices_are_the_segmenter_backends() -> None:
    from crackseg.cli import BACKEND_CHOICES
    from crackseg.inference.backends import BACKENDS

    assert BACKEND_CHOICES == ("auto", *BACKENDS)


def test_evaluate_survey_frames_scores_cells_in_the_lane(capfd: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """A synthetic survey dataset (folder per frame, crack and lane masks): cells over the frame and in the lane."""
    write_survey_frames(tmp_path / "survey", IMAGES[1])  # frames 0 and 10 are the test split
    code, out, err = run_cli(
        capfd,
        "evaluate",
        "--survey-frames",
        str(tmp_path / "survey"),
        "--split",
        "test",
        "--json",
        "--backend",
        "torch",
    )
    assert code == 0, err
    summary = json.loads(out)
    assert summary["images"] == 2 and summary["source"].endswith(":test")
    assert summary["region_cells"]["cell_px"] == 32
    # the lane is the left half: counted cells are a subset, and nothing off the lane (black) can be found
    assert summary["region_cells"]["fn"] <= summary["cells"]["fn"]
    assert summary["region_cells"]["tp"] == summary["cells"]["tp"]
    assert 0.05 <= summary["cell_best_conf"] <= 0.95
