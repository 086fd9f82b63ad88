"""Untrusted files: no model from a browser, the shipped model checked by hash, typed data paths confined.

A ``.pt`` checkpoint is a pickle (code), and Ultralytics opens it with
``weights_only=False``. So: no page offers a model upload or a model path, the
app's code never opens a model itself (only ``crackseg`` does, from the
operator's ``CRACKSEG_MODEL`` or the shipped file), the shipped file is checked
against ``model/card.json`` *before* it is unpickled, and the dataset paths a
user may type stay inside the folders the operator allowed, ``..`` and
symlinks included.
"""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from crackseg.cli import main
from crackseg.core.errors import ModelLoadError
from crackseg.core.locations import SHIPPED_MODEL
from crackseg.inference import model_loading
from crackseg.inference.model_loading import file_sha256
from crackseg.inference.segmenter import Segmenter
from crackseg.io.allowed_paths import DATA_DIRS_ENV_VAR

REPO = Path(__file__).resolve().parents[1]
APP_SOURCES = sorted([REPO / "app.py", *(REPO / "app_pages").glob("*.py"), *(REPO / "ui").glob("*.py")])
PAGES = {path.stem: path for path in (REPO / "app_pages").glob("*.py")}
MODEL_SUFFIXES = {"pt", "pth", "pkl", "pickle", "ckpt", "onnx", "xml", "bin", "engine", "torchscript", "safetensors"}
# Calls that open (and may unpickle) a model or arbitrary pickled data; allowed only inside crackseg/.
MODEL_OPENING_CALLS = {
    "YOLO",
    "torch.load",
    "torch.jit.load",
    "pickle.load",
    "pickle.loads",
    "joblib.load",
    "np.load",
    "numpy.load",
    "load_yolo",
    "load_yolo_unchecked",
    "open_backend",
    "ensure_export",
    "InferenceSession",
}
FORBIDDEN_IMPORTS = {"ultralytics", "torch", "pickle", "joblib", "dill", "onnxruntime", "openvino"}
CRACKED = "2222.rf.bfd72b1a6235ed53983e11289c619b4e.jpg"


def dotted_name(node: ast.expr) -> str:
    """``torch.jit.load`` for an attribute chain, ``YOLO`` for a name, ``""`` otherwise."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = dotted_name(node.value)
        return f"{base}.{node.attr}" if base else node.attr
    return ""


def calls_in(path: Path) -> list[tuple[str, int, ast.Call]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return [(dotted_name(node.func), node.lineno, node) for node in ast.walk(tree) if isinstance(node, ast.Call)]


# --- no model from the browser -----------------------------------------------------------------------------


@pytest.mark.parametrize("path", APP_SOURCES, ids=lambda path: str(path.relative_to(REPO)))
def test_app_code_never_opens_a_model_or_a_pickle_itself(path: Path) -> None:
    calls = calls_in(path)
    opening = [
        f"{name}() at line {line}" for name, line, _ in calls if name in MODEL_OPENING_CALLS or name.endswith(".YOLO")
    ]
    assert not opening, f"{path.name}: model loading belongs in crackseg/, from the operator's path: {opening}"
    tree = ast.parse(path.read_text(encoding="utf-8"))
    imported = {
        alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names
    }
    imported |= {
        node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module
    }
    assert not imported & FORBIDDEN_IMPORTS, f"{path.name} imports {imported & FORBIDDEN_IMPORTS}"


def test_the_only_segmenter_of_the_app_is_built_from_the_operators_model_path() -> None:
    """``Segmenter(...)`` appears once in the app's code: in ui/resources.py, fed by ``default_model_path()``."""
    built = [
        (path.relative_to(REPO).as_posix(), line)
        for path in APP_SOURCES
        for name, line, _ in calls_in(path)
        if name.split(".")[-1] == "Segmenter"
    ]
    assert [where for where, _ in built] == ["ui/resources.py"]
    resources = calls_in(REPO / "ui" / "resources.py")
    assert any(name == "default_model_path" for name, _, _ in resources)
    loader_calls = [call for name, _, call in resources if name == "_load_segmenter"]
    assert len(loader_calls) == 1
    assert ast.unparse(loader_calls[0].args[0]) == "str(weights)"


