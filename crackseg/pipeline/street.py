"""Street view: inspect a frame taken from a vehicle on a metric bird's-eye view of its road region.

The frame's road region (the camera profile's lateral and forward range) is
warped to a top view at the profile's ground resolution; the crack model runs
there (tiled as the top view's size asks) and the cracks are measured there, so
lengths, widths and areas come out in millimetres and severity is known. The
instance masks are warped back onto the frame (cut to the region, so nothing at
or above the horizon or off the road can be marked) for the overlay and the mask
file, which stay in the frame's pixels as for every view. Each crack's centroid
is also located on the road, in metres (lateral, forward), for surveys.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np

from crackseg.geometry.camera import CameraProfile
from crackseg.geometry.ground import GroundView
from crackseg.inference.prediction import CrackPrediction, masks_to_xyxy
from crackseg.inference.segmenter import InferenceSettings, Segmenter
from crackseg.measurement.measure import ImageMeasurement, MeasurementSettings, measure_prediction
from crackseg.pipeline.results import Inspection, StreetResult

VIEWS = ("top-down", "street")


def inspect_street_frame(
    segmenter: Segmenter,
    rgb: np.ndarray,
    name: str,
    view: GroundView,
    settings: InferenceSettings | None = None,
    measurement_settings: MeasurementSettings | None = None,
    *,
    source_path: str = "",
) -> Inspection:
    """Predict and measure one street frame through its bird's-eye view.

    ``view`` must be made for this frame's size (``GroundView.for_frame``). The returned
    ``Inspection`` holds the frame-space prediction (for the overlay and mask), the top-view
    measurement in mm (crack ``k`` is instance ``k - 1`` of ``street.top_prediction``) and the
    ``StreetResult`` with the top view and the cracks' road positions.
    """
    height, width = rgb.shape[:2]
    if (width, height) != view.frame_wh:
        raise ValueError(f"view is for {view.frame_wh[0]}x{view.frame_wh[1]} frames, got {width}x{height}")
    top_rgb = view.to_top(rgb)
    top_prediction, frame_prediction = predict_street(segmenter, rgb, view, settings or InferenceSettings(), top_rgb)
    calibrated = replace(measurement_settings or MeasurementSettings(), mm_per_px=view.mm_per_px)
    measurement = measure_prediction(top_prediction, calibrated)
    street = StreetResult(
        view=view,
        top_rgb=top_rgb,
        top_prediction=top_prediction,
        positions_m=crack_positions_m(top_prediction, view),
    )
    return Inspection(name, rgb, frame_prediction, measurement, source_path, street)


class StreetViews:
    """One ``GroundView`` per frame size for a camera profile (frames of another size rescale the profile)."""

    def __init__(self, profile: CameraProfile) -> None:
        self.profile = profile
        self._views: dict[tuple[int, int], GroundView] = {}

    def for_frame(self, rgb: np.ndarray) -> GroundView:
        """The view for this frame's size, made once per size."""
        size = (int(rgb.shape[1]), int(rgb.shape[0]))
        if size not in self._views:
            if len(self._views) >= 16:  # many sizes in one batch: keep memory bounded
                self._views.clear()
            self._views[size] = GroundView.for_frame(self.profile, size)
        return self._views[size]


def predict_street(
    segmenter: Segmenter,
    rgb: np.ndarray,
    view: GroundView,
    settings: InferenceSettings,
    top_rgb: np.ndarray | None = None,
) -> tuple[CrackPrediction, CrackPrediction]:
    """``(top-view prediction, frame prediction)`` of one frame, instance ``i`` the same crack in both.

    The model runs where the profile says (``inspect_on``): on the top view, whose instances are warped
    back onto the frame; or on the frame cropped to the region's bounds, whose instances are cut to the
    region and warped onto the top view. Instances left empty in either space are dropped from both.
    """
    if view.profile.inspect_on == "frame":
        frame_masks, confidence = _predict_on_frame(segmenter, rgb, view, settings)
        top_masks = view.masks_to_top(frame_masks) & view.top_visible_mask()[None]
    else:
        raw = segmenter.predict(view.to_top(rgb) if top_rgb is None else top_rgb, settings)
        top_masks, confidence = raw.masks & view.top_visible_mask()[None], raw.confidence
        frame_masks = _labels_to_masks(view.labels_to_frame(_labels_of(top_masks)), len(top_masks))
    if len(top_masks):
        keep = top_masks.reshape(len(top_masks), -1).any(axis=1) & frame_masks.reshape(len(frame_masks), -1).any(axis=1)
        top_masks, frame_masks, confidence = top_masks[keep], frame_masks[keep], confidence[keep]
    top = CrackPrediction(top_masks, masks_to_xyxy(top_masks), np.asarray(confidence, np.float32).copy())
    frame = CrackPrediction(frame_masks, masks_to_xyxy(frame_masks), np.asarray(confidence, np.float32).copy())
    return top, frame


