"""Command line: ``python -m crackseg {predict,measure,evaluate,survey,info,export,quantize}``.

Every command prints one-line errors (``PATH: reason``) on stderr, never a
traceback. ``predict`` exits 1 if any input failed, else 0; other commands
exit 2 on a usage or input error. stdout carries only results (``--json``
output is one JSON object); what libraries log goes to stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import sys
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from crackseg.core.errors import CrackSegError

REPORTS_AUTO_LIMIT = 100  # an HTML report per image costs about as much as the rest of its outputs
BACKEND_CHOICES = ("auto", "torch", "onnx", "openvino", "openvino-int8")  # crackseg.inference.backends.BACKENDS


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every command (``--help`` on each)."""
    from crackseg.inference.preprocessing import PREPROCESSORS

    parser = argparse.ArgumentParser(prog="python -m crackseg", description="Road-crack segmentation and measurement.")
    commands = parser.add_subparsers(dest="command", required=True)

    predict = commands.add_parser("predict", help="segment and measure images, folders or ZIPs")
    predict.add_argument("paths", nargs="+", type=Path, help="image files, folders or ZIP archives")
    predict.add_argument("--out", type=Path, required=True, help="output folder")
    _add_inference_arguments(predict, PREPROCESSORS)
    predict.add_argument("--mm-per-px", type=float, default=None, help="calibration (mm per pixel)")
    predict.add_argument(
        "--severity-mm", type=float, nargs=2, default=(10.0, 75.0), metavar=("LOW", "HIGH"), help="width thresholds"
    )
    predict.add_argument(
        "--reports",
        choices=("auto", "always", "never"),
        default="auto",
        help=f"per-image HTML reports (auto: only for batches of up to {REPORTS_AUTO_LIMIT} images)",
    )
    predict.add_argument("--no-reports", action="store_true", help="same as --reports never")
    predict.add_argument(
        "--resume", action="store_true", help="skip the inputs already done in --out (same path and content)"
    )
    predict.add_argument("--format", choices=("csv", "parquet"), default="csv", help="batch tables' format")
    predict.add_argument(
        "--tables-only", action="store_true", help="write only the batch tables (no overlays, masks, JSON, reports)"
    )
    predict.add_argument("--engine", choices=("local", "ray"), default="local", help="run here, or on Ray")
    predict.add_argument("--address", default=None, help="Ray cluster address (default: start a local Ray)")
    predict.add_argument("--workers", type=int, default=2, help="Ray actors, one model each (--engine ray)")
    _add_view_arguments(predict)

    camera = commands.add_parser(
        "camera", help="make or check a street-view camera profile; print the ground resolution it delivers"
    )
    _add_camera_arguments(camera)
    camera.add_argument("--frame-size", type=int, nargs=2, metavar=("W", "H"), help="frame size to check it for")
    camera.add_argument("--save", type=Path, default=None, help="write the profile as JSON")
    camera.add_argument("--json", action="store_true", help="print the profile and table as JSON")

    measure = commands.add_parser("measure", help="measure cracks in a binary mask made by any tool")
    measure.add_argument("mask", type=Path, help="mask image (non-zero = crack)")
    measure.add_argument("--mm-per-px", type=float, default=None)
    measure.add_argument("--severity-mm", type=float, nargs=2, default=(10.0, 75.0), metavar=("LOW", "HIGH"))
    measure.add_argument("--json", action="store_true", help="print JSON (cracks and totals)")

    evaluate = commands.add_parser("evaluate", help="compare predictions with ground truth")
    source = evaluate.add_mutually_exclusive_group(required=True)
    source.add_argument("--data", type=Path, help="YOLO data.yaml")
    source.add_argument("--images", type=Path, help="folder of images (with --masks)")
    source.add_argument(
        "--survey-frames", type=Path, help="the survey-vehicle dataset (NAME/NAME_RAW.jpg, _CRACK.png, _LANE.png)"
    )
    source.add_argument("--box-data", type=Path, help="box-labelled dataset folder: images/ + labels/ (or VOC xmls)")
    evaluate.add_argument("--masks", type=Path, help="folder of binary masks matched by file stem")
    evaluate.add_argument("--boxes", type=Path, help="folder of box labels matched by file stem (with --images)")
    evaluate.add_argument("--box-format", choices=("auto", "yolo", "voc"), default="auto", help="box label format")
    evaluate.add_argument(
        "--min-coverage", type=float, default=0.02, help="share of a box that crack pixels cover for it to be found"
    )
    evaluate.add_argument("--regions", type=Path, help="folder of region masks (where to score cells) by file stem")
    evaluate.add_argument("--split", default="test", help="data.yaml or survey split: train, val or test")
    evaluate.add_argument("--cell-px", type=int, default=32, help="cell size (px) for cell-level metrics")
    _add_inference_arguments(evaluate, PREPROCESSORS)
    evaluate.add_argument("--tolerance", type=int, default=2, help="tolerance (px) for tolerance-level metrics")
    evaluate.add_argument("--no-map", action="store_true", help="skip Ultralytics mAP (YOLO datasets)")
    evaluate.add_argument("--save", type=Path, default=None, help="write report.json + per_image.csv here")
    evaluate.add_argument("--json", action="store_true", help="print one JSON object")
    _add_view_arguments(evaluate)

    survey = commands.add_parser("survey", help="survey a drive (video + GPS, or geotagged photos) into rated sections")
    survey.add_argument("paths", nargs="+", type=Path, help="one video, or photos, folders or ZIPs of photos")
    track = survey.add_mutually_exclusive_group()
    track.add_argument("--gpx", type=Path, help="GPS track (GPX)")
    track.add_argument("--track", type=Path, help="GPS track (CSV: time, lat, lon[, speed])")
    survey.add_argument("--camera", type=Path, default=None, help="camera profile JSON (default: phone/dashcam)")
    spacing = survey.add_mutually_exclusive_group()
    spacing.add_argument("--every-m", type=float, default=None, help="sample a frame every M metres")
    spacing.add_argument("--every-s", type=float, default=None, help="sample a frame every S seconds")
    survey.add_argument("--section-m", type=float, default=10.0, help="section length in metres (default 10)")
    survey.add_argument("--speed-kmh", type=float, default=None, help="without GPS: place frames at this speed")
    survey.add_argument("--video-start", default=None, help="ISO 8601 time of the video's first frame")
    survey.add_argument("--offset-s", type=float, default=None, help="the first frame's time after the track's start")
    survey.add_argument(
        "--rating-thresholds",
        type=float,
        nargs=3,
        default=(5.0, 4.0, 3.0),
        metavar=("GOOD", "FAIR", "POOR"),
        help="lowest MCI1 of good, fair and poor (below POOR: very poor)",
    )
    survey.add_argument("--severity-mm", type=float, nargs=2, default=(10.0, 75.0), metavar=("LOW", "HIGH"))
    survey.add_argument("--no-frames", action="store_true", help="do not write each frame's overlay and top view")
    survey.add_argument("--out", type=Path, required=True, help="output folder")
    survey.add_argument("--resume", action="store_true", help="skip the frames already done in --out")
    survey.add_argument("--engine", choices=("local", "ray"), default="local", help="inspect here, or on Ray")
    survey.add_argument("--address", default=None, help="Ray cluster address (default: start a local Ray)")
    survey.add_argument("--workers", type=int, default=2, help="Ray actors, one model each (--engine ray)")
    _add_inference_arguments(survey, PREPROCESSORS)

    commands.add_parser("info", help="the model in use and its card")

    export = commands.add_parser("export", help="export the model for the ONNX Runtime / OpenVINO backends")
    export.add_argument("--format", choices=("onnx", "openvino", "all"), default="all")
    export.add_argument("--weights", type=Path, default=None, help="weights (default: the operator's model)")

    quantize = commands.add_parser(
        "quantize", help="make the INT8 OpenVINO model, kept only if its mask mAP50 stays within --max-drop of FP32"
    )
    quantize.add_argument("--data", type=Path, required=True, help="YOLO data.yaml (calibration and check splits)")
    quantize.add_argument("--weights", type=Path, default=None, help="weights (default: the operator's model)")
    quantize.add_argument("--calibration-split", default="train", help="split to calibrate on (default train)")
    quantize.add_argument("--calibration-images", type=int, default=300, help="images to calibrate on")
    quantize.add_argument("--split", default="val", help="split the accuracy is checked on (default val)")
    quantize.add_argument("--max-drop", type=float, default=0.01, help="largest mask mAP50 loss accepted")
    quantize.add_argument("--imgsz", type=int, default=416, help="model input size (px)")
    quantize.add_argument("--json", action="store_true", help="print the record as JSON")
    return parser


