"""Averaging checkpoints (crackseg.training.weight_averaging, train/average_weights.py).

The inputs are the shipped model and copies of it with every float tensor shifted by a
known amount, so the average of each tensor is known exactly; a model averaged with
itself must predict what it predicts.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from crackseg.core.errors import ModelLoadError
from crackseg.core.locations import SHIPPED_MODEL
from crackseg.inference.segmenter import InferenceSettings, Segmenter
from crackseg.training.weight_averaging import average_checkpoints
from train import average_weights

FIRST_CONV = "model.0.conv.weight"


def shifted_copy(tmp_path: Path, name: str, shift: float) -> Path:
    """The shipped checkpoint with ``shift`` added to every float tensor of its network."""
    checkpoint = torch.load(SHIPPED_MODEL, map_location="cpu", weights_only=False)  # our own shipped file
    network = checkpoint.get("ema") or checkpoint["model"]
    with torch.no_grad():
        for tensor in network.state_dict().values():
            if tensor.is_floating_point():
                tensor.add_(shift)
    target = tmp_path / name
    torch.save(checkpoint, target)
    return target


def network_state(path: Path) -> dict[str, torch.Tensor]:
    checkpoint = torch.load(path, map_location="cpu", weights_only=False)
    return (checkpoint.get("ema") or checkpoint["model"]).state_dict()


def test_each_float_tensor_is_the_mean_of_the_sources(tmp_path: Path) -> None:
    low, high = shifted_copy(tmp_path, "low.pt", -0.25), shifted_copy(tmp_path, "high.pt", 0.75)
    out = average_checkpoints([low, high, SHIPPED_MODEL], tmp_path / "avg.pt")
    shipped, averaged = network_state(SHIPPED_MODEL), network_state(out)
    assert averaged.keys() == shipped.keys()
    for key, tensor in shipped.items():
        assert averaged[key].dtype == tensor.dtype
        if tensor.is_floating_point():  # (x - 0.25 + x + 0.75 + x) / 3 = x + 1/6, to the stored half precision
            expected = tensor.to(torch.float64) + 1 / 6
            assert torch.allclose(averaged[key].to(torch.float64), expected, atol=2e-3, rtol=1e-3), key
        else:
            assert torch.equal(averaged[key], tensor), key
    saved = torch.load(out, map_location="cpu", weights_only=False)
    assert saved["optimizer"] is None and saved["ema"] is None
    assert saved["averaged_from"] == [str(low), str(high), str(SHIPPED_MODEL)]


def test_a_model_averaged_with_itself_predicts_what_it_predicts(tmp_path: Path) -> None:
    out = average_checkpoints([SHIPPED_MODEL, SHIPPED_MODEL], tmp_path / "same.pt")
    image = np.full((160, 160, 3), 150, np.uint8)
    image[:, 78:82] = 40  # a dark vertical crack
    settings = InferenceSettings(conf=0.05)
    before = Segmenter(SHIPPED_MODEL, backend="torch").predict(image, settings)
    after = Segmenter(out, backend="torch").predict(image, settings)
    assert len(before) > 0  # the drawn crack is found: there is something to compare
    assert len(after) == len(before)
    np.testing.assert_array_equal(after.union_mask, before.union_mask)
    np.testing.assert_allclose(after.confidence, before.confidence, atol=1e-6)


def test_networks_of_other_shapes_are_refused(tmp_path: Path) -> None:
    checkpoint = torch.load(SHIPPED_MODEL, map_location="cpu", weights_only=False)
    network = checkpoint.get("ema") or checkpoint["model"]
    first = network.model[0].conv
    first.weight = torch.nn.Parameter(torch.zeros(first.weight.shape[0] + 1, *first.weight.shape[1:]))
    torch.save(checkpoint, tmp_path / "wider.pt")
    with pytest.raises(ModelLoadError, match=FIRST_CONV):
        average_checkpoints([SHIPPED_MODEL, tmp_path / "wider.pt"], tmp_path / "avg.pt")
    assert not (tmp_path / "avg.pt").exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"not a checkpoint", "not a readable checkpoint"), (None, "not an Ultralytics checkpoint")],
)
def test_files_that_are_not_checkpoints_are_refused(tmp_path: Path, content: bytes | None, message: str) -> None:
    other = tmp_path / "other.pt"
    if content is None:
        torch.save({"weights": torch.zeros(3)}, other)  # a readable file without a network
    else:
        other.write_bytes(content)
    with pytest.raises(ModelLoadError, match=message):
        average_checkpoints([SHIPPED_MODEL, other], tmp_path / "avg.pt")


def test_one_checkpoint_is_not_an_average(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="at least two"):
        average_checkpoints([SHIPPED_MODEL], tmp_path / "avg.pt")


def test_the_script_refuses_to_overwrite_a_source_and_reports_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = shifted_copy(tmp_path, "copy.pt", 0.0)
    assert average_weights.main([str(SHIPPED_MODEL), str(copy), "--out", str(copy)]) == 2
    assert "would overwrite" in capsys.readouterr().err
    assert average_weights.main([str(SHIPPED_MODEL), "--out", str(tmp_path / "a.pt")]) == 2
    assert "at least two" in capsys.readouterr().err
    assert average_weights.main([str(SHIPPED_MODEL), str(copy), "--out", str(tmp_path / "a.pt")]) == 0
    assert (tmp_path / "a.pt").is_file()
