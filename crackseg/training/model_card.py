"""The shipped model's card (``model/card.json``): how it was trained and what it measures.

The card is written by ``train/promotion.py`` when a model is promoted and read
by the app's home page and ``crackseg info``. Its ``weights.sha256`` is what
``model_loading`` checks the shipped weights against.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from crackseg.core.locations import MODEL_CARD, MODEL_DIR

HISTORY_CSV = MODEL_DIR / "results.csv"
STORED_EVALUATION_DIR = MODEL_DIR / "evaluation" / "test"


def load_card(path: Path = MODEL_CARD) -> dict[str, Any]:
    """The card as a dict; ``{}`` when there is none or it is unreadable (the app then says so)."""
    try:
        card = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return card if isinstance(card, dict) else {}


def save_card(card: dict[str, Any], path: Path = MODEL_CARD) -> Path:
    """Write the card as indented JSON (stable key order for readable diffs)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    return path


def headline_metrics(card: dict[str, Any], split: str, *, int8: bool = False) -> dict[str, Any]:
    """The metrics the card records for ``split`` (``valid`` or ``test``), flattened for display.

    ``int8=True`` reads the INT8 model's scores (the card's ``int8`` section,
    written by ``crackseg.training.int8_build``) instead of the PyTorch weights'.
    """
    source = card.get("int8", {}) if int8 else card
    metrics = source.get("metrics", {}).get(split, {})
    flat: dict[str, Any] = {}
    for key in ("mask_map50", "mask_map50_95", "box_map50", "box_map50_95", "ods", "ois"):
        if key in metrics:
            flat[key] = metrics[key]
    for group in ("pixel", "tolerance", "instance"):
        for key, value in metrics.get(group, {}).items():
            if key in ("precision", "recall", "f1", "iou"):
                flat[f"{group}_{key}"] = value
    return flat


DOMAIN_ROWS: tuple[tuple[str, str, str], ...] = (
    ("crack-seg", "mask mAP50", "crack_seg_mask_map50"),
    ("crack-seg", "mask mAP50-95", "crack_seg_mask_map50_95"),
    ("crack-seg", "pixel F1 at the top-down conf", "crack_seg_pixel_f1"),
    ("crack-seg", "pixel F1 at conf 0.25", "crack_seg_pixel_f1_at_0_25"),
    ("DeepCrack", "F1 within 2 px at the top-down conf", "deepcrack_f1_2px"),
    ("DeepCrack", "F1 within 2 px at conf 0.25", "deepcrack_f1_2px_at_0_25"),
    ("DeepCrack", "ODS", "deepcrack_ods"),
    ("crack-seg and DeepCrack", "top-down conf (chosen on val)", "top_down_conf"),
    ("survey vehicle, in the lane", "32-px cell F1 at the street conf", "survey_lane_cell_f1"),
    ("survey vehicle, in the lane", "32-px cell F1 at conf 0.25", "survey_lane_cell_f1_at_0_25"),
    ("survey vehicle", "street conf (chosen on val)", "street_conf"),
)
"""Rows of the cross-dataset table: dataset, metric, key in the card's ``domains`` scores."""


def domain_table(card: dict[str, Any]) -> pd.DataFrame:
    """The model on every dataset it was evaluated on, validation and test side by side.

    Columns ``dataset, metric, val, test``; empty when the card has no ``domains`` section
    (written by ``train/evaluate_domains.py --record-card`` or a three-domain promotion).
    """
    domains = card.get("domains", {})
    rows = []
    for dataset, metric, key in DOMAIN_ROWS:
        values = {split: domains.get(split, {}).get(key) for split in ("val", "test")}
        if any(value is not None for value in values.values()):
            rows.append({"dataset": dataset, "metric": metric, **values})
    return pd.DataFrame(rows, columns=["dataset", "metric", "val", "test"])


def street_model_table(card: dict[str, Any]) -> pd.DataFrame:
    """The street model's gate figures: lane cell F1, precision and recall at its conf, val and test, with the
    model it replaced (at its promotion, through the same street view) beside it."""
    rows = []
    scored = {"street model": card.get("domains", {}).get("survey_vehicle", {})}
    scored["the model it replaced"] = card.get("incumbent", {}).get("scores", {})
    for model, scores in scored.items():
        for metric in ("lane_cell_f1", "lane_cell_precision", "lane_cell_recall"):
            values = {split: scores.get(split, {}).get(metric) for split in ("val", "test")}
            if any(value is not None for value in values.values()):
                rows.append({"model": model, "metric": metric.replace("_", " "), **values})
    return pd.DataFrame(rows, columns=["model", "metric", "val", "test"])


def street_int8_summary(card: dict[str, Any]) -> str | None:
    """One sentence on the street model's INT8 check (lane cell F1 against FP32 on the val frames); None without one."""
    check = card.get("int8_street_check")
    if not check:
        return None
    verdict = (
        "kept: `auto` runs it"
        if check.get("passed")
        else "removed: `auto` runs the street model's OpenVINO FP32 export instead"
    )
    fp32, int8 = check.get("fp32", {}).get("lane_cell_f1", "?"), check.get("int8", {}).get("lane_cell_f1", "?")
    return (
        f"**INT8 street model**: lane cell F1 on the validation frames at conf {check.get('conf', '?')}, "
        f"FP32 {fp32} vs INT8 {int8} "
        f"(limit: {check.get('max_drop', '?')} below FP32), {verdict}."
    )
