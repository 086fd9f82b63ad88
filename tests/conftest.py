"""Shared fixtures: the shipped sample images, and a clean, torch-backed setup for the app's UI tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SAMPLES_DIR = REPO_ROOT / "samples" / "images"


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    """``samples/images``: eight 416x416 crack-seg images (one of the valid split has no labelled crack)."""
    return SAMPLES_DIR


@pytest.fixture
def app_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Run pages on the PyTorch backend (no export on first use) with an empty ``st.cache_data``.

    The cached model (``st.cache_resource``) is kept: it depends only on the weights and the backend.
    """
    import streamlit as st

    monkeypatch.setenv("CRACKSEG_BACKEND", "torch")
    st.cache_data.clear()
    yield
    st.cache_data.clear()


@pytest.fixture(scope="session", autouse=True)
def private_user_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Exports of weights outside the project go to the user cache: a temporary one during tests."""
    import os

    previous = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("user-cache"))
    yield
    if previous is None:
        os.environ.pop("XDG_CACHE_HOME", None)
    else:
        os.environ["XDG_CACHE_HOME"] = previous
