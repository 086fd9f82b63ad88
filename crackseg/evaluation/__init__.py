"""Labelled data in, how well the model does out: the evaluation run, its report, comparisons, statistics.

Enters: ``LabelledImage`` items (YOLO splits, image/mask folders) and a ``Segmenter``;
``BoxLabelledImage`` items and a ``predict(rgb)`` function for box labels (``boxes``).
Leaves: ``EvaluationReport`` (pixel, tolerance, instance and sweep metrics, per-image
rows, Ultralytics mAP) saved as JSON/CSV; preprocessing comparisons; dataset statistics.
"""
