"""CrackSeg: road-crack segmentation, measurement and evaluation on YOLOv8-seg.

One data flow: image bytes -> validated RGB array -> (preprocess) -> inference
-> ``CrackPrediction`` -> measurements -> tables, reports, overlays.
Evaluation runs the same path over a dataset. No Streamlit import here.
"""

from __future__ import annotations

__version__ = "0.1.0"