def _add_inference_arguments(parser: argparse.ArgumentParser, preprocessors: Any) -> None:
    parser.add_argument(
        "--conf",
        type=float,
        default=None,
        help="confidence threshold (default: the view's, from its model's card, chosen on val; 0.25 without one)",
    )
    parser.add_argument("--iou", type=float, default=0.7, help="NMS IoU threshold")
    parser.add_argument(
        "--imgsz",
        type=int,
        default=None,
        help="model input size (px; default: the view's, from the model card: 416, or the street model's own)",
    )
    parser.add_argument("--preprocess", choices=list(preprocessors), default="none")
    parser.add_argument("--tile", choices=("auto", "always", "never"), default="auto", help="tiled inference")
    parser.add_argument("--tile-size", type=int, default=640, help="tile size (px)")
    parser.add_argument(
        "--flip-tta",
        action="store_true",
        help="also predict each image mirrored left to right and keep what either pass finds (twice the work)",
    )
    parser.add_argument("--backend", choices=BACKEND_CHOICES, default="auto")


def _add_view_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--view",
        choices=("top-down", "street"),
        default="top-down",
        help="top-down: the photo is the road surface; street: frames from a vehicle, inspected on their top view",
    )
    _add_camera_arguments(parser)


def _add_camera_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("street-view camera (default: the phone/dashcam profile)")
    group.add_argument("--camera", type=Path, default=None, help="camera profile JSON (python -m crackseg camera)")
    group.add_argument("--camera-height", type=float, default=None, help="camera height above the road (m)")
    group.add_argument("--camera-pitch", type=float, default=None, help="downward pitch (degrees)")
    group.add_argument(
        "--horizon-row", type=float, default=None, help="the horizon's image row (px; or --camera-pitch)"
    )
    group.add_argument("--hfov", type=float, default=None, help="horizontal field of view (degrees)")
    group.add_argument("--focal-px", type=float, default=None, help="focal length (px; or --hfov)")
    group.add_argument(
        "--road-points", type=float, nargs=8, default=None, metavar="XY",
        help="four image points of a road rectangle: near-left, near-right, far-right, far-left (x y each)",
    )  # fmt: skip
    group.add_argument("--road-rect", type=float, nargs=2, default=None, metavar=("W_M", "L_M"), help="its size (m)")
    group.add_argument(
        "--image-size", type=int, nargs=2, default=None, metavar=("W", "H"), help="frame size of the profile"
    )
    group.add_argument("--lateral-m", type=float, nargs=2, default=None, metavar=("MIN", "MAX"), help="region sideways")
    group.add_argument("--forward-m", type=float, nargs=2, default=None, metavar=("MIN", "MAX"), help="region ahead")
    group.add_argument("--ground-mm-per-px", type=float, default=None, help="top view resolution (mm per pixel)")


