"""Where the project's own files lie, and the user's cache: fixed paths every stage may need.

A leaf module (standard library only), so the model loader, the export cache and
the allowed-data check can all name these paths without importing each other.
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
MODEL_DIR = PROJECT_ROOT / "model"
SHIPPED_MODEL = MODEL_DIR / "best.pt"
MODEL_CARD = MODEL_DIR / "card.json"
STREET_MODEL_DIR = MODEL_DIR / "street"  # the street view's own model, when one has passed its gate
STREET_MODEL = STREET_MODEL_DIR / "best.pt"
STREET_MODEL_CARD = STREET_MODEL_DIR / "card.json"
SAMPLES_DIR = PROJECT_ROOT / "samples"
USER_CACHE_ENV_VAR = "XDG_CACHE_HOME"


def user_cache_root() -> Path:
    """Exports of weights outside the project or in a read-only folder: ``$XDG_CACHE_HOME/crackseg/export-cache``."""
    base = os.environ.get(USER_CACHE_ENV_VAR, "").strip()
    return (Path(base) if base else Path.home() / ".cache") / "crackseg" / "export-cache"
