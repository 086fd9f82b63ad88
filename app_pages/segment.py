"""Segment page: road inspectors upload photos (or ZIPs, or pick samples) and get cracks measured.

Widgets -> ``crackseg.io.inputs.expand_named_payloads`` + ``crackseg.pipeline.inspection.inspect_payloads``
-> render. Results are cached per image on (file SHA-256, model SHA-256 and
backend, inference settings, measurement settings, camera profile), so drawing-only
controls (opacity, boxes, ids) and picking another image never rerun the model.
Uploads stay in memory; nothing is written to disk.

The view is top-down (close-ups of the surface, the default) or street (frames
from a vehicle camera): the street view takes a camera profile (shipped, uploaded,
camera parameters or four road points, ``ui.camera_controls``), previews its road
region on the first frame with the top view, and inspects every frame on that top
view, so cracks are measured in mm and located in metres on the road.
"""

from __future__ import annotations

import hashlib
import time

import numpy as np
import streamlit as st

from crackseg.core.errors import CrackSegError
from crackseg.geometry.camera import CameraProfile
from crackseg.inference.segmenter import InferenceSettings, Segmenter
from crackseg.io.image_io import load_image
from crackseg.io.inputs import NamedPayload, expand_named_payloads
from crackseg.measurement.measure import MeasurementSettings
from crackseg.pipeline.inspection import Inspection, InspectionFailure, inspect_payloads, settings_record
from ui import segment_view as view
from ui.camera_controls import camera_profile_controls, region_preview, view_control
from ui.controls import inference_controls, measurement_controls
from ui.resources import get_segmenter

SEGMENT_CAP_MB = 200  # images and ZIPs; the server's cap (.streamlit/config.toml) is higher for survey videos


# Per image, so a batch that grows or changes one file reruns only what changed. Each entry holds the
# image and its (N, H, W) masks: 128 entries and an hour bound the memory big photos can take.
@st.cache_data(max_entries=128, ttl=3600, show_spinner=False)
def inspect_cached(
    name: str,
    data_sha256: str,
    model_sha256: str,
    backend: str,
    settings: InferenceSettings,
    measurement_settings: MeasurementSettings,
    camera: CameraProfile | None,
    _data: bytes,
    _segmenter: Segmenter,
) -> Inspection | InspectionFailure:
    """Inspect one named image (a street frame when ``camera`` is given); ``_data`` and ``_segmenter`` are keyed
    by their SHA-256 (and backend)."""
    del data_sha256, model_sha256, backend  # cache key only
    payload = NamedPayload(name, _data)
    return next(inspect_payloads(_segmenter, [payload], settings, measurement_settings, camera=camera))


def inspect_all(
    segmenter: Segmenter,
    items: list[tuple[str, bytes]],
    settings: InferenceSettings,
    measurement_settings: MeasurementSettings,
    camera: CameraProfile | None = None,
) -> tuple[list[Inspection], list[InspectionFailure]]:
    """Every image of the uploads (ZIPs opened), in order, with a progress bar for several."""
    payloads = list(expand_named_payloads(items))
    progress = st.progress(0.0, text="Inspecting…") if len(payloads) > 1 else None
    inspections: list[Inspection] = []
    failures: list[InspectionFailure] = []
    started = time.perf_counter()
    for done, payload in enumerate(payloads, start=1):
        if payload.data is None:  # a ZIP that could not be opened, or a bad member
            result = next(inspect_payloads(segmenter, [payload]))
        else:
            data_sha256 = hashlib.sha256(payload.data).hexdigest()
            try:
                result = inspect_cached(
                    payload.name,
                    data_sha256,
                    segmenter.sha256,
                    segmenter.backend,
                    settings,
                    measurement_settings,
                    camera,
                    _data=payload.data,
                    _segmenter=segmenter,
                )
            except Exception as error:  # noqa: BLE001 - one odd file must not stop the batch
                view.log_unexpected(error, payload.name)
                result = InspectionFailure(payload.name, f"{payload.name}: inspection failed ({type(error).__name__})")
        (inspections if isinstance(result, Inspection) else failures).append(result)
        if progress is not None:
            rate = done / max(time.perf_counter() - started, 1e-6)
            text = f"Inspected {done} of {len(payloads)} ({rate:.1f} images/s): {payload.name}"
            progress.progress(done / len(payloads), text=text)
    if progress is not None:
        progress.empty()
    return inspections, failures