def _camera_profile(args: argparse.Namespace) -> Any:
    """The profile the arguments describe: a file, parameters, four points, or the default; overrides on top."""
    from dataclasses import replace

    from crackseg.geometry.camera import DEFAULT_PROFILE, CameraProfile, GroundRegion, load_profile

    base = load_profile(args.camera) if args.camera is not None else DEFAULT_PROFILE
    image_wh = tuple(args.image_size) if args.image_size else base.image_wh
    if args.road_points is not None or args.road_rect is not None:
        if args.road_points is None or args.road_rect is None:
            raise CrackSegError("--road-points and --road-rect go together")
        points = tuple(zip(args.road_points[0::2], args.road_points[1::2], strict=True))
        base = CameraProfile(
            name="road-points", image_wh=image_wh, points_px=points, rectangle_m=tuple(args.road_rect),
            mm_per_px=base.mm_per_px,
        )  # fmt: skip
    elif any(
        v is not None for v in (args.camera_height, args.camera_pitch, args.horizon_row, args.hfov, args.focal_px)
    ):
        if base.mode != "camera":
            raise CrackSegError("camera parameters cannot be mixed with a four-point profile")
        pitch, horizon = base.pitch_deg, base.horizon_row
        if args.camera_pitch is not None:
            pitch, horizon = args.camera_pitch, None
        if args.horizon_row is not None:
            pitch, horizon = None, args.horizon_row
        hfov, focal = base.hfov_deg, base.focal_px
        if args.hfov is not None:
            hfov, focal = args.hfov, None
        if args.focal_px is not None:
            hfov, focal = None, args.focal_px
        height = args.camera_height if args.camera_height is not None else base.height_m
        base = replace(
            base, name="command-line", image_wh=image_wh, height_m=height, pitch_deg=pitch, horizon_row=horizon,
            hfov_deg=hfov, focal_px=focal,
        )  # fmt: skip
    elif args.image_size:
        base = replace(base, image_wh=image_wh)
    if args.lateral_m is not None or args.forward_m is not None:
        region = base.ground_region
        base = replace(
            base,
            region=GroundRegion(
                tuple(args.lateral_m) if args.lateral_m else region.lateral_m,
                tuple(args.forward_m) if args.forward_m else region.forward_m,
            ),
        )
    if args.ground_mm_per_px is not None:
        base = replace(base, mm_per_px=args.ground_mm_per_px)
    return base


