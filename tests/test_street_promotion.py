"""The street model's INT8 check (train/promote_street.py): kept within 0.01 lane cell F1 of FP32, removed beyond.

The two evaluations (FP32 and INT8 through the street pipeline on the val frames) are
replaced by given scores; what is tested is the decision, the folder and the card.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from crackseg.core.locations import SHIPPED_MODEL, USER_CACHE_ENV_VAR
from crackseg.geometry.camera import DEFAULT_PROFILE
from crackseg.inference.int8_lookup import int8_model_dir
from train import promote_street


@pytest.fixture
def installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A street model in tmp: weights, a card with the street conf, and an INT8 folder where the lookup finds it."""
    monkeypatch.setenv(USER_CACHE_ENV_VAR, str(tmp_path / "cache"))  # weights outside the project: INT8 in the cache
    weights = tmp_path / "street" / "best.pt"
    weights.parent.mkdir(parents=True)
    weights.write_bytes(b"weights")
    int8_model_dir(weights).mkdir(parents=True)
    card = weights.parent / "card.json"
    card.write_text(json.dumps({"views": {"street": {"conf": 0.1}}}), encoding="utf-8")
    monkeypatch.setattr(promote_street, "STREET_MODEL", weights)
    monkeypatch.setattr(promote_street, "STREET_MODEL_CARD", card)
    return weights


def scores_by_backend(f1: dict[str, float], calls: list[tuple[str, float | None]]) -> Any:
    def street_scores(
        weights: Path,
        profile: object,
        root: Path,
        split: str,
        conf: float | None,
        backend: str,
        cache: Path | None = None,
        imgsz: int = 416,
    ) -> dict[str, Any]:
        calls.append((backend, conf))
        return {"split": split, "conf": conf, "lane_cell_f1": f1[backend]}

    return street_scores


@pytest.mark.parametrize(
    ("int8_f1", "kept"),
    [(0.7200, True), (0.7170, True), (0.7164, False), (0.60, False)],
)
def test_int8_street_model_is_kept_only_within_the_allowed_drop(
    installed: Path, monkeypatch: pytest.MonkeyPatch, int8_f1: float, kept: bool
) -> None:
    calls: list[tuple[str, float | None]] = []
    fake = scores_by_backend({"torch": 0.7270, "openvino-int8": int8_f1}, calls)
    monkeypatch.setattr(promote_street, "street_scores", fake)
    line = promote_street.check_int8_street_model(DEFAULT_PROFILE, Path("survey"), None)
    assert sorted(calls) == [("openvino-int8", 0.1), ("torch", 0.1)]  # both at the card's street conf
    assert int8_model_dir(installed).is_dir() is kept
    check = json.loads((installed.parent / "card.json").read_text(encoding="utf-8"))["int8_street_check"]
    assert check["passed"] is kept
    assert check["drop"] == pytest.approx(0.7270 - int8_f1, abs=1e-4)
    assert ("kept" if kept else "REMOVED") in line


