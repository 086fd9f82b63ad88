"""Preprocessing comparison: what each method does to a photo and to the model's cracks, and on a labelled split."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import streamlit as st

from crackseg.core.errors import CrackSegError
from crackseg.core.locations import SAMPLES_DIR
from crackseg.datasets.labelled import list_images
from crackseg.datasets.opening import open_labelled_data
from crackseg.evaluation.comparison import COMPARED_METRICS, compare_preprocessing, preview_variants, variants_table
from crackseg.export.overlays import draw_overlay
from crackseg.inference.preprocessing import PREPROCESSORS, PreprocessSpec
from crackseg.inference.segmenter import InferenceSettings, Segmenter
from crackseg.io.image_io import load_image
from ui.controls import labelled_data_controls, model_controls, parameter_widgets
from ui.plots import delta_figure, histogram_figure
from ui.resources import get_segmenter

DEFAULT_METHODS = ["none", "histeq", "clahe"]
GRID_COLUMNS = 3
METRIC_LABELS = {
    "pixel_f1": "pixel F1",
    "pixel_iou": "pixel IoU",
    "tolerance_f1": "tolerance F1",
    "instance_precision": "instance P",
    "instance_recall": "instance R",
    "ods_f1": "ODS F1",
}


@st.cache_data(show_spinner="Running the model on each variant…", max_entries=8)
def _variants(
    image_sha: str,
    _rgb: np.ndarray,
    specs: tuple[PreprocessSpec, ...],
    settings: InferenceSettings,
    model_sha: str,
    _segmenter: Segmenter,
) -> tuple[list[np.ndarray], list[np.ndarray], pd.DataFrame]:
    """Overlays, luminance histograms and the summary table of every variant (keyed on the image's hash)."""
    del image_sha, model_sha  # cache keys only
    previews = preview_variants(_segmenter, _rgb, specs, settings)
    overlays = [draw_overlay(preview.rgb, preview.prediction, show_ids=False) for preview in previews]
    return overlays, [preview.luminance_histogram for preview in previews], variants_table(previews)


def _chosen_image() -> tuple[str, np.ndarray] | None:
    """The photo to compare on (a sample or an upload), or None after saying why not."""
    source = st.radio("Image", ("sample", "upload"), horizontal=True, key="prep_source", format_func=str.capitalize)
    try:
        if source == "upload":
            upload = st.file_uploader(
                "Road photo", type=["jpg", "jpeg", "png", "bmp", "tif", "tiff", "webp"], key="prep_upload"
            )
            if upload is None:
                st.info("Upload a photo, or pick a sample.")
                return None
            return upload.name, load_image(upload.getvalue(), name=upload.name)
        samples = list_images(SAMPLES_DIR / "images")
        names = [path.name for path in samples]
        name = st.selectbox("Sample image", names, key="prep_sample")
        return name, load_image(samples[names.index(name)])
    except CrackSegError as error:
        st.error(str(error))
        return None


def _chosen_specs() -> list[PreprocessSpec]:
    """Methods to compare, each with its parameters (widgets from the registry)."""
    methods = st.multiselect(
        "Methods",
        list(PREPROCESSORS),
        default=DEFAULT_METHODS,
        format_func=lambda name: PREPROCESSORS[name].label,
        key="prep_methods",
    )
    tunable = [method for method in methods if PREPROCESSORS[method].parameters]
    params: dict[str, dict] = {method: {} for method in methods}
    if tunable:
        with st.expander("Method parameters", expanded=False):
            for column, method in zip(st.columns(len(tunable)), tunable, strict=True):
                column.markdown(f"**{PREPROCESSORS[method].label}**")
                params[method] = parameter_widgets("prep", method, column)
    return [PreprocessSpec.of(method, **params[method]) for method in methods]


def _show_variants(
    rgb: np.ndarray, specs: list[PreprocessSpec], settings: InferenceSettings, segmenter: Segmenter
) -> None:
    image_sha = hashlib.sha256(rgb.tobytes() + str(rgb.shape).encode()).hexdigest()
    overlays, histograms, table = _variants(image_sha, rgb, tuple(specs), settings, segmenter.sha256, segmenter)
    for start in range(0, len(specs), GRID_COLUMNS):
        columns = st.columns(GRID_COLUMNS)
        for offset, column in enumerate(columns[: len(specs) - start]):
            index = start + offset
            row = table.iloc[index]
            with column:
                st.markdown(f"**{row['preprocessing']}**")
                st.image(overlays[index], width="stretch")
                left, right = st.columns(2)
                left.metric("Cracks", int(row["cracks"]))
                right.metric(
                    "Mean confidence", "–" if pd.isna(row["mean_confidence"]) else f"{row['mean_confidence']:.2f}"
                )
                left.metric("Crack area (px²)", f"{int(row['crack_area_px2']):,}")
                right.metric("Total length (px)", f"{row['total_length_px']:,.0f}")
                st.plotly_chart(histogram_figure(histograms[index]), key=f"prep_hist_{index}")
    st.dataframe(
        table,
        hide_index=True,
        column_config={
            "preprocessing": "Preprocessing",
            "cracks": st.column_config.NumberColumn("Cracks"),
            "crack_area_px2": st.column_config.NumberColumn("Crack area (px²)", format="%d"),
            "total_length_px": st.column_config.NumberColumn("Total length (px)", format="%.1f"),
            "mean_confidence": st.column_config.NumberColumn("Mean confidence", format="%.3f"),
        },
        key="prep_variants_table",
    )


def _measure_on_split(specs: list[PreprocessSpec], settings: InferenceSettings, segmenter: Segmenter) -> None:
    st.subheader("Does it help on labelled data?")
    st.caption(
        "Runs the full evaluation once per method (same model and settings) and reports each metric's change "
        "against no preprocessing. Positive deltas mean the method helps."
    )
    left, right = st.columns([3, 1])
    with left:
        choice = labelled_data_controls("prep", st.container(), allow_mask_folders=True)
    tolerance_px = right.number_input("Tolerance (px)", 0, 10, 2, 1, key="prep_tolerance")
    if st.button("Measure each method on a labelled split", key="prep_measure", type="primary"):
        bar = st.progress(0.0, text="Opening the data…")

        def progress(done: int, total: int, label: str) -> None:
            bar.progress(min(done / max(total, 1), 1.0), text=f"{done}/{total} · {label}")

        try:
            data = open_labelled_data(choice.data_text, choice.split, choice.masks_text)
            table = compare_preprocessing(
                segmenter, data.items, specs, settings, tolerance_px=int(tolerance_px), progress=progress
            )
        except CrackSegError as error:
            st.session_state["prep_comparison"] = None
            st.error(str(error))
        else:
            st.session_state["prep_comparison"] = {"table": table, "source": data.source, "settings": settings}
        finally:
            bar.empty()
    result = st.session_state.get("prep_comparison")
    if not result:
        return
    st.caption(f"{result['source']} · {int(result['table']['images'].iloc[0])} images · conf {result['settings'].conf}")
    column_config = {
        "preprocessing": "Preprocessing",
        "method": None,
        "images": st.column_config.NumberColumn("Images"),
    }
    for name, label in METRIC_LABELS.items():
        column_config[name] = st.column_config.NumberColumn(label, format="%.3f")
        column_config[f"{name}_delta"] = st.column_config.NumberColumn(f"Δ {label}", format="%+.3f")
    st.dataframe(result["table"], hide_index=True, column_config=column_config, key="prep_comparison_table")
    if len(result["table"]) > 1:
        st.plotly_chart(delta_figure(result["table"], COMPARED_METRICS), key="prep_delta_chart")


def run() -> None:
    st.title("Preprocessing comparison")
    st.caption(
        "Each method is applied to the photo before the model sees it. Compare what the model finds on each "
        "variant, then measure whether a method helps on labelled data."
    )
    with st.sidebar:
        st.subheader("Model")
        settings = model_controls("prep")
    left, right = st.columns([2, 3], gap="large")
    with left:
        chosen = _chosen_image()
    with right:
        specs = _chosen_specs()
    if chosen is None:
        st.stop()
    if not specs:
        st.info("Choose at least one method.")
        st.stop()
    segmenter = get_segmenter()
    if segmenter is None:
        st.stop()
    _show_variants(chosen[1], specs, settings, segmenter)
    _measure_on_split(specs, settings, segmenter)


run()
