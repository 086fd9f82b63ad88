"""Load test: the real app server with several concurrent browser sessions uploading photos to the Segment page.

```
python benchmarks/load_test.py                                  # 5 sessions x 60 s, backend auto
python benchmarks/load_test.py --sessions 3 --duration 20 --backend torch
```

Starts ``streamlit run app.py`` on a free port (headless, ``CRACKSEG_BACKEND``
as given), then drives Debian's Chromium through Playwright: one browser, one
context (its own cookies, its own Streamlit session) per simulated user.

1. Baseline, one session alone: each sample image is uploaded once and the
   crack count the page shows is recorded (the first upload also loads the
   model: the cold start).
2. Load: ``--sessions`` sessions at once, for ``--duration`` seconds. Each
   opens ``/segment`` by deep link, then uploads a sample image, removes it
   (the ✕ on its file chip) and uploads the next, as a user goes through a
   survey (session ``s`` starts at image ``s``, so sessions hold different
   images; ``--new-session-per-upload`` reopens the page each time instead).
   Every upload gets a unique file name and unique bytes (a JPEG comment
   differs; the pixels do not), so the server's result cache never answers
   for the model. Each result must show that file's name and the crack count of
   the baseline for its image, with no error or exception on the page.
3. The server's RSS (psutil, process and children): the lowest over 5 idle
   seconds before the load and after it (under load it saw-tooths), its peak
   and timeline during the load (sampled every 0.25 s); p50/p95 latency from the upload
   to the crack table (or the "no cracks" note); the server log is checked for
   tracebacks.

A Markdown summary goes to stdout and everything to ``--output`` (JSON). The
exit status is 0 when every upload got its own correct result, no page showed
an error and (``--max-rss-growth-mb``) the RSS grew less than the bound.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import math
import os
import platform
import shutil
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_IMAGES = ROOT / "samples" / "images"
DEFAULT_OUTPUT = ROOT / "benchmarks" / "results" / "load_test.json"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PAGE_TITLE = "Segment road images"
NO_CRACKS_TEXT = "No cracks detected in this image."
MAIN = '[data-testid="stMain"]'
FILE_INPUT = f'{MAIN} input[type="file"]'
START_TEXT = "Upload one or more images or a ZIP"
ERROR_SELECTORS = ('[data-testid="stException"]', '[data-testid="stAlertContentError"]')
RSS_SAMPLE_S = 0.25
SETTLE_S = 5.0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=5, help="concurrent browser sessions (default 5)")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load; uploads under way finish")
    parser.add_argument("--backend", default="auto", help="CRACKSEG_BACKEND of the server: auto, torch, onnx, openvino")
    parser.add_argument("--images", type=Path, default=DEFAULT_IMAGES, help="folder of .jpg photos to upload")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="JSON results")
    parser.add_argument("--chromium", default=None, help="Chromium executable (default: chromium on PATH)")
    parser.add_argument("--startup-timeout", type=float, default=180.0, help="seconds for the server to answer")
    parser.add_argument("--result-timeout", type=float, default=300.0, help="seconds for one upload's result")
    parser.add_argument(
        "--max-uploads-per-session", type=int, default=None, help="a session stops after this many uploads"
    )
    parser.add_argument(
        "--new-session-per-upload",
        action="store_true",
        help="reopen /segment before every upload (session churn: each leaves a disconnected session behind)",
    )
    parser.add_argument(
        "--malloc-arena-max",
        type=int,
        default=None,
        help="MALLOC_ARENA_MAX for the server (glibc keeps freed memory in one arena per thread; 2 shows the app's "
        "own growth)",
    )
    parser.add_argument("--max-rss-growth-mb", type=float, default=None, help="fail when RSS after - before exceeds")
    args = parser.parse_args(argv)
    if args.sessions < 1 or args.duration <= 0:
        parser.error("--sessions must be >= 1 and --duration > 0")
    return args


# --------------------------------------------------------------------------- results


@dataclass
class Upload:
    """One upload: which session and image, what the page showed, how long it took."""

    session: int
    image: str
    upload_name: str
    open_s: float = 0.0
    latency_s: float = 0.0
    cracks_shown: int | None = None
    cracks_expected: int | None = None
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors and self.cracks_shown is not None and self.cracks_shown == self.cracks_expected


def percentile(values: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile (``fraction`` in (0, 1]); ``None`` for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(fraction * len(ordered))))
    return ordered[rank - 1]


# --------------------------------------------------------------------------- inputs


def unique_jpeg(data: bytes, tag: str) -> bytes:
    """``data`` (a JPEG) with a comment segment holding ``tag`` right after the SOI marker: same pixels, new bytes."""
    if data[:2] != b"\xff\xd8":
        raise ValueError("not a JPEG (no SOI marker)")
    comment = tag.encode("utf-8")
    return data[:2] + b"\xff\xfe" + struct.pack(">H", len(comment) + 2) + comment + data[2:]


def chromium_path(explicit: str | None = None) -> str | None:
    """The Chromium to drive: ``explicit``, else ``chromium`` on PATH, else ``/usr/bin/chromium``."""
    if explicit:
        return explicit
    found = shutil.which("chromium")
    if found:
        return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").is_file() else None


# --------------------------------------------------------------------------- the server


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until_up(url: str, process: subprocess.Popen, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited early with code {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"streamlit did not answer {url} within {timeout_s:.0f} s")


@contextmanager
def app_server(
    backend: str, log_path: Path, startup_timeout_s: float, malloc_arena_max: int | None = None
) -> Iterator[tuple[str, int]]:
    """``streamlit run app.py`` on a free local port; yields ``(url, pid)``; stopped (then killed) afterwards."""
    port = free_port()
    env = {**os.environ, "CRACKSEG_BACKEND": backend}
    if malloc_arena_max is not None:
        env["MALLOC_ARENA_MAX"] = str(malloc_arena_max)
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        "app.py",
        "--server.port",
        str(port),
        "--server.address",
        "127.0.0.1",
        "--server.headless",
        "true",
        "--server.fileWatcherType",
        "none",
        "--browser.gatherUsageStats",
        "false",
    ]
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            url = f"http://127.0.0.1:{port}"
            wait_until_up(f"{url}/_stcore/health", process, startup_timeout_s)
            yield url, process.pid
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=20)


def server_rss_bytes(pid: int) -> int:
    """Resident memory of the server process and its children."""
    import psutil

    process = psutil.Process(pid)
    total = process.memory_info().rss
    for child in process.children(recursive=True):
        try:
            total += child.memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return total


class RssSampler:
    """Samples the server's RSS in a background thread: ``peak`` and the ``(seconds, bytes)`` timeline."""

    def __init__(self, pid: int, every_s: float = RSS_SAMPLE_S) -> None:
        self.pid, self.every_s, self.peak = pid, every_s, 0
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def _run(self) -> None:
        started = time.monotonic()
        while not self._stop.is_set():
            rss = server_rss_bytes(self.pid)
            self.samples.append((time.monotonic() - started, rss))
            self.peak = max(self.peak, rss)
            self._stop.wait(self.every_s)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


