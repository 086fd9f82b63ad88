"""Ultralytics metric names (``metrics/mAP50(M)``) translated to CrackSeg's (``mask_map50``), in one table."""

from __future__ import annotations

from collections.abc import Mapping

# --------------------------------------------------------------------------- Ultralytics metric names

ULTRALYTICS_METRIC_KEYS: dict[str, str] = {
    "metrics/precision(B)": "box_precision",
    "metrics/recall(B)": "box_recall",
    "metrics/mAP50(B)": "box_map50",
    "metrics/mAP50-95(B)": "box_map50_95",
    "metrics/precision(M)": "mask_precision",
    "metrics/recall(M)": "mask_recall",
    "metrics/mAP50(M)": "mask_map50",
    "metrics/mAP50-95(M)": "mask_map50_95",
}
"""Ultralytics metric key -> CrackSeg name. The one table; ``fitness`` and other keys are not translated."""

ULTRALYTICS_KEY_FOR_METRIC: dict[str, str] = {name: key for key, name in ULTRALYTICS_METRIC_KEYS.items()}
"""Reverse lookup: CrackSeg name (``"mask_map50"``) -> Ultralytics key (``"metrics/mAP50(M)"``)."""


def translate_ultralytics_key(key: str) -> str | None:
    """CrackSeg name for one Ultralytics key (surrounding spaces ignored), or ``None`` if unknown."""
    return ULTRALYTICS_METRIC_KEYS.get(key.strip())


def translate_ultralytics_metrics(results_dict: Mapping[str, float]) -> dict[str, float]:
    """Rename Ultralytics metrics (``metrics/mAP50(M)`` -> ``mask_map50``), values as float.

    Accepts ``model.val().results_dict`` or a ``results.csv`` row, whose old
    versions pad keys with spaces. ``fitness``, losses and unknown keys are dropped.
    """
    translated: dict[str, float] = {}
    for key, value in results_dict.items():
        name = translate_ultralytics_key(str(key))
        if name is not None:
            translated[name] = float(value)
    return translated
