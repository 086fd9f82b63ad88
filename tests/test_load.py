"""The load test (``benchmarks/load_test.py``) in a short form: 3 browser sessions for 20 s against the real server.

Every upload must come back to its own session with the crack count that
image gets when one session is alone, no page may show an error, the server
must log no traceback, and its idle RSS after the run may exceed its idle RSS
before (model loaded, baseline done) by at most ``RSS_GROWTH_BOUND_MB``.

The server runs with ``MALLOC_ARENA_MAX=2`` so the RSS shows what the app
keeps: glibc otherwise keeps freed memory in one arena per thread (Streamlit
runs each session in its own thread), which added 40-180 MB on these runs
whatever the number of uploads, and hides a leak of the app's own. What the
app keeps is the Segment page's result cache (``st.cache_data``, one pickled
416 px image with its masks and measurements per upload, about 1 MB, at most
128 entries) and each session's current upload and widgets. For at most
``SESSIONS x MAX_UPLOADS`` = 18 uploads, 100 MB leaves room to spare (17-43 MB
for 15-17 uploads here), while a model or segmenter per session, or results kept
per session on top of the shared cache, breaks it.

Run with ``pytest -m browser tests/test_load.py -s`` to see the figures.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "load_test.py"
SESSIONS = 3
DURATION_S = 20
MAX_UPLOADS = 6  # per session: the RSS bound holds for a known number of uploads however fast the machine
RSS_GROWTH_BOUND_MB = 100


def chromium_available() -> bool:
    """The system Chromium the load test drives (the same lookup as ``load_test.chromium_path``)."""
    return shutil.which("chromium") is not None or Path("/usr/bin/chromium").is_file()


def test_concurrent_sessions_each_get_their_own_correct_results(tmp_path: Path) -> None:
    if not chromium_available():
        if os.environ.get("CRACKSEG_REQUIRE_BROWSER") == "1":  # set by .ci/run: a missing browser is a failure there
            pytest.fail("Chromium is required (CRACKSEG_REQUIRE_BROWSER=1) but not installed")
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    output = tmp_path / "load.json"
    command = [sys.executable, str(SCRIPT), "--sessions", str(SESSIONS), "--duration", str(DURATION_S)]
    command += ["--backend", "torch", "--output", str(output), "--malloc-arena-max", "2"]
    command += ["--max-uploads-per-session", str(MAX_UPLOADS), "--max-rss-growth-mb", str(RSS_GROWTH_BOUND_MB)]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=900, check=False)
    assert output.is_file(), result.stdout[-3000:] + result.stderr[-3000:]
    summary = json.loads(output.read_text())
    print("\n" + summary["markdown"])
    assert summary["problems"] == [], summary["problems"]
    assert result.returncode == 0, result.stderr[-3000:]

    assert summary["sessions"] == SESSIONS and len(summary["uploads_per_session"]) == SESSIONS
    assert all(count >= 1 for count in summary["uploads_per_session"].values())
    assert SESSIONS <= summary["uploads"] <= SESSIONS * MAX_UPLOADS and summary["uploads_ok"] == summary["uploads"]
    baseline = summary["baseline"]["cracks"]
    assert len(baseline) == 8 and all(isinstance(count, int) for count in baseline.values())
    assert sum(count > 0 for count in baseline.values()) >= 6, "the samples must show cracks to compare counts"
    assert 0 < summary["latency_s"]["p50"] <= summary["latency_s"]["p95"]
    assert summary["rss_mb"]["growth"] < RSS_GROWTH_BOUND_MB
