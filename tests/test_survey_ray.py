"""`survey --engine ray`: frames decoded on the driver, inspected on Ray actors, written as the local engine writes.

A local Ray with 2 CPUs (started in a child process, as ``predict --engine ray`` is in
test_ray_engine.py) surveys the synthetic drive (tests/survey_drive.py): with the
dark-line test segmenter through ``run_survey`` (every drawn crack found, so the
comparison has content), and with the shipped street model through the CLI. Both must
give the local engine's files byte for byte, also when resuming a run cut short.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from survey_drive import CRACKS, PROFILE, DarkSegmenter, write_drive

from crackseg.survey.ray_inspect import in_order
from crackseg.survey.run import SurveySettings, run_survey
from crackseg.survey.sampling import Sample

REPO = Path(__file__).resolve().parents[1]
TABLES = ("sections.csv", "findings.csv", "samples.csv", "pieces.jsonl")
SETTINGS = SurveySettings(every_m=1.2)

# run in a child: Ray on 2 CPUs, two actors each holding a DarkSegmenter; a full run, then a resumed one
RAY_DRIVER = """
import json, sys
from pathlib import Path
from survey_drive import PROFILE, DarkSegmenter
from crackseg.survey.ray_inspect import RaySurveyEngine
from crackseg.survey.run import SurveySettings, run_survey

video, gpx, full, resumed = map(Path, sys.argv[1:5])
calls = []
with RaySurveyEngine(DarkSegmenter, workers=2, in_flight=3) as engine:
    kwargs = dict(track_path=gpx, profile=PROFILE, settings=SurveySettings(every_m=1.2), engine=engine)
    run_survey([video], None, full, **kwargs)
    run_survey([video], None, resumed, resume=True, progress=lambda *call: calls.append(call[:2]), **kwargs)
print(json.dumps({"resumed_calls": calls}))
"""


def child_env() -> dict[str, str]:
    """The child (and Ray's workers, which inherit it) import crackseg and tests/survey_drive.py."""
    env = {key: value for key, value in os.environ.items() if key not in ("CRACKSEG_MODEL", "CRACKSEG_STREET_MODEL")}
    return env | {"PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "tests")])}


def cli(*argv: str, timeout: int = 900) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "crackseg", *argv],
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def files_under(folder: Path) -> dict[str, bytes]:
    """Every output file but the summary (its settings name the output folder's inputs the same way)."""
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.name not in ("survey.json", "report.html")
    }


def sample(index: int) -> Sample:
    return Sample(index, index * 10, f"frame_{index}", index / 3, None, float(index), 0, 1.0)


@pytest.mark.parametrize("limit", [1, 2, 3])
def test_frames_come_back_in_order_with_a_bounded_number_in_flight(limit: int) -> None:
    frame = np.zeros((2, 2, 3), np.uint8)
    decoded = [True, True, False, True, True, True, False, False, True, True]
    frames = [(sample(i), frame if ok else None, None if ok else f"frame {i} broken") for i, ok in enumerate(decoded)]
    submitted: list[int] = []
    returned: list[int] = []
    most_in_flight = 0

    def submit(item: Sample, rgb: np.ndarray) -> None:
        nonlocal most_in_flight
        submitted.append(item.index)
        most_in_flight = max(most_in_flight, len(submitted) - len(returned))

    def next_result() -> object:
        returned.append(submitted[len(returned)])
        return f"outcome {returned[-1]}"

    out = list(in_order(iter(frames), submit, next_result, limit))
    assert [item.index for item, _, _ in out] == list(range(len(decoded)))
    assert [outcome for _, outcome, _ in out if outcome] == [f"outcome {i}" for i, ok in enumerate(decoded) if ok]
    assert [error for _, _, error in out if error] == ["frame 2 broken", "frame 6 broken", "frame 7 broken"]
    assert most_in_flight == limit  # reached, never passed
    with pytest.raises(ValueError, match="limit"):
        list(in_order(iter(frames), submit, next_result, 0))


