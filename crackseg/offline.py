"""Keep Ultralytics off the network: no hub downloads, no telemetry, no settings sync.

Called before any Ultralytics import that could reach out. Setting the
environment is idempotent and cheap, so every entry point calls it.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def enforce_offline() -> None:
    """Set the environment so Ultralytics never downloads or phones home.

    ``YOLO_OFFLINE=1`` makes Ultralytics skip online checks; ``sync=False``
    turns its analytics off. Its settings file goes to a writable folder
    (``YOLO_CONFIG_DIR``) so a read-only home does not break it.
    """
    os.environ["YOLO_OFFLINE"] = "1"
    os.environ["YOLO_AUTOINSTALL"] = "False"  # never pip-install missing packages at run time
    if "YOLO_CONFIG_DIR" not in os.environ:
        config_dir = Path(tempfile.gettempdir()) / "crackseg-ultralytics"
        config_dir.mkdir(parents=True, exist_ok=True)
        os.environ["YOLO_CONFIG_DIR"] = str(config_dir)
    from ultralytics.utils import SETTINGS

    if SETTINGS.get("sync", False):
        SETTINGS.update({"sync": False})
