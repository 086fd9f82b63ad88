"""The INT8 side of a promotion: quantize the candidate first, refuse it if ``auto`` would become slow.

``auto`` runs the INT8 model when one passed its accuracy check for the weights in use, else
FP32 OpenVINO, about 2.4 times slower on a CPU (the README's speed benchmark: 33.3 s against
13.9 s). A candidate that wins the accuracy gate by a little but whose INT8 model fails its check
would make every user's default slower; averaged weights have done exactly that (crack-seg valid
mask mAP50 0.6604 FP32 against 0.6247 INT8). So when the shipped model's INT8 model is in use, the
candidate is quantized before it is installed, and a failure refuses it unless the operator
accepts FP32 ``auto``. The INT8 model made for the check is the one shipped, not made twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from crackseg.core.errors import CrackSegError, ModelLoadError
from crackseg.inference.int8_lookup import QuantizationRecord, usable_int8_model
from crackseg.training.int8_build import (
    DEFAULT_CALIBRATION_IMAGES,
    MAX_MASK_MAP50_DROP,
    build_int8_model,
    move_int8_model,
    record_int8_in_card,
    refresh_int8_model,
    remove_stale_int8_model,
)

FP32_AUTO_SLOWDOWN = "about 2.4x slower on a CPU"


@dataclass(frozen=True)
class Int8Settings:
    """How the candidate is quantized and judged (the defaults are the ``quantize`` command's)."""

    calibration_images: int = DEFAULT_CALIBRATION_IMAGES
    max_drop: float = MAX_MASK_MAP50_DROP
    accept_fp32_auto: bool = False  # promote even if auto falls back to FP32 OpenVINO


@dataclass(frozen=True)
class Int8Check:
    """The candidate's INT8 model, made before installing, judged against the shipped model's.

    incumbent_int8: the shipped weights have a usable INT8 model (``auto`` runs INT8 today).
    record: the candidate's quantization record; None when none was attempted or it could not be made.
    error: why the candidate's INT8 model could not be made, if so.
    """

    incumbent_int8: bool
    record: QuantizationRecord | None = None
    error: str | None = None

    @property
    def candidate_passed(self) -> bool:
        """Whether the candidate's INT8 model passed its accuracy check."""
        return self.record is not None and self.record.passed

    def refusal(self, settings: Int8Settings) -> str | None:
        """One line saying why the candidate is refused, or None when the INT8 side lets it through."""
        if not self.incumbent_int8 or self.candidate_passed or settings.accept_fp32_auto:
            return None
        if self.record is None:
            why = f"its INT8 model could not be made ({self.error})"
        else:
            why = f"its INT8 model fails its check ({self.record.gate_summary()})"
        return (
            f"INT8: {why}, where the shipped model's INT8 model is in use: `auto` would fall back to FP32 "
            f"OpenVINO ({FP32_AUTO_SLOWDOWN}); --accept-fp32-auto promotes anyway"
        )


def has_usable_int8(weights: Path) -> bool:
    """Whether ``auto`` runs an INT8 model for these weights today."""
    try:
        usable_int8_model(weights)
    except ModelLoadError:
        return False
    return True


def check_candidate_int8(
    candidate: Path, shipped: Path, data_yaml: Path, *, imgsz: int, settings: Int8Settings
) -> Int8Check:
    """Quantize ``candidate`` (into its own INT8 folder) when the shipped model has a usable INT8 model.

    Without one there is no speed to lose, and nothing is built here: the promotion quantizes the
    installed weights afterwards, as it always has.
    """
    if not has_usable_int8(shipped):
        return Int8Check(incumbent_int8=False)
    try:
        record = build_int8_model(
            candidate,
            data_yaml,
            calibration_count=settings.calibration_images,
            imgsz=imgsz,
            max_drop=settings.max_drop,
            progress=print,
        )
    except (CrackSegError, ImportError, OSError, RuntimeError) as error:
        return Int8Check(incumbent_int8=True, error=str(error))
    return Int8Check(incumbent_int8=True, record=record)


def ship_int8(
    check: Int8Check,
    candidate: Path,
    installed: Path,
    data_yaml: Path,
    *,
    imgsz: int,
    card_path: Path,
    settings: Int8Settings,
) -> str:
    """Give the newly installed weights their INT8 model (or none) and card section; one line saying how.

    ``installed`` holds the candidate's bytes. A model built for the check moves beside them; a
    failed one leaves ``auto`` on FP32 OpenVINO (the old INT8 model, made from other weights, is
    removed); with no check made the installed weights are quantized now.
    """
    try:
        if check.record is None:
            record = refresh_int8_model(
                installed,
                data_yaml,
                imgsz=imgsz,
                calibration_count=settings.calibration_images,
                max_drop=settings.max_drop,
                card_path=card_path,
                progress=print,
            )
            made = "made after promotion"
        else:
            remove_stale_int8_model(installed)
            if check.record.passed:
                move_int8_model(candidate, installed)
            record = check.record
            record_int8_in_card(installed, data_yaml, record, imgsz=imgsz, card_path=card_path, progress=print)
            made = "made before promotion"
    except (CrackSegError, ImportError, OSError, RuntimeError) as error:
        return f"INT8 model not made ({error}); auto uses FP32 OpenVINO"
    verdict = "installed" if record.passed else "NOT installed, auto uses FP32 OpenVINO"
    return f"INT8 model {verdict} ({made}): {record.gate_summary()}"