def command_camera(args: argparse.Namespace) -> int:
    from crackseg.geometry.camera import save_profile
    from crackseg.geometry.ground import GroundView

    profile = _camera_profile(args)
    frame_wh = tuple(args.frame_size) if args.frame_size else profile.image_wh
    view = GroundView.for_frame(profile, frame_wh)
    table = view.resolution_table()
    if args.save is not None:
        save_profile(profile, args.save)
    if args.json:
        print(json.dumps({"profile": profile.to_dict(), "ground_view": view.to_dict(), "resolution": table}, indent=2))
        return 0
    region = view.region
    print(f"profile {profile.name} ({profile.mode} mode), frame {frame_wh[0]}x{frame_wh[1]}")
    if view.note:
        print(view.note)
    print(
        f"region: {region.lateral_m[0]:g} to {region.lateral_m[1]:g} m sideways, {region.forward_m[0]:g} to "
        f"{region.forward_m[1]:g} m ahead; top view {view.top_wh[0]}x{view.top_wh[1]} px at {view.mm_per_px:g} mm/px; "
        f"horizon at row {view.horizon_row():.0f}"
    )
    print("forward_m  frame_row_px  across_mm_per_px  along_mm_per_px")
    for row in table:
        print(
            f"{row['forward_m']:9g}  {row['frame_row_px']:12.1f}  {row['across_mm_per_px']:16.1f}  "
            f"{row['along_mm_per_px']:15.1f}"
        )
    if args.save is not None:
        print(f"saved {args.save}")
    return 0


def _inference_settings(args: argparse.Namespace) -> Any:
    from crackseg.inference.model_loading import view_conf, view_imgsz
    from crackseg.inference.preprocessing import PreprocessSpec
    from crackseg.inference.segmenter import InferenceSettings

    view = "street" if args.command == "survey" else getattr(args, "view", "top-down")
    conf = args.conf if args.conf is not None else view_conf(view)
    return InferenceSettings(
        conf=conf,
        iou=args.iou,
        imgsz=args.imgsz if args.imgsz is not None else view_imgsz(view),
        preprocess=PreprocessSpec(args.preprocess),
        tile=args.tile,
        tile_size=args.tile_size,
        flip_tta=args.flip_tta,
    )


@contextlib.contextmanager
def _library_output_to_stderr() -> Iterator[None]:
    """Inside this block, what libraries print goes to stderr; stdout carries only the command's results.

    Ultralytics logs to stdout (``Loading ... for OpenVINO inference...``, its
    first-run settings banner), which would break ``evaluate --json > out.json``.
    Its log handlers are pointed at stderr for the block and restored after it.
    """
    from crackseg.core.offline import offline_environment

    with contextlib.redirect_stdout(sys.stderr):
        offline_environment()
        # Ultralytics' log handlers take ``sys.stdout`` when it is imported: imported inside this block (or not
        # at all, on the native OpenVINO path) they write to stderr; imported earlier they are pointed there.
        ultralytics_utils = sys.modules.get("ultralytics.utils")
        logger = getattr(ultralytics_utils, "LOGGER", None)
        handlers = [h for h in getattr(logger, "handlers", []) if isinstance(h, logging.StreamHandler)]
        streams = [h.stream for h in handlers]
        # assigned, not ``setStream``: that flushes the old stream, which may be closed (an embedding host's)
        for handler in handlers:
            handler.stream = sys.stderr
        try:
            yield
        finally:
            for handler, stream in zip(handlers, streams, strict=True):
                handler.stream = stream


