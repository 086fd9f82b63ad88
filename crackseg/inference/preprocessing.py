"""Image preprocessing before inference: pure functions plus a registry the UI builds controls from.

Every method takes an RGB ``uint8 (H, W, 3)`` array and returns a *new* RGB
``uint8`` array of the same shape; none changes its input. The registry lists
each method with its parameters (type, default, range), so a page can draw a
slider per parameter without knowing the methods.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np


@dataclass(frozen=True)
class Parameter:
    """One tunable parameter of a preprocessing method, with its UI range."""

    name: str
    label: str
    default: float | int | str
    minimum: float | int | None = None
    maximum: float | int | None = None
    step: float | int | None = None
    choices: tuple[str, ...] = ()
    help: str = ""


@dataclass(frozen=True)
class PreprocessMethod:
    """A named preprocessing function and its parameters."""

    name: str
    label: str
    function: Callable[..., np.ndarray]
    parameters: tuple[Parameter, ...] = field(default_factory=tuple)
    description: str = ""

    def defaults(self) -> dict[str, Any]:
        """Default value of every parameter."""
        return {parameter.name: parameter.default for parameter in self.parameters}


def _check_rgb(rgb: np.ndarray) -> None:
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"expected RGB uint8 (H, W, 3), got shape {rgb.shape} dtype {rgb.dtype}")


def no_preprocessing(rgb: np.ndarray) -> np.ndarray:
    """The image unchanged (a copy, so callers may modify the result)."""
    _check_rgb(rgb)
    return rgb.copy()


def equalize_histogram(rgb: np.ndarray) -> np.ndarray:
    """Global histogram equalization of luminance (Y of YCrCb); colours keep their hue."""
    _check_rgb(rgb)
    ycrcb = cv2.cvtColor(rgb, cv2.COLOR_RGB2YCrCb)
    ycrcb[:, :, 0] = cv2.equalizeHist(ycrcb[:, :, 0])
    return cv2.cvtColor(ycrcb, cv2.COLOR_YCrCb2RGB)


def clahe(rgb: np.ndarray, clip_limit: float = 2.0, tile_grid: int = 8) -> np.ndarray:
    """Contrast-limited adaptive histogram equalization on the L channel of Lab.

    ``clip_limit`` bounds the contrast gain per tile (higher: stronger);
    ``tile_grid`` is the number of tiles per side.
    """
    _check_rgb(rgb)
    if clip_limit <= 0 or tile_grid < 1:
        raise ValueError(f"clip_limit must be > 0 and tile_grid >= 1, got {clip_limit}, {tile_grid}")
    lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB)
    equalizer = cv2.createCLAHE(clipLimit=float(clip_limit), tileGridSize=(int(tile_grid), int(tile_grid)))
    lab[:, :, 0] = equalizer.apply(lab[:, :, 0])
    return cv2.cvtColor(lab, cv2.COLOR_LAB2RGB)


def gamma_correction(rgb: np.ndarray, gamma: float = 1.0) -> np.ndarray:
    """Power-law intensity mapping ``out = 255 * (in / 255) ** (1 / gamma)``; gamma > 1 brightens."""
    _check_rgb(rgb)
    if gamma <= 0:
        raise ValueError(f"gamma must be > 0, got {gamma}")
    table = np.clip(np.rint(255.0 * (np.arange(256) / 255.0) ** (1.0 / gamma)), 0, 255).astype(np.uint8)
    return cv2.LUT(rgb, table)


def denoise(rgb: np.ndarray, method: str = "bilateral", strength: int = 5) -> np.ndarray:
    """Edge-preserving (bilateral) or median denoising; ``strength`` is the filter size in px."""
    _check_rgb(rgb)
    if strength < 1:
        raise ValueError(f"strength must be >= 1, got {strength}")
    if method == "bilateral":
        return cv2.bilateralFilter(rgb, d=int(strength), sigmaColor=50, sigmaSpace=50)
    if method == "median":
        size = int(strength) | 1  # median needs an odd aperture
        return cv2.medianBlur(rgb, size)
    raise ValueError(f"unknown denoise method {method!r} (bilateral or median)")


def grayscale(rgb: np.ndarray) -> np.ndarray:
    """Luminance replicated to three channels (the model expects three)."""
    _check_rgb(rgb)
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    return cv2.cvtColor(gray, cv2.COLOR_GRAY2RGB)


PREPROCESSORS: Mapping[str, PreprocessMethod] = {
    method.name: method
    for method in (
        PreprocessMethod("none", "None", no_preprocessing, description="The image as uploaded."),
        PreprocessMethod(
            "histeq",
            "Histogram equalization",
            equalize_histogram,
            description="Global equalization of luminance (as in the original project).",
        ),
        PreprocessMethod(
            "clahe",
            "CLAHE",
            clahe,
            (
                Parameter("clip_limit", "Clip limit", 2.0, 0.5, 10.0, 0.5, help="Contrast gain cap per tile"),
                Parameter("tile_grid", "Tile grid", 8, 2, 32, 1, help="Tiles per side"),
            ),
            "Local contrast equalization on luminance; lifts cracks in shadowed areas.",
        ),
        PreprocessMethod(
            "gamma",
            "Gamma",
            gamma_correction,
            (Parameter("gamma", "Gamma", 1.5, 0.2, 3.0, 0.1, help="> 1 brightens, < 1 darkens"),),
            "Power-law brightness correction.",
        ),
        PreprocessMethod(
            "denoise",
            "Denoise",
            denoise,
            (
                Parameter("method", "Filter", "bilateral", choices=("bilateral", "median")),
                Parameter("strength", "Filter size (px)", 5, 1, 15, 1),
            ),
            "Removes sensor noise and fine texture while keeping edges.",
        ),
        PreprocessMethod("grayscale", "Grayscale", grayscale, description="Drops colour."),
    )
}


@dataclass(frozen=True)
class PreprocessSpec:
    """A method name and its parameter values; hashable, so it can key caches."""

    method: str = "none"
    params: tuple[tuple[str, Any], ...] = ()

    def __post_init__(self) -> None:
        if self.method not in PREPROCESSORS:
            raise ValueError(f"unknown preprocessing {self.method!r}; choose from {', '.join(PREPROCESSORS)}")
        known = {parameter.name for parameter in PREPROCESSORS[self.method].parameters}
        unknown = {name for name, _ in self.params} - known
        if unknown:
            raise ValueError(f"{self.method} has no parameter(s) {', '.join(sorted(unknown))}")

    @classmethod
    def of(cls, method: str = "none", /, **params: Any) -> PreprocessSpec:
        """Build from keyword parameters (``PreprocessSpec.of("clahe", clip_limit=3)``)."""
        return cls(method=method, params=tuple(sorted(params.items())))

    @property
    def label(self) -> str:
        """Human-readable description, e.g. ``CLAHE (clip_limit=3.0, tile_grid=8)``."""
        method = PREPROCESSORS[self.method]
        values = {**method.defaults(), **dict(self.params)}
        inner = ", ".join(f"{key}={value}" for key, value in values.items())
        return f"{method.label} ({inner})" if inner else method.label


def apply_preprocessing(rgb: np.ndarray, spec: PreprocessSpec | str = "none") -> np.ndarray:
    """Apply a registered method (by spec or name, default parameters) and return a new image."""
    if isinstance(spec, str):
        spec = PreprocessSpec(method=spec)
    method = PREPROCESSORS[spec.method]
    return method.function(rgb, **{**method.defaults(), **dict(spec.params)})
