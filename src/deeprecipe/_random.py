"""Explicit randomness: one SeedSequence per run, child Generators per consumer.

Never use the global NumPy RNG.
"""

from __future__ import annotations

import numpy as np

from deeprecipe._typing import RandomState
from deeprecipe.errors import InvalidTypeError, InvalidValueError


def as_seed_sequence(random_state: RandomState) -> np.random.SeedSequence:
    """Return a SeedSequence for None, an int, a SeedSequence or a Generator."""
    if random_state is None or isinstance(random_state, (int, np.integer)):
        if isinstance(random_state, bool):
            raise InvalidTypeError(
                "random_state must be None, an int, a SeedSequence or a Generator, got "
                f"{random_state!r}")
        if random_state is not None and random_state < 0:
            raise InvalidValueError(f"random_state must be >= 0, got {random_state}")
        return np.random.SeedSequence(None if random_state is None else int(random_state))
    if isinstance(random_state, np.random.SeedSequence):
        return random_state
    if isinstance(random_state, np.random.Generator):
        return np.random.SeedSequence(int(random_state.integers(0, 2**63)))
    raise InvalidTypeError(
        "random_state must be None, an int, a SeedSequence or a Generator, "
        f"got {type(random_state).__name__}")


def generator_state(rng: np.random.Generator) -> dict:
    """JSON-serializable state of a Generator (for checkpoints)."""
    return rng.bit_generator.state


def set_generator_state(rng: np.random.Generator, state) -> None:
    """Restore a Generator's state saved with generator_state().

    ``state`` must have the same layout as rng's own (the same keys, the same bit generator,
    integers >= 0) and is tried on a scratch bit generator first, so a corrupt or edited state
    is an InvalidValueError saying what is wrong, never NumPy's raw TypeError or OverflowError.

    >>> rng = np.random.default_rng(0)
    >>> set_generator_state(rng, dict(generator_state(rng), state="x"))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    deeprecipe.errors.InvalidValueError: not a PCG64 state: 'state' must be a table ... got str
    """
    bit_generator = rng.bit_generator
    kind = type(bit_generator).__name__
    problem = _state_problem(bit_generator.state, state, "")
    if problem is None:
        try:
            type(bit_generator)().state = state  # NumPy's own range checks, on a scratch copy
        except (TypeError, ValueError, KeyError, OverflowError):
            problem = "a number is out of the range of the bit generator"
    if problem is not None:
        raise InvalidValueError(f"not a {kind} state: {problem}")
    bit_generator.state = state


def _state_problem(template, value, where: str) -> str | None:
    """What makes ``value`` unlike ``template`` (a bit generator's state), or None."""
    name = f"{where!r} " if where else "the state "
    if isinstance(template, dict):
        if not isinstance(value, dict) or set(value) != set(template):
            got = (f"keys {', '.join(map(repr, sorted(map(str, value)))) or '(none)'}"
                   if isinstance(value, dict) else type(value).__name__)
            return (f"{name}must be a table with keys "
                    f"{', '.join(map(repr, sorted(template)))}, got {got}")
        for key in sorted(template):
            if problem := _state_problem(template[key], value[key], key):
                return problem
    elif isinstance(template, str) and value != template:
        return f"{name}must be {template!r}, got {_short(value)}"
    elif isinstance(template, int) and (not isinstance(value, int) or isinstance(value, bool)
                                        or value < 0):
        return f"{name}must be an integer >= 0, got {_short(value)}"
    return None


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def index_dtype(m: int) -> np.dtype:
    """int32 for row numbers of m < 2**31 rows (4 bytes a row), else int64."""
    return np.dtype(np.int32 if m < 2**31 else np.int64)


def permutation(rng: np.random.Generator, m: int) -> np.ndarray:
    """rng.permutation(m) in index_dtype(m): the same draws and the same order, half the
    memory below 2**31 rows (a Generator's shuffle depends on the length, not the dtype).

    >>> bool((permutation(np.random.default_rng(0), 9)
    ...       == np.random.default_rng(0).permutation(9)).all())
    True
    """
    order = np.arange(m, dtype=index_dtype(m))
    rng.shuffle(order)
    return order