@contextlib.contextmanager
def _progress_bar(unit: str) -> Iterator[Callable[[int, int, str], None]]:
    """A ``progress(done, total, name)`` callback drawing a tqdm bar (total, rate, ETA) on a terminal only."""
    from tqdm import tqdm

    bar = tqdm(unit=unit, file=sys.stderr, disable=not sys.stderr.isatty())

    def progress(done: int, total: int, name: str) -> None:
        bar.total = total
        bar.update(done - bar.n)

    try:
        yield progress
    finally:
        bar.close()


def command_predict(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from crackseg.inference.model_loading import default_model_path
    from crackseg.inference.segmenter import Segmenter
    from crackseg.io.inputs import count_inputs, expand_paths

    settings = _inference_settings(args)
    camera = _camera_profile(args) if args.view == "street" else None  # a bad profile fails before the model loads
    total = count_inputs(args.paths)
    reports = "never" if args.no_reports else args.reports
    with_reports = reports == "always" or (reports == "auto" and total is not None and total <= REPORTS_AUTO_LIMIT)
    if reports == "auto" and not with_reports:
        print(f"no per-image HTML reports for more than {REPORTS_AUTO_LIMIT} inputs (--reports always for them)")
    if args.engine == "ray" and args.address:
        from crackseg.pipeline.ray_engine import check_reachable

        check_reachable(args.address)  # one line at once, before the model is loaded
    with _library_output_to_stderr(), ThreadPoolExecutor(1, thread_name_prefix="crackseg-open") as opener:
        # The model compiles (OpenVINO releases the GIL) while the measurement and batch modules import.
        opening = opener.submit(Segmenter, default_model_path(args.view), backend=args.backend)
        from crackseg.measurement.measure import MeasurementSettings
        from crackseg.pipeline.batch import BatchOptions, BatchWriter
        from crackseg.pipeline.inspection import inspect_payloads, settings_record

        measurement_settings = MeasurementSettings(
            mm_per_px=args.mm_per_px, severity_thresholds_mm=tuple(args.severity_mm)
        )
        segmenter = opening.result()
        record = settings_record(segmenter, settings, measurement_settings, camera)
        record["outputs"] = {"reports": with_reports, "overlay": "jpeg", "per_image_files": not args.tables_only}
        options = BatchOptions(with_reports, args.format, per_image_files=not args.tables_only)
        writer = BatchWriter(args.out, record, options, resume=args.resume)
        # total, rate and ETA on a terminal; nothing when stderr is a pipe or a log file
        progress = tqdm(total=total, unit="image", file=sys.stderr, disable=not sys.stderr.isatty())

        def on_result(error: str | None) -> None:
            progress.update(1)
            if error is not None:
                progress.write(error, file=sys.stderr)

        try:
            if args.engine == "ray":
                from crackseg.pipeline.ray_engine import run_on_ray

                run_on_ray(
                    list(args.paths),
                    writer,
                    weights=segmenter.weights,
                    backend=segmenter.backend,
                    settings=settings,
                    measurement_settings=measurement_settings,
                    address=args.address,
                    workers=args.workers,
                    on_result=on_result,
                    camera=camera,
                )
            else:
                digests: deque[str] = deque()  # inspect_payloads yields in input order

                def pending() -> Iterator[Any]:
                    for payload, digest in writer.pending_inputs(expand_paths(args.paths)):
                        digests.append(digest)
                        yield payload

                for result in inspect_payloads(segmenter, pending(), settings, measurement_settings, camera=camera):
                    writer.add(result, digests.popleft())
                    on_result(None if hasattr(result, "measurement") else result.error)
        finally:
            progress.close()
            totals = writer.close()
    skipped = f", {totals.skipped} already done" if totals.skipped else ""
    counts = f"{totals.inspected} image(s) inspected, {totals.cracks} crack(s), {totals.failed} failed"
    print(f"{counts}{skipped} -> {args.out}")
    return 1 if totals.failed else 0


def command_measure(args: argparse.Namespace) -> int:
    from crackseg.datasets.labelled import read_binary_mask
    from crackseg.export.tables import cracks_table
    from crackseg.measurement.measure import MeasurementSettings, measure_binary_mask

    mask = read_binary_mask(args.mask)
    settings = MeasurementSettings(mm_per_px=args.mm_per_px, severity_thresholds_mm=tuple(args.severity_mm))
    measurement = measure_binary_mask(mask, settings)
    if args.json:
        print(json.dumps(measurement.to_dict(), indent=2))
    else:
        table = cracks_table(measurement).drop(columns=["image", "source_path"])
        if args.mm_per_px is None:
            table = table.drop(columns=[column for column in table.columns if column.endswith(("_mm", "_mm2"))])
        print(table.to_string(index=False) if len(table) else "no cracks in this mask")
        print(json.dumps(measurement.summary(), indent=2))
    return 0


def command_evaluate(args: argparse.Namespace) -> int:
    from crackseg.datasets.labelled import mask_folder_items, with_regions
    from crackseg.datasets.survey_vehicle import survey_items
    from crackseg.evaluation.run import evaluate, evaluate_yolo_split
    from crackseg.inference.model_loading import default_model_path
    from crackseg.inference.segmenter import Segmenter

    settings = _inference_settings(args)
    if args.boxes is not None or args.box_data is not None:
        return _evaluate_boxes(args, settings)
    if args.data is not None and args.masks is not None:
        raise CrackSegError("--masks goes with --images; a data.yaml has its own labels")
    if args.images is not None and args.masks is None:
        raise CrackSegError("--images needs --masks (a folder of binary masks)")
    if args.regions is not None and args.images is None:
        raise CrackSegError("--regions goes with --images and --masks")
    camera = _camera_profile(args) if args.view == "street" else None
    if camera is not None and args.data is not None:
        raise CrackSegError(
            "--view street evaluates frames (--survey-frames, --images/--masks, --box-data), not a data.yaml"
        )
    with _library_output_to_stderr(), _progress_bar("image") as progress:
        segmenter = Segmenter(default_model_path(args.view), backend=args.backend)
        if camera is not None:
            from crackseg.pipeline.street import StreetSegmenter

            segmenter = StreetSegmenter(segmenter, camera)
        if args.data is not None:
            report = evaluate_yolo_split(
                segmenter,
                args.data,
                args.split,
                settings,
                tolerance_px=args.tolerance,
                cell_px=args.cell_px,
                with_map=not args.no_map,
                progress=progress,
            )
        else:
            if args.survey_frames is not None:
                items, source = survey_items(args.survey_frames, args.split), f"{args.survey_frames}:{args.split}"
            else:
                items, source = mask_folder_items(args.images, args.masks), str(args.images)
                if args.regions is not None:
                    items = with_regions(items, args.regions)
            report = evaluate(
                segmenter,
                items,
                settings,
                tolerance_px=args.tolerance,
                cell_px=args.cell_px,
                source=source,
                progress=progress,
            )
    if args.save is not None:
        report.save(args.save)
    summary = report.summary()
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        _print_summary(summary)
    return 0


def _evaluate_boxes(args: argparse.Namespace, settings: Any) -> int:
    """``evaluate --box-data DIR`` or ``--images DIR --boxes DIR``: box recall, in-box share, type agreement."""
    from crackseg.datasets.box_labels import box_dataset_folders, box_label_items
    from crackseg.evaluation.boxes import evaluate_boxes, top_down_predict
    from crackseg.inference.model_loading import default_model_path
    from crackseg.inference.segmenter import Segmenter

    pair, alone = args.images is not None and args.boxes is not None, args.box_data is not None and args.boxes is None
    if args.masks is not None or args.regions is not None or not (pair or alone):
        raise CrackSegError("box labels: --box-data DIR, or --images DIR with --boxes DIR (no --masks or --regions)")
    images, labels = box_dataset_folders(args.box_data) if args.box_data else (args.images, args.boxes)
    items = box_label_items(images, labels, args.box_format)
    with _library_output_to_stderr(), _progress_bar("image") as progress:
        segmenter = Segmenter(default_model_path(args.view), backend=args.backend)
        camera = _camera_profile(args) if args.view == "street" else None
        record = {"view": args.view, "model": segmenter.info(), "inference": settings.to_dict()}
        record |= {"labels": str(labels), "box_format": items[0].box_format}
        if camera is None:
            predict = top_down_predict(segmenter, settings)
        else:
            from crackseg.pipeline.street import street_predict

            record["camera_profile"] = camera.to_dict()
            predict = street_predict(segmenter, camera, settings)
        report = evaluate_boxes(
            items,
            predict,
            min_coverage=args.min_coverage,
            source=str(images),
            settings=record,
            progress=progress,
        )
    if args.save is not None:
        report.save(args.save)
    if args.json:
        print(json.dumps(report.summary(), indent=2))
        return 0
    result = report.result
    print(
        f"{report.source}: {result.images} images, conf {settings.conf}, box found at coverage >= {args.min_coverage}"
    )
    print(result.per_class.to_string(index=False, float_format=lambda value: f"{value:.3f}"))
    print(
        f"crack boxes found {result.crack_found}/{result.crack_boxes}  in-box share {result.in_box_share:.3f}  "
        f"type agreement {result.type_matches}/{result.type_compared}"
    )
    for failure in report.failures:
        print(f"skipped: {failure}", file=sys.stderr)
    return 0


def _print_summary(summary: dict[str, Any]) -> None:
    pixel, tol, inst = summary["pixel"], summary["tolerance"], summary["instance"]
    print(f"{summary['source']}: {summary['images']} images, conf {summary['conf']}")
    print(
        f"pixel      P {pixel['precision']:.3f}  R {pixel['recall']:.3f}  F1 {pixel['f1']:.3f}  IoU {pixel['iou']:.3f}"
    )
    print(f"tolerance  ({tol['px']} px) P {tol['precision']:.3f}  R {tol['recall']:.3f}  F1 {tol['f1']:.3f}")
    print(
        f"instance   TP {inst['tp']}  FP {inst['fp']}  FN {inst['fn']}  "
        f"P {inst['precision']:.3f}  R {inst['recall']:.3f}"
    )
    print(f"ODS {summary['ods']:.3f} (conf {summary['ods_threshold']:.2f})  OIS {summary['ois']:.3f}")
    for key, label in (("cells", "cells"), ("region_cells", "in region")):
        if key in summary:
            cells = summary[key]
            print(
                f"{label:<10} ({cells['cell_px']} px) P {cells['precision']:.3f}  R {cells['recall']:.3f}  "
                f"F1 {cells['f1']:.3f}"
            )
    if "cell_best_conf" in summary:
        print(f"best cell F1 {summary['cell_best_f1']:.3f} at conf {summary['cell_best_conf']:.2f}")
    for name, interval in summary.get("intervals", {}).items():
        print(
            f"{name:<14} {interval['value']:.3f}, {interval['confidence']:.0%} interval over the images "
            f"{interval['low']:.3f} .. {interval['high']:.3f}"
        )
    for key in ("box_map50", "box_map50_95", "mask_map50", "mask_map50_95"):
        if key in summary:
            print(f"{key:<14} {summary[key]:.4f}")
    for failure in summary.get("failures", []):
        print(f"skipped: {failure}", file=sys.stderr)


def command_info(args: argparse.Namespace) -> int:
    from crackseg.inference.model_loading import default_model_path, file_sha256, verify_weights
    from crackseg.training.model_card import load_card

    weights = default_model_path()
    verify_weights(weights)
    print(f"model: {weights}")
    print(f"sha256: {file_sha256(weights)}")
    card = load_card()
    print(json.dumps(card, indent=2) if card else "no model card (model/card.json)")
    return 0


def command_export(args: argparse.Namespace) -> int:
    from crackseg.inference.backends import ensure_export
    from crackseg.inference.model_loading import default_model_path, verify_weights

    weights = args.weights or default_model_path()
    verify_weights(weights)
    formats = ("onnx", "openvino") if args.format == "all" else (args.format,)
    for fmt in formats:
        with _library_output_to_stderr():  # exporters log a lot; stdout gets one line per export
            exported = ensure_export(weights, fmt)
        print(f"{fmt}: {exported}")
    return 0


def command_quantize(args: argparse.Namespace) -> int:
    """Exit 0 when the INT8 model passed and was installed, 1 when it failed the accuracy check."""
    from crackseg.core.locations import MODEL_CARD, SHIPPED_MODEL
    from crackseg.inference.int8_lookup import int8_model_dir
    from crackseg.inference.model_loading import default_model_path
    from crackseg.training.int8_build import refresh_int8_model

    weights = Path(args.weights or default_model_path())
    # the shipped model's card records its INT8 model and scores (checked on val, like the rest of the card)
    default_splits = (args.calibration_split, args.split) == ("train", "val")
    records_card = default_splits and weights.resolve() == SHIPPED_MODEL.resolve()

    def say(message: str) -> None:
        print(message, file=sys.stderr)

    with _library_output_to_stderr():
        record = refresh_int8_model(
            weights,
            args.data,
            imgsz=args.imgsz,
            calibration_split=args.calibration_split,
            calibration_count=args.calibration_images,
            evaluation_split=args.split,
            max_drop=args.max_drop,
            card_path=MODEL_CARD if records_card else None,
            progress=say,
        )
    if args.json:
        print(json.dumps(record.to_dict(), indent=2))
    else:
        print(record.gate_summary())
        verdict = f"installed -> {int8_model_dir(weights)}" if record.passed else "NOT installed (failed the check)"
        print(f"INT8 model {verdict}")
    return 0 if record.passed else 1


def command_survey(args: argparse.Namespace) -> int:
    from crackseg.geometry.camera import DEFAULT_PROFILE, load_profile
    from crackseg.inference.model_loading import default_model_path
    from crackseg.inference.segmenter import Segmenter
    from crackseg.measurement.measure import MeasurementSettings
    from crackseg.survey.rating import RatingScheme
    from crackseg.survey.run import SurveySettings, run_survey

    profile = load_profile(args.camera) if args.camera else DEFAULT_PROFILE
    settings = SurveySettings(
        every_m=args.every_m,
        every_s=args.every_s,
        section_m=args.section_m,
        speed_kmh=args.speed_kmh,
        video_start=args.video_start,
        offset_s=args.offset_s,
        rating=RatingScheme(tuple(args.rating_thresholds)),
        save_frames=not args.no_frames,
    )
    measurement = MeasurementSettings(severity_thresholds_mm=tuple(args.severity_mm))
    weights = default_model_path("street")
    with contextlib.ExitStack() as stack:
        stack.enter_context(_library_output_to_stderr())
        progress = stack.enter_context(_progress_bar("frame"))
        segmenter, engine = None, None
        if args.engine == "ray":  # frames are decoded here, inspected on Ray actors (one model each)
            from functools import partial

            from crackseg.survey.ray_inspect import RaySurveyEngine

            make_segmenter = partial(Segmenter, weights, backend=args.backend)
            engine = stack.enter_context(RaySurveyEngine(make_segmenter, address=args.address, workers=args.workers))
        else:
            segmenter = Segmenter(weights, backend=args.backend)
        result = run_survey(
            args.paths,
            segmenter,
            args.out,
            track_path=args.gpx or args.track,
            profile=profile,
            settings=settings,
            inference=_inference_settings(args),
            measurement=measurement,
            resume=args.resume,
            progress=progress,
            engine=engine,
        )
    for note in result.warnings:
        print(f"warning: {note}", file=sys.stderr)
    print(f"{result.summary_line()} -> {args.out}")
    return 0


COMMANDS = {
    "predict": command_predict,
    "camera": command_camera,
    "measure": command_measure,
    "evaluate": command_evaluate,
    "info": command_info,
    "export": command_export,
    "quantize": command_quantize,
    "survey": command_survey,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Parse, run one command, turn expected errors into one line on stderr."""
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except CrackSegError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except ValueError as error:  # bad option values (InferenceSettings / MeasurementSettings validation)
        print(f"error: {error}", file=sys.stderr)
        return 2
    except OSError as error:  # e.g. an output folder that cannot be written
        where = f"{error.filename}: " if error.filename else ""
        print(f"error: {where}{error.strerror or error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