def _predict_on_frame(
    segmenter: Segmenter, rgb: np.ndarray, view: GroundView, settings: InferenceSettings
) -> tuple[np.ndarray, np.ndarray]:
    """Instance masks (frame size, cut to the region) and confidences of the model run on the region's bounds."""
    region = view.region_mask()
    rows, columns = np.flatnonzero(region.any(axis=1)), np.flatnonzero(region.any(axis=0))
    top, bottom, left, right = rows[0], rows[-1] + 1, columns[0], columns[-1] + 1
    raw = segmenter.predict(np.ascontiguousarray(rgb[top:bottom, left:right]), settings)
    masks = np.zeros((len(raw), *region.shape), dtype=bool)
    masks[:, top:bottom, left:right] = raw.masks
    return masks & region[None], raw.confidence


def _labels_of(masks: np.ndarray) -> np.ndarray:
    """A uint16 label image of instance masks (``k`` for instance ``k - 1``; later instances win overlaps)."""
    labels = np.zeros(masks.shape[1:], dtype=np.uint16)
    for index, mask in enumerate(masks, start=1):
        labels[mask] = index
    return labels


def _labels_to_masks(labels: np.ndarray, count: int) -> np.ndarray:
    """``(count, H, W)`` bool masks of a label image."""
    if count == 0:
        return np.zeros((0, *labels.shape), dtype=bool)
    return labels[None] == np.arange(1, count + 1, dtype=np.uint16)[:, None, None]


def crack_positions_m(top_prediction: CrackPrediction, view: GroundView) -> np.ndarray:
    """``(N, 2)`` road position (lateral_m, forward_m) of each instance's centroid on the top view."""
    if len(top_prediction) == 0:
        return np.zeros((0, 2), dtype=np.float64)
    centroids = []
    for mask in top_prediction.masks:
        ys, xs = np.nonzero(mask)
        centroids.append((xs.mean() + 0.5, ys.mean() + 0.5) if len(xs) else (np.nan, np.nan))
    return view.top_to_ground(np.array(centroids, dtype=np.float64))


class StreetSegmenter:
    """A segmenter seen through a camera profile, for evaluations that call ``predict(rgb, settings)``.

    ``predict`` runs the model on the frame's top view and returns the instances warped back onto the
    frame and cut to the region, exactly as ``inspect_street_frame`` marks them; ``info`` records the
    view and the profile beside the model.
    """

    def __init__(self, segmenter: Segmenter, profile: CameraProfile) -> None:
        self.segmenter = segmenter
        self.profile = profile
        self.views = StreetViews(profile)

    def predict(self, rgb: np.ndarray, settings: InferenceSettings | None = None) -> CrackPrediction:
        """Frame-space crack instances of a street frame."""
        view = self.views.for_frame(rgb)
        return predict_street(self.segmenter, rgb, view, settings or InferenceSettings())[1]

    def info(self) -> dict[str, object]:
        """The model's record with the view and camera profile."""
        return {**self.segmenter.info(), "view": "street", "camera_profile": self.profile.to_dict()}


def street_predict(
    segmenter: Segmenter,
    profile: CameraProfile,
    settings: InferenceSettings | None = None,
    measurement_settings: MeasurementSettings | None = None,
) -> Callable[[np.ndarray], tuple[CrackPrediction, ImageMeasurement]]:
    """``rgb -> (frame prediction, mm measurement)`` through the street view (for box evaluations)."""
    views = StreetViews(profile)

    def predict(rgb: np.ndarray) -> tuple[CrackPrediction, ImageMeasurement]:
        inspection = inspect_street_frame(segmenter, rgb, "", views.for_frame(rgb), settings, measurement_settings)
        return inspection.prediction, inspection.measurement

    return predict