@pytest.fixture(scope="module")
def drive(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return write_drive(tmp_path_factory.mktemp("ray-drive"))


@pytest.mark.slow
def test_ray_actors_write_what_the_local_engine_writes_and_resume(drive: tuple[Path, Path], tmp_path: Path) -> None:
    pytest.importorskip("ray.util", reason="Ray is in requirements.txt; this machine lacks it")
    video, gpx = drive
    local = run_survey([video], DarkSegmenter(), tmp_path / "local", track_path=gpx, profile=PROFILE, settings=SETTINGS)
    assert len(local.findings) == len(CRACKS)  # every drawn crack: the comparison below has content
    resumed = tmp_path / "resumed"
    shutil.copytree(local.out_dir, resumed)
    lines = (resumed / "pieces.jsonl").read_text().splitlines()
    cut = next(i for i, line in enumerate(lines) if json.loads(line)["pieces"])  # the redone frame has a crack
    (resumed / "pieces.jsonl").write_text("\n".join(lines[:cut]) + "\n" + lines[cut][:15])  # died mid-line
    argv = [str(video), str(gpx), str(tmp_path / "ray"), str(resumed)]
    result = subprocess.run(
        [sys.executable, "-c", RAY_DRIVER, *argv], env=child_env(), capture_output=True, text=True, timeout=900
    )
    assert result.returncode == 0, result.stderr[-3000:]
    expected = files_under(local.out_dir)
    assert len([name for name in expected if name.startswith("frames/")]) == 2 * len(lines)
    remote = files_under(tmp_path / "ray")
    assert sorted(remote) == sorted(expected)
    for name in expected:
        assert remote[name] == expected[name], name
    calls = json.loads(result.stdout.strip().splitlines()[-1])["resumed_calls"]
    assert calls[0] == [cut + 1, len(lines)] and calls[-1] == [len(lines), len(lines)]  # only from the cut on
    for name in ("sections.csv", "findings.csv", "samples.csv"):
        assert (resumed / name).read_bytes() == expected[name], name


def survey_args(video: Path, gpx: Path, camera: Path, out: Path) -> list[str]:
    return ["survey", str(video), "--gpx", str(gpx), "--camera", str(camera), "--every-m", "2.4", "--out", str(out)]


@pytest.mark.slow
def test_cli_engine_ray_matches_local_with_the_shipped_model(drive: tuple[Path, Path], tmp_path: Path) -> None:
    pytest.importorskip("ray.util", reason="Ray is in requirements.txt; this machine lacks it")
    video, gpx = drive
    camera = tmp_path / "camera.json"
    camera.write_text(json.dumps(PROFILE.to_dict()))
    local = cli(*survey_args(video, gpx, camera, tmp_path / "local"), "--backend", "torch")
    assert local.returncode == 0, local.stderr[-3000:]
    remote = cli(
        *survey_args(video, gpx, camera, tmp_path / "ray"), "--backend", "torch", "--engine", "ray", "--workers", "2"
    )
    assert remote.returncode == 0, remote.stderr[-3000:]
    assert "Traceback" not in remote.stderr
    assert remote.stdout == local.stdout.replace(str(tmp_path / "local"), str(tmp_path / "ray"))  # the summary line
    for name in TABLES:
        assert (tmp_path / "ray" / name).read_bytes() == (tmp_path / "local" / name).read_bytes(), name
    state = json.loads((tmp_path / "ray" / "state.json").read_text())
    assert state["model"]["name"] == "best.pt" and state["model"]["backend"] == "torch"  # the actors' model


def test_an_unreachable_cluster_is_one_line_and_exit_2(drive: tuple[Path, Path], tmp_path: Path) -> None:
    pytest.importorskip("ray", reason="Ray is in requirements.txt; this machine lacks it")
    video, gpx = drive
    argv = [
        "survey",
        str(video),
        "--gpx",
        str(gpx),
        "--out",
        str(tmp_path),
        "--engine",
        "ray",
        "--address",
        "127.0.0.1:9",
    ]
    result = cli(*argv, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: Ray at 127.0.0.1:9 cannot be reached (Connection refused); is the cluster running?"
    ]
