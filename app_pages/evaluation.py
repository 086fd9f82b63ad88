"""Evaluation: confusion matrices, metrics, PR and F1 curves, per-image scores and the worst images.

By default the page shows the stored evaluation of the shipped model on the
crack-seg test split, without running the model. A new evaluation runs on the
samples or on labelled data the operator allows (``$CRACKSEG_DATA_DIRS``); so
does an evaluation of street-view photos against their YOLO or VOC damage boxes.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import streamlit as st

from crackseg.core.errors import CrackSegError
from crackseg.datasets.box_labels import BOX_FORMATS, BoxLabelledImage
from crackseg.datasets.labelled import LabelledImage
from crackseg.datasets.opening import LabelledData, open_box_data, open_labelled_data, open_report_data
from crackseg.evaluation.boxes import BoxEvaluationReport, evaluate_boxes, top_down_predict
from crackseg.evaluation.run import (
    EvaluationReport,
    error_overlay_for,
    evaluate,
    settings_from_dict,
    ultralytics_map,
    worst_images,
)
from crackseg.geometry.camera import CameraProfile
from crackseg.inference.model_loading import view_conf
from crackseg.inference.segmenter import InferenceSettings, Segmenter
from crackseg.io.allowed_paths import DATA_DIRS_ENV_VAR
from crackseg.metrics.bootstrap import Interval
from crackseg.metrics.boxes import DEFAULT_MIN_COVERAGE
from crackseg.pipeline.street import street_predict
from crackseg.training.model_card import STORED_EVALUATION_DIR, domain_table, load_card
from ui.camera_controls import camera_profile_controls, view_control
from ui.controls import labelled_data_controls, model_controls, preprocess_controls
from ui.plots import confusion_figure, f1_confidence_figure, pr_curve_figure
from ui.resources import get_segmenter

MODES = {
    "stored": "Stored evaluation of the shipped model",
    "new": "Run a new evaluation",
    "boxes": "Box-labelled photos (street view)",
}
SORT_COLUMNS = ("f1", "iou", "precision", "recall", "fp_px", "fn_px")


@st.cache_data(show_spinner=False, max_entries=4)
def _stored_report(modified_ns: int) -> EvaluationReport:
    """The stored report (keyed on report.json's modification time)."""
    del modified_ns  # cache key only
    return EvaluationReport.load(STORED_EVALUATION_DIR)


@st.cache_data(show_spinner=False, max_entries=8)
def _evaluate(
    data: LabelledData,
    settings: InferenceSettings,
    tolerance_px: int,
    cell_px: int,
    with_map: bool,
    model_sha: str,
    _segmenter: Segmenter,
) -> EvaluationReport:
    """Evaluate ``data`` (keyed on its items, the settings and the model's SHA-256), with a progress bar."""
    del model_sha  # cache key only
    bar = st.progress(0.0, text="Evaluating…")

    def progress(done: int, total: int, name: str) -> None:
        bar.progress(min(done / max(total, 1), 1.0), text=f"{done}/{total} images · {name}")

    report = evaluate(
        _segmenter,
        data.items,
        settings,
        tolerance_px=tolerance_px,
        cell_px=cell_px,
        source=data.source,
        progress=progress,
    )
    if with_map and data.yaml_path is not None:
        bar.progress(1.0, text="Ultralytics box and mask mAP…")
        report.ultralytics = ultralytics_map(_segmenter, data.yaml_path, data.split, settings.imgsz)
    bar.empty()
    return report


@st.cache_data(show_spinner=False, max_entries=64)
def _overlay(item: LabelledImage, settings: InferenceSettings, model_sha: str, _segmenter: Segmenter) -> np.ndarray:
    del model_sha  # cache key only
    return error_overlay_for(_segmenter, item, settings)


@st.cache_data(show_spinner=False, max_entries=8)
def _evaluate_boxes(
    items: tuple[BoxLabelledImage, ...],
    settings: InferenceSettings,
    min_coverage: float,
    model_sha: str,
    _segmenter: Segmenter,
    camera: CameraProfile | None = None,
) -> BoxEvaluationReport:
    """Evaluate box-labelled ``items`` in a view (keyed on the items, the settings, the model's SHA-256 and
    the camera profile: ``None`` is the top-down view)."""
    del model_sha  # cache key only
    bar = st.progress(0.0, text="Evaluating…")

    def progress(done: int, total: int, name: str) -> None:
        bar.progress(min(done / max(total, 1), 1.0), text=f"{done}/{total} images · {name}")

    record = {"view": "top-down" if camera is None else "street", "model": _segmenter.info()}
    record["inference"] = settings.to_dict()
    if camera is None:
        predict = top_down_predict(_segmenter, settings)
    else:
        record["camera_profile"] = camera.to_dict()
        predict = street_predict(_segmenter, camera, settings)
    source = str(items[0].image_path.parent) if items else ""
    report = evaluate_boxes(
        items,
        predict,
        min_coverage=min_coverage,
        source=source,
        settings=record,
        progress=progress,
    )
    bar.empty()
    return report


def _box_evaluation(segmenter: Segmenter, camera: CameraProfile | None = None) -> BoxEvaluationReport | None:
    """Sidebar choices for box-labelled photos, the run button, and the last box result of this session."""
    with st.sidebar:
        st.subheader("Box-labelled photos")
        images_text = st.text_input(
            "Dataset or image folder (server path)",
            value="",
            key="eval_box_images",
            help=f"A folder with images/ and labels/ (or annotations/xmls/), or the image folder itself. "
            f"Only inside folders listed in {DATA_DIRS_ENV_VAR} or the repository's samples/.",
        )
        labels_text = st.text_input(
            "Label folder (server path; empty: the dataset's labels/)", value="", key="eval_box_labels"
        )
        box_format = st.radio("Label format", BOX_FORMATS, horizontal=True, key="eval_box_format")
        min_coverage = st.slider(
            "A box is found at crack coverage ≥",
            0.01,
            0.5,
            DEFAULT_MIN_COVERAGE,
            0.01,
            key="eval_box_min_coverage",
            help="Share of the box's pixels the predicted cracks cover.",
        )
        st.subheader("Model")
        if camera is None:
            inference = model_controls("eval_box")
        else:  # the street view's own threshold, from its model's card
            inference = model_controls("eval_box", view="street", conf=view_conf("street"))
        settings = dataclasses.replace(inference, preprocess=preprocess_controls("eval_box"))
    if st.button("Run box evaluation", key="eval_box_run", type="primary"):
        try:
            items = open_box_data(images_text, labels_text, box_format)
            report = _evaluate_boxes(items, settings, float(min_coverage), segmenter.sha256, segmenter, camera)
        except CrackSegError as error:
            st.error(str(error))
            return None
        st.session_state["eval_box_result"] = report
    return st.session_state.get("eval_box_result")


def _show_box_report(report: BoxEvaluationReport) -> None:
    """Headline numbers, the per-class table and the per-box table of a box evaluation."""
    result = report.result
    st.caption(
        f"{report.source} · {result.images} images · model {report.settings.get('model', {}).get('name', '?')} · "
        f"conf {report.settings.get('inference', {}).get('conf')} · view {report.settings.get('view')} · "
        f"a box is found when cracks cover ≥ {result.min_coverage:g} of it"
    )
    if report.failures:
        with st.expander(f"{len(report.failures)} image(s) could not be evaluated"):
            st.write("\n".join(f"- {failure}" for failure in report.failures))
    columns = st.columns(3)
    columns[0].metric("Crack boxes found", f"{result.crack_found} / {result.crack_boxes}")
    columns[1].metric(
        "Crack pixels inside a box",
        f"{result.in_box_share:.3f}",
        help="The false-alarm proxy: not every crack is boxed.",
    )
    agreement = "n/a" if result.type_compared == 0 else f"{result.type_matches} / {result.type_compared}"
    columns[2].metric("Type agreement", agreement, help="D00 longitudinal, D10 transverse, D20 network.")
    share = st.column_config.NumberColumn
    st.dataframe(
        result.per_class,
        hide_index=True,
        key="eval_box_classes",
        column_config={
            "class_name": "class",
            "crack_type": "our type",
            "recall": share("recall", format="%.3f"),
            "in_box_share": share("in-box share", format="%.3f"),
            "type_agreement": share("type agreement", format="%.3f"),
        },
    )
    with st.expander("Per box"):
        st.dataframe(
            result.per_box,
            hide_index=True,
            key="eval_box_boxes",
            column_config={"coverage": share("coverage", format="%.4f")},
        )
    st.download_button(
        "Per-class table (CSV)", result.per_class.to_csv(index=False).encode("utf-8"), "box_classes.csv", "text/csv"
    )


def _new_evaluation(segmenter: Segmenter) -> tuple[EvaluationReport, LabelledData, InferenceSettings] | None:
    """Sidebar choices, the run button, and the last result of this session."""
    with st.sidebar:
        choice = labelled_data_controls("eval", allow_mask_folders=True)
        st.subheader("Model")
        settings = dataclasses.replace(model_controls("eval"), preprocess=preprocess_controls("eval"))
        tolerance_px = st.number_input("Tolerance (px)", 0, 10, 2, 1, key="eval_tolerance")
        cell_px = st.number_input(
            "Cell size (px)", 4, 256, 32, 4, key="eval_cell_px", help="A cell is cracked when it holds a crack pixel."
        )
        with_map = st.checkbox(
            "Also Ultralytics box/mask mAP (YOLO data)", value=False, key="eval_with_map", help="Runs model.val()."
        )
    if st.button("Run evaluation", key="eval_run", type="primary"):
        try:
            data = open_labelled_data(
                choice.data_text, choice.split, choice.masks_text, regions_text=choice.regions_text
            )
            report = _evaluate(
                data, settings, int(tolerance_px), int(cell_px), bool(with_map), segmenter.sha256, segmenter
            )
        except CrackSegError as error:
            st.error(str(error))
            return None
        st.session_state["eval_result"] = (report, data, settings)
    return st.session_state.get("eval_result")


def _stored_evaluation() -> tuple[EvaluationReport, LabelledData | str, InferenceSettings] | None:
    """The stored report, and its images if they are available here (else why not)."""
    try:
        report = _stored_report((STORED_EVALUATION_DIR / "report.json").stat().st_mtime_ns)
        settings = settings_from_dict(report.settings)
    except (OSError, CrackSegError) as error:
        st.error(f"No stored evaluation to show ({error}). Run a new evaluation instead.")
        return None
    try:
        data: LabelledData | str = open_report_data(report.source)
    except CrackSegError as error:
        data = f"The evaluated images are not available here ({error})."
    return report, data, settings


def _header(report: EvaluationReport) -> None:
    st.caption(
        f"{report.source} · {report.images} images · model {report.model.get('name', '?')} "
        f"({str(report.model.get('sha256', ''))[:12]}) · conf {report.settings.get('conf')} · "
        f"preprocessing {report.settings.get('preprocess')} · tolerance {report.tolerance['tolerance_px']} px"
    )
    if report.failures:
        with st.expander(f"{len(report.failures)} image(s) could not be evaluated"):
            st.write("\n".join(f"- {failure}" for failure in report.failures))
    columns = st.columns(5)
    columns[0].metric("Pixel F1", f"{report.pixel['f1']:.3f}")
    columns[1].metric("Pixel IoU", f"{report.pixel['iou']:.3f}")
    columns[2].metric(f"Tolerance F1 (≤ {report.tolerance['tolerance_px']} px)", f"{report.tolerance['f1']:.3f}")
    columns[3].metric("ODS F1", f"{report.ods:.3f}", help=f"best dataset F1, at conf {report.sweep['ods_threshold']}")
    columns[4].metric("Instance F1", f"{report.instance['f1']:.3f}")
    intervals = report.intervals()
    if intervals:
        st.caption(interval_caption(intervals))


def interval_caption(intervals: dict[str, Interval]) -> str:
    """How far each F1 could move on another draw of as many images: its bootstrap interval, in one line."""
    labels = {"pixel_f1": "pixel F1", "tolerance_f1": "tolerance F1", "cell_f1": "cell F1"}
    first = next(iter(intervals.values()))
    parts = [f"{labels.get(name, name)} {value.low:.3f} – {value.high:.3f}" for name, value in intervals.items()]
    return (
        f"How sure: {first.confidence:.0%} intervals over these {first.images} images "
        f"(bootstrap, {first.resamples:,} resamples): " + " · ".join(parts)
    )


def _confusion_and_metrics(report: EvaluationReport) -> None:
    left, middle, right = st.columns([2, 2, 3])
    mode = right.radio("Confusion matrices", ("counts", "normalized"), horizontal=True, key="eval_cm_mode")
    normalize = mode == "normalized"
    left.plotly_chart(
        confusion_figure(report.pixel_confusion(), title="Pixels", normalize=normalize), key="eval_cm_pixel"
    )
    middle.plotly_chart(
        confusion_figure(
            report.instance_confusion(), title="Instances (mask IoU ≥ 0.5)", normalize=normalize, undefined=[(0, 0)]
        ),
        key="eval_cm_instance",
    )
    right.caption("Normalized: each row divided by its total (the share of each true class).")
    right.dataframe(
        report.metrics_table(),
        hide_index=True,
        height="content",
        column_config={"value": st.column_config.NumberColumn("value", format="%.3f")},
    )


def _curves(report: EvaluationReport) -> None:
    chosen_conf = float(report.settings.get("conf", 0.25))
    left, right = st.columns(2)
    left.plotly_chart(pr_curve_figure(report.sweep, chosen_conf), key="eval_pr")
    right.plotly_chart(f1_confidence_figure(report.sweep, chosen_conf), key="eval_f1_conf")


def _per_image(report: EvaluationReport) -> None:
    st.subheader("Per image")
    left, right = st.columns([1, 3])
    sort_by = left.selectbox("Sort by", SORT_COLUMNS, key="eval_sort")
    worst_first = left.toggle("Worst first", value=True, key="eval_worst_first")
    ascending = worst_first != sort_by.endswith("_px")  # more error pixels is worse
    table = report.per_image.sort_values(sort_by, ascending=ascending, kind="stable")
    right.dataframe(
        table,
        hide_index=True,
        column_config={
            name: st.column_config.NumberColumn(name, format="%.3f") for name in ("precision", "recall", "f1", "iou")
        },
        key="eval_per_image",
    )
    right.download_button(
        "Per-image table (CSV)", table.to_csv(index=False).encode("utf-8"), "per_image.csv", "text/csv"
    )


def _gallery(report: EvaluationReport, data: LabelledData | str, settings: InferenceSettings) -> None:
    """The worst images by F1, with TP/FP/FN pixels drawn (needs the images and the model)."""
    st.subheader("Worst images")
    st.caption(
        ":green[:material/square:] found crack (TP) · :violet[:material/square:] false alarm (FP) · "
        ":blue[:material/square:] missed crack (FN)"
    )
    if isinstance(data, str):
        st.info(data)
        return
    segmenter = get_segmenter()
    if segmenter is None:
        return
    if report.model.get("sha256") and report.model["sha256"] != segmenter.sha256:
        st.warning("Drawn with the current model, which is not the model this report evaluated.")
    count = st.slider("Images", 1, 12, 4, key="eval_worst_n")
    items = {item.name: item for item in data.items}
    columns = st.columns(4)
    for index, row in worst_images(report.per_image, count).iterrows():
        with columns[index % 4]:
            item = items.get(row["image"])
            if item is None:
                st.info(f"{row['image']}: not in the dataset any more.")
                continue
            try:
                overlay = _overlay(item, settings, segmenter.sha256, segmenter)
            except CrackSegError as error:
                st.error(str(error))
                continue
            st.image(overlay, caption=f"{row['image']} · F1 {row['f1']:.3f} · IoU {row['iou']:.3f}", width="stretch")


def _every_dataset() -> None:
    """The shipped model on each dataset its card records, side by side (no model run)."""
    table = domain_table(load_card())
    if table.empty:
        return
    with st.expander("The shipped model on every dataset (validation and test)", expanded=True):
        st.dataframe(
            table,
            hide_index=True,
            column_config={
                "val": st.column_config.NumberColumn("validation", format="%.3f"),
                "test": st.column_config.NumberColumn("test (reported only)", format="%.3f"),
            },
        )


def run() -> None:
    st.title("Evaluation")
    mode = st.radio("Show", list(MODES), format_func=MODES.get, horizontal=True, key="eval_mode")
    if mode == "boxes":
        view = view_control("eval_box")
        camera = camera_profile_controls("eval_box", None, st.sidebar) if view == "street" else None
        if view == "street" and camera is None:
            st.stop()
        segmenter = get_segmenter(view=view)
        box_report = _box_evaluation(segmenter, camera) if segmenter is not None else None
        if box_report is None:
            if segmenter is not None:
                st.info("Choose a box-labelled folder in the sidebar and press **Run box evaluation**.")
            st.stop()
        _show_box_report(box_report)
        st.stop()
    if mode == "new":
        segmenter = get_segmenter()
        result = _new_evaluation(segmenter) if segmenter is not None else None
        if result is None:
            if segmenter is not None:
                st.info("Choose labelled data in the sidebar and press **Run evaluation**.")
            st.stop()
    else:
        _every_dataset()
        result = _stored_evaluation()
        if result is None:
            st.stop()
    report, data, settings = result
    _header(report)
    _confusion_and_metrics(report)
    _curves(report)
    _per_image(report)
    _gallery(report, data, settings)


run()
