"""Learning-rate schedules: pure, frozen dataclasses mapping the 1-based epoch_num to a rate.

The training loop (or a LearningRateScheduler callback) applies one at the start of each epoch:
``optimizer.learning_rate = schedule(epoch_num)`` for epoch_num = 1, 2, ... (1 epoch = 1 pass
through the training set, as in the lecture's decay table). Each schedule validates its fields
at construction, raises InvalidValueError for epoch_num < 1 or if the rate it would return is not
positive (e.g. underflow to 0.0), and round-trips through ``get_config`` /
``schedule_from_config`` as plain JSON.

The set, with lr0 the initial learning rate alpha_0:

====================  =================================================================
``Constant``          lr0
``InverseTimeDecay``  lr0 / (1 + decay_rate * epoch_num)
``ExponentialDecay``  lr0 * base ** floor(epoch_num / every)   (every=1: base**epoch_num)
``SqrtDecay``         lr0 * k / sqrt(epoch_num); ``at_step(t)``: lr0 * k / sqrt(t)
``Staircase``         lr0 / (1 + decay_rate * floor(epoch_num / interval))  (fixed interval)
``Piecewise``         lr0 until boundaries[0], then values[i] from boundaries[i] on
====================  =================================================================
"""

from __future__ import annotations

import bisect
import dataclasses
import itertools
import math
from collections.abc import Iterable

from deeprecipe._typing import Schedule
from deeprecipe._validation import check_choice, check_in_range, check_int, registered_class
from deeprecipe.errors import ConfigError, InvalidTypeError, InvalidValueError

__all__ = [
    "Constant", "InverseTimeDecay", "ExponentialDecay", "SqrtDecay", "Staircase", "Piecewise",
    "SCHEDULES", "make_schedule", "schedule_from_config",
]


def _factor(factor: float) -> float:
    return check_in_range("factor", factor, low=0.0, closed="neither")


@dataclasses.dataclass(frozen=True)
class _ScheduleBase:
    """Shared checks: epoch_num >= 1 in, a finite positive learning rate out."""

    lr0: float

    def __post_init__(self) -> None:
        self._set("lr0", check_in_range("lr0", self.lr0, low=0.0, closed="neither"))

    def _set(self, name: str, value) -> None:
        object.__setattr__(self, name, float(value))  # normalise numpy scalars for JSON

    def _rate(self, epoch_num: int) -> float:
        raise NotImplementedError  # abstractmethod: every schedule defines it

    def _checked(self, lr: float, where: str) -> float:
        if not (math.isfinite(lr) and lr > 0.0):
            raise InvalidValueError(f"{type(self).__name__} gives a non-positive learning rate "
                                    f"{lr!r} at {where}; the learning rate must be > 0")
        return lr

    def __call__(self, epoch_num: int) -> float:
        epoch_num = check_int("epoch_num", epoch_num, low=1)
        return self._checked(float(self._rate(epoch_num)), f"epoch_num={epoch_num}")

    def scaled(self, factor: float):
        """The same schedule with every learning rate times ``factor`` (a nudge of alpha)."""
        return dataclasses.replace(self, lr0=self.lr0 * _factor(factor))

    def get_config(self) -> dict:
        """JSON configuration: {"type": ClassName, **fields} (tuples as lists)."""
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return {"type": type(self).__name__,
                **{k: list(v) if isinstance(v, tuple) else v for k, v in fields.items()}}


@dataclasses.dataclass(frozen=True)
class Constant(_ScheduleBase):
    """lr = lr0 for every epoch.

    >>> Constant(0.01)(7)
    0.01
    """

    def _rate(self, epoch_num: int) -> float:
        return self.lr0


@dataclasses.dataclass(frozen=True)
class InverseTimeDecay(_ScheduleBase):
    """lr = lr0 / (1 + decay_rate * epoch_num), epoch_num = 1, 2, ... (the lecture's table).

    >>> [round(InverseTimeDecay(lr0=0.2, decay_rate=1.0)(e), 3) for e in (1, 2, 3, 4)]
    [0.1, 0.067, 0.05, 0.04]
    """

    decay_rate: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        self._set("decay_rate", check_in_range("decay_rate", self.decay_rate, low=0.0))

    def _rate(self, epoch_num: int) -> float:
        return self.lr0 / (1.0 + self.decay_rate * epoch_num)


