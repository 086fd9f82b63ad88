"""Training scripts: argument handling, clear setup errors, a real tiny offline run, promotion rules."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from crackseg.inference.segmenter import Segmenter
from train import finetune, train
from train.promotion import evaluate_and_maybe_promote, is_better

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "samples"


def _metrics(mask_map50: float | None, f1: float) -> dict:
    return {"mask_map50": mask_map50, "pixel": {"f1": f1, "iou": 0.0}}


@pytest.mark.parametrize(
    ("scenario", "candidate", "shipped", "expected"),
    [
        ("better on both", _metrics(0.60, 0.70), _metrics(0.55, 0.65), True),
        ("better mAP, worse F1", _metrics(0.60, 0.60), _metrics(0.55, 0.65), False),
        ("worse mAP, better F1", _metrics(0.50, 0.70), _metrics(0.55, 0.65), False),
        ("equal is not better", _metrics(0.55, 0.65), _metrics(0.55, 0.65), False),
        ("missing mAP", _metrics(None, 0.70), _metrics(0.55, 0.65), False),
    ],
)
def test_promotion_rule(scenario: str, candidate: dict, shipped: dict, expected: bool) -> None:
    better, reasons = is_better(candidate, shipped)
    assert better is expected, scenario
    assert (not reasons) is expected


def test_finetune_defaults_start_from_shipped_model() -> None:
    args = finetune.parse_args([])
    assert args.weights == REPO / "model" / "best.pt"
    assert args.epochs == 20 and args.imgsz == 416 and not args.promote
    overrides = finetune.stage_overrides(args)
    assert overrides["lr0"] < 0.01 and overrides["optimizer"] == "AdamW"
    assert finetune.stage_overrides(finetune.parse_args(["--optimizer", "SGD"]))["optimizer"] == "SGD"


def test_options_become_the_ultralytics_arguments(tmp_path: Path) -> None:
    """What each script hands Ultralytics: stage defaults, then explicit options; the data.yaml checked first."""
    from train._common import TrainingSetupError, ultralytics_overrides

    samples = str(REPO / "samples" / "data.yaml")
    args = finetune.parse_args(["--data", samples, "--cache", "none", "--epochs", "3", "--project", str(tmp_path)])
    overrides = ultralytics_overrides(args, finetune.stage_overrides(args), "run")
    assert overrides["data"] == str((REPO / "samples" / "data.yaml").resolve())
    assert (overrides["cache"], overrides["amp"], overrides["epochs"]) == (False, False, 3)
    assert (overrides["optimizer"], overrides["lr0"], overrides["cos_lr"]) == ("AdamW", 0.0005, True)
    assert "stage" not in overrides and overrides["project"] == str(tmp_path.resolve())
    assert (overrides["mask_ratio"], overrides["copy_paste"], overrides["mosaic"]) == (4, 0.0, 1.0)
    assert overrides["scale"] == 0.5  # Ultralytics' own zoom range unless asked otherwise
    explicit = finetune.parse_args(
        ["--data", samples, "--lr0", "0.01", "--device", "0", "--mask-ratio", "2", "--copy-paste", "0.5"]
        + ["--mosaic", "0", "--scale", "0.1"]
    )
    overrides = ultralytics_overrides(explicit, finetune.stage_overrides(explicit), "run")
    assert (overrides["lr0"], overrides["amp"], overrides["cache"]) == (0.01, True, "ram")
    assert (overrides["mask_ratio"], overrides["copy_paste"], overrides["mosaic"]) == (2, 0.5, 0.0)
    assert overrides["scale"] == 0.1
    assert overrides["warmup_bias_lr"] == 0.0  # AdamW: no 0.1 start for the biases
    sgd = finetune.parse_args(["--data", samples, "--optimizer", "SGD"])
    assert ultralytics_overrides(sgd, finetune.stage_overrides(sgd), "run")["warmup_bias_lr"] == 0.1
    chosen = finetune.parse_args(["--data", samples, "--warmup-bias-lr", "0.002"])
    assert ultralytics_overrides(chosen, finetune.stage_overrides(chosen), "run")["warmup_bias_lr"] == 0.002
    negative = finetune.parse_args(["--data", samples, "--warmup-bias-lr", "-1"])
    with pytest.raises(TrainingSetupError, match="warmup-bias-lr"):
        ultralytics_overrides(negative, finetune.stage_overrides(negative), "run")
    broken = tmp_path / "data.yaml"
    broken.write_text("train: nowhere/images\nval: nowhere/images\n")
    with pytest.raises(TrainingSetupError, match="not found"):
        ultralytics_overrides(train.parse_args(["--data", str(broken)]), {"stage": "train"}, "run")


def _run_script(script: str, *arguments: str, timeout: int = 240) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        # Any attempt to reach the network fails at once instead of hanging.
        "HTTP_PROXY": "http://127.0.0.1:9",
        "HTTPS_PROXY": "http://127.0.0.1:9",
        "NO_PROXY": "",
    }
    return subprocess.run(
        [sys.executable, str(REPO / "train" / script), *arguments],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=REPO,
    )


@pytest.mark.parametrize(
    ("scenario", "arguments", "message"),
    [
        ("missing data.yaml", ["--data", "/nonexistent/data.yaml"], "data.yaml not found"),
        ("unreadable checkpoint", ["--weights", "{garbage}"], "not a readable Ultralytics checkpoint"),
        ("missing checkpoint", ["--weights", "/nonexistent/best.pt"], "model file not found"),
        ("EMA decay of 1", ["--ema-decay", "1"], "--ema-decay must be in [0, 1)"),
    ],
)
def test_finetune_setup_errors_are_one_line(scenario: str, arguments: list, message: str, tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"\x80\x04not a pickle at all")
    arguments = [a.replace("{garbage}", str(garbage)) for a in arguments]
    result = _run_script("finetune.py", *arguments, "--epochs", "1", "--project", str(tmp_path / "runs"), timeout=120)
    assert result.returncode == 2, scenario
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_promotion_of_a_missing_run_or_unreadable_weights_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from train import promotion

    data = SAMPLES / "data.yaml"
    assert promotion.main([str(tmp_path / "no-run"), "--data", str(data)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "no best weights" in err and err.count("\n") == 1

    run = tmp_path / "run"
    (run / "weights").mkdir(parents=True)
    (run / "weights" / "best.pt").write_bytes(b"\x80\x04not a pickle at all")
    assert promotion.main([str(run), "--data", str(data)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "best.pt" in err and "Traceback" not in err


def test_street_gate_of_a_missing_candidate_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.synthetic_survey import write_survey_frames
    from tests.test_street_settings import SAMPLE
    from train import promote_street

    root = write_survey_frames(tmp_path / "survey", SAMPLE)
    missing = tmp_path / "no-such.pt"
    assert promote_street.main([str(missing), "--survey-root", str(root)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and str(missing) in err and err.count("\n") == 1


def test_missing_split_is_reported(tmp_path: Path) -> None:
    data = tmp_path / "data.yaml"
    data.write_text("train: images\nnames: {0: crack}\n")
    (tmp_path / "images").mkdir()
    shutil.copy2(next((SAMPLES / "images").iterdir()), tmp_path / "images")
    result = _run_script("train.py", "--data", str(data), "--epochs", "1", "--project", str(tmp_path / "runs"))
    assert result.returncode == 2
    assert "no 'val' split" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.fixture(scope="module")
def tiny_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The eight samples as a YOLO dataset in a temp folder (Ultralytics writes caches beside labels)."""
    root = tmp_path_factory.mktemp("tiny")
    shutil.copytree(SAMPLES / "images", root / "images")
    shutil.copytree(SAMPLES / "labels", root / "labels")
    (root / "data.yaml").write_text("train: images\nval: images\ntest: images\nnames:\n  0: crack\n")
    return root / "data.yaml"