async def settled_rss(pid: int, seconds: float = SETTLE_S) -> int:
    """The server's lowest RSS over ``seconds`` of idleness.

    Under load the RSS saw-tooths by 100 MB and more (result pickles, Arrow
    tables and images built and freed per rerun); the lowest value once idle is
    what stays, so before/after are compared on it.
    """
    lowest = server_rss_bytes(pid)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        await asyncio.sleep(RSS_SAMPLE_S)
        lowest = min(lowest, server_rss_bytes(pid))
    return lowest


# --------------------------------------------------------------------------- one browser session


async def open_segment(page: Any, url: str, timeout_ms: float) -> float:
    """Open ``/segment`` by deep link (a new Streamlit session); seconds until its file input is there."""
    started = time.monotonic()
    await page.goto(f"{url}/segment")
    await page.get_by_role("heading", name=PAGE_TITLE).wait_for(timeout=timeout_ms)
    await page.locator(FILE_INPUT).wait_for(state="attached", timeout=timeout_ms)
    return time.monotonic() - started


async def clear_uploads(page: Any, timeout_ms: float) -> None:
    """Remove the files already uploaded (the ✕ on each file chip), as a user does before the next photo."""
    main = page.locator(MAIN)
    delete_buttons = main.locator('[data-testid="stFileChipDeleteBtn"]')
    while await delete_buttons.count():
        await delete_buttons.first.click()
        await page.wait_for_timeout(50)
    await main.get_by_text(START_TEXT).wait_for(state="visible", timeout=timeout_ms)


