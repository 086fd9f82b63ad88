"""What an inspection yields: one inspected image (``Inspection``, with ``StreetResult`` for street frames)
or one input that could not be inspected (``InspectionFailure``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from crackseg.export.tables import cracks_table, image_record
from crackseg.geometry.ground import GroundView
from crackseg.inference.prediction import CrackPrediction
from crackseg.measurement.measure import ImageMeasurement


@dataclass(frozen=True)
class StreetResult:
    """What a street-view inspection adds: the ground view, the bird's-eye image and prediction, road positions.

    ``positions_m[k - 1]`` is crack ``k``'s centroid on the road, ``(lateral_m, forward_m)`` from the camera.
    """

    view: GroundView
    top_rgb: np.ndarray
    top_prediction: CrackPrediction
    positions_m: np.ndarray


@dataclass(frozen=True)
class Inspection:
    """One inspected image: its pixels, what the model found, and the measurements.

    For the street view, ``prediction`` is in the frame's pixels and ``measurement`` in mm from the top view;
    ``street`` holds the rest (``None`` for the top-down view).
    """

    name: str
    rgb: np.ndarray
    prediction: CrackPrediction
    measurement: ImageMeasurement
    source_path: str = ""
    street: StreetResult | None = None

    @property
    def view(self) -> str:
        """``street`` for a frame inspected through its top view, else ``top-down``."""
        return "top-down" if self.street is None else "street"

    def cracks_table(self, source_path: str | None = None) -> pd.DataFrame:
        """The per-crack table rows of this image (road positions filled for the street view)."""
        positions = None if self.street is None else self.street.positions_m
        return cracks_table(
            self.measurement, self.name, self.source_path if source_path is None else source_path, positions
        )

    def image_record(self, source_path: str | None = None, content_sha256: str | None = None) -> dict[str, Any]:
        """This image's row of the images table."""
        profile = None if self.street is None else self.street.view.profile.name
        source = self.source_path if source_path is None else source_path
        return image_record(
            self.name, source, self.measurement, content_sha256=content_sha256, view=self.view, camera_profile=profile
        )


@dataclass(frozen=True)
class InspectionFailure:
    """An input that could not be inspected, with a one-line reason."""

    name: str
    error: str
    source_path: str = ""
