"""The cards name the network a checkpoint really holds, read from the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from crackseg.core.errors import ModelLoadError
from crackseg.core.locations import SHIPPED_MODEL
from crackseg.training.network_description import describe_network, network_name


def test_the_shipped_checkpoint_is_described_from_its_own_network() -> None:
    import torch

    checkpoint = torch.load(SHIPPED_MODEL, map_location="cpu", weights_only=False)
    network = checkpoint["ema"] or checkpoint["model"]
    counted = sum(parameter.numel() for parameter in network.parameters())
    description = describe_network(SHIPPED_MODEL)
    assert description.network == network_name(network.yaml["yaml_file"]) == "YOLOv8n-seg"
    assert description.parameters == counted
    assert description.ultralytics_version == checkpoint["version"]
    expected = f"YOLOv8n-seg (Ultralytics {checkpoint['version']}), {counted / 1e6:.2f} M parameters"
    assert description.architecture == expected
    assert description.card_name == "CrackSeg YOLOv8n-seg"


def test_a_larger_network_is_named_and_counted_as_what_it_is(tmp_path: Path) -> None:
    """A YOLOv8s-seg built offline from its architecture YAML (random weights) is not described as the nano one."""
    from ultralytics import YOLO

    small = YOLO("yolov8s-seg.yaml", task="segment")
    weights = tmp_path / "yolov8s-seg-random.pt"
    small.save(weights)
    description = describe_network(weights)
    nano = describe_network(SHIPPED_MODEL)
    assert description.network == "YOLOv8s-seg" and description.card_name == "CrackSeg YOLOv8s-seg"
    assert description.parameters == sum(parameter.numel() for parameter in small.model.parameters())
    assert description.parameters > 3 * nano.parameters
    assert description.architecture.startswith("YOLOv8s-seg")


@pytest.mark.parametrize(
    ("yaml_file", "expected"),
    [("yolov8n-seg.yaml", "YOLOv8n-seg"), ("/cfg/yolo11m-seg.yaml", "YOLO11m-seg"), ("crack-net.yaml", "crack-net")],
)
def test_network_names_follow_the_yaml_stem(yaml_file: str, expected: str) -> None:
    assert network_name(yaml_file) == expected


def test_a_file_that_is_not_a_checkpoint_is_a_clear_load_error(tmp_path: Path) -> None:
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(ModelLoadError, match="junk.pt"):
        describe_network(junk)