async def upload_once(page: Any, upload: Upload, data: bytes, timeout_ms: float) -> Upload:
    """Upload ``data`` as ``upload.upload_name`` on the open Segment page and read the crack count shown for it."""
    main = page.locator(MAIN)
    await clear_uploads(page, timeout_ms)
    started = time.monotonic()
    await page.locator(FILE_INPUT).set_input_files(
        files=[{"name": upload.upload_name, "mimeType": "image/jpeg", "buffer": data}]
    )
    heading_or_error = main.locator("h3", has_text=upload.upload_name).or_(page.locator(", ".join(ERROR_SELECTORS)))
    await heading_or_error.first.wait_for(timeout=timeout_ms)
    upload.errors.extend(await errors_on_page(page))
    if upload.errors:
        return upload
    table_or_note = main.locator('[data-testid="stDataFrame"]').or_(main.get_by_text(NO_CRACKS_TEXT))
    await table_or_note.first.wait_for(state="visible", timeout=timeout_ms)
    upload.latency_s = time.monotonic() - started
    tile = main.locator('[data-testid="stMetric"]').filter(has_text="Cracks").first
    upload.cracks_shown = int((await tile.locator('[data-testid="stMetricValue"]').inner_text()).strip())
    upload.errors.extend(await errors_on_page(page))
    return upload


async def upload_series(
    page: Any,
    url: str,
    uploads: Iterator[tuple[Upload, bytes]],
    deadline: float | None,
    timeout_ms: float,
    new_session_each_time: bool = False,
) -> list[Upload]:
    """Upload one file after another on one page until ``deadline`` (or the end of ``uploads``).

    The page is opened first, and again after a failed upload (its state is
    then unknown) or, with ``new_session_each_time``, before every upload.
    A timeout or page problem is recorded on its upload, not raised.
    """
    done: list[Upload] = []
    is_open = False
    for upload, data in uploads:
        if deadline is not None and time.monotonic() >= deadline:
            break
        try:
            if new_session_each_time or not is_open:
                upload.open_s = await open_segment(page, url, timeout_ms)
                is_open = True
            await upload_once(page, upload, data, timeout_ms)
        except Exception as error:  # noqa: BLE001 - a failed upload is a result of the load test, reported
            upload.errors.append(f"{type(error).__name__}: {str(error).strip().splitlines()[0][:300]}")
        is_open = is_open and not upload.errors
        done.append(upload)
    return done


async def errors_on_page(page: Any) -> list[str]:
    """Error boxes, exceptions and "failed unexpectedly" notes on the page, as text."""
    found = []
    for selector in ERROR_SELECTORS:
        for element in await page.locator(selector).all():
            found.append(f"{selector}: {(await element.inner_text())[:300]}")
    body = await page.locator("body").inner_text()
    if "failed unexpectedly" in body or "Traceback" in body:
        found.append("page text: failed unexpectedly / Traceback")
    return found


async def run_session(
    browser: Any,
    args: argparse.Namespace,
    url: str,
    session: int,
    images: list[tuple[str, bytes]],
    expected: dict[str, int | None],
    deadline: float,
) -> list[Upload]:
    """One user in a browser context of its own: image after image (from ``images[session]``) until ``deadline``."""

    def planned() -> Iterator[tuple[Upload, bytes]]:
        count = itertools.count() if args.max_uploads_per_session is None else range(args.max_uploads_per_session)
        for index in count:
            image, data = images[(session + index) % len(images)]
            name = f"s{session}-u{index}-{image}"
            yield Upload(session, image, name, cracks_expected=expected.get(image)), unique_jpeg(data, name)

    context = await browser.new_context(viewport={"width": 1400, "height": 1800})
    try:
        page = await context.new_page()
        return await upload_series(
            page, url, planned(), deadline, args.result_timeout * 1000, args.new_session_per_upload
        )
    finally:
        await context.close()