def test_every_file_uploader_in_the_code_names_its_file_types() -> None:
    uploaders = [(path.name, line, call) for path in APP_SOURCES for name, line, call in calls_in(path)]
    uploaders = [
        (file, line, call) for file, line, call in uploaders if call.func and "file_uploader" in ast.unparse(call.func)
    ]
    assert uploaders, "the app has uploaders; the scan found none"
    for file, line, call in uploaders:
        assert any(keyword.arg == "type" for keyword in call.keywords), f"{file}:{line}: file_uploader without type="


# Each page, the radio choices that reveal its other widgets, and whether an uploader must then be on screen.
PAGE_STATES = [
    ("home", {}, False),
    ("segment", {}, True),
    ("preprocessing", {"prep_source": "upload"}, True),
    ("preprocessing", {"prep_data_kind": "yolo"}, False),
    ("preprocessing", {"prep_data_kind": "masks"}, False),
    ("training", {}, True),
    ("evaluation", {}, False),
    ("evaluation", {"eval_mode": "new", "eval_data_kind": "yolo"}, False),
    ("evaluation", {"eval_mode": "new", "eval_data_kind": "masks"}, False),
]


@pytest.mark.usefixtures("app_env")
@pytest.mark.parametrize(("page", "radios", "has_uploader"), PAGE_STATES, ids=lambda value: str(value))
def test_no_page_offers_a_model_upload_or_a_model_path(page: str, radios: dict[str, str], has_uploader: bool) -> None:
    at = AppTest.from_file(str(PAGES[page]), default_timeout=120).run()
    for key, value in radios.items():
        at.radio(key=key).set_value(value).run()
    assert not at.exception, [element.value for element in at.exception]
    uploaders = at.get("file_uploader")
    assert bool(uploaders) == has_uploader, f"{page}: {len(uploaders)} uploaders"
    for uploader in uploaders:
        accepted = {suffix.lower().lstrip(".") for suffix in uploader.proto.type}
        assert accepted, f"{page}: an uploader accepting any file type"
        assert not accepted & MODEL_SUFFIXES, f"{page}: an uploader accepting model files {accepted & MODEL_SUFFIXES}"
        label = uploader.proto.label.lower()
        assert "model" not in label and "weight" not in label, uploader.proto.label
    for text_input in at.text_input:
        label = text_input.label.lower()
        assert not any(word in label for word in ("model", "weight", "checkpoint", ".pt")), text_input.label


# --- the shipped model's hash, checked before unpickling ---------------------------------------------------


def tampered_copy(model: Path, target: Path) -> Path:
    """``model`` copied to ``target`` with one extra byte: same weights, another hash."""
    target.parent.mkdir(parents=True)
    shutil.copy2(model, target)
    with target.open("ab") as handle:
        handle.write(b"\0")
    assert file_sha256(target) != file_sha256(model)
    return target


