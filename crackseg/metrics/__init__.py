"""Segmentation metrics for cracks: pixel, tolerance, instance and threshold-sweep.

Enters: predicted and true masks (numpy bool) per image, or labelled damage boxes
(``boxes``). Leaves: result dataclasses (``pixel``, ``tolerance``, ``instance``, ``sweep``,
``cells``, ``boxes``), Ultralytics metrics renamed (``ultralytics_keys``), and bootstrap
intervals over the images for a dataset's F1 or two models' difference (``bootstrap``). Plain
numpy/OpenCV: this stage imports no other crackseg stage.

Every metric accumulates over a dataset: ``update(...)`` per image, ``reset()``,
``compute()`` -> a frozen result dataclass with ``to_dict()`` and ``to_pandas()``.
``compute()`` before any ``update()`` raises ``ValueError`` (an empty dataset is
not a perfect score).

Masks are numpy ``bool`` arrays; shapes must match. Crack-free images are
normal, so every ratio is defined when its denominator is zero (the *empty
conventions*, shared by all metrics here):

- precision = matched predictions / predictions; with no prediction it is 1.0
  when there is also no truth, else 0.0;
- recall = matched truths / truths; with no truth it is 1.0 when there is also
  no prediction, else 0.0;
- F1 and IoU are 1.0 when prediction and truth are both empty, else computed
  (0.0 when nothing matches).

Metrics are for the crack class only: no background class inflates a mean IoU.
Ultralytics metric names are translated in one place,
``translate_ultralytics_metrics``.
"""
