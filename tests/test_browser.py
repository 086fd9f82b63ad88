"""End-to-end: the real app in Debian's headless Chromium, driven by Playwright.

Covers what AppTest cannot: the browser's file input, the upload round trip,
the rendered page and a deferred download. Starts ``streamlit run app.py`` on a
free port (PyTorch backend, so no export on first use) and stops it afterwards.
Prints how long one image takes from upload to crack table, cold (first model
load in a fresh server) and warm. Run with ``pytest -m browser tests/test_browser.py -s``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmarks.load_test import CHROMIUM_ARGS, app_server, chromium_path

pytestmark = pytest.mark.browser

RESULT_TIMEOUT_MS = 300_000  # generous: on a loaded 2-core machine a survey run took over 120 s (44 s alone)
COLD_SAMPLE = "2222.rf.bfd72b1a6235ed53983e11289c619b4e.jpg"
WARM_SAMPLE = "2275.rf.586655e669fa91476d091094ff24d359.jpg"


@pytest.fixture
def app_url(tmp_path: Path) -> Iterator[str]:
    """A running ``streamlit run app.py`` on a free port (torch backend); its log must hold no traceback."""
    if chromium_path() is None:
        if os.environ.get("CRACKSEG_REQUIRE_BROWSER") == "1":  # set by .ci/run: a missing browser is a failure there
            pytest.fail("Chromium is required (CRACKSEG_REQUIRE_BROWSER=1) but not installed")
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    log_path = tmp_path / "streamlit.log"
    with app_server("torch", log_path, startup_timeout_s=90) as (url, _pid):
        yield url
    text = log_path.read_text(errors="replace")
    assert "Traceback" not in text, f"the server logged a traceback:\n{text[-3000:]}"


def open_segment_page(page, url: str) -> None:
    """Open ``/segment`` by deep link on a possibly fresh server.

    ``app.py`` must run for it (wide layout, shared sidebar, offline set-up): the
    pages live in ``app_pages/`` so Streamlit never falls back to its legacy
    ``pages/`` folder mode, which would serve the bare page instead.
    """
    page.goto(f"{url}/segment")
    page.get_by_role("heading", name="Segment road images").wait_for(timeout=60_000)
    sidebar = page.locator('[data-testid="stSidebar"]')
    sidebar.get_by_text("CrackSeg · road-crack segmentation").wait_for(timeout=30_000)


def upload_and_time(page, url: str, image: Path) -> float:
    """Open the Segment page, upload ``image``; seconds from the upload until the crack table is shown."""
    open_segment_page(page, url)
    file_input = page.locator('[data-testid="stMain"] input[type="file"]')
    file_input.wait_for(state="attached", timeout=60_000)
    started = time.monotonic()
    file_input.set_input_files(str(image))
    wait_for_results(page)
    return time.monotonic() - started


def wait_for_results(page) -> None:
    """Until the per-image result (overlay caption and crack table) is on screen."""
    page.get_by_text("Detected cracks").first.wait_for(state="visible", timeout=RESULT_TIMEOUT_MS)
    page.locator('[data-testid="stMain"] [data-testid="stDataFrame"]').first.wait_for(
        state="visible", timeout=RESULT_TIMEOUT_MS
    )


def assert_no_error_shown(page) -> None:
    text = page.locator("body").inner_text()
    assert "Traceback" not in text
    assert "failed unexpectedly" not in text
    assert page.locator('[data-testid="stException"]').count() == 0


def test_segment_page_uploads_an_image_and_shows_measured_cracks(app_url, tmp_path, samples_dir):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 2000}, accept_downloads=True)
            cold_s = upload_and_time(page, app_url, samples_dir / COLD_SAMPLE)
            assert_no_error_shown(page)
            main = page.locator('[data-testid="stMain"]')
            assert main.get_by_text(COLD_SAMPLE).first.is_visible()
            cracks_tile = main.locator('[data-testid="stMetric"]').filter(has_text="Cracks").first
            assert int(cracks_tile.locator('[data-testid="stMetricValue"]').inner_text()) >= 1
            page.wait_for_timeout(500)  # let the images finish painting
            screenshot = tmp_path / "segment.png"
            page.screenshot(path=str(screenshot), full_page=True)
            assert screenshot.stat().st_size > 10_000

            with page.expect_download(timeout=60_000) as download_info:
                main.get_by_role("button", name="Report (HTML)").click()
            report = Path(download_info.value.path()).read_text(encoding="utf-8")
            assert "Crack inspection report" in report and COLD_SAMPLE in report

            warm_s = upload_and_time(page, app_url, samples_dir / WARM_SAMPLE)
            assert_no_error_shown(page)
            assert main.get_by_text(WARM_SAMPLE).first.is_visible()

            page.goto(app_url)  # Home: a sample's button opens it, inspected, on the Segment page
            page.get_by_role("button", name="Segment this image").first.click()
            page.get_by_text("Detected cracks").first.wait_for(state="visible", timeout=RESULT_TIMEOUT_MS)
            # its crack count is shown whatever the model finds on that sample (a table only if it finds cracks)
            main.locator('[data-testid="stMetric"]').filter(has_text="Cracks").first.wait_for(
                state="visible", timeout=RESULT_TIMEOUT_MS
            )
            assert_no_error_shown(page)
            assert "/segment" in page.url
            print(
                f"\nSegment page, one 416x416 image, upload -> crack table: cold (fresh server, model load) "
                f"{cold_s:.1f} s, warm {warm_s:.1f} s; screenshot {screenshot}"
            )
        finally:
            browser.close()


def test_survey_page_uploads_a_video_and_its_track_and_draws_the_map(app_url, tmp_path):
    """The Survey page in the browser: a 2 s synthetic drive and its GPX uploaded, surveyed, mapped."""
    from playwright.sync_api import sync_playwright
    from survey_drive import write_drive

    video, gpx = write_drive(tmp_path, length_m=20.0)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1800})
            page.goto(f"{app_url}/survey")
            page.get_by_role("heading", name="Survey a drive").wait_for(timeout=60_000)
            inputs = page.locator('[data-testid="stMain"] input[type="file"]')
            inputs.nth(1).wait_for(state="attached", timeout=60_000)
            started = time.monotonic()
            inputs.nth(0).set_input_files(str(video))
            inputs.nth(1).set_input_files(str(gpx))
            main = page.locator('[data-testid="stMain"]')
            # Each upload is a request, then a rerun; the button is enabled by the video alone. Click only once
            # both files are listed, or on a loaded machine the run can start before the track has arrived.
            for uploaded in (video, gpx):
                main.get_by_text(uploaded.name, exact=True).first.wait_for(state="visible", timeout=60_000)
            run_button = main.get_by_role("button", name="Run survey")
            run_button.wait_for(state="visible", timeout=30_000)
            page.wait_for_function(
                "() => [...document.querySelectorAll('button')].some("
                "b => b.innerText.includes('Run survey') && !b.disabled)",
                timeout=60_000,
            )
            run_button.click()
            chart = main.locator('[data-testid="stPlotlyChart"]').first
            chart.wait_for(state="visible", timeout=RESULT_TIMEOUT_MS)
            main.locator(".js-plotly-plot .scatterlayer .trace").first.wait_for(state="attached", timeout=30_000)
            main.get_by_text("No basemap: nothing is fetched from the internet.").wait_for(timeout=30_000)
            elapsed = time.monotonic() - started
            main.locator('[data-testid="stDataFrame"]').first.wait_for(state="visible", timeout=30_000)
            assert_no_error_shown(page)
            assert main.locator('[data-testid="stAlertContentError"]').count() == 0
            page.wait_for_timeout(800)  # let the charts and frames finish painting
            screenshot = tmp_path / "survey-page.png"
            page.screenshot(path=str(screenshot), full_page=True)
            assert screenshot.stat().st_size > 10_000
            print(f"\nSurvey page, 2 s drive + GPX, upload -> map: {elapsed:.1f} s; screenshot {screenshot}")
        finally:
            browser.close()
