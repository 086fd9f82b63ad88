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
    raw = segmenter.predict(top_rgb, settings or InferenceSettings())
    top_prediction = _inside(raw, view.top_visible_mask())
    calibrated = replace(measurement_settings or MeasurementSettings(), mm_per_px=view.mm_per_px)
    measurement = measure_prediction(top_prediction, calibrated)
    frame_prediction = _to_frame(top_prediction, view)
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


def crack_positions_m(top_prediction: CrackPrediction, view: GroundView) -> np.ndarray:
    """``(N, 2)`` road position (lateral_m, forward_m) of each instance's centroid on the top view."""
    if len(top_prediction) == 0:
        return np.zeros((0, 2), dtype=np.float64)
    centroids = []
    for mask in top_prediction.masks:
        ys, xs = np.nonzero(mask)
        centroids.append((xs.mean() + 0.5, ys.mean() + 0.5) if len(xs) else (np.nan, np.nan))
    return view.top_to_ground(np.array(centroids, dtype=np.float64))


def _inside(prediction: CrackPrediction, visible: np.ndarray) -> CrackPrediction:
    """The prediction cut to the top view's visible part; instances left empty are dropped."""
    if len(prediction) == 0:
        return prediction
    masks = prediction.masks & visible[None]
    keep = masks.reshape(len(masks), -1).any(axis=1)
    return CrackPrediction.from_masks(masks[keep], prediction.confidence[keep])


def _to_frame(top_prediction: CrackPrediction, view: GroundView) -> CrackPrediction:
    """Warp every instance back onto the frame in one pass (a label image; later instances win overlaps)."""
    width, height = view.frame_wh
    if len(top_prediction) == 0:
        return CrackPrediction.empty((width, height))
    labels = np.zeros(top_prediction.masks.shape[1:], dtype=np.uint16)
    for index, mask in enumerate(top_prediction.masks, start=1):
        labels[mask] = index
    frame_labels = view.labels_to_frame(labels)
    ids = np.arange(1, len(top_prediction) + 1, dtype=np.uint16)
    masks = frame_labels[None] == ids[:, None, None]
    return CrackPrediction(masks=masks, xyxy=masks_to_xyxy(masks), confidence=top_prediction.confidence.copy())


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
        raw = self.segmenter.predict(view.to_top(rgb), settings or InferenceSettings())
        return _to_frame(_inside(raw, view.top_visible_mask()), view)

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