async def drive(args: argparse.Namespace, url: str, pid: int, images: list[tuple[str, bytes]]) -> dict[str, Any]:
    """The baseline, then the concurrent load; returns every measurement."""
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=chromium_path(args.chromium), headless=True, args=CHROMIUM_ARGS
        )
        try:
            context = await browser.new_context(viewport={"width": 1400, "height": 1800})
            planned = (
                (Upload(-1, image, f"baseline-{image}"), unique_jpeg(data, f"baseline-{image}"))
                for image, data in images
            )
            baseline = await upload_series(await context.new_page(), url, planned, None, args.result_timeout * 1000)
            await context.close()
            expected = {upload.image: upload.cracks_shown for upload in baseline}
            for upload in baseline:
                upload.cracks_expected = upload.cracks_shown
            rss_before = await settled_rss(pid)
            started = time.monotonic()
            deadline = started + args.duration
            with RssSampler(pid) as sampler:
                per_session = await asyncio.gather(
                    *[
                        run_session(browser, args, url, session, images, expected, deadline)
                        for session in range(args.sessions)
                    ]
                )
                wall_s = time.monotonic() - started
            rss_after = await settled_rss(pid)
        finally:
            await browser.close()
    return {
        "baseline": baseline,
        "uploads": [upload for session in per_session for upload in session],
        "wall_s": wall_s,
        "rss_before": rss_before,
        "rss_peak": max(sampler.peak, rss_after),
        "rss_samples": sampler.samples,
        "rss_after": rss_after,
    }


# --------------------------------------------------------------------------- report


def summarise(args: argparse.Namespace, measured: dict[str, Any], log_text: str) -> dict[str, Any]:
    uploads: list[Upload] = measured["uploads"]
    baseline: list[Upload] = measured["baseline"]
    latencies = [upload.latency_s for upload in uploads if upload.ok]
    mib = 2**20
    growth_mb = (measured["rss_after"] - measured["rss_before"]) / mib
    sessions = {
        session: [upload for upload in uploads if upload.session == session] for session in range(args.sessions)
    }
    failures = [asdict(upload) for upload in uploads if not upload.ok]
    problems = [f"{failure['upload_name']}: {failure['errors'] or 'wrong crack count'}" for failure in failures]
    problems += [f"session {s}: no upload finished" for s, done in sessions.items() if not any(u.ok for u in done)]
    problems += [f"baseline {u.image}: {u.errors}" for u in baseline if u.errors]
    if "Traceback" in log_text:
        problems.append("the server logged a traceback")
    if args.max_rss_growth_mb is not None and growth_mb > args.max_rss_growth_mb:
        problems.append(f"RSS grew {growth_mb:.0f} MB, over the {args.max_rss_growth_mb:.0f} MB bound")
    return {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "load_avg_1m": os.getloadavg()[0]},
        "backend": args.backend,
        "malloc_arena_max": args.malloc_arena_max,
        "sessions": args.sessions,
        "duration_s": args.duration,
        "wall_s": round(measured["wall_s"], 1),
        "uploads": len(uploads),
        "uploads_ok": sum(upload.ok for upload in uploads),
        "uploads_per_session": {str(s): len(done) for s, done in sessions.items()},
        "throughput_per_s": round(len(uploads) / measured["wall_s"], 3) if measured["wall_s"] else None,
        "latency_s": {
            "p50": _round(percentile(latencies, 0.50)),
            "p95": _round(percentile(latencies, 0.95)),
            "max": _round(max(latencies, default=None)),
            "mean": _round(statistics.fmean(latencies) if latencies else None),
        },
        "page_open_s_p50": _round(percentile([u.open_s for u in uploads if u.open_s > 0], 0.50)),
        "baseline": {
            "cracks": {upload.image: upload.cracks_shown for upload in baseline},
            "cold_first_upload_s": _round(baseline[0].latency_s if baseline else None),
            "warm_single_session_latency_s_p50": _round(percentile([u.latency_s for u in baseline[1:]], 0.50)),
        },
        "rss_mb": {
            "before": round(measured["rss_before"] / mib, 1),
            "peak": round(measured["rss_peak"] / mib, 1),
            "after": round(measured["rss_after"] / mib, 1),
            "growth": round(growth_mb, 1),
            "bound": args.max_rss_growth_mb,
            "timeline": timeline_mb(measured["rss_samples"]),
        },
        "failures": failures,
        "problems": problems,
        "ok": not problems,
    }


