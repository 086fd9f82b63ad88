"""Survey page: a drive (a video with its GPS track, or geotagged photos) in, a rated road map out.

Widgets -> ``crackseg.survey.run.run_survey`` -> render (``ui.survey_view``).
Uploads are capped at ``VIDEO_CAP_MB`` (500 MB, as ``server.maxUploadSize`` in
``.streamlit/config.toml``). They are streamed into a private temporary folder
(``tempfile.mkdtemp``: mode 0700, a new one per run, so sessions never share a
file), the survey writes its outputs there, the page keeps in memory what it shows
and offers (tables, GeoJSON, CSV, report, the worst sections' frames), and the
folder is deleted. The map draws offline with no basemap unless the operator sets
``$CRACKSEG_TILE_URL``. A bad input is one ``st.error`` line, never a traceback.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path, PurePosixPath

import streamlit as st

from crackseg.core.errors import CrackSegError
from crackseg.geometry.camera import CameraProfile
from crackseg.inference.segmenter import InferenceSettings
from crackseg.measurement.measure import MeasurementSettings
from crackseg.survey.frames import VIDEO_SUFFIXES
from crackseg.survey.run import SurveySettings, run_survey
from ui import survey_view as view
from ui.camera_controls import camera_profile_controls, street_conf_default
from ui.controls import measurement_controls, model_controls
from ui.resources import get_segmenter
from ui.segment_view import init_state, show_unexpected_error

VIDEO_CAP_MB = 500
VIDEO_TYPES = ("mp4", "mov", "avi", "mkv")
PHOTO_TYPES = ("jpg", "jpeg", "png", "tif", "tiff", "zip")
TRACK_TYPES = ("gpx", "csv")
COPY_CHUNK_BYTES = 1 << 20
SURVEY_DEFAULTS = {"survey_outcome": None}
INPUT_KINDS = {"video": "Video + GPS track", "photos": "Geotagged photos or a ZIP"}


def safe_name(name: str, used: set[str]) -> str:
    """A plain file name for an upload (no folders, odd characters replaced), unique in its folder."""
    base = PurePosixPath(name.replace("\\", "/")).name or "upload"
    stem, suffix = PurePosixPath(base).stem[:100], PurePosixPath(base).suffix.lower()[:10]
    clean = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in stem) or "upload"
    candidate, counter = f"{clean}{suffix}", 2
    while candidate in used:
        candidate, counter = f"{clean}-{counter}{suffix}", counter + 1
    used.add(candidate)
    return candidate


def stream_to(folder: Path, upload, used: set[str]) -> Path:
    """Copy one upload into ``folder`` in 1 MiB chunks; returns the new file's path."""
    path = folder / safe_name(upload.name, used)
    upload.seek(0)
    with path.open("xb") as handle:
        shutil.copyfileobj(upload, handle, COPY_CHUNK_BYTES)
    return path


def chosen_inputs() -> tuple[list, object | None, str]:
    """The uploads: ``(video or photos, track or None, a label for what was surveyed)``."""
    kind = st.radio("Input", tuple(INPUT_KINDS), format_func=INPUT_KINDS.get, horizontal=True, key="survey_kind")
    if kind == "video":
        left, right = st.columns(2)
        video = left.file_uploader(
            f"Video ({', '.join(VIDEO_TYPES).upper()}; up to {VIDEO_CAP_MB} MB)",
            type=list(VIDEO_TYPES),
            key="survey_video",
            max_upload_size=VIDEO_CAP_MB,
            help="H.264/H.265 as FFmpeg decodes. Streamed to a private temporary file, deleted after the survey.",
        )
        track = right.file_uploader(
            "GPS track (GPX, or CSV with time, lat, lon)",
            type=list(TRACK_TYPES),
            key="survey_track",
            help="Without a track, set a speed in the survey settings: frames are then placed by time (no map).",
        )
        return ([video] if video is not None else []), track, video.name if video is not None else ""
    photos = st.file_uploader(
        f"Photos with EXIF GPS and time, or ZIPs of them (up to {VIDEO_CAP_MB} MB each)",
        type=list(PHOTO_TYPES),
        accept_multiple_files=True,
        key="survey_photos",
        max_upload_size=VIDEO_CAP_MB,
    )
    photos = list(photos or [])
    return photos, None, f"{len(photos)} photo file(s)" if photos else ""


def survey_settings(where) -> tuple[CameraProfile | None, SurveySettings | None]:
    """Camera profile, sample spacing, section length and (without GPS) speed; ``None`` after an error line."""
    profile = camera_profile_controls("survey", container=where)
    left, middle, right = where.columns(3)
    spacing = left.radio(
        "Sample frames",
        ("auto", "metres", "seconds"),
        format_func={"auto": "auto (from the region)", "metres": "every … m", "seconds": "every … s"}.get,
        key="survey_spacing",
        help="auto: every 80 % of the region's length, so the road is covered with no gap.",
    )
    every = None
    if spacing != "auto":
        every = float(left.number_input(f"Every ({spacing})", 0.1, 1000.0, 5.0, 0.5, key=f"survey_every_{spacing}"))
    section_m = float(middle.number_input("Section length (m)", 1.0, 10_000.0, 10.0, 5.0, key="survey_section_m"))
    speed = float(
        right.number_input(
            "Speed without GPS (km/h)",
            0.0,
            300.0,
            0.0,
            5.0,
            key="survey_speed",
            help="Only for a video without a track or photos without GPS: frames are placed at this speed.",
        )
    )
    try:
        settings = SurveySettings(
            every_m=every if spacing == "metres" else None,
            every_s=every if spacing == "seconds" else None,
            section_m=section_m,
            speed_kmh=speed or None,
        )
    except CrackSegError as error:
        where.error(str(error))
        return profile, None
    return profile, settings


