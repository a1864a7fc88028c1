"""Search spaces on the right scale: r = uniform(log10 low, log10 high), value = 10**r.

The notes' rule: sampling uniformly at random on a linear scale wastes trials. A learning rate
in [1e-4, 1] must give each decade the same share of trials (log scale), and beta in
[0.9, 0.999] must be sampled through 1 - beta on a log scale, because the averaging window
1 / (1 - beta) is what matters and it is most sensitive near 1. Every distribution can ``zoom``
to a box around the best values found (coarse to fine) and list a ``grid`` (for comparison).
"""

from __future__ import annotations

import abc
import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from deeprecipe.errors import ConfigError, InvalidTypeError, InvalidValueError

__all__ = ["Distribution", "LogUniform", "OneMinusLogUniform", "Uniform", "IntUniform", "Choice",
           "DISTRIBUTIONS", "distribution_from_dict"]


def _real(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise InvalidTypeError(f"{name} must be a real number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise InvalidValueError(f"{name} must be finite, got {value!r}")
    return value


def _check_order(kind: str, low: float, high: float) -> None:
    if low > high:
        raise InvalidValueError(f"{kind}: low must be <= high, got low={low!r} > high={high!r} "
                                "(inverted range)")


def _box(scaled: np.ndarray, lo: float, hi: float, margin: float) -> tuple[float, float]:
    """[min - pad, max + pad] of ``scaled`` with pad = margin * (hi - lo), clipped to [lo, hi]."""
    if scaled.size == 0:
        raise InvalidValueError("zoom needs at least one value")
    if margin < 0:
        raise InvalidValueError(f"margin must be >= 0, got {margin!r}")
    pad = margin * (hi - lo)
    return max(lo, float(scaled.min()) - pad), min(hi, float(scaled.max()) + pad)


class Distribution(abc.ABC):
    """Base: ``sample(rng)``, ``grid(n)``, ``zoom(values, margin)``, ``to_dict()``."""

    dist: ClassVar[str] = ""
    numeric: ClassVar[bool] = True

    @abc.abstractmethod
    def sample(self, rng: np.random.Generator) -> Any:
        """One value drawn with ``rng``."""

    @abc.abstractmethod
    def grid(self, n: int) -> list:
        """n values evenly spaced in the distribution's own scale (grid search)."""

    @abc.abstractmethod
    def zoom(self, values, margin: float = 0.1) -> Distribution:
        """The same kind, narrowed to the box around ``values`` (coarse to fine)."""

    @abc.abstractmethod
    def to_dict(self) -> dict:
        """The TOML form, e.g. {"dist": "log_uniform", "low": 1e-4, "high": 1.0}."""


    @classmethod
    def from_dict(cls, d: dict) -> Distribution:
        """Inverse of ``to_dict`` (the "dist" key may be left out)."""
        return distribution_from_dict({**d, "dist": d.get("dist", cls.dist)})


@dataclass(frozen=True)
class Uniform(Distribution):
    """value = uniform(low, high): for hyperparameters whose effect is linear (keep_prob)."""

    low: float
    high: float
    dist: ClassVar[str] = "uniform"

    def __post_init__(self) -> None:
        object.__setattr__(self, "low", _real("low", self.low))
        object.__setattr__(self, "high", _real("high", self.high))
        _check_order(type(self).__name__, self.low, self.high)

    def _to(self, v):  # value -> own scale
        return np.asarray(v, dtype=float)

    def _from(self, r):  # own scale -> value
        return r

    @property
    def bounds(self) -> tuple[float, float]:
        lo, hi = self._to([self.low, self.high])
        return float(min(lo, hi)), float(max(lo, hi))

    def sample(self, rng: np.random.Generator) -> float:
        lo, hi = self.bounds
        value = float(self._from(rng.uniform(lo, hi)))
        return min(max(value, self.low), self.high)  # rounding of 10**r

    def grid(self, n: int) -> list[float]:
        lo, hi = self.bounds
        return sorted(min(max(float(self._from(r)), self.low), self.high)
                      for r in np.linspace(lo, hi, n))

    def zoom(self, values, margin: float = 0.1) -> Distribution:
        """The box around ``values`` in this scale, widened by margin * width, within bounds."""
        lo, hi = _box(self._to(values), *self.bounds, margin)
        a, b = sorted((float(self._from(lo)), float(self._from(hi))))
        return type(self)(max(a, self.low), min(b, self.high))

    def to_dict(self) -> dict:
        return {"dist": self.dist, "low": self.low, "high": self.high}


@dataclass(frozen=True)
class LogUniform(Uniform):
    """r = uniform(log10 low, log10 high), value = 10**r: each decade gets the same share.

    >>> LogUniform(1e-4, 1e-1).bounds
    (-4.0, -1.0)
    """

    dist: ClassVar[str] = "log_uniform"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.low <= 0:
            raise InvalidValueError(f"LogUniform needs 0 < low <= high (a log scale cannot "
                                    f"reach 0), got low={self.low!r}")

    def _to(self, v):
        return np.log10(np.asarray(v, dtype=float))

    def _from(self, r):
        return 10.0 ** r


@dataclass(frozen=True)
class OneMinusLogUniform(Uniform):
    """1 - beta = 10**r, r = uniform(log10(1 - high), log10(1 - low)): for EMA betas.

    Beta in [0.9, 0.999] spends as many trials on [0.9, 0.99] as on [0.99, 0.999].

    >>> [round(beta, 6) for beta in OneMinusLogUniform(0.9, 0.999).grid(3)]
    [0.9, 0.99, 0.999]
    """

    dist: ClassVar[str] = "one_minus_log_uniform"

    def __post_init__(self) -> None:
        super().__post_init__()
        if not (0.0 < self.low < 1.0 and 0.0 < self.high < 1.0):
            raise InvalidValueError(f"OneMinusLogUniform needs beta bounds in (0, 1), got "
                                    f"low={self.low!r}, high={self.high!r}")

    def _to(self, v):
        return np.log10(1.0 - np.asarray(v, dtype=float))

    def _from(self, r):
        return 1.0 - 10.0 ** r


@dataclass(frozen=True)
class IntUniform(Distribution):
    """value = integers(low, high + 1) (inclusive); with log=True floor(10**uniform(...)).

    >>> IntUniform(1, 3).grid(3)
    [1, 2, 3]
    """

    low: int
    high: int
    log: bool = False
    dist: ClassVar[str] = "int_uniform"

    def __post_init__(self) -> None:
        for name in ("low", "high"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
                raise InvalidTypeError(f"IntUniform {name} must be an int, got {v!r}")
            object.__setattr__(self, name, int(v))
        if not isinstance(self.log, (bool, np.bool_)):
            raise InvalidTypeError(f"IntUniform log must be True or False, got {self.log!r}")
        _check_order("IntUniform", self.low, self.high)
        if self.log and self.low < 1:
            raise InvalidValueError(f"IntUniform(log=True) needs low >= 1 (a log scale cannot "
                                    f"reach 0), got low={self.low}")

    @property
    def bounds(self) -> tuple[float, float]:
        if self.log:
            return math.log10(self.low), math.log10(self.high + 1)
        return float(self.low), float(self.high + 1)

    def _clip(self, v: float) -> int:
        return int(min(max(math.floor(v), self.low), self.high))

    def sample(self, rng: np.random.Generator) -> int:
        if self.log:
            return self._clip(10.0 ** rng.uniform(*self.bounds))
        return int(rng.integers(self.low, self.high + 1))

    def grid(self, n: int) -> list[int]:
        lo, hi = self.bounds
        pts = np.linspace(lo, hi, n + 1)[:-1] + (hi - lo) / (2 * n)  # cell centres
        return sorted({self._clip(10.0 ** p if self.log else p) for p in pts})

    def zoom(self, values, margin: float = 0.1) -> IntUniform:
        """The box around ``values`` (rounded outwards to ints), widened, within bounds."""
        v = np.asarray(values, dtype=float)
        lo, hi = _box(np.log10(v) if self.log else v, *self.bounds, margin)
        a, b = (10.0 ** lo, 10.0 ** hi) if self.log else (lo, hi)
        return IntUniform(self._clip(a), self._clip(math.ceil(b - 1e-9)), self.log)

    def to_dict(self) -> dict:
        return {"dist": self.dist, "low": self.low, "high": self.high, "log": self.log}


@dataclass(frozen=True)
class Choice(Distribution):
    """value = options[integers(len(options))]: categorical (mini-batch size, optimizer).

    Not narrowed by ``zoom``: a category has no scale to zoom in on.
    """

    options: tuple
    dist: ClassVar[str] = "choice"
    numeric: ClassVar[bool] = False

    def __post_init__(self) -> None:
        if isinstance(self.options, (str, bytes)) or not hasattr(self.options, "__iter__"):
            raise InvalidTypeError(f"Choice needs a list of options, got {self.options!r}")
        options = tuple(o.item() if isinstance(o, np.generic) else o for o in self.options)
        if not options:
            raise InvalidValueError("Choice needs at least one option, got an empty list")
        object.__setattr__(self, "options", options)

    def sample(self, rng: np.random.Generator) -> Any:
        return self.options[int(rng.integers(len(self.options)))]

    def grid(self, n: int | None = None) -> list:
        return list(self.options)

    def zoom(self, values, margin: float = 0.1) -> Choice:
        return self

    def to_dict(self) -> dict:
        return {"dist": self.dist, "choices": list(self.options)}


DISTRIBUTIONS: dict[str, type[Distribution]] = {
    cls.dist: cls for cls in (LogUniform, OneMinusLogUniform, Uniform, IntUniform, Choice)}


def distribution_from_dict(d: dict, name: str = "space") -> Distribution:
    """The distribution a TOML table describes: {dist = "log_uniform", low = 1e-4, high = 0.1}.

    >>> distribution_from_dict({"dist": "choice", "choices": [32, 64]})
    Choice(options=(32, 64))
    """
    if isinstance(d, Distribution):
        return d
    if not isinstance(d, dict) or "dist" not in d:
        raise ConfigError(f"{name} must be a table with a 'dist' key (one of "
                          f"{', '.join(DISTRIBUTIONS)}), got {d!r}")
    kind = d["dist"]
    if not isinstance(kind, str) or kind not in DISTRIBUTIONS:
        raise ConfigError(f"{name}: unknown dist {kind!r}; allowed: {', '.join(DISTRIBUTIONS)}")
    allowed = {"choice": ("choices",), "int_uniform": ("low", "high", "log")}.get(
        kind, ("low", "high"))
    extra = sorted(set(d) - {"dist", *allowed})
    if extra:
        raise ConfigError(f"{name}: unknown key(s) {extra} for dist {kind!r}; allowed: "
                          f"{', '.join(allowed)}")
    missing = [k for k in allowed if k not in d and k != "log"]
    if missing:
        raise ConfigError(f"{name}: dist {kind!r} needs {', '.join(missing)}")
    try:
        if kind == "choice":
            return Choice(tuple(d["choices"]) if isinstance(d["choices"], list)
                          else d["choices"])
        kwargs = {k: d[k] for k in allowed if k in d}
        return DISTRIBUTIONS[kind](**kwargs)
    except (InvalidValueError, InvalidTypeError) as exc:
        raise ConfigError(f"{name}: {exc}") from None
