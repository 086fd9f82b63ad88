"""Sidebar widgets that return plain settings objects (no Streamlit types leak out).

Every key carries the caller's prefix, so each page keeps its own values and
runs on its own (and under ``AppTest``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import streamlit as st

from crackseg.inference.model_loading import view_conf, view_imgsz
from crackseg.inference.preprocessing import PREPROCESSORS, PreprocessSpec
from crackseg.inference.segmenter import InferenceSettings
from crackseg.io.allowed_paths import DATA_DIRS_ENV_VAR
from crackseg.measurement.measure import MeasurementSettings

IMGSZ_CHOICES = (320, 416, 512, 640, 800, 960)


def preprocess_controls(prefix: str, container: Any = None, *, default: str = "none") -> PreprocessSpec:
    """A method picker plus one widget per parameter of the chosen method (from the registry)."""
    where = container or st.sidebar
    names = list(PREPROCESSORS)
    method = where.selectbox(
        "Preprocessing",
        names,
        index=names.index(default),
        format_func=lambda name: PREPROCESSORS[name].label,
        key=f"{prefix}_preprocess",
        help="Applied to the image before the model sees it.",
    )
    return PreprocessSpec.of(method, **parameter_widgets(prefix, method, where))


def parameter_widgets(prefix: str, method: str, where: Any) -> dict[str, Any]:
    """Widgets for one method's parameters; returns their values by name."""
    values: dict[str, Any] = {}
    for parameter in PREPROCESSORS[method].parameters:
        key = f"{prefix}_{method}_{parameter.name}"
        if parameter.choices:
            values[parameter.name] = where.selectbox(
                parameter.label, parameter.choices, index=parameter.choices.index(parameter.default), key=key
            )
        elif isinstance(parameter.default, int):
            values[parameter.name] = int(
                where.slider(
                    parameter.label,
                    int(parameter.minimum),
                    int(parameter.maximum),
                    int(parameter.default),
                    int(parameter.step or 1),
                    key=key,
                    help=parameter.help or None,
                )
            )
        else:
            values[parameter.name] = float(
                where.slider(
                    parameter.label,
                    float(parameter.minimum),
                    float(parameter.maximum),
                    float(parameter.default),
                    float(parameter.step or 0.1),
                    key=key,
                    help=parameter.help or None,
                )
            )
    return values


def model_controls(
    prefix: str, container: Any = None, *, view: str = "top-down", conf: float | None = None
) -> InferenceSettings:
    """Confidence, NMS IoU, model input size and the mirror pass; preprocessing and tiling stay at their defaults.

    ``conf`` defaults to the view's threshold from its model's card (chosen on validation data).
    The street view keeps its own confidence (key ``<prefix>_street_conf``, default ``conf``, e.g. the model
    card's) and input size (``<prefix>_street_imgsz``, default the card's), so switching views never carries
    one view's setting over to the other.
    """
    where = container or st.sidebar
    conf = view_conf(view) if conf is None else conf
    if view == "top-down":
        conf = where.slider(
            "Confidence threshold",
            0.05,
            0.95,
            min(max(round(round(float(conf) / 0.05) * 0.05, 2), 0.05), 0.95),  # on the slider's 0.05 steps
            0.05,
            key=f"{prefix}_conf",
            help="The default is the model card's (chosen on crack-seg valid and DeepCrack val).",
        )
    else:
        conf = where.slider(
            "Confidence threshold",
            0.01,
            0.95,
            min(max(round(float(conf), 2), 0.01), 0.95),
            0.01,
            key=f"{prefix}_{view}_conf",
            help="The street view's default is the model card's (chosen on survey-vehicle frames).",
        )
    iou = where.slider("NMS IoU", 0.1, 0.95, 0.7, 0.05, key=f"{prefix}_iou")
    if view == "top-down":
        imgsz = where.select_slider("Model input size (px)", IMGSZ_CHOICES, value=416, key=f"{prefix}_imgsz")
    else:
        street_imgsz = view_imgsz(view)
        imgsz = where.select_slider(
            "Model input size (px)",
            tuple(sorted({*IMGSZ_CHOICES, street_imgsz})),
            value=street_imgsz,
            key=f"{prefix}_{view}_imgsz",
            help="The street view's default is its model card's (the size it was trained and gated at).",
        )
    flip_tta = where.checkbox(
        "Mirror pass (test-time augmentation)",
        value=False,
        key=f"{prefix}_flip_tta",
        help="Also look at each image mirrored left to right and keep what either look finds: "
        "more cracks found, twice the time.",
    )
    return InferenceSettings(conf=float(conf), iou=float(iou), imgsz=int(imgsz), flip_tta=bool(flip_tta))