@pytest.fixture
def tampered_shipped_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of model/best.pt with one extra byte, installed as the shipped model (the real card stays)."""
    tampered = tampered_copy(SHIPPED_MODEL, tmp_path / "model" / "best.pt")
    monkeypatch.delenv("CRACKSEG_MODEL", raising=False)
    monkeypatch.setattr(model_loading, "SHIPPED_MODEL", tampered)
    return tampered


@pytest.fixture
def unpickling_forbidden(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """``torch.load`` replaced by a recorder: a test fails if anything unpickles the tampered file."""
    import torch

    attempts: list[str] = []

    def refuse(path, *args, **kwargs):  # noqa: ANN001 - torch.load's signature
        attempts.append(str(path))
        raise AssertionError(f"torch.load({path}) called on an unverified model")

    monkeypatch.setattr(torch, "load", refuse)
    return attempts


@pytest.mark.parametrize("backend", ["torch", "onnx", "openvino", "auto"])
def test_a_tampered_shipped_model_is_refused_before_it_is_unpickled(
    tampered_shipped_model: Path, unpickling_forbidden: list[str], backend: str
) -> None:
    with pytest.raises(ModelLoadError) as caught:
        Segmenter(backend=backend)
    message = str(caught.value)
    assert message == (
        f"{tampered_shipped_model}: SHA-256 does not match model/card.json; the shipped model was changed or damaged"
    )
    assert unpickling_forbidden == []
    assert not (tampered_shipped_model.parent / ".export-cache").exists(), "nothing exported from unverified weights"


def test_a_tampered_street_model_names_the_street_card(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The street model is checked against its own card, and the message says which card."""
    from crackseg.core.locations import STREET_MODEL

    tampered = tampered_copy(STREET_MODEL, tmp_path / "street" / "best.pt")
    monkeypatch.setattr(model_loading, "STREET_MODEL", tampered)
    with pytest.raises(ModelLoadError) as caught:
        model_loading.verify_weights(tampered)
    assert str(caught.value) == (
        f"{tampered}: SHA-256 does not match model/street/card.json; the shipped model was changed or damaged"
    )
    model_loading.verify_weights(STREET_MODEL)  # the shipped street model itself matches its card


