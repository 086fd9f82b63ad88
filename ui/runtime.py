"""Process-level settings of the app server, applied once at start-up by ``app.py``."""

from __future__ import annotations

import ctypes
import ctypes.util

M_ARENA_MAX = -8  # glibc <malloc.h>
SERVER_MALLOC_ARENAS = 2


def limit_malloc_arenas(arenas: int = SERVER_MALLOC_ARENAS) -> bool:
    """Cap glibc's per-thread malloc arenas, as ``MALLOC_ARENA_MAX`` would.

    Streamlit serves each browser session from its own thread; by default glibc
    gives busy threads their own arena and keeps their freed memory, so the
    server's RSS grows by 40-180 MB under a few concurrent users without holding
    more data (measured by ``benchmarks/load_test.py``). Returns whether the cap
    was applied (False off glibc, e.g. macOS or musl).
    """
    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        libc = ctypes.CDLL(name)
        return bool(libc.mallopt(M_ARENA_MAX, int(arenas)))
    except (OSError, AttributeError):
        return False
