"""Nothing phones home: OpenVINO's converter and NNCF start telemetry, which ``enforce_offline`` disarms."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]

# Starts OpenVINO's telemetry and reports the consent it arrived at and what it wrote under the (temporary) home
# folder. "plain" only initialises it the way the converter does (nothing is sent, even by the library's
# default); "crackseg" imports the package first, then OpenVINO itself, whose import sends an event unless
# telemetry has no consent, then initialises it again as an export would.
PROBE = """
import json, sys
from pathlib import Path
if sys.argv[1] == "crackseg":
    import crackseg
    import openvino
from openvino.tools.ovc.telemetry_utils import init_ovc_telemetry
telemetry = init_ovc_telemetry()
written = sorted(str(p.relative_to(Path.home())) for p in Path.home().rglob("*") if "intel" in p.parts)
print(json.dumps({"consent": bool(telemetry.consent), "written": written}))
"""


def run_probe(mode: str, home: Path) -> dict[str, object]:
    home.mkdir(parents=True)
    env = {key: value for key, value in os.environ.items() if key not in ("CI", "TF_BUILD", "JENKINS_URL")}
    env |= {"HOME": str(home), "PYTHONPATH": str(REPO_ROOT), "YOLO_CONFIG_DIR": str(home / "yolo")}
    env |= {"HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9", "NO_PROXY": ""}  # fail fast
    completed = subprocess.run(
        [sys.executable, "-c", PROBE, mode], capture_output=True, text=True, env=env, cwd=REPO_ROOT, timeout=120
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    return json.loads(completed.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(
    subprocess.run([sys.executable, "-c", "import openvino_telemetry"], capture_output=True).returncode != 0,
    reason="openvino_telemetry is not installed (then nothing can be sent)",
)
def test_openvino_telemetry_gets_no_consent_and_writes_nothing(tmp_path: Path) -> None:
    library_default = run_probe("plain", tmp_path / "plain-home")
    assert library_default["consent"] is True  # what OpenVINO does on its own: on, with a client-ID file
    assert library_default["written"]
    ours = run_probe("crackseg", tmp_path / "crackseg-home")  # importing crackseg is enough, before openvino
    assert ours == {"consent": False, "written": []}