def test_cli_refuses_a_tampered_shipped_model_in_one_line(
    tampered_shipped_model: Path, unpickling_forbidden: list[str], tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    sample = REPO / "samples" / "images" / CRACKED
    code = main(["predict", str(sample), "--out", str(tmp_path / "out"), "--backend", "auto"])
    _, err = capfd.readouterr()
    assert code == 2
    assert err.strip().splitlines() == [
        f"error: {tampered_shipped_model}: SHA-256 does not match model/card.json; "
        "the shipped model was changed or damaged"
    ]
    assert unpickling_forbidden == [] and not (tmp_path / "out").exists()


@pytest.mark.usefixtures("app_env")
def test_segment_page_shows_a_clear_error_for_a_tampered_model(
    tampered_shipped_model: Path, unpickling_forbidden: list[str]
) -> None:
    at = AppTest.from_file(str(PAGES["segment"]), default_timeout=120)
    at.session_state["segment_samples"] = [CRACKED]
    at.run()
    assert not at.exception, [element.value for element in at.exception]
    [message] = [element.value for element in at.error]
    assert message.startswith("The model cannot be loaded: ") and "SHA-256 does not match model/card.json" in message
    assert "\n" not in message and not at.dataframe
    assert unpickling_forbidden == []


# --- typed dataset paths stay inside the allowed folders ---------------------------------------------------


@pytest.fixture
def data_roots(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """An allowed folder (``$CRACKSEG_DATA_DIRS``) and a secret YOLO dataset beside it, outside it.

    The allowed folder holds: a symlink to the secret dataset folder, a symlink to its data.yaml,
    and a data.yaml of its own whose split points into the secret folder.
    """
    allowed, secret = tmp_path / "allowed", tmp_path / "secret"
    (secret / "images").mkdir(parents=True)
    (secret / "labels").mkdir()
    source = REPO / "samples" / "images" / CRACKED
    shutil.copy(source, secret / "images" / source.name)
    shutil.copy(REPO / "samples" / "labels" / f"{source.stem}.txt", secret / "labels" / f"{source.stem}.txt")
    (secret / "data.yaml").write_text("train: images\nval: images\ntest: images\nnames: [crack]\n")
    allowed.mkdir()
    (allowed / "linked").symlink_to(secret, target_is_directory=True)
    (allowed / "linked.yaml").symlink_to(secret / "data.yaml")
    (allowed / "pointing").mkdir()
    (allowed / "pointing" / "data.yaml").write_text(
        f"train: {secret / 'images'}\nval: {secret / 'images'}\ntest: {secret / 'images'}\nnames: [crack]\n"
    )
    monkeypatch.setenv(DATA_DIRS_ENV_VAR, str(allowed))
    return {"allowed": allowed, "secret": secret}


ESCAPES = {
    "symlinked-folder": lambda roots: {"data": str(roots["allowed"] / "linked")},
    "symlinked-yaml": lambda roots: {"data": str(roots["allowed"] / "linked.yaml")},
    "symlink-then-file": lambda roots: {"data": str(roots["allowed"] / "linked" / "data.yaml")},
    "dotdot": lambda roots: {"data": f"{roots['allowed']}/../secret/data.yaml"},
    "dotdot-relative": lambda roots: {
        "data": "samples/" + "../" * len(REPO.parts) + str(roots["secret"] / "data.yaml").lstrip("/")
    },
    "yaml-split-outside": lambda roots: {"data": str(roots["allowed"] / "pointing" / "data.yaml")},
    "symlinked-mask-folders": lambda roots: {
        "images": str(roots["allowed"] / "linked" / "images"),
        "masks": str(roots["allowed"] / "linked" / "labels"),
    },
}
PAGE_KEYS = {
    "evaluation": {"prefix": "eval", "button": "eval_run"},
    "preprocessing": {"prefix": "prep", "button": "prep_measure"},
}


@pytest.mark.usefixtures("app_env")
@pytest.mark.parametrize("page", list(PAGE_KEYS))
@pytest.mark.parametrize("escape", list(ESCAPES))
def test_typed_dataset_paths_cannot_leave_the_allowed_folders(
    page: str, escape: str, data_roots: dict[str, Path]
) -> None:
    keys = PAGE_KEYS[page]
    prefix = keys["prefix"]
    inputs = ESCAPES[escape](data_roots)
    at = AppTest.from_file(str(PAGES[page]), default_timeout=120).run()
    if page == "evaluation":
        at.radio(key="eval_mode").set_value("new").run()
    at.radio(key=f"{prefix}_data_kind").set_value("masks" if "images" in inputs else "yolo").run()
    if "images" in inputs:
        at.text_input(key=f"{prefix}_images_path").set_value(inputs["images"])
        at.text_input(key=f"{prefix}_masks_path").set_value(inputs["masks"])
    else:
        at.text_input(key=f"{prefix}_data_path").set_value(inputs["data"])
    at.button(key=keys["button"]).click()
    at.run()
    assert not at.exception, [element.value for element in at.exception]
    errors = [element.value for element in at.error]
    assert len(errors) == 1 and "outside the allowed data folders" in errors[0], errors
    assert "\n" not in errors[0]
    result_key = "eval_result" if page == "evaluation" else "prep_comparison"
    assert result_key not in at.session_state or at.session_state[result_key] is None, "the secret data was read"


@pytest.mark.usefixtures("app_env")
def test_the_same_dataset_inside_the_allowed_folder_is_evaluated(data_roots: dict[str, Path]) -> None:
    """The control: copied (not linked) into the allowed folder, the secret dataset is accepted."""
    inside = data_roots["allowed"] / "copy"
    shutil.copytree(data_roots["secret"], inside)
    at = AppTest.from_file(str(PAGES["evaluation"]), default_timeout=300).run()
    at.radio(key="eval_mode").set_value("new").run()
    at.radio(key="eval_data_kind").set_value("yolo").run()
    at.text_input(key="eval_data_path").set_value(str(inside / "data.yaml"))
    at.button(key="eval_run").click()
    at.run()
    assert not at.exception and not at.error, [element.value for element in at.error]
    assert "1 images" in " ".join(caption.value for caption in at.caption)