def run(
    uploads: list,
    track,
    label: str,
    profile: CameraProfile,
    settings: SurveySettings,
    inference: InferenceSettings,
    measurement: MeasurementSettings,
) -> view.SurveyOutcome | None:
    """Stream the uploads to a private folder, survey them with a progress bar, keep the results, delete the folder."""
    segmenter = get_segmenter(view="street")
    if segmenter is None:
        return None
    workdir = Path(tempfile.mkdtemp(prefix="crackseg-survey-"))
    progress = st.progress(0.0, text="Copying the upload…")
    try:
        inputs_dir, out_dir = workdir / "inputs", workdir / "out"
        inputs_dir.mkdir(mode=0o700)
        used: set[str] = set()
        inputs = [stream_to(inputs_dir, upload, used) for upload in uploads]
        track_path = stream_to(inputs_dir, track, used) if track is not None else None
        progress.progress(0.0, text="Reading the drive…")

        def report(done: int, total: int, name: str) -> None:
            progress.progress(min(done / max(total, 1), 1.0), text=f"Frame {done} of {total}: {name}")

        result = run_survey(
            inputs,
            segmenter,
            out_dir,
            track_path=track_path,
            profile=profile,
            settings=settings,
            inference=inference,
            measurement=measurement,
            progress=report,
        )
        return view.SurveyOutcome.collect(result, label)
    except CrackSegError as error:
        st.error(str(error).splitlines()[0][:400] if str(error) else type(error).__name__)
        return None
    finally:
        progress.empty()
        shutil.rmtree(workdir, ignore_errors=True)


def show(outcome: view.SurveyOutcome) -> None:
    """Summary, map, rating along chainage, tables, worst frames, downloads."""
    st.subheader(f"Survey of {outcome.inputs}")
    for note in outcome.warnings:
        st.warning(note)
    view.summary_tiles(outcome.summary)
    if "sections_geojson" in outcome.files and outcome.summary.get("has_map"):
        tiles = view.tile_url()
        st.plotly_chart(
            view.map_figure(outcome.files["sections_geojson"], outcome.findings, tiles=tiles), key="survey_map"
        )
        st.caption(
            "Sections coloured by rating, cracks as black points. "
            + (f"Basemap tiles from {tiles}." if tiles else "No basemap: nothing is fetched from the internet.")
        )
    else:
        st.info("No GPS positions: no map (sections are placed by time and speed).")
    thresholds = outcome.summary.get("settings", {}).get("survey", {}).get("rating", {}).get("thresholds")
    st.plotly_chart(view.rating_figure(outcome.sections, thresholds or (5.0, 4.0, 3.0)), key="survey_rating")
    st.caption(f"Rating: {outcome.summary.get('rating_index', 'MCI1')}; raw measures are in the table.")
    view.tables(outcome)
    view.gallery(outcome.gallery)
    st.caption("Downloads")
    view.downloads(outcome.files)


def main() -> None:
    init_state(SURVEY_DEFAULTS)
    st.title("Survey a drive")
    st.caption(
        "Upload a video from a vehicle camera with its GPS track, or geotagged photos: frames are sampled by "
        "distance, inspected on the road's top view, each stretch of road counted once, and the route cut into "
        "sections rated by their cracking (MCI1). Everything runs on this machine."
    )
    inference = model_controls("survey", view="street", conf=street_conf_default())
    measurement = measurement_controls("survey", calibration=False)
    uploads, track, label = chosen_inputs()
    with st.expander("Survey settings (camera profile, sampling, sections)", expanded=False):
        profile, settings = survey_settings(st)
    ready = bool(uploads) and profile is not None and settings is not None
    if uploads and not ready:
        st.caption("Check the survey settings above: the camera profile or a setting cannot be used.")
    if st.button("Run survey", type="primary", disabled=not ready, key="survey_run"):
        st.session_state["survey_outcome"] = run(uploads, track, label, profile, settings, inference, measurement)
    outcome = st.session_state["survey_outcome"]
    if outcome is None:
        if not uploads:
            st.info(f"Upload a video ({', '.join(VIDEO_SUFFIXES[:4])}…) with its GPS track, or photos, to start.")
        return
    st.divider()
    show(outcome)


try:
    main()
except Exception as error:  # noqa: BLE001 - users see a short message, the log keeps the traceback
    show_unexpected_error(error, "The Survey page")
