"""Is there a usable INT8 model for these weights? The run-time side of the INT8 model.

An INT8 OpenVINO model (built offline and gated by ``crackseg.training.int8_build``)
lives in ``<stem>_int8_openvino_model/`` beside the weights (inside this project;
elsewhere in the user's export cache) with ``quantization.json``: the SHA-256 of
the weights it was made from and of its own files, how it was calibrated, and the
accuracy check. The ``openvino-int8`` backend (and so ``auto``) opens it only if
the record matches the weights in use, passed the check, and the files are intact.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from crackseg.core.errors import ModelLoadError
from crackseg.core.locations import PROJECT_ROOT, user_cache_root
from crackseg.inference.model_loading import file_sha256

INT8_SUFFIX = "_int8_openvino_model"
RECORD_NAME = "quantization.json"
CARD_NAME = "card.json"


class Int8Withdrawn(ModelLoadError):
    """The INT8 model of these weights was removed on purpose: it failed a check after it was built.

    Not a fault to fix (``auto`` then runs the FP32 OpenVINO export, as intended), so callers log it
    quietly instead of suggesting that one be made.
    """


@dataclass(frozen=True)
class QuantizationRecord:
    """What an INT8 model was made from, how, and how accurate it measured; ``quantization.json``."""

    source_sha256: str
    xml_sha256: str
    bin_sha256: str
    calibration: dict[str, Any]
    evaluation: dict[str, Any]
    fp32: dict[str, float]
    int8: dict[str, float]
    max_mask_map50_drop: float
    passed: bool
    created: str
    versions: dict[str, str] = field(default_factory=dict)

    @property
    def mask_map50_drop(self) -> float:
        """FP32 minus INT8 mask mAP50 (positive = INT8 is worse)."""
        return float(self.fp32["mask_map50"] - self.int8["mask_map50"])

    def gate_summary(self) -> str:
        """One line on the accuracy check, e.g. ``mask mAP50 on val: FP32 0.6524, INT8 0.6436 (drop +0.0088, ...)``."""
        return (
            f"mask mAP50 on {self.evaluation['split']}: FP32 {self.fp32['mask_map50']:.4f}, "
            f"INT8 {self.int8['mask_map50']:.4f} (drop {self.mask_map50_drop:+.4f}, limit {self.max_mask_map50_drop})"
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"mask_map50_drop": round(self.mask_map50_drop, 4)}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> QuantizationRecord:
        names = {name for name in cls.__dataclass_fields__}
        return cls(**{key: value for key, value in values.items() if key in names})


def int8_model_dir(weights: Path) -> Path:
    """Where the INT8 model of ``weights`` lives.

    Beside weights inside this project (``model/best_int8_openvino_model``, which
    is shipped); for weights elsewhere, in the user's export cache under their
    SHA-256, never beside them (the same rule as the FP32 exports).
    """
    weights = Path(weights)
    if weights.resolve().is_relative_to(PROJECT_ROOT):
        return weights.parent / f"{weights.stem}{INT8_SUFFIX}"
    return user_cache_root() / f"{weights.stem}-{file_sha256(weights)[:12]}" / f"{weights.stem}{INT8_SUFFIX}"


def load_record(model_dir: Path) -> QuantizationRecord | None:
    """The ``quantization.json`` of an INT8 model folder, or None if missing, unreadable or malformed."""
    try:
        values = json.loads((Path(model_dir) / RECORD_NAME).read_text(encoding="utf-8"))
        record = QuantizationRecord.from_dict(values)
        float(record.fp32["mask_map50"]), float(record.int8["mask_map50"])  # the gate's numbers must be there
    except (OSError, ValueError, TypeError, AttributeError, KeyError):
        return None
    return record


def usable_int8_model(weights: Path, sha256: str | None = None) -> Path:
    """The INT8 model folder for ``weights`` if it may be used; else ``ModelLoadError`` saying why.

    Usable means: a record exists, it was made from exactly these weights
    (SHA-256), it passed the accuracy gate, and its XML and weights blob hash to
    what the record says (a damaged or swapped file is refused).
    """
    weights = Path(weights)
    model_dir = int8_model_dir(weights)
    record = load_record(model_dir)
    hint = "make one with `python -m crackseg quantize --data DATA.yaml`"
    if record is None and (reason := withdrawal_reason(weights)):
        raise Int8Withdrawn(f"{weights}: no INT8 model, {reason}")
    if record is None:
        raise ModelLoadError(f"{weights}: no INT8 model ({model_dir.name}/{RECORD_NAME} missing or unreadable); {hint}")
    if record.source_sha256 != (sha256 or file_sha256(weights)):
        raise ModelLoadError(f"{model_dir}: made from other weights than {weights.name}; {hint}")
    if not record.passed:
        raise ModelLoadError(
            f"{model_dir}: failed its accuracy check (mask mAP50 {record.mask_map50_drop:+.4f} below FP32)"
        )
    xml, blob = model_dir / f"{weights.stem}.xml", model_dir / f"{weights.stem}.bin"
    for path, expected in ((xml, record.xml_sha256), (blob, record.bin_sha256)):
        if not path.is_file() or file_sha256(path) != expected:
            raise ModelLoadError(f"{path}: missing or damaged (SHA-256 differs from {RECORD_NAME})")
    return model_dir


def withdrawal_reason(weights: Path) -> str | None:
    """Why the INT8 model of ``weights`` was removed, from the card beside them; None if it was not.

    ``train/promote_street.py`` removes an INT8 street model that loses more than its limit of lane
    cell F1 against FP32 and records the check on the card (``int8_street_check``).
    """
    try:
        card = json.loads((Path(weights).parent / CARD_NAME).read_text(encoding="utf-8"))
        check = card["int8_street_check"]
        if check.get("passed") is not False or card.get("weights", {}).get("sha256") != file_sha256(weights):
            return None
        return (
            f"removed by its check: {check['metric']} INT8 {check['int8']['lane_cell_f1']:.4f} against FP32 "
            f"{check['fp32']['lane_cell_f1']:.4f} at conf {check['conf']} (drop {check['drop']:.4f}, "
            f"at most {check['max_drop']})"
        )
    except (OSError, ValueError, TypeError, AttributeError, KeyError):
        return None
