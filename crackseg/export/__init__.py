"""Predictions and measurements in, files for people and programs out.

Enters: RGB images, ``CrackPrediction``, ``ImageMeasurement``. Leaves: overlays
(new images, inputs never changed), PNG/JPEG bytes, CSV and JSON tables with fixed
snake_case columns, the self-contained HTML report and the batch ZIP.
"""
