"""Preprocessing methods and their registry (crackseg.inference.preprocessing)."""

from __future__ import annotations

import numpy as np
import pytest

from crackseg.inference.preprocessing import (
    PREPROCESSORS,
    PreprocessSpec,
    apply_preprocessing,
    clahe,
    denoise,
    equalize_histogram,
    gamma_correction,
    grayscale,
)


def road_like(height: int = 48, width: int = 64, seed: int = 0) -> np.ndarray:
    """Grey-brown asphalt texture with a dark crack line, RGB uint8."""
    rng = np.random.default_rng(seed)
    base = rng.normal(120, 12, size=(height, width, 1)) + np.array([8.0, 0.0, -10.0])
    base[height // 2 - 1 : height // 2 + 1, 5:-5] -= 60
    return np.clip(base, 0, 255).astype(np.uint8)


def low_contrast(height: int = 48, width: int = 64) -> np.ndarray:
    """Grey levels squeezed into 100..130."""
    ramp = np.linspace(100, 130, width)[None, :, None]
    return np.broadcast_to(ramp, (height, width, 3)).astype(np.uint8).copy()


def all_specs() -> list[PreprocessSpec]:
    specs = [PreprocessSpec(name) for name in PREPROCESSORS]
    specs += [
        PreprocessSpec.of("clahe", clip_limit=4.0, tile_grid=4),
        PreprocessSpec.of("gamma", gamma=0.5),
        PreprocessSpec.of("denoise", method="median", strength=4),
    ]
    return specs


@pytest.mark.parametrize("spec", all_specs(), ids=lambda spec: spec.label)
def test_every_method_returns_a_new_uint8_image_and_leaves_the_input_alone(spec: PreprocessSpec) -> None:
    rgb = road_like()
    before = rgb.copy()
    out = apply_preprocessing(rgb, spec)
    assert out.shape == rgb.shape and out.dtype == np.uint8
    assert not np.shares_memory(out, rgb)
    np.testing.assert_array_equal(rgb, before)


def test_registry_lists_the_issue_methods_with_valid_defaults() -> None:
    assert set(PREPROCESSORS) == {"none", "histeq", "clahe", "gamma", "denoise", "grayscale"}
    for name, method in PREPROCESSORS.items():
        assert method.name == name and method.label
        for parameter in method.parameters:
            if parameter.choices:
                assert parameter.default in parameter.choices
            else:
                assert parameter.minimum <= parameter.default <= parameter.maximum, (name, parameter)
        PreprocessSpec.of(name, **method.defaults())  # defaults are accepted by the spec


def test_histogram_equalization_spreads_a_low_contrast_image() -> None:
    rgb = low_contrast()
    out = equalize_histogram(rgb)
    assert out.std() > 3 * rgb.std()
    assert out.min() < 20 and out.max() > 235
    # monotonic along the ramp: equalization re-maps levels, never reorders them
    assert np.all(np.diff(out[0, :, 1].astype(int)) >= 0)


def test_histogram_equalization_keeps_hue() -> None:
    rgb = np.zeros((32, 32, 3), dtype=np.uint8)
    rgb[:, :16] = (60, 30, 30)  # dark red
    rgb[:, 16:] = (30, 30, 60)  # dark blue
    out = equalize_histogram(rgb).astype(int)
    assert out[0, 0, 0] > out[0, 0, 2] and out[0, -1, 2] > out[0, -1, 0]


def test_clahe_raises_local_contrast() -> None:
    rgb = low_contrast()
    assert clahe(rgb, clip_limit=4.0, tile_grid=4).std() > rgb.std()


@pytest.mark.parametrize(("clip_limit", "tile_grid"), [(0.0, 8), (-1.0, 8), (2.0, 0)])
def test_clahe_parameters_are_validated(clip_limit: float, tile_grid: int) -> None:
    with pytest.raises(ValueError, match="clip_limit must be > 0 and tile_grid >= 1"):
        clahe(road_like(), clip_limit=clip_limit, tile_grid=tile_grid)


def test_gamma_one_is_identity_and_gamma_brightens_or_darkens() -> None:
    rgb = road_like()
    np.testing.assert_array_equal(gamma_correction(rgb, 1.0), rgb)
    assert gamma_correction(rgb, 2.0).mean() > rgb.mean() > gamma_correction(rgb, 0.5).mean()
    # known values: 64 with gamma 2 -> 255 * (64/255) ** 0.5 = 127.75 -> 128
    assert gamma_correction(np.full((8, 8, 3), 64, np.uint8), 2.0)[0, 0, 0] == 128
    with pytest.raises(ValueError, match="gamma must be > 0"):
        gamma_correction(rgb, 0.0)


def test_denoise_removes_salt_and_pepper_with_median() -> None:
    rgb = np.full((32, 32, 3), 100, dtype=np.uint8)
    noisy = rgb.copy()
    noisy[::7, ::5] = 255
    assert np.abs(denoise(noisy, "median", 3).astype(int) - 100).max() == 0
    with pytest.raises(ValueError, match="unknown denoise method"):
        denoise(rgb, "gaussian", 3)
    with pytest.raises(ValueError, match="strength must be >= 1"):
        denoise(rgb, "median", 0)


def test_grayscale_has_equal_channels() -> None:
    out = grayscale(road_like())
    assert (out[..., 0] == out[..., 1]).all() and (out[..., 1] == out[..., 2]).all()


@pytest.mark.parametrize(
    "bad",
    [np.zeros((8, 8), np.uint8), np.zeros((8, 8, 4), np.uint8), np.zeros((8, 8, 3), np.float32)],
    ids=["2d", "rgba", "float"],
)
def test_non_rgb_uint8_input_is_refused(bad: np.ndarray) -> None:
    for name in PREPROCESSORS:
        with pytest.raises(ValueError, match=r"expected RGB uint8 \(H, W, 3\)"):
            apply_preprocessing(bad, name)


def test_spec_validation_and_labels() -> None:
    with pytest.raises(ValueError, match="unknown preprocessing 'sharpen'"):
        PreprocessSpec("sharpen")
    with pytest.raises(ValueError, match="clahe has no parameter"):
        PreprocessSpec.of("clahe", gamma=2.0)
    assert PreprocessSpec().label == "None"
    assert PreprocessSpec.of("clahe", clip_limit=3.0).label == "CLAHE (clip_limit=3.0, tile_grid=8)"
    assert PreprocessSpec.of("gamma").label == "Gamma (gamma=1.5)"
    # hashable and order-independent, so it can key caches
    first = PreprocessSpec.of("clahe", tile_grid=4, clip_limit=3.0)
    assert first == PreprocessSpec.of("clahe", clip_limit=3.0, tile_grid=4)
    assert len({first, PreprocessSpec.of("clahe", clip_limit=3.0, tile_grid=4)}) == 1


def test_spec_parameters_reach_the_function() -> None:
    rgb = road_like()
    np.testing.assert_array_equal(
        apply_preprocessing(rgb, PreprocessSpec.of("gamma", gamma=2.0)), gamma_correction(rgb, 2.0)
    )
    np.testing.assert_array_equal(apply_preprocessing(rgb, "gamma"), gamma_correction(rgb, 1.5))