def test_without_an_int8_model_there_is_nothing_to_check(installed: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    int8_model_dir(installed).rmdir()
    monkeypatch.setattr(promote_street, "street_scores", lambda *args, **kwargs: pytest.fail("evaluated"))
    assert "nothing to check" in promote_street.check_int8_street_model(DEFAULT_PROFILE, Path("survey"), None)


def test_the_gate_scores_the_file_that_ships_and_makes_it_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The candidate is stripped once into the cache; a promotion installs those very bytes (same SHA-256), so the
    next gate finds the incumbent's reports under that hash."""
    import torch

    from crackseg.inference.model_loading import file_sha256

    candidate = tmp_path / "run" / "last.pt"
    candidate.parent.mkdir()
    checkpoint = torch.load(SHIPPED_MODEL, weights_only=False)
    checkpoint["optimizer"] = {"state": {"padding": torch.zeros(200_000)}}  # a training checkpoint's extra weight
    street_data = tmp_path / "street" / "data.yaml"  # a street-only build's manifest: survey crops alone
    street_data.parent.mkdir()
    manifest = {"splits": {"train": {"images": {"survey_vehicle": 32}}}}
    (street_data.parent / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    checkpoint["train_args"] = dict(checkpoint.get("train_args") or {}, data=str(street_data))
    torch.save(checkpoint, candidate)
    gated = promote_street.shipping_form(candidate, tmp_path / "cache")
    assert gated.parent == tmp_path / "cache" / "shipping-form"
    assert torch.load(gated, weights_only=False)["optimizer"] is None  # stripped
    assert gated.stat().st_size < candidate.stat().st_size - 700_000
    first = file_sha256(gated)
    assert promote_street.shipping_form(candidate, tmp_path / "cache") == gated and file_sha256(gated) == first

    target = tmp_path / "model" / "street" / "best.pt"
    monkeypatch.setattr(promote_street, "STREET_MODEL", target)
    monkeypatch.setattr(promote_street, "STREET_MODEL_CARD", target.parent / "card.json")
    gate = {"val_lane_cell_f1_gain": 0.02, "min_gain": 0.01, "passed": True}
    scores = {"candidate_scores": {"val": {"conf": 0.1}}, "incumbent": "old", "incumbent_scores": {}, "gate": gate}
    promote_street.install_street_model(gated, candidate, scores, DEFAULT_PROFILE, "run")
    card = json.loads((target.parent / "card.json").read_text(encoding="utf-8"))
    assert file_sha256(target) == first == card["weights"]["sha256"]
    assert card["weights"]["source"] == str(candidate)
    from crackseg.training.network_description import describe_network

    described = describe_network(target).architecture
    assert card["model"] == f"{described}, the street view's model (chosen by --view street)"
    # No street card yet: the licence starts from the top-down card's and adds the candidate's training set.
    from crackseg.core.locations import MODEL_CARD
    from crackseg.training.dataset_credits import DOMAIN_CREDITS
    from crackseg.training.model_card import load_card

    names = [credit["name"] for credit in card["licence"]["datasets"]]
    inherited = [credit["name"] for credit in load_card(MODEL_CARD).get("licence", {}).get("datasets", [])]
    assert names[: len(inherited)] == inherited and DOMAIN_CREDITS["survey_vehicle"]["name"] in names
    assert not any(name.startswith("training set") for name in names)  # the manifest was found


def reports_with(exact_f1: dict[float, float], swept_f1: dict[float, float], requests: list[float | None]) -> Any:
    """A stand-in for ``street_report``: the sweep (run at the floor, exact there) and runs at given confs."""
    from types import SimpleNamespace

    def street_report(weights, profile, root, split, backend, cache, at_conf=None, imgsz=416):  # noqa: ANN001, ANN202
        requests.append(at_conf if imgsz == 416 else (at_conf, imgsz))
        floor = min(promote_street.STREET_CONFS)
        if at_conf is None or at_conf == floor:  # the sweep's own run
            grid = list(promote_street.STREET_CONFS)
            f1 = [swept_f1.get(conf, 0.0) for conf in grid]
            best = max(range(len(grid)), key=lambda index: f1[index])
            sweep = {"thresholds": grid, "f1": f1, "precision": f1, "recall": f1}
            return SimpleNamespace(
                images=223,
                cell_sweep=sweep | {"best_f1": f1[best], "best_threshold": grid[best]},
                sweep_counts_at=lambda level, conf: None,
            )
        value = exact_f1[at_conf]
        return SimpleNamespace(
            images=223,
            cell_sweep={"thresholds": [at_conf], "f1": [value], "precision": [value], "recall": [value]},
            sweep_counts_at=lambda level, conf: None,
        )

    return street_report


@pytest.mark.parametrize(
    ("exact_at_best", "conf", "f1"),
    [(0.7450, 0.07, 0.7450), (0.7350, 0.05, 0.7413)],
    ids=["the sweep's best is confirmed", "the floor's own run wins"],
)
def test_the_conf_is_chosen_on_the_fine_grid_and_confirmed_by_a_run_at_it(
    monkeypatch: pytest.MonkeyPatch, exact_at_best: float, conf: float, f1: float
) -> None:
    requests: list[float | None] = []
    swept = {0.05: 0.7413, 0.06: 0.7440, 0.07: 0.7460, 0.08: 0.7420, 0.10: 0.7043}
    monkeypatch.setattr(promote_street, "street_report", reports_with({0.07: exact_at_best}, swept, requests))
    scores = promote_street.street_scores(Path("w.pt"), DEFAULT_PROFILE, Path("root"), "val", None, "torch")
    assert scores["conf"] == conf and scores["lane_cell_f1"] == f1
    assert scores["swept_lane_cell_f1"] == 0.7460
    assert requests == [None, 0.07, 0.05]  # the sweep, the run at its best, the floor (the sweep's own run)
    if conf == 0.05:
        assert scores["refused_conf"] == 0.07 and scores["refused_conf_lane_cell_f1"] == exact_at_best
    else:
        assert "refused_conf" not in scores
    # test is then scored at the chosen conf only
    requests.clear()
    test = promote_street.street_scores(Path("w.pt"), DEFAULT_PROFILE, Path("root"), "test", scores["conf"], "torch")
    assert requests == [scores["conf"]] and test["conf"] == conf


def test_a_best_conf_at_the_floor_needs_no_second_run(monkeypatch: pytest.MonkeyPatch) -> None:
    requests: list[float | None] = []
    monkeypatch.setattr(promote_street, "street_report", reports_with({}, {0.05: 0.74, 0.06: 0.73}, requests))
    scores = promote_street.street_scores(Path("w.pt"), DEFAULT_PROFILE, Path("root"), "val", None, "torch")
    assert scores["conf"] == 0.05 and scores["lane_cell_f1"] == 0.74
    assert requests == [None, 0.05]  # both the sweep's run: one evaluation


def test_the_grid_is_fine_between_the_floor_and_0_10() -> None:
    grid = promote_street.STREET_CONFS
    assert grid[:7] == (0.05, 0.06, 0.07, 0.08, 0.09, 0.1, 0.15)
    assert grid == tuple(sorted(grid)) and len(set(grid)) == len(grid)


def test_rechoosing_the_conf_updates_the_card_and_keeps_the_previous_choice(
    installed: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from crackseg.core.errors import CrackSegError
    from crackseg.inference.model_loading import file_sha256

    card_path = installed.parent / "card.json"
    old_figures = {"val": {"conf": 0.05, "lane_cell_f1": 0.7413}}
    card = {"weights": {"sha256": file_sha256(installed)}, "views": {"street": {"conf": 0.05}}}
    card_path.write_text(json.dumps(card | {"domains": {"survey_vehicle": old_figures}}), encoding="utf-8")
    calls: list[tuple[str, float | None]] = []

    def street_scores(weights, profile, root, split, conf, backend, cache=None, imgsz=416):  # noqa: ANN001, ANN202
        calls.append((split, conf) if imgsz == 416 else (split, conf, imgsz))
        chosen = 0.07 if conf is None else conf
        return {"split": split, "conf": chosen, "lane_cell_f1": {"val": 0.7450, "test": 0.7660}[split]}

    monkeypatch.setattr(promote_street, "street_scores", street_scores)
    message = promote_street.rechoose_street_conf(DEFAULT_PROFILE, Path("root"), "torch", None)
    assert calls == [("val", None), ("test", 0.07)]  # chosen on val, test scored at the choice
    assert "0.05 -> 0.07" in message
    saved = json.loads(card_path.read_text(encoding="utf-8"))
    assert saved["views"]["street"]["conf"] == 0.07
    assert saved["views"]["street"]["grid"] == list(promote_street.STREET_CONFS)
    assert saved["domains"]["survey_vehicle"]["test"]["lane_cell_f1"] == 0.7660
    assert saved["conf_rechosen"]["previous"] == {"conf": 0.05, "survey_vehicle": old_figures}

    installed.write_bytes(b"other weights")  # the card no longer describes the installed file
    with pytest.raises(CrackSegError, match="SHA-256 differs"):
        promote_street.rechoose_street_conf(DEFAULT_PROFILE, Path("root"), "torch", None)


def test_a_candidate_gated_at_another_input_size_is_scored_and_recorded_at_it(
    installed: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--imgsz 512: every run of the sweep and the confirmation is at 512, and the card keeps 512 for the view."""
    requests: list[object] = []
    swept = {0.05: 0.7413, 0.06: 0.7440, 0.07: 0.7460}
    monkeypatch.setattr(promote_street, "street_report", reports_with({0.07: 0.7450}, swept, requests))
    scores = promote_street.street_scores(Path("w.pt"), DEFAULT_PROFILE, Path("root"), "val", None, "torch", None, 512)
    assert requests == [(None, 512), (0.07, 512), (0.05, 512)]
    assert scores["imgsz"] == 512 and scores["conf"] == 0.07
    gate = {"val_lane_cell_f1_gain": 0.02, "min_gain": 0.01, "passed": True}
    everything = {"candidate_scores": {"val": scores}, "incumbent": "old", "incumbent_scores": {}, "gate": gate}
    gated = installed.parent.parent / "gated.pt"
    shutil.copy2(SHIPPED_MODEL, gated)  # a real checkpoint: the install reads the network it holds for the card
    promote_street.install_street_model(gated, gated, everything, DEFAULT_PROFILE, "run")
    card = json.loads((installed.parent / "card.json").read_text(encoding="utf-8"))
    assert card["views"]["street"]["imgsz"] == 512 and card["views"]["street"]["conf"] == 0.07

    calls: list[tuple] = []  # the conf chosen again later runs at the card's size, and keeps it
    monkeypatch.setattr(
        promote_street, "street_scores", lambda *a, **k: calls.append(a) or {"conf": 0.06, "lane_cell_f1": 0.75}
    )
    promote_street.rechoose_street_conf(DEFAULT_PROFILE, Path("root"), "torch", None)
    assert [call[-1] for call in calls] == [512, 512]
    assert json.loads((installed.parent / "card.json").read_text(encoding="utf-8"))["views"]["street"]["imgsz"] == 512


def test_the_gain_gets_a_paired_interval_from_each_models_run_at_its_conf(monkeypatch: pytest.MonkeyPatch) -> None:
    """Per-frame lane cell counts of each exact run: the candidate finds one more cracked cell on each of 40 frames.

    The interval's difference is the gate's gain, and it lies above 0 on every resample. A side whose report
    kept no per-frame counts (stored before they were) gets no interval.
    """
    from types import SimpleNamespace

    import numpy as np

    from crackseg.metrics.bootstrap import f1_of_counts

    found = np.arange(40) % 7 + 2
    rows = {  # (tp, tp + fp, tp, tp + fn) per frame; 12 cracked cells a frame, 3 false ones
        "old.pt": np.stack([found, found + 3, found, np.full(40, 12)], axis=1),
        "new.pt": np.stack([found + 1, found + 4, found + 1, np.full(40, 12)], axis=1),
    }

    def street_report(weights, profile, root, split, backend, cache, at_conf=None, imgsz=416):  # noqa: ANN001, ANN202
        counts = rows.get(Path(weights).name)
        value = float(f1_of_counts(counts.sum(axis=0))) if counts is not None else 0.7
        sweep = {"thresholds": [at_conf], "f1": [value], "precision": [value], "recall": [value]}
        return SimpleNamespace(images=40, cell_sweep=sweep, sweep_counts_at=lambda level, conf: counts)

    monkeypatch.setattr(promote_street, "street_report", street_report)
    monkeypatch.setattr(promote_street, "_LANE_CELL_COUNTS", {})
    old = promote_street.street_scores(Path("old.pt"), DEFAULT_PROFILE, Path("root"), "val", 0.07, "torch")
    new = promote_street.street_scores(Path("new.pt"), DEFAULT_PROFILE, Path("root"), "val", 0.06, "torch")
    interval = promote_street.gain_interval((Path("old.pt"), old, 416), (Path("new.pt"), new, 416), "torch")
    assert interval is not None
    assert interval.difference == pytest.approx(new["lane_cell_f1"] - old["lane_cell_f1"], abs=1e-4)
    assert 0 < interval.low < interval.difference < interval.high and interval.share_above_zero == 1.0
    assert promote_street.gain_interval((Path("old.pt"), old, 512), (Path("new.pt"), new, 416), "torch") is None
    stored = promote_street.street_scores(Path("stored.pt"), DEFAULT_PROFILE, Path("root"), "val", 0.07, "torch")
    assert promote_street.gain_interval((Path("stored.pt"), stored, 416), (Path("new.pt"), new, 416), "torch") is None