def _tiny_run(script: str, data: Path, project: Path, name: str, *extra: str) -> subprocess.CompletedProcess:
    """One epoch at 64 px on ``data``, batch 4, no workers or cache: the fastest real training run."""
    options = ["--epochs", "1", "--imgsz", "64", "--batch", "4", "--workers", "0", "--cache", "none"]
    return _run_script(script, "--data", str(data), *options, "--project", str(project), "--name", name, *extra)


@pytest.fixture(scope="module")
def tiny_finetune_run(tiny_dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real one-epoch fine-tune at 64 px on the samples, offline, evaluated at the end."""
    project = tmp_path_factory.mktemp("runs")
    result = _tiny_run("finetune.py", tiny_dataset, project, "tiny")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "not promoted" in result.stdout or "kept the shipped model" in result.stdout
    return project / "tiny"


def test_one_epoch_finetune_produces_loadable_weights(tiny_finetune_run: Path) -> None:
    best = tiny_finetune_run / "weights" / "best.pt"
    assert best.is_file()
    assert (tiny_finetune_run / "results.csv").read_text().count("\n") >= 2  # header + one epoch
    run_arguments = yaml.safe_load((tiny_finetune_run / "args.yaml").read_text())
    assert (run_arguments["optimizer"], run_arguments["warmup_bias_lr"]) == ("AdamW", 0.0)
    segmenter = Segmenter(best, backend="torch")
    from crackseg.io.image_io import load_image

    rgb = load_image(SAMPLES / "images" / "1616.rf.c868709931a671796794fdbb95352c5a.jpg")
    prediction = segmenter.predict(rgb)
    assert prediction.masks.shape[1:] == rgb.shape[:2]


def _float_weights(checkpoint: Path) -> dict:
    """The floating-point tensors of a checkpoint's saved (EMA) weights, as float32."""
    import torch

    saved = torch.load(checkpoint, map_location="cpu", weights_only=False)
    state = (saved.get("ema") or saved["model"]).float().state_dict()
    return {name: tensor for name, tensor in state.items() if tensor.dtype.is_floating_point}


def _largest_change(start: dict, end: dict) -> float:
    return max(float((end[name] - start[name]).abs().max()) for name in start)


def test_fixed_ema_decay_keeps_the_saved_weights_at_the_start(
    tiny_dataset: Path, tiny_finetune_run: Path, tmp_path: Path
) -> None:
    """With --ema-decay 0.9999 the saved weights move by 1e-4 of each step; with Ultralytics' ramp they are the
    last step's. The decay is recorded in the run folder (where a resume and the card read it)."""
    from train._common import recorded_ema_decay

    result = _tiny_run("finetune.py", tiny_dataset, tmp_path, "ema", "--ema-decay", "0.9999", "--no-evaluate")
    assert result.returncode == 0, result.stderr[-2000:]
    start = _float_weights(REPO / "model" / "best.pt")
    anchored = _largest_change(start, _float_weights(tmp_path / "ema" / "weights" / "last.pt"))
    ramped = _largest_change(start, _float_weights(tiny_finetune_run / "weights" / "last.pt"))
    assert anchored < 1e-4 < ramped
    assert recorded_ema_decay(tmp_path / "ema") == 0.9999


def test_fixed_ema_decay_averages_each_update_at_that_decay() -> None:
    """The callback replaces the ramp of Ultralytics' own EMA: one update moves it (1 - d) of the way."""
    from types import SimpleNamespace

    import torch
    from ultralytics import YOLO
    from ultralytics.utils.torch_utils import ModelEMA

    from train._common import with_fixed_ema_decay

    network = torch.nn.Linear(2, 1)
    torch.nn.init.constant_(network.weight, 1.0)
    ema = ModelEMA(network)
    model = with_fixed_ema_decay(YOLO(str(REPO / "model" / "best.pt")), 0.9)
    for callback in model.callbacks["on_train_start"]:
        callback(SimpleNamespace(ema=ema))
    torch.nn.init.constant_(network.weight, 3.0)
    ema.update(network)
    assert torch.allclose(ema.ema.weight, torch.full((1, 2), 0.9 * 1.0 + 0.1 * 3.0))


def test_promotion_refuses_a_worse_model(tiny_scratch_run: Path, tiny_dataset: Path, tmp_path: Path) -> None:
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    shutil.copy2(REPO / "model" / "best.pt", model_dir / "best.pt")
    card = {"weights": {"sha256": "unchanged"}, "stages": []}
    (model_dir / "card.json").write_text(json.dumps(card))
    before = (model_dir / "best.pt").read_bytes()
    outcome = _promote(tiny_scratch_run, tiny_dataset, model_dir)
    assert not outcome.promoted and not outcome.better
    assert outcome.reasons
    assert (model_dir / "best.pt").read_bytes() == before
    assert json.loads((model_dir / "card.json").read_text()) == card
    assert not (model_dir / "results.csv").exists()


@pytest.fixture(scope="module")
def tiny_scratch_run(tiny_dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real one-epoch training from the architecture YAML (random init) at 64 px: a certainly worse model."""
    project = tmp_path_factory.mktemp("scratch-runs")
    result = _tiny_run("train.py", tiny_dataset, project, "scratch", "--model", "yolov8n-seg.yaml", "--no-evaluate")
    assert result.returncode == 0, result.stderr[-2000:]
    return project / "scratch"


def test_scratch_training_from_architecture_yaml_runs_offline(tiny_scratch_run: Path) -> None:
    best = tiny_scratch_run / "weights" / "best.pt"
    assert Segmenter(best, backend="torch").info()["sha256"]


def test_wall_time_adds_every_invocation(tmp_path: Path) -> None:
    from crackseg.training.wall_time import record_wall_time, recorded_wall_time

    assert recorded_wall_time(tmp_path) is None
    record_wall_time(tmp_path, 1200.0)
    record_wall_time(tmp_path, 3600.5)  # a resume
    assert recorded_wall_time(tmp_path) == pytest.approx(4800.5)


def test_history_appends_stages_in_order_with_continuous_epochs(tmp_path: Path) -> None:
    import pandas as pd

    from crackseg.training.runs import read_results_csv, stage_boundaries
    from train.promotion import append_history

    def run(epochs: int, map50: float) -> pd.DataFrame:
        return pd.DataFrame({"epoch": range(1, epochs + 1), "metrics/mAP50(M)": [map50] * epochs})

    history = tmp_path / "results.csv"
    append_history(history, run(10, 0.5), "stage1")
    append_history(history, run(6, 0.6), "finetune-2")
    append_history(history, read_results_csv(history).head(3), "finetune-3")  # a table that has global_epoch
    table = read_results_csv(history)
    assert list(table["stage"]) == ["stage1"] * 10 + ["finetune-2"] * 6 + ["finetune-3"] * 3
    assert list(table["global_epoch"]) == list(range(1, 20))
    assert stage_boundaries(table) == [10.5, 16.5]


def test_promoted_weights_are_quantized_and_the_card_records_it(
    tiny_dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a promotion the INT8 model is rebuilt from the new weights, and the card says how it measured."""
    import json

    from crackseg.core.locations import SHIPPED_MODEL
    from crackseg.training import int8_build as quantization
    from train.promotion import refresh_int8_after_promotion

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # the INT8 model of this copy lands here
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    shutil.copy2(SHIPPED_MODEL, model_dir / "best.pt")
    (model_dir / "card.json").write_text(json.dumps({"name": "test card"}))
    line = refresh_int8_after_promotion(model_dir / "best.pt", tiny_dataset, 416, model_dir / "card.json")
    card = json.loads((model_dir / "card.json").read_text())
    section = card["int8"]
    assert card["name"] == "test card"  # the rest of the card is kept
    assert section["calibration"]["images"] == 8 and section["evaluation"]["split"] == "val"
    assert f"FP32 {section['fp32']['mask_map50']:.4f}" in line and f"INT8 {section['int8']['mask_map50']:.4f}" in line
    installed = quantization.int8_model_dir(model_dir / "best.pt")
    if section["passed"]:
        assert line.startswith("INT8 model installed") and installed.is_dir()
        assert set(section["metrics"]) == {"valid", "test"}
    else:
        assert "NOT installed" in line and not installed.exists()

    def broken(*args: object, **kwargs: object) -> None:
        raise quantization.QuantizationError("nncf exploded")

    monkeypatch.setattr(quantization, "build_int8_model", broken)
    line = refresh_int8_after_promotion(model_dir / "best.pt", tiny_dataset, 416, model_dir / "card.json")
    assert line == "INT8 model not made (nncf exploded); auto uses FP32 OpenVINO"


def test_threads_option_survives_ultralytics_device_selection() -> None:
    """Ultralytics sets torch to cpu_count - 1 threads when the trainer picks its device; --threads is re-applied
    when training starts."""
    import torch
    from ultralytics import YOLO
    from ultralytics.utils.torch_utils import select_device

    from train._common import with_threads

    previous = torch.get_num_threads()
    try:
        model = with_threads(YOLO(str(REPO / "model" / "best.pt")), 3)
        select_device("cpu")  # what the trainer does: threads drop to cpu_count - 1
        for callback in model.callbacks["on_train_start"]:
            callback(None)
        assert torch.get_num_threads() == 3
    finally:
        torch.set_num_threads(previous)


@pytest.fixture
def int8_incumbent(tiny_scratch_run: Path, tiny_dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A model folder whose shipped weights (the scratch run: a worse model) have a usable INT8 model beside them.

    ``tmp_path`` plays the project, so INT8 models of the model folder live beside its weights as in
    ``model/``; the candidate's INT8 model, made in a temp folder, goes to a private export cache.
    """
    import crackseg.inference.int8_lookup as int8_lookup
    from crackseg.training.int8_build import build_int8_model
    from crackseg.training.int8_promotion import has_usable_int8

    monkeypatch.setattr(int8_lookup, "PROJECT_ROOT", tmp_path)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path.parent / f"{tmp_path.name}-cache"))
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    shutil.copy2(tiny_scratch_run / "weights" / "best.pt", model_dir / "best.pt")
    (model_dir / "card.json").write_text(json.dumps({"name": "incumbent", "stages": []}))
    assert build_int8_model(model_dir / "best.pt", tiny_dataset, max_drop=1.0).passed  # any drop passes
    assert has_usable_int8(model_dir / "best.pt")
    return model_dir


@pytest.fixture
def better_candidate_run(tiny_scratch_run: Path, tmp_path: Path) -> Path:
    """A run folder whose best weights are the shipped model: better than the scratch run on the samples."""
    from crackseg.core.locations import SHIPPED_MODEL

    run_dir = tmp_path / "candidate-run"
    (run_dir / "weights").mkdir(parents=True)
    shutil.copy2(SHIPPED_MODEL, run_dir / "weights" / "best.pt")
    shutil.copy2(tiny_scratch_run / "results.csv", run_dir / "results.csv")
    return run_dir


def _promote(run_dir: Path, data: Path, model_dir: Path, **int8_options: object):
    from crackseg.training.int8_promotion import Int8Settings

    return evaluate_and_maybe_promote(
        run_dir=run_dir,
        data_yaml=data,
        stage="finetune",
        start_weights=model_dir / "best.pt",
        imgsz=416,
        device="cpu",
        wall_time_s=1.0,
        promote=True,
        model_dir=model_dir,
        int8_settings=Int8Settings(**int8_options),
    )


def test_a_better_model_whose_int8_fails_is_refused_unless_fp32_auto_is_accepted(
    int8_incumbent: Path, better_candidate_run: Path, tiny_dataset: Path
) -> None:
    """auto must not silently become FP32 OpenVINO: the INT8 check refuses, --accept-fp32-auto overrides."""
    from crackseg.inference.model_loading import file_sha256
    from crackseg.training.int8_build import int8_model_dir
    from crackseg.training.int8_promotion import has_usable_int8

    model_dir = int8_incumbent
    before = (model_dir / "best.pt").read_bytes()
    card_before = (model_dir / "card.json").read_text()
    refused = _promote(better_candidate_run, tiny_dataset, model_dir, max_drop=-1.0)  # no INT8 model can pass
    assert refused.better and not refused.promoted and refused.int8_refused
    assert any(
        r.startswith("INT8: its INT8 model fails its check") and "--accept-fp32-auto" in r for r in refused.reasons
    )
    assert "refused by the INT8 check" in refused.summary()
    assert (model_dir / "best.pt").read_bytes() == before and (model_dir / "card.json").read_text() == card_before
    assert has_usable_int8(model_dir / "best.pt")  # the shipped INT8 model is untouched

    accepted = _promote(better_candidate_run, tiny_dataset, model_dir, max_drop=-1.0, accept_fp32_auto=True)
    assert accepted.promoted and not accepted.int8_refused
    assert accepted.int8.startswith("INT8 model NOT installed, auto uses FP32 OpenVINO (made before promotion)")
    assert file_sha256(model_dir / "best.pt") == file_sha256(better_candidate_run / "weights" / "best.pt")
    assert not int8_model_dir(model_dir / "best.pt").exists()  # the incumbent's INT8 model went with its weights
    card = json.loads((model_dir / "card.json").read_text())
    assert card["int8"]["passed"] is False and "metrics" not in card["int8"]


def test_a_better_model_whose_int8_passes_ships_the_int8_model_made_for_the_check(
    int8_incumbent: Path, better_candidate_run: Path, tiny_dataset: Path
) -> None:
    from crackseg.inference.int8_lookup import load_record, usable_int8_model
    from crackseg.inference.model_loading import file_sha256
    from crackseg.training.dataset_credits import DOMAIN_CREDITS
    from train._common import record_ema_decay

    build = better_candidate_run.parent / "closeup-build"  # what the run trained on: a build's manifest
    build.mkdir()
    trained_on = {"crack_seg": 3, "deepcrack": 9}
    (build / "manifest.json").write_text(json.dumps({"splits": {"train": {"images": trained_on}}}))
    (better_candidate_run / "args.yaml").write_text(f"data: {build / 'data.yaml'}\nepochs: 1\n")
    record_ema_decay(better_candidate_run, 0.995)  # what --ema-decay leaves in the run folder
    outcome = _promote(better_candidate_run, tiny_dataset, int8_incumbent, max_drop=1.0)
    assert outcome.promoted and outcome.int8.startswith("INT8 model installed (made before promotion)")
    weights = int8_incumbent / "best.pt"
    installed = usable_int8_model(weights)  # raises unless made from these very bytes, passed and intact
    assert installed == int8_incumbent / "best_int8_openvino_model"
    assert load_record(installed).source_sha256 == file_sha256(weights)
    card = json.loads((int8_incumbent / "card.json").read_text())
    assert card["int8"]["passed"] is True and set(card["int8"]["metrics"]) == {"valid", "test"}
    assert card["int8"]["calibration"]["images"] == 8  # all the samples (fewer than the 300 asked for)
    credited = [credit["name"] for credit in card["licence"]["datasets"]]
    assert credited == [DOMAIN_CREDITS["crack_seg"]["name"], DOMAIN_CREDITS["deepcrack"]["name"]]
    assert card["stages"][-1]["args"]["data"] == str(build / "data.yaml")
    assert card["stages"][-1]["args"]["ema_decay"] == 0.995
    # The incumbent's card named another model; the card now names the network the installed file holds.
    from crackseg.training.network_description import describe_network

    network = describe_network(weights)
    assert card["name"] == network.card_name == "CrackSeg YOLOv8n-seg"
    assert card["architecture"] == network.architecture and f"{network.parameters / 1e6:.2f} M" in card["architecture"]


def test_a_stage_records_the_data_and_the_settings_that_shape_the_masks() -> None:
    """The card's stage says what the run trained on and how (mask resolution, mosaic, copy-paste)."""
    import pandas as pd

    from train.promotion import stage_entry

    run_args = {"data": "/d/closeup/data.yaml", "epochs": 3, "mask_ratio": 1, "mosaic": 1.0, "copy_paste": 0.0}
    run_args |= {"scale": 0.1, "ema_decay": 0.995}
    run_args |= {"lr0": 0.0001, "project": "/work/runs", "name": "x"}  # where it ran is not a training setting
    entry = stage_entry(
        "closeup-mr1",
        start="best.pt",
        start_sha256=None,
        history=pd.DataFrame({"epoch": [1, 2, 3], "time": [10.0, 20.0, 31.5]}),
        run_args=run_args,
        wall_time_s=None,
        valid={},
        test={},
    )
    settings = ("data", "epochs", "lr0", "mosaic", "copy_paste", "scale", "mask_ratio", "ema_decay")
    assert entry["args"] == {k: run_args[k] for k in settings}
    assert entry["epochs_run"] == 3 and entry["wall_time_s"] == 31.5
