"""Home page: what CrackSeg does, the model in use and its card, and sample images one click from results.

The card (``model/card.json``, via ``crackseg.training.model_card.load_card``) says how
the shipped model was trained and what it scores on the valid and test splits.
A sample's button stores it in ``segment_samples`` and opens the Segment page.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from crackseg.core.locations import SHIPPED_MODEL, STREET_MODEL_CARD
from crackseg.inference.model_loading import default_model_path
from crackseg.training.model_card import (
    domain_table,
    headline_metrics,
    load_card,
    street_int8_summary,
    street_model_table,
)
from ui import segment_view as view
from ui.resources import app_backend

THUMBNAILS = 4
METRIC_LABELS = {
    "mask_map50": "mask mAP50",
    "mask_map50_95": "mask mAP50-95",
    "box_map50": "box mAP50",
    "box_map50_95": "box mAP50-95",
    "ods": "ODS F1 (best fixed threshold)",
    "ois": "OIS F1 (best threshold per image)",
    "pixel_precision": "pixel precision",
    "pixel_recall": "pixel recall",
    "pixel_f1": "pixel F1",
    "pixel_iou": "pixel IoU",
    "tolerance_precision": "precision within tolerance",
    "tolerance_recall": "recall within tolerance",
    "tolerance_f1": "F1 within tolerance",
    "instance_precision": "instance precision",
    "instance_recall": "instance recall",
    "instance_f1": "instance F1",
}


def metrics_table(card: dict[str, Any]) -> pd.DataFrame:
    """One row per headline metric; ``valid`` and ``test`` columns for the PyTorch weights, and
    ``valid INT8`` / ``test INT8`` for the INT8 model when the card has its scores (3 decimals)."""
    columns = {split: headline_metrics(card, split) for split in ("valid", "test")}
    if card.get("int8", {}).get("metrics"):
        columns |= {f"{split} INT8": headline_metrics(card, split, int8=True) for split in ("valid", "test")}
    keys = [key for key in METRIC_LABELS if any(key in values for values in columns.values())]
    rows = [
        {"metric": METRIC_LABELS[key], **{name: _round(values.get(key)) for name, values in columns.items()}}
        for key in keys
    ]
    return pd.DataFrame(rows, columns=["metric", *columns])


def int8_summary(card: dict[str, Any]) -> str | None:
    """One paragraph on the INT8 model: how it was calibrated and its accuracy check; None without one."""
    int8 = card.get("int8")
    if not int8:
        return None
    calibration, evaluation = int8.get("calibration", {}), int8.get("evaluation", {})
    fp32_map, int8_map = int8.get("fp32", {}).get("mask_map50"), int8.get("int8", {}).get("mask_map50")
    verdict = "passed: `auto` runs it" if int8.get("passed") else "failed: `auto` runs OpenVINO FP32 instead"
    return (
        f"**INT8 model** (`model/{int8.get('folder', '?')}`, OpenVINO): calibrated on "
        f"{calibration.get('images', '?')} {calibration.get('split', '?')} images; mask mAP50 on "
        f"{evaluation.get('split', '?')} FP32 {fp32_map} vs INT8 {int8_map} (limit: "
        f"{int8.get('max_mask_map50_drop', '?')} below FP32), {verdict}."
    )


def stages_table(card: dict[str, Any]) -> pd.DataFrame:
    """One row per training stage: start weights, epochs, image size, wall time and hardware."""
    rows = []
    for stage in card.get("stages", []):
        wall_time_s = stage.get("wall_time_s")
        rows.append(
            {
                "stage": stage.get("name", "?"),
                "started from": stage.get("start_weights", "?"),
                "epochs": stage.get("epochs_run"),
                "image size (px)": stage.get("args", {}).get("imgsz"),
                "wall time (h)": None if wall_time_s is None else round(float(wall_time_s) / 3600.0, 2),
                "hardware": stage.get("hardware", "?"),
            }
        )
    return pd.DataFrame(
        rows, columns=["stage", "started from", "epochs", "image size (px)", "wall time (h)", "hardware"]
    )


def _round(value: Any) -> float | None:
    return None if value is None else round(float(value), 3)


def show_intro() -> None:
    st.title("CrackSeg: road-crack inspection")
    st.markdown(
        "CrackSeg finds cracks in photos of road surfaces, outlines each one, and measures it: "
        "**length**, **mean and max width**, **area**, **orientation** and **type** (longitudinal, "
        "transverse, diagonal, network). With a known scale (mm per pixel) it rates **severity** on the "
        "ASTM D6433 width thresholds. Results come as an overlay, a per-crack table, CSV/JSON and a "
        "printable HTML report. Everything runs on this machine, offline."
    )
    st.markdown("Open **Segment** in the sidebar to inspect your own images, or start from a sample below.")


def show_model_card(card: dict[str, Any]) -> None:
    st.header("The model")
    weights = default_model_path()
    backend = app_backend()
    detail = (
        " (the fastest that works here: the INT8 OpenVINO model when it passed its accuracy check, "
        "then OpenVINO FP32, ONNX Runtime, PyTorch)"
        if backend == "auto"
        else ""
    )
    st.markdown(f"In use: `{weights}`, backend **{backend}**{detail}.")
    if weights.resolve() != SHIPPED_MODEL.resolve():
        st.warning("CRACKSEG_MODEL points at another model; the card below describes the shipped model/best.pt.")
    if not card:
        st.warning("No model card (model/card.json is missing or unreadable).")
        return
    data = card.get("data", {})
    splits = data.get("splits", {})
    weights_info = card.get("weights", {})
    left, right = st.columns(2)
    left.markdown(
        f"**{card.get('name', 'unnamed model')}**  \n{card.get('architecture', '')}  \n{card.get('task', '')}"
    )
    right.markdown(
        f"**Training data:** {data.get('dataset', 'not recorded')}  \n"
        + "Images: "
        + ", ".join(f"{split} {count:,}" for split, count in splits.items())
        + (f" at {data['image_size_px']} px" if "image_size_px" in data else "")
        + (f"  \n{data['note']}" if data.get("note") else "")
    )
    size_mb = weights_info.get("size_bytes", 0) / 1e6
    st.caption(
        f"Weights `{weights_info.get('file', '?')}`, {size_mb:.1f} MB, sha256 `{weights_info.get('sha256', '')[:12]}`"
    )
    st.subheader("Training stages")
    st.dataframe(stages_table(card), hide_index=True)
    st.subheader("Scores")
    evaluation = card.get("evaluation", {})
    measured_conf = card.get("metrics", {}).get("valid", {}).get("conf", evaluation.get("conf", "?"))
    scores = metrics_table(card)
    st.dataframe(scores, hide_index=True, height=35 * (len(scores) + 1) + 3)  # every row, no inner scrollbar
    st.caption(
        f"Pixel, tolerance ({evaluation.get('tolerance_px', '?')} px) and instance scores at confidence "
        f"{measured_conf}; mAP: {evaluation.get('map', 'Ultralytics val')}. "
        "Valid chose the best weights; test was only reported."
    )
    summary = int8_summary(card)
    if summary:
        st.markdown(summary)
    show_domains(card)


def show_domains(card: dict[str, Any]) -> None:
    """The model on every dataset it was evaluated on, validation and test side by side."""
    st.subheader("On every dataset")
    table = domain_table(card)
    if table.empty:
        st.caption("Not yet evaluated beyond crack-seg (`python train/evaluate_domains.py ... --record-card`).")
        return
    st.dataframe(
        table,
        hide_index=True,
        height=35 * (len(table) + 1) + 3,
        column_config={
            "val": st.column_config.NumberColumn("validation", format="%.3f"),
            "test": st.column_config.NumberColumn("test (reported only)", format="%.3f"),
        },
    )
    st.caption(
        "crack-seg: top-down close-ups; DeepCrack: another camera and surface; survey vehicle: frames from a "
        "highway-survey vehicle, scored by 32-px cells inside the labelled lane (its crack labels are sparse "
        "dashes). The street view's confidence threshold is chosen on the validation frames only."
    )


def show_street_model(card: dict[str, Any]) -> None:
    """The street view's own model, when one has passed its gate (``model/street/card.json``)."""
    if not card:
        return
    st.subheader("The street view's model")
    conf = card.get("views", {}).get("street", {}).get("conf")
    st.markdown(
        f"Frames from a vehicle (`--view street`) are inspected with their own model, trained on the survey "
        f"vehicle's frames, at conf {conf} (chosen on the validation frames). Scored through the street view "
        f"with the `{card.get('camera_profile', {}).get('name', '?')}` profile, by 32-px cells inside the lane."
    )
    st.dataframe(
        street_model_table(card),
        hide_index=True,
        column_config={
            "val": st.column_config.NumberColumn("validation", format="%.3f"),
            "test": st.column_config.NumberColumn("test (reported only)", format="%.3f"),
        },
    )
    summary = street_int8_summary(card)
    if summary:
        st.markdown(summary)


def show_samples() -> None:
    names = view.sample_names()[:THUMBNAILS]
    if not names:
        return
    st.header("Try a sample")
    for index, (column, name) in enumerate(zip(st.columns(len(names)), names, strict=True)):
        column.image(str(view.sample_path(name)), width="stretch")
        if column.button("Segment this image", key=f"home_sample_{index}", width="stretch"):
            st.session_state["segment_samples"] = [name]
            st.switch_page("app_pages/segment.py")


try:
    show_intro()
    show_model_card(load_card())
    show_street_model(load_card(STREET_MODEL_CARD))
    show_samples()
except Exception as error:  # noqa: BLE001 - users see a short message, the log keeps the traceback
    view.show_unexpected_error(error, "The Home page")
