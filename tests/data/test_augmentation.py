"""Tests for deeprecipe.data.augmentation: flips, geometry, noise, seeding, config."""

from __future__ import annotations

import json

import numpy as np
import pytest

from deeprecipe.data import Augmenter
from deeprecipe.errors import DataError, DeepRecipeError


def _images(rng, shape=(16, 6, 7), dtype=np.float32):
    return rng.random(shape).astype(dtype)


def test_flip_twice_is_identity():
    X = _images(np.random.default_rng(0)).reshape(16, -1)
    aug = Augmenter((6, 7), flip=1.0)
    once = aug(X)
    np.testing.assert_array_equal(once.reshape(16, 6, 7), X.reshape(16, 6, 7)[:, :, ::-1])
    np.testing.assert_array_equal(aug(once), X)


def test_random_flip_mirrors_about_half():
    X = _images(np.random.default_rng(1), (400, 3, 4))
    out = Augmenter((3, 4), flip=True, random_state=0)(X)
    flipped = np.all(out == X[:, :, ::-1], axis=(1, 2))
    kept = np.all(out == X, axis=(1, 2))
    assert np.all(flipped | kept) and 150 < flipped.sum() < 250


@pytest.mark.parametrize("shape, image_shape", [
    ((8, 25), (5, 5)), ((8, 5, 5), (5, 5)), ((8, 5, 5, 3), (5, 5, 3)), ((8, 75), (5, 5, 3)),
])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.uint8])
def test_shapes_and_dtypes_preserved(shape, image_shape, dtype):
    rng = np.random.default_rng(2)
    X = (rng.random(shape) * 255).astype(dtype)
    aug = Augmenter(image_shape, flip=True, crop=1, translate=0.1, rotate=15, zoom=0.1,
                    noise=0.05)
    out = aug(X, np.random.default_rng(3))
    assert out.shape == X.shape and out.dtype == X.dtype


def test_same_rng_state_same_output():
    X = _images(np.random.default_rng(4))
    aug = Augmenter((6, 7), flip=True, crop=2, rotate=10, zoom=0.2, noise=0.1)
    a = aug(X, np.random.default_rng(5))
    b = aug(X, np.random.default_rng(5))
    c = aug(X, np.random.default_rng(6))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    seeded = [Augmenter((6, 7), noise=0.1, random_state=9)(X) for _ in range(2)]
    np.testing.assert_array_equal(*seeded)


def test_noise_changes_values_only_slightly():
    X = _images(np.random.default_rng(7))
    out = Augmenter((6, 7), flip=False, noise=0.01)(X, np.random.default_rng(8))
    assert not np.array_equal(out, X)
    assert np.abs(out - X).max() < 0.1


def test_crop_is_an_integer_shift_with_fill():
    X = np.arange(1, 26, dtype=np.float64).reshape(1, 5, 5)
    aug = Augmenter((5, 5), flip=False, crop=2, fill=0.0)
    for seed in range(5):
        out = aug(X, np.random.default_rng(seed))[0]
        inside = out[out != 0]
        assert set(inside.tolist()) <= set(X.ravel().tolist())  # no interpolation


def test_rotation_by_zero_and_identity_geometry_keeps_images():
    X = _images(np.random.default_rng(9))
    out = Augmenter((6, 7), flip=False, rotate=1e-9)(X, np.random.default_rng(0))
    np.testing.assert_allclose(out, X, atol=1e-6)


def test_config_json_round_trip():
    aug = Augmenter((28, 28), flip=False, crop=2, translate=0.1, rotate=10, zoom=0.1,
                    noise=0.02, random_state=3)
    config = json.loads(json.dumps(aug.get_config()))
    again = Augmenter.from_config(config)
    assert again.get_config() == aug.get_config()
    X = _images(np.random.default_rng(10), (4, 28, 28))
    np.testing.assert_array_equal(aug(X, np.random.default_rng(1)),
                                  again(X, np.random.default_rng(1)))


def test_bad_arguments():
    with pytest.raises(DeepRecipeError):
        Augmenter((5,))
    with pytest.raises(DeepRecipeError):
        Augmenter((5, 5), rotate=-1)
    with pytest.raises(DeepRecipeError):
        Augmenter((5, 5), zoom=1.0)
    with pytest.raises(DataError, match="image_shape"):
        Augmenter((5, 5))(np.zeros((2, 24)))


class _Truthy(float):
    """0.0 that reads as true: forces the interpolating path with a zero translation."""

    def __bool__(self) -> bool:
        return True


@pytest.mark.parametrize("flip", [0.0, 0.5, 1.0])
@pytest.mark.parametrize("crop", [1, 3])
def test_integer_crops_gather_the_exact_pixels_the_interpolation_gives(flip, crop):
    X = _images(np.random.default_rng(4), (40, 8, 8, 3)).reshape(40, -1)
    fast = Augmenter((8, 8, 3), flip=flip, crop=crop, fill=0.7, random_state=1)
    slow = Augmenter((8, 8, 3), flip=flip, crop=crop, fill=0.7, random_state=1)
    slow.translate = _Truthy(0.0)
    out = fast(X)
    np.testing.assert_array_equal(out, slow(X))
    assert (out == np.float32(0.7)).any()  # some pixels came from outside the image
