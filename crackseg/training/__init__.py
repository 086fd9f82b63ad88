"""What training leaves behind, read and gated: run histories, the model card, wall time, the INT8 build.

Enters: Ultralytics run folders (``results.csv``, ``args.yaml``), weights, a
calibration/validation dataset. Leaves: ``RunHistory`` tables, ``model/card.json``,
and an INT8 OpenVINO model installed only when it passes its accuracy check.
The training scripts themselves live outside the package, in ``train/``.
"""
