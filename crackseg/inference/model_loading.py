"""Where the model comes from and how it is opened, with clear errors.

A ``.pt`` checkpoint is a pickle, that is code. It is only ever loaded from a
path the operator chose: the shipped ``model/best.pt`` or the ``CRACKSEG_MODEL``
environment variable. Nothing a browser user uploads or types reaches here.
The shipped model's SHA-256 is recorded in its card and checked at load.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from crackseg.core.errors import ModelLoadError
from crackseg.core.locations import MODEL_CARD, PROJECT_ROOT, SHIPPED_MODEL, STREET_MODEL, STREET_MODEL_CARD
from crackseg.core.offline import enforce_offline

if TYPE_CHECKING:
    from ultralytics import YOLO

MODEL_ENV_VAR = "CRACKSEG_MODEL"
STREET_MODEL_ENV_VAR = "CRACKSEG_STREET_MODEL"


def default_model_path(view: str = "top-down") -> Path:
    """The operator's model for a view.

    Top-down: ``$CRACKSEG_MODEL`` if set, else the shipped ``model/best.pt``. Street:
    ``$CRACKSEG_STREET_MODEL`` if set, else the shipped street model ``model/street/best.pt``
    when one has passed its gate, else the top-down model.
    """
    if view == "street":
        configured = os.environ.get(STREET_MODEL_ENV_VAR, "").strip()
        if configured:
            return Path(configured).expanduser().resolve()
        if STREET_MODEL.is_file():
            return STREET_MODEL
    configured = os.environ.get(MODEL_ENV_VAR, "").strip()
    return Path(configured).expanduser().resolve() if configured else SHIPPED_MODEL


TOP_DOWN_CONF = 0.25  # the product's default since stage 1; a card without a chosen conf gets it
DEFAULT_IMGSZ = 416  # the input size every model so far was trained at, unless its card says otherwise


def _view_card_value(view: str, key: str) -> object:
    """``views.<view>.<key>`` from the card of the view's model; None when it has none.

    Only the shipped models have cards; a model chosen by environment variable has none.
    """
    weights = default_model_path(view)
    card_path = {SHIPPED_MODEL.resolve(): MODEL_CARD, STREET_MODEL.resolve(): STREET_MODEL_CARD}.get(weights.resolve())
    try:
        card = json.loads(card_path.read_text(encoding="utf-8")) if card_path is not None else {}
        return card["views"][view][key]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def view_conf(view: str) -> float:
    """The default confidence threshold of a view, as the card of the view's model records it.

    Each is chosen on validation data by the gate that shipped the model: the street view's on the
    survey-vehicle val frames (``views.street.conf``), the top-down view's on crack-seg valid and
    DeepCrack val (``views.top-down.conf``). A model without a usable card entry gets 0.25.
    """
    card_view = "street" if view == "street" else "top-down"
    value = _view_card_value(card_view, "conf")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return TOP_DOWN_CONF
    return float(value) if 0.0 < value < 1.0 else TOP_DOWN_CONF


def view_imgsz(view: str) -> int:
    """The default model input size (px) of a view: the size its model was trained and gated at.

    The street view's comes from its model's card (``views.street.imgsz``, written by the street gate);
    a card without one, an unusable value (not a multiple of 32 from 32 to 2048) and the top-down view
    get 416.
    """
    if view != "street":
        return DEFAULT_IMGSZ
    value = _view_card_value("street", "imgsz")
    if isinstance(value, bool) or not isinstance(value, int) or not 32 <= value <= 2048 or value % 32:
        return DEFAULT_IMGSZ
    return value


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file, read in chunks (weights are megabytes)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def card_of(weights: Path) -> Path | None:
    """The card of ``weights`` if they are a shipped model's (top-down or street), else None."""
    cards = {SHIPPED_MODEL.resolve(): MODEL_CARD, STREET_MODEL.resolve(): STREET_MODEL_CARD}
    return cards.get(weights.resolve())


def expected_sha256(weights: Path) -> str | None:
    """The SHA-256 the model card records for ``weights``, if it is a shipped model (top-down or street)."""
    card_path = card_of(weights)
    if card_path is None or not card_path.is_file():
        return None
    try:
        card = json.loads(card_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    value = card.get("weights", {}).get("sha256")
    return value if isinstance(value, str) and value else None


def verify_weights(weights: Path) -> None:
    """Raise ``ModelLoadError`` if the file is missing or differs from its card's hash."""
    if not weights.is_file():
        raise ModelLoadError(f"{weights}: model file not found (set {MODEL_ENV_VAR} or restore model/best.pt)")
    expected = expected_sha256(weights)
    if expected is not None and file_sha256(weights) != expected:
        card = card_of(weights)
        card_name = card.relative_to(PROJECT_ROOT) if card and card.is_relative_to(PROJECT_ROOT) else card
        raise ModelLoadError(f"{weights}: SHA-256 does not match {card_name}; the shipped model was changed or damaged")


def load_yolo(weights: Path | str) -> YOLO:
    """Open an Ultralytics segmentation checkpoint, offline.

    Raises ``ModelLoadError`` naming the path when the file is missing, fails
    the card's hash check, cannot be unpickled, or is not a segmentation model.
    """
    weights = Path(weights)
    verify_weights(weights)
    enforce_offline()
    from ultralytics import YOLO

    try:
        model = YOLO(str(weights), task="segment")
    except Exception as error:  # noqa: BLE001 - any failure to open is the same user-facing error
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ModelLoadError(f"{weights}: not a readable Ultralytics checkpoint ({reason[:200]})") from error
    if getattr(model, "task", None) != "segment":
        raise ModelLoadError(f"{weights}: a {model.task!r} model, not a segmentation model")
    return model
