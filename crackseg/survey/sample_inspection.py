"""One sample's inspection, and the local engine that runs it: a decoded frame in, its crack pieces and images out.

The survey's driver decodes and samples the frames (which frames depends on the
track), then hands ``(sample, rgb, error)`` in sample order to an engine, and gets
``(sample, outcome, error)`` back in the same order. What an outcome holds is all
the driver writes for that sample: the pieces (to ``pieces.jsonl``) and the
overlay and top view as JPEG bytes. The local engine inspects here, one frame at a
time; the Ray engine (``ray_inspect``) runs the same ``SampleInspector`` on actors,
so both write the same bytes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from crackseg.export.encoding import overlay_jpeg_bytes
from crackseg.export.overlays import draw_overlay
from crackseg.geometry.camera import CameraProfile
from crackseg.inference.segmenter import InferenceSettings
from crackseg.measurement.measure import MeasurementSettings
from crackseg.pipeline.street import StreetViews, inspect_street_frame
from crackseg.survey.errors import SurveyError
from crackseg.survey.findings import CrackPiece, frame_pieces
from crackseg.survey.sampling import Sample


@dataclass(frozen=True)
class InspectionJob:
    """What every sample of one survey is inspected with (sent once to each Ray actor)."""

    profile: CameraProfile
    inference: InferenceSettings
    measurement: MeasurementSettings
    save_frames: bool = True


@dataclass(frozen=True)
class SampleOutcome:
    """One inspected sample: its crack pieces, and ``{"overlays": jpeg, "top": jpeg}`` when frames are saved."""

    pieces: tuple[CrackPiece, ...]
    images: dict[str, bytes]


FrameItem = tuple[Sample, np.ndarray | None, str | None]  # a decoded RGB frame, or None and why not
InspectedItem = tuple[Sample, SampleOutcome | None, str | None]  # None where the frame was not decoded


class SampleInspector:
    """One model and one camera profile's views; inspects one frame at a time (held by each Ray actor too)."""

    def __init__(self, segmenter: Any, job: InspectionJob) -> None:
        self.segmenter, self.job = segmenter, job
        self.views = StreetViews(job.profile)

    def __call__(self, sample: Sample, rgb: np.ndarray) -> SampleOutcome:
        """Street inspection of ``rgb`` ``uint8 (H, W, 3)``, cut to the sample's slice of road."""
        view = self.views.for_frame(rgb)
        job = self.job
        inspection = inspect_street_frame(self.segmenter, rgb, sample.name, view, job.inference, job.measurement)
        street = inspection.street
        if street is None:
            raise SurveyError(f"{sample.name}: the street inspection returned no top view")
        pieces = tuple(frame_pieces(street.top_prediction, view, sample, job.measurement))
        images: dict[str, bytes] = {}
        if job.save_frames:
            overlay = draw_overlay(inspection.rgb, inspection.prediction, show_boxes=False)
            top = draw_overlay(street.top_rgb, street.top_prediction, show_boxes=False)
            images = {"overlays": overlay_jpeg_bytes(overlay), "top": overlay_jpeg_bytes(top)}
        return SampleOutcome(pieces, images)


def model_info(segmenter: Any) -> dict[str, Any]:
    """The model's identity for ``state.json`` (a resumed run must use the same one)."""
    return segmenter.info() if hasattr(segmenter, "info") else {"model": type(segmenter).__name__}


class SurveyEngine(Protocol):
    """Where samples are inspected: ``inspect`` yields each frame's outcome in the order the frames came."""

    def model_info(self) -> dict[str, Any]: ...

    def inspect(self, frames: Iterable[FrameItem], job: InspectionJob) -> Iterator[InspectedItem]: ...


class LocalEngine:
    """Inspect here, with the caller's model, one frame at a time."""

    def __init__(self, segmenter: Any) -> None:
        self.segmenter = segmenter

    def model_info(self) -> dict[str, Any]:
        return model_info(self.segmenter)

    def inspect(self, frames: Iterable[FrameItem], job: InspectionJob) -> Iterator[InspectedItem]:
        inspector = SampleInspector(self.segmenter, job)
        for sample, rgb, error in frames:
            yield sample, (inspector(sample, rgb) if rgb is not None else None), error
