"""What network a checkpoint holds, read from the file, for the model cards.

Why: a card's ``name`` and ``architecture`` were written once, when the first model was
installed, and promotions kept them. A promoted checkpoint of another size (a YOLOv8s-seg
fine-tuned on a GPU, say) would then have shipped under a card that still said
"YOLOv8n-seg, 3.26 M parameters". Each promotion now describes the weights it installs.

These are the project's own checkpoints (a promotion's candidate), opened with
``load_yolo``: never call this on a file a user uploaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from crackseg.inference.model_loading import load_yolo


@dataclass(frozen=True)
class NetworkDescription:
    """A checkpoint's network: its family and size, the Ultralytics version that wrote it, its parameters."""

    network: str  # e.g. "YOLOv8n-seg", from the architecture YAML the network was built from
    ultralytics_version: str | None  # the version recorded in the checkpoint, None when it records none
    parameters: int

    @property
    def architecture(self) -> str:
        """The card's ``architecture`` line, e.g. ``YOLOv8n-seg (Ultralytics 8.4.190), 3.26 M parameters``."""
        version = f" (Ultralytics {self.ultralytics_version})" if self.ultralytics_version else ""
        return f"{self.network}{version}, {self.parameters / 1e6:.2f} M parameters"

    @property
    def card_name(self) -> str:
        """The card's ``name``: the product's name and the network's."""
        return f"CrackSeg {self.network}"


def network_name(yaml_file: str) -> str:
    """``yolov8n-seg.yaml`` -> ``YOLOv8n-seg``: the YAML's stem with Ultralytics' capitals (other names as they are)."""
    stem = Path(yaml_file).stem
    return "YOLO" + stem[4:] if stem.lower().startswith("yolo") else stem


def describe_network(weights: Path) -> NetworkDescription:
    """Open ``weights`` (``load_yolo``: offline, ``ModelLoadError`` on a bad file) and describe its network."""
    model = load_yolo(weights)
    network = model.model
    config = getattr(network, "yaml", None) or {}
    checkpoint = getattr(model, "ckpt", None) or {}
    version = checkpoint.get("version") if isinstance(checkpoint, dict) else None
    return NetworkDescription(
        network=network_name(str(config.get("yaml_file", "unknown network"))),
        ultralytics_version=str(version) if version else None,
        parameters=sum(parameter.numel() for parameter in network.parameters()),
    )
