"""The street model's INT8 check (train/promote_street.py): kept within 0.01 lane cell F1 of FP32, removed beyond.

The two evaluations (FP32 and INT8 through the street pipeline on the val frames) are
replaced by given scores; what is tested is the decision, the folder and the card.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from crackseg.core.locations import USER_CACHE_ENV_VAR
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

    from crackseg.core.locations import SHIPPED_MODEL
    from crackseg.inference.model_loading import file_sha256

    candidate = tmp_path / "run" / "last.pt"
    candidate.parent.mkdir()
    checkpoint = torch.load(SHIPPED_MODEL, weights_only=False)
    checkpoint["optimizer"] = {"state": {"padding": torch.zeros(200_000)}}  # a training checkpoint's extra weight
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