def timeline_mb(samples: list[tuple[float, int]], points: int = 60) -> list[tuple[float, float]]:
    """At most ``points`` evenly spaced ``(seconds into the load, RSS MB)`` samples, the last one included."""
    if not samples:
        return []
    step = max(1, math.ceil(len(samples) / points))
    chosen = samples[::step] if samples[::step][-1] == samples[-1] else [*samples[::step], samples[-1]]
    return [(round(seconds, 1), round(rss / 2**20, 1)) for seconds, rss in chosen]


def _round(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


def markdown(summary: dict[str, Any]) -> str:
    latency, rss, baseline = summary["latency_s"], summary["rss_mb"], summary["baseline"]
    lines = [
        f"### Load test: {summary['sessions']} sessions x {summary['duration_s']:.0f} s, backend {summary['backend']}"
        + (f", MALLOC_ARENA_MAX={summary['malloc_arena_max']}" if summary["malloc_arena_max"] is not None else ""),
        "",
        f"Machine: {summary['machine']['cpus']} CPUs, load average {summary['machine']['load_avg_1m']:.1f} at the end.",
        "",
        "| measure | value |",
        "|---|---|",
        f"| uploads (correct / all) | {summary['uploads_ok']} / {summary['uploads']} |",
        f"| uploads per session | {', '.join(str(n) for n in summary['uploads_per_session'].values())} |",
        f"| throughput | {summary['throughput_per_s']} uploads/s |",
        f"| upload -> crack table, p50 / p95 / max | {latency['p50']} / {latency['p95']} / {latency['max']} s |",
        f"| single session (warm), p50 | {baseline['warm_single_session_latency_s_p50']} s |",
        f"| cold first upload (model load) | {baseline['cold_first_upload_s']} s |",
        f"| opening /segment, p50 | {summary['page_open_s_p50']} s |",
        f"| server RSS idle before / peak / idle after | {rss['before']} / {rss['peak']} / {rss['after']} MB |",
        f"| RSS growth (bound) | {rss['growth']} MB ({rss['bound'] if rss['bound'] is not None else 'none'}) |",
        f"| result | {'OK' if summary['ok'] else 'FAILED'} |",
    ]
    if summary["problems"]:
        lines += ["", "Problems:", *[f"- {problem}" for problem in summary["problems"][:20]]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if chromium_path(args.chromium) is None:
        print("error: Chromium not found (apt-get install chromium, or --chromium PATH)", file=sys.stderr)
        return 2
    images = [(path.name, path.read_bytes()) for path in sorted(args.images.glob("*.jpg"))]
    if not images:
        print(f"error: no .jpg images in {args.images}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="crackseg-load-") as workdir:
        log_path = Path(workdir) / "streamlit.log"
        with app_server(args.backend, log_path, args.startup_timeout, args.malloc_arena_max) as (url, pid):
            measured = asyncio.run(drive(args, url, pid, images))
        log_text = log_path.read_text(errors="replace")
    summary = summarise(args, measured, log_text)
    if "Traceback" in log_text:
        summary["server_log_tail"] = log_text[-4000:]
    text = markdown(summary)
    summary["markdown"] = text
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    print(text)
    print(f"\nJSON: {args.output}")
    return 0 if summary["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
