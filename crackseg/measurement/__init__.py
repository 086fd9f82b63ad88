"""Crack masks in, measurements out: length, width, orientation, type and severity per crack.

Enters: a ``CrackPrediction`` or a binary mask, and ``MeasurementSettings``
(calibration, severity thresholds). Leaves: ``ImageMeasurement`` with one
``CrackMeasurement`` per crack, in pixels and, when calibrated, millimetres.
"""
