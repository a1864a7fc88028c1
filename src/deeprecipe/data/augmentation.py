"""Data augmentation: random flips, crops, translations, rotations, zooms and noise.

More training data reduces variance; augmented copies are a cheap (if redundant) source of
it. The training loop calls an Augmenter on each *training* mini-batch. Never augment the
dev or test sets: they must measure performance on the real distribution.
"""

from __future__ import annotations

import numbers

import numpy as np

from deeprecipe._random import as_seed_sequence
from deeprecipe._typing import RandomState
from deeprecipe._validation import check_in_range, check_int
from deeprecipe.errors import DataError, InvalidTypeError, InvalidValueError

__all__ = ["Augmenter"]


class Augmenter:
    """x_aug(r, c) = x(A_i @ ((r, c) - center) + center + t_i) + noise, one affine per sample.

    For each sample i, A_i = R(angle) @ diag(1, flip) / scale, with angle ~ U(-rotate,
    rotate) degrees, scale ~ U(1 - zoom, 1 + zoom), flip = -1 with probability ``flip``;
    t_i is a shift of up to ``translate`` * side (any real amount) plus an integer shift of
    up to ``crop`` pixels (pad-and-crop). All samples are resampled at once by one
    bilinear ``scipy.ndimage.map_coordinates`` call on the (m, H, W, C) block; pixels from
    outside the image take the value ``fill``. Gaussian noise of standard deviation
    ``noise`` is added last.

    Apply it to training mini-batches only (the dev and test sets must stay real).
    Horizontal flips suit photos (a mirrored cat is a cat) but not digits or text.

    Parameters
    ----------
    image_shape : (H, W) or (H, W, C)
    flip : bool or float
        Probability of a horizontal flip; True means 0.5.
    crop : int
        Pad by this many pixels and crop back at a random offset.
    translate, zoom : float in [0, 1)
        Largest shift as a fraction of the side; largest relative change of scale.
    rotate : float
        Largest rotation in degrees, in [0, 180].
    noise : float
        Standard deviation of additive Gaussian noise (in units of the data).
    fill : float
        Value for pixels that come from outside the image.
    random_state : None, int, SeedSequence or Generator
        Seed of the generator used when __call__ gets no rng.

    Examples
    --------
    >>> X = np.arange(6.0).reshape(1, 6)            # one 2x3 image, flattened
    >>> Augmenter((2, 3), flip=1.0)(X).tolist()     # always flip: mirror each row
    [[2.0, 1.0, 0.0, 5.0, 4.0, 3.0]]
    """

    def __init__(self, image_shape, *, flip: bool | float = True, crop: int = 0,
                 translate: float = 0.0, rotate: float = 0.0, zoom: float = 0.0,
                 noise: float = 0.0, fill: float = 0.0,
                 random_state: RandomState = None) -> None:
        shape = tuple(image_shape) if isinstance(image_shape, (tuple, list)) else None
        if shape is None or len(shape) not in (2, 3) or not all(
                isinstance(s, numbers.Integral) and not isinstance(s, bool) and s > 0
                for s in shape):
            raise InvalidValueError(f"image_shape must be (H, W) or (H, W, C) of positive "
                                    f"ints, got {image_shape!r}")
        self.image_shape = tuple(int(s) for s in shape)
        if isinstance(flip, bool):
            flip = 0.5 if flip else 0.0
        self.flip = float(check_in_range("flip", flip, low=0.0, high=1.0))
        self.crop = check_int("crop", crop, low=0, high=min(self.image_shape[:2]) - 1)
        self.translate = float(check_in_range("translate", translate, low=0.0, high=1.0,
                                              closed="left"))
        self.rotate = float(check_in_range("rotate", rotate, low=0.0, high=180.0))
        self.zoom = float(check_in_range("zoom", zoom, low=0.0, high=1.0, closed="left"))
        self.noise = float(check_in_range("noise", noise, low=0.0))
        self.fill = float(check_in_range("fill", fill))
        self.random_state = random_state
        self._rng = np.random.default_rng(as_seed_sequence(random_state))

    def _as_block(self, X) -> tuple[np.ndarray, tuple]:
        arr = np.asarray(X)
        if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool) or arr.ndim < 2:
            raise DataError(f"X must be a numeric batch with samples as rows, got dtype "
                            f"{arr.dtype} and shape {arr.shape}")
        H, W = self.image_shape[:2]
        C = self.image_shape[2] if len(self.image_shape) == 3 else 1
        if int(np.prod(arr.shape[1:])) != H * W * C:
            raise DataError(f"X has samples of shape {arr.shape[1:]}, which does not match "
                            f"image_shape {self.image_shape}")
        return arr.reshape(len(arr), H, W, C), arr.shape

    def __call__(self, X_batch, rng: np.random.Generator | None = None) -> np.ndarray:
        """A randomly augmented copy of the training mini-batch, same shape and dtype."""
        if rng is None:
            rng = self._rng
        elif not isinstance(rng, np.random.Generator):
            raise InvalidTypeError(f"rng must be a numpy Generator or None, got "
                                   f"{type(rng).__name__}")
        block, shape = self._as_block(X_batch)
        dtype = block.dtype
        m, H, W, C = block.shape
        out = block.astype(np.float64 if dtype == np.float64 else np.float32)
        if m == 0:
            return np.asarray(X_batch).copy()
        flips = rng.random(m) < self.flip if self.flip > 0 else np.zeros(m, dtype=bool)
        geometric = self.crop or self.translate or self.rotate or self.zoom
        if geometric:
            out = self._affine(out, flips, rng)
        elif flips.any():
            out[flips] = out[flips, :, ::-1]
        if self.noise > 0:  # drawn in out's precision: float32 draws for float32 data
            out += self.noise * rng.standard_normal(size=out.shape, dtype=out.dtype)
        if np.issubdtype(dtype, np.integer):
            info = np.iinfo(dtype)
            out = np.clip(np.rint(out), info.min, info.max)
        elif dtype == np.dtype(bool):
            out = out >= 0.5
        return out.astype(dtype, copy=False).reshape(shape)

    def _affine(self, block: np.ndarray, flips: np.ndarray,
                rng: np.random.Generator) -> np.ndarray:
        """Resample every image through its own affine map in one map_coordinates call."""
        from scipy.ndimage import map_coordinates  # heavy: loaded on use

        m, H, W, C = block.shape
        angle = -np.deg2rad(rng.uniform(-self.rotate, self.rotate, m))  # + = counter-clockwise
        scale = rng.uniform(1.0 - self.zoom, 1.0 + self.zoom, m)
        shift = rng.uniform(-self.translate, self.translate, (m, 2)) * np.array([H, W])
        if self.crop:
            shift += rng.integers(-self.crop, self.crop + 1, (m, 2))
        if not (self.rotate or self.zoom or self.translate):
            return self._shifted(block, flips, np.rint(shift).astype(np.intp))
        sign = np.where(flips, -1.0, 1.0)
        cos, sin = np.cos(angle) / scale, np.sin(angle) / scale
        rr, cc = np.meshgrid(np.arange(H) - (H - 1) / 2, np.arange(W) - (W - 1) / 2,
                             indexing="ij")
        rr, cc = rr[None], cc[None] * sign[:, None, None]  # flip the output column axis
        cos, sin = cos[:, None, None], sin[:, None, None]
        src_r = cos * rr - sin * cc + (H - 1) / 2 - shift[:, 0, None, None]
        src_c = sin * rr + cos * cc + (W - 1) / 2 - shift[:, 1, None, None]
        coords = np.empty((4, m, H, W, C), dtype=np.float64)
        coords[0] = np.arange(m)[:, None, None, None]
        coords[1] = src_r[..., None]
        coords[2] = src_c[..., None]
        coords[3] = np.arange(C)
        snapped = np.rint(coords)  # exact pixels stay exact (flips, crops, zero angles)
        coords = np.where(np.abs(coords - snapped) < 1e-6, snapped, coords)
        res = map_coordinates(block, coords, order=1, mode="grid-constant", cval=self.fill)
        return res.astype(block.dtype, copy=False)

    def _shifted(self, block: np.ndarray, flips: np.ndarray, shift: np.ndarray) -> np.ndarray:
        """Integer shifts and flips only: x_aug(r, c) = x(r - t_r, c' - t_c) with c' = c or
        W - 1 - c, pixels from outside = ``fill``; the exact pixels the affine path gives,
        by one gather from a padded copy instead of interpolation."""
        m, H, W, C = block.shape
        p = self.crop
        padded = np.full((m, H + 2 * p, W + 2 * p, C), self.fill, dtype=block.dtype)
        padded[:, p:p + H, p:p + W] = block
        cols = np.arange(W)
        rows = np.arange(H)[None, :] - shift[:, :1] + p                          # (m, H)
        cols = np.where(flips[:, None], W - 1 - cols, cols) - shift[:, 1:] + p     # (m, W)
        return padded[np.arange(m)[:, None, None], rows[:, :, None], cols[:, None, :]]

    def get_config(self) -> dict:
        """JSON-ready constructor arguments (random_state only if it is None or an int)."""
        rs = self.random_state
        return {"image_shape": list(self.image_shape), "flip": self.flip, "crop": self.crop,
                "translate": self.translate, "rotate": self.rotate, "zoom": self.zoom,
                "noise": self.noise, "fill": self.fill,
                "random_state": int(rs) if isinstance(rs, (int, np.integer)) else None}

    @classmethod
    def from_config(cls, config: dict) -> Augmenter:
        """Rebuild an Augmenter from get_config() output."""
        return cls(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"Augmenter({args})"
