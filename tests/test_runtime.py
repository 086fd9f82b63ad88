"""The app server's process settings."""

from __future__ import annotations

import ctypes.util
import platform

import pytest

from ui.runtime import limit_malloc_arenas


@pytest.mark.skipif(platform.system() != "Linux" or not ctypes.util.find_library("c"), reason="glibc only")
def test_malloc_arena_cap_is_accepted_by_glibc() -> None:
    assert limit_malloc_arenas(2) is True