def inference_controls(
    prefix: str, container: Any = None, *, view: str = "top-down", conf: float | None = None
) -> InferenceSettings:
    """Confidence (per view; default ``conf``, else the card's), NMS IoU, image size, preprocessing, tiling."""
    where = container or st.sidebar
    where.subheader("Model")
    model = model_controls(prefix, where, view=view, conf=conf)
    preprocess = preprocess_controls(prefix, where)
    tile = where.radio(
        "Tiling",
        ("auto", "always", "never"),
        horizontal=True,
        key=f"{prefix}_tile",
        help="auto: photos larger than 1.5 x the tile size are cut into overlapping tiles at full resolution.",
    )
    tile_size = where.select_slider("Tile size (px)", (416, 512, 640, 800, 1024), value=640, key=f"{prefix}_tile_size")
    return dataclasses.replace(model, preprocess=preprocess, tile=tile, tile_size=int(tile_size))


def measurement_controls(prefix: str, container: Any = None, *, calibration: bool = True) -> MeasurementSettings:
    """Calibration (unless ``calibration`` is off: the street view's scale comes from its camera profile) and
    severity thresholds (ASTM D6433 defaults)."""
    where = container or st.sidebar
    where.subheader("Measurement")
    calibrated = calibration and where.checkbox(
        "Calibrated (mm per pixel known)", value=False, key=f"{prefix}_calibrated"
    )
    if not calibration:
        where.caption("Street view: millimetres come from the camera profile's top view.")
    mm_per_px = None
    if calibrated:
        mm_per_px = float(
            where.number_input(
                "mm per pixel",
                min_value=0.001,
                max_value=100.0,
                value=1.0,
                step=0.1,
                format="%.3f",
                key=f"{prefix}_mmpx",
            )
        )
    low, high = where.slider(
        "Severity thresholds, mean width (mm)",
        1.0,
        150.0,
        (10.0, 75.0),
        1.0,
        key=f"{prefix}_severity",
        help="low < first <= medium <= second < high (ASTM D6433 defaults 10 / 75 mm). Needs calibration.",
    )
    if high <= low:
        where.error("The high severity threshold must be above the low one.")
        st.stop()
    return MeasurementSettings(mm_per_px=mm_per_px, severity_thresholds_mm=(float(low), float(high)))


@dataclass(frozen=True)
class DataChoice:
    """A labelled dataset as the user named it: paths as typed (checked later by ``crackseg.io.allowed_paths``)."""

    data_text: str
    split: str = "test"
    masks_text: str | None = None
    regions_text: str | None = None  # region masks (where cells are scored, e.g. the surveyed lane); None: all


SAMPLES_DATA_TEXT = "samples/data.yaml"


def labelled_data_controls(prefix: str, container: Any = None, *, allow_mask_folders: bool = False) -> DataChoice:
    """Pick a labelled dataset: the shipped samples, a YOLO data.yaml / dataset folder, or image + mask folders.

    Typed paths are only accepted inside ``$CRACKSEG_DATA_DIRS`` or ``samples/``
    (the caller resolves them with ``crackseg.datasets.opening.open_labelled_data``).
    """
    where = container or st.sidebar
    kinds = {"samples": "Shipped samples (8 images)", "yolo": "YOLO data.yaml or dataset folder"}
    if allow_mask_folders:
        kinds["masks"] = "Image folder + mask folder"
    kind = where.radio("Labelled data", list(kinds), format_func=kinds.get, horizontal=True, key=f"{prefix}_data_kind")
    if kind == "samples":
        return DataChoice(SAMPLES_DATA_TEXT, "test")
    if kind == "yolo":
        data_text = where.text_input(
            "data.yaml or dataset folder (server path)",
            value=SAMPLES_DATA_TEXT,
            key=f"{prefix}_data_path",
            help=f"Only inside folders listed in {DATA_DIRS_ENV_VAR} or the repository's samples/.",
        )
        split = where.selectbox("Split", ("test", "val", "train"), key=f"{prefix}_data_split")
        return DataChoice(data_text, split)
    images_text = where.text_input("Image folder (server path)", value="", key=f"{prefix}_images_path")
    masks_text = where.text_input(
        "Mask folder (server path)",
        value="",
        key=f"{prefix}_masks_path",
        help="Binary masks paired with the images by file stem (a _mask / _label suffix is allowed).",
    )
    regions_text = where.text_input(
        "Region mask folder (optional, server path)",
        value="",
        key=f"{prefix}_regions_path",
        help="Where the truth is complete (e.g. the surveyed lane): cell scores are also given inside it.",
    )
    return DataChoice(images_text, "test", masks_text, regions_text.strip() or None)
