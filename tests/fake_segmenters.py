"""Fake models with known answers, shared by the evaluation and domain-gate tests."""

from __future__ import annotations

import numpy as np

from crackseg.inference.prediction import CrackPrediction
from crackseg.inference.segmenter import InferenceSettings


class FixedSegmenter:
    """A fake model that answers each image (told apart by its grey level) with a hand-drawn prediction."""

    def __init__(self, answers: dict[int, CrackPrediction]) -> None:
        self.answers = answers

    def predict(self, rgb: np.ndarray, settings: InferenceSettings | None = None) -> CrackPrediction:
        prediction = self.answers[int(rgb[0, 0, 0])]
        return prediction.with_min_confidence(settings.conf if settings else 0.25)

    def info(self) -> dict[str, str]:
        return {"name": "fixed", "sha256": "0" * 64, "backend": "fake"}
