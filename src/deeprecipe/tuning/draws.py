"""Where each trial of a random or grid search lies: a function of (seed, round, index) alone.

Random: trial i of round r is drawn from ``default_rng(SeedSequence([seed, r]).spawn(n)[i])``,
one draw per dimension in the space's order. Grid: point i of ``grid_points``. Coarse to fine:
``zoom_space`` narrows each numeric dimension to the box around the best trials.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from deeprecipe.errors import ConfigError
from deeprecipe.tuning.spaces import Distribution

__all__ = ["Space", "draw", "grid_points", "zoom_space"]

Space = dict[str, Distribution]


def draw(space: Space, seed: int, round_: int, n_trials: int, index: int,
         method: str = "random") -> dict:
    """Trial ``index``'s configuration: one draw per dimension, in the space's order (random),
    or point ``index`` of ``grid_points`` (grid)."""
    if method == "grid":
        return grid_points(space, n_trials)[index]
    # SeedSequence([seed, round_]).spawn(n_trials)[index], made without its n_trials siblings
    child = np.random.SeedSequence([seed, round_], spawn_key=(index,))
    rng = np.random.default_rng(child)
    return {name: dist.sample(rng) for name, dist in space.items()}


def grid_points(space: Space, n_trials: int) -> list[dict]:
    """A full grid of at most ``n_trials`` points, each axis on its own scale.

    Every option of a Choice is kept; the numeric dimensions get levels raised one at a time,
    in the space's order of importance, while the grid still fits (one level is the middle of
    the range). With d dimensions a grid tries only about n**(1/d) values of each: the notes'
    reason to prefer random search, which tries n.

    >>> from deeprecipe.tuning import Choice, LogUniform
    >>> [p["learning_rate"] for p in grid_points({"learning_rate": LogUniform(1e-3, 1e-1),
    ...                                           "batch_size": Choice((32, 64))}, 6)][::2]
    [0.001, 0.01, 0.1]
    """
    options = {name: d.grid() for name, d in space.items() if not d.numeric}
    fixed = math.prod(len(v) for v in options.values())
    if n_trials < fixed:
        raise ConfigError(f"grid search needs n_trials >= {fixed} (every combination of the "
                          f"Choice options), got {n_trials}")
    levels = {name: 1 for name, d in space.items() if d.numeric}
    grew = True
    while grew:
        grew = False
        for name in levels:
            if fixed * math.prod(levels.values()) // levels[name] * (levels[name] + 1) \
                    <= n_trials:
                levels[name] += 1
                grew = True
    axes = {name: options[name] if name in options else
            list(dict.fromkeys(d.grid(levels[name]) if levels[name] > 1 else d.grid(3)[1:2]))
            for name, d in space.items()}
    return [dict(zip(axes, combo, strict=True)) for combo in itertools.product(*axes.values())]


def zoom_space(space: Space, top_params: list[dict], margin: float = 0.1) -> Space:
    """Each numeric dimension narrowed to the box around ``top_params`` (Choice kept)."""
    return {name: (dist.zoom([p[name] for p in top_params], margin) if dist.numeric else dist)
            for name, dist in space.items()}