@dataclasses.dataclass(frozen=True)
class ExponentialDecay(_ScheduleBase):
    """lr = lr0 * base ** floor(epoch_num / every); every = 1 is the lecture's 0.95**epoch_num.

    ``every > 1`` gives a multiplicative staircase: the rate is multiplied by ``base`` at epochs
    every, 2 * every, ... (epochs 1 .. every - 1 use lr0).

    >>> [round(ExponentialDecay(lr0=0.2, base=0.95)(e), 4) for e in (1, 2, 3)]
    [0.19, 0.1805, 0.1715]
    >>> [ExponentialDecay(lr0=0.2, base=0.5, every=2)(e) for e in (1, 2, 3, 4)]
    [0.2, 0.1, 0.1, 0.05]
    """

    base: float = 0.95
    every: int = 1

    def __post_init__(self) -> None:
        super().__post_init__()
        self._set("base", check_in_range("base", self.base, low=0.0, high=1.0, closed="right"))
        object.__setattr__(self, "every", check_int("every", self.every, low=1))

    def _rate(self, epoch_num: int) -> float:
        return self.lr0 * self.base ** (epoch_num // self.every)


@dataclasses.dataclass(frozen=True)
class SqrtDecay(_ScheduleBase):
    """lr = lr0 * k / sqrt(epoch_num); per mini-batch step: ``at_step(t)`` = lr0 * k / sqrt(t).

    >>> [round(SqrtDecay(lr0=0.2)(e), 4) for e in (1, 2, 4)]
    [0.2, 0.1414, 0.1]
    >>> SqrtDecay(lr0=0.2, k=0.5).at_step(100)
    0.01
    """

    k: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        self._set("k", check_in_range("k", self.k, low=0.0, closed="neither"))

    def _rate(self, epoch_num: int) -> float:
        return self.lr0 * self.k / math.sqrt(epoch_num)

    def at_step(self, t: int) -> float:
        """lr = lr0 * k / sqrt(t) for the 1-based mini-batch step count t."""
        t = check_int("t", t, low=1)
        return self._checked(self.lr0 * self.k / math.sqrt(t), f"t={t}")


@dataclasses.dataclass(frozen=True)
class Staircase(_ScheduleBase):
    """lr = lr0 / (1 + decay_rate * floor(epoch_num / interval)): inverse-time decay in steps.

    The "fixed interval scheduling" form: the rate stays flat for ``interval`` epochs and drops
    at epochs interval, 2 * interval, ... (epochs 1 .. interval - 1 use lr0). With interval = 1
    it is InverseTimeDecay. For a multiplicative staircase use ExponentialDecay(every=...).

    >>> [round(Staircase(lr0=0.2, decay_rate=1.0, interval=2)(e), 4) for e in (1, 2, 3, 4, 6)]
    [0.2, 0.1, 0.1, 0.0667, 0.05]
    """

    decay_rate: float = 1.0
    interval: int = 10

    def __post_init__(self) -> None:
        super().__post_init__()
        self._set("decay_rate", check_in_range("decay_rate", self.decay_rate, low=0.0))
        object.__setattr__(self, "interval", check_int("interval", self.interval, low=1))

    def _rate(self, epoch_num: int) -> float:
        return self.lr0 / (1.0 + self.decay_rate * (epoch_num // self.interval))


@dataclasses.dataclass(frozen=True)
class Piecewise(_ScheduleBase):
    """lr = lr0 for epoch_num < boundaries[0], values[i] for boundaries[i] <= epoch_num < next.

    Manual changes, e.g. the learning-rate nudges of a babysat ("panda") run; ``boundaries`` are
    strictly increasing epoch numbers >= 1 and ``values`` the positive rates that start there.

    >>> sched = Piecewise(0.1, boundaries=(3, 5), values=(0.05, 0.01))
    >>> [sched(e) for e in (1, 2, 3, 4, 5, 9)]
    [0.1, 0.1, 0.05, 0.05, 0.01, 0.01]
    >>> sched.with_change(4, 0.02)(9)     # a nudge at epoch 4 replaces the later changes
    0.02
    """

    boundaries: tuple[int, ...] = ()
    values: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("boundaries", "values"):
            if not isinstance(getattr(self, name), (tuple, list)):
                raise InvalidTypeError(f"{name} must be a tuple or list, got "
                                       f"{getattr(self, name)!r}")
        bounds = tuple(check_int(f"boundaries[{i}]", b, low=1)
                       for i, b in enumerate(self.boundaries))
        vals = tuple(float(check_in_range(f"values[{i}]", v, low=0.0, closed="neither"))
                     for i, v in enumerate(self.values))
        if len(bounds) != len(vals):
            raise InvalidValueError(f"boundaries and values must have the same length, got "
                                    f"{len(bounds)} and {len(vals)}")
        if any(b >= c for b, c in itertools.pairwise(bounds)):
            raise InvalidValueError(f"boundaries must be strictly increasing, got {bounds}")
        object.__setattr__(self, "boundaries", bounds)
        object.__setattr__(self, "values", vals)

    @classmethod
    def from_changes(cls, lr0: float, changes: Iterable[tuple[int, float]]) -> Piecewise:
        """Build from (epoch_num, value) changes in any order; a later duplicate epoch wins.

        >>> Piecewise.from_changes(0.1, [(5, 0.01), (3, 0.05)])
        Piecewise(lr0=0.1, boundaries=(3, 5), values=(0.05, 0.01))
        """
        try:
            merged = dict(sorted(dict(changes).items()))  # last duplicate wins, then sorted
        except (TypeError, ValueError):  # not pairs, or epochs that do not compare
            raise InvalidTypeError("changes must be (epoch_num, value) pairs such as "
                                   f"[(3, 0.05), (5, 0.01)], got {changes!r:.80}") from None
        return cls(lr0, tuple(merged), tuple(merged.values()))

    def scaled(self, factor: float) -> Piecewise:
        """lr0 and every value times ``factor``."""
        factor = _factor(factor)
        return type(self)(self.lr0 * factor, self.boundaries,
                          tuple(v * factor for v in self.values))

    def with_change(self, epoch_num: int, value: float) -> Piecewise:
        """A new schedule using ``value`` from ``epoch_num`` on; drops changes at or after it."""
        epoch_num = check_int("epoch_num", epoch_num, low=1)
        keep = bisect.bisect_left(self.boundaries, epoch_num)
        return type(self)(self.lr0, (*self.boundaries[:keep], epoch_num),
                          (*self.values[:keep], value))

    def _rate(self, epoch_num: int) -> float:
        i = bisect.bisect_right(self.boundaries, epoch_num)
        return self.lr0 if i == 0 else self.values[i - 1]


SCHEDULES: dict[str, type[_ScheduleBase]] = {
    "constant": Constant, "inverse_time": InverseTimeDecay, "exponential": ExponentialDecay,
    "sqrt": SqrtDecay, "staircase": Staircase, "piecewise": Piecewise,
}


def _build(cls: type[_ScheduleBase], kwargs: dict) -> _ScheduleBase:
    try:
        return cls(**kwargs)
    except TypeError as exc:  # unknown or missing field
        allowed = [f.name for f in dataclasses.fields(cls)]
        raise ConfigError(f"bad {cls.__name__} arguments {sorted(kwargs)}: {exc}; "
                          f"allowed fields are {allowed}") from None


def make_schedule(name: str, **kwargs) -> Schedule:
    """The schedule registered as ``name`` (see SCHEDULES), built from keyword fields.

    >>> make_schedule("inverse_time", lr0=0.2, decay_rate=1.0)(1)
    0.1
    """
    return _build(SCHEDULES[check_choice("schedule", name, tuple(SCHEDULES))], kwargs)


def schedule_from_config(cfg: dict) -> Schedule:
    """Rebuild a schedule from ``get_config()``; "type" is a class or registry name.

    >>> schedule_from_config({"type": "Staircase", "lr0": 0.2, "decay_rate": 1.0, "interval": 5})
    Staircase(lr0=0.2, decay_rate=1.0, interval=5)
    """
    cls, kwargs = registered_class("schedule", cfg, SCHEDULES)
    return _build(cls, kwargs)
