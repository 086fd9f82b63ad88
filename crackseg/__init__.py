"""CrackSeg: road-crack segmentation, measurement and evaluation on YOLOv8-seg.

One data flow: image bytes -> validated RGB array -> (preprocess) -> inference
-> ``CrackPrediction`` -> measurements -> tables, reports, overlays.
Evaluation runs the same path over a dataset. No Streamlit import here.
"""

from __future__ import annotations

__version__ = "0.1.0"

from crackseg.core.offline import disable_openvino_telemetry as _disable_openvino_telemetry

# ``import openvino`` itself starts OpenVINO's telemetry and sends an "import" event unless the user opted out;
# disarming it here, before any module of this package can import OpenVINO, keeps every entry point offline.
_disable_openvino_telemetry()