def chosen_items() -> list[tuple[str, bytes]]:
    """Uploaded files (bytes in memory) followed by the chosen samples, as ``(name, bytes)``."""
    uploads = st.file_uploader(
        "Road images (JPEG, PNG, TIFF, WebP, BMP) or ZIPs of them",
        type=list(view.UPLOAD_TYPES),
        accept_multiple_files=True,
        key="segment_uploads",
        max_upload_size=SEGMENT_CAP_MB,
        help=f"Files stay in memory for this session only; up to {SEGMENT_CAP_MB} MB each.",
    )
    names = view.sample_names()
    st.session_state["segment_samples"] = [name for name in st.session_state["segment_samples"] if name in names]
    samples = st.multiselect("…or try sample images", names, key="segment_samples")
    items = [(upload.name, upload.getvalue()) for upload in uploads or []]
    return items + [(name, view.sample_path(name).read_bytes()) for name in samples]


@st.cache_data(max_entries=4, ttl=600, show_spinner=False)
def preview_frame(name: str, data_sha256: str, _data: bytes) -> np.ndarray | None:
    """The decoded first frame for the region preview (``None`` when it is not an image: the batch says why)."""
    del data_sha256  # cache key only
    try:
        return load_image(_data, name=name)
    except CrackSegError:
        return None


def street_camera(items: list[tuple[str, bytes]]) -> CameraProfile | None:
    """The camera profile controls and, on the first frame, the region outline and the top view."""
    payload = next((p for p in expand_named_payloads(items) if p.data is not None), None)
    rgb = (
        None if payload is None else preview_frame(payload.name, hashlib.sha256(payload.data).hexdigest(), payload.data)
    )
    with st.expander("Camera profile and road region", expanded=True):
        frame_wh = None if rgb is None else (int(rgb.shape[1]), int(rgb.shape[0]))
        profile = camera_profile_controls("segment", frame_wh)
        if profile is None:
            return None
        if rgb is None:
            st.caption("The region preview and the top view appear here once a frame is uploaded or picked.")
        elif region_preview(rgb, profile) is None:
            return None
    return profile


def main() -> None:
    view.init_state(view.SEGMENT_DEFAULTS)
    st.title("Segment road images")
    st.caption(
        "Upload photos of a road surface: each crack is outlined, measured (length, width, area, orientation) "
        "and typed. Calibrate in the sidebar (mm per pixel) to get millimetres and ASTM D6433 severity. "
        "Frames from a vehicle camera: choose the street view."
    )
    chosen_view = view_control("segment")
    street = chosen_view == "street"
    settings = inference_controls("segment", view=chosen_view)
    measurement_settings = measurement_controls("segment", calibration=not street)
    items = chosen_items()
    camera = street_camera(items) if street else None
    if street and camera is None:
        return
    if not items:
        st.info("Upload one or more images or a ZIP, or pick a sample image, to start.")
        return
    segmenter = get_segmenter(view="street" if street else "top-down")
    if segmenter is None:
        return
    inspections, failures = inspect_all(segmenter, items, settings, measurement_settings, camera)
    view.show_failures(failures)
    if not inspections:
        return
    record = settings_record(segmenter, settings, measurement_settings, camera)
    shown = 0
    if len(inspections) > 1:
        shown = view.batch_summary(inspections)
        view.batch_zip_button(inspections, failures, record)
        st.divider()
    view.inspection_detail(inspections[shown], record)


try:
    main()
except Exception as error:  # noqa: BLE001 - users see a short message, the log keeps the traceback
    view.show_unexpected_error(error, "The Segment page")
