"""The error types users see. Each carries a one-line message fit to show as is."""

from __future__ import annotations


class CrackSegError(Exception):
    """Base of every error the package raises on purpose (bad input, bad model, bad data)."""


class ImageLoadError(CrackSegError):
    """An upload or file is not an image we can read: non-image, empty, truncated, too large."""


class ModelLoadError(CrackSegError):
    """The model file is missing, not allowed, or not a readable Ultralytics checkpoint."""


class DatasetError(CrackSegError):
    """A dataset is malformed: bad data.yaml, missing split, bad label line, size mismatch."""


class RunHistoryError(CrackSegError):
    """A training history (results.csv / args.yaml) cannot be read."""
