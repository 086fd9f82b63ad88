"""The one cached model loader of the app, and cached readers of files that rarely change.

``st.cache_resource`` keeps one ``Segmenter`` per (weights, mtime, backend) for
the whole server process; the segmenter serialises calls into the Ultralytics
model with its own lock, so concurrent browser sessions are safe.
"""

from __future__ import annotations

import os

import streamlit as st

from crackseg.core.errors import CrackSegError
from crackseg.inference.model_loading import default_model_path
from crackseg.inference.segmenter import Segmenter

APP_BACKEND = "auto"
BACKEND_ENV_VAR = "CRACKSEG_BACKEND"


def app_backend() -> str:
    """The backend the app uses: ``$CRACKSEG_BACKEND`` (e.g. ``torch`` in tests) or ``APP_BACKEND``."""
    return os.environ.get(BACKEND_ENV_VAR, "").strip() or APP_BACKEND


@st.cache_resource(show_spinner="Loading the model (first time: exporting it for fast CPU inference)…")
def _load_segmenter(weights: str, modified_ns: int, backend: str) -> Segmenter:
    """Keyed on the weights' path and modification time, so new weights reload."""
    del modified_ns  # part of the cache key only
    return Segmenter(weights, backend=backend)


def get_segmenter(backend: str | None = None, view: str = "top-down") -> Segmenter | None:
    """The shared segmenter of a view (``backend`` defaults to ``app_backend()``), or ``None`` after showing why not.

    The street view uses the street model when one has passed its gate (``model/street/``), else the top-down one.
    """
    backend = backend or app_backend()
    weights = default_model_path(view)
    try:
        modified_ns = weights.stat().st_mtime_ns
    except OSError:
        st.error(f"Model file not found: {weights}. Set CRACKSEG_MODEL or restore model/best.pt.")
        return None
    try:
        return _load_segmenter(str(weights), modified_ns, backend)
    except (CrackSegError, ValueError) as error:  # ValueError: an unknown $CRACKSEG_BACKEND
        st.error(f"The model cannot be loaded: {error}")
        return None
