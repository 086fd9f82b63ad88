"""Keep Ultralytics and OpenVINO off the network: no hub downloads, no telemetry, no settings sync.

Called before any Ultralytics, OpenVINO conversion or NNCF import that could
reach out. It is idempotent and cheap, so every entry point calls it.
"""

from __future__ import annotations

import importlib.util
import os
import tempfile
from pathlib import Path


def enforce_offline() -> None:
    """Set the environment so Ultralytics never downloads or phones home (imports Ultralytics).

    ``offline_environment`` first; then Ultralytics' ``sync`` setting is turned
    off, which stops its analytics even where ``YOLO_OFFLINE`` were ignored.
    """
    offline_environment()
    from ultralytics.utils import SETTINGS

    if SETTINGS.get("sync", False):
        SETTINGS.update({"sync": False})


def offline_environment() -> None:
    """The offline switches that need no Ultralytics import: for paths that run without it (native OpenVINO).

    ``YOLO_OFFLINE=1`` makes an Ultralytics imported later skip online checks
    and its analytics; its settings file goes to a writable folder
    (``YOLO_CONFIG_DIR``) so a read-only home does not break it. OpenVINO's
    telemetry is disarmed (``disable_openvino_telemetry``).
    """
    os.environ["YOLO_OFFLINE"] = "1"
    os.environ["YOLO_AUTOINSTALL"] = "False"  # never pip-install missing packages at run time
    if "YOLO_CONFIG_DIR" not in os.environ:
        config_dir = Path(tempfile.gettempdir()) / "crackseg-ultralytics"
        config_dir.mkdir(parents=True, exist_ok=True)
        os.environ["YOLO_CONFIG_DIR"] = str(config_dir)
    disable_openvino_telemetry()


def disable_openvino_telemetry() -> None:
    """Make OpenVINO and NNCF never send telemetry, nor write a client-ID file.

    ``import openvino`` (through its model converter) and NNCF both call
    ``openvino_telemetry.Telemetry`` with ``enable_opt_in_dialog=False``,
    which sends usage events unless the user ran OpenVINO's opt-out tool (there
    is no environment switch outside CI). Here the class's ``init`` is replaced,
    for this process only, by one that records no consent: every ``send_*``
    method then returns without sending, and nothing is written under the home
    folder. The user's own opt-in/opt-out file is neither read nor changed.
    """
    if importlib.util.find_spec("openvino_telemetry") is None:
        return
    import openvino_telemetry
    from openvino_telemetry.backend.backend import BackendRegistry
    from openvino_telemetry.utils.sender import TelemetrySender

    telemetry_class = openvino_telemetry.Telemetry
    if getattr(telemetry_class, "_crackseg_no_consent", False):
        return

    def init_without_consent(
        self: object,
        app_name: str | None = None,
        app_version: str | None = None,
        tid: str | None = None,
        backend: str | None = "ga",
        *args: object,
        **kwargs: object,
    ) -> None:
        self.consent = False  # type: ignore[attr-defined]
        self.tid = tid  # type: ignore[attr-defined]
        self.backend = BackendRegistry.get_backend(backend)(tid, app_name, app_version)  # type: ignore[attr-defined]
        self.sender = TelemetrySender()  # type: ignore[attr-defined]

    telemetry_class.init = init_without_consent
    telemetry_class._crackseg_no_consent = True
