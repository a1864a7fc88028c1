""""More data" in numbers: the expected gain of twice the training set, from a learning curve.

The accepted config is trained again on half of the training set (a seeded random half); the
power law through dev(m/2) and dev(m) extrapolates dev(2m) (``readings.more_data_gain``).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from deeprecipe.basic_recipe.budget import StopAtDeadline
from deeprecipe.basic_recipe.readings import more_data_gain
from deeprecipe.errors import DivergenceError
from deeprecipe.runs.build import fit
from deeprecipe.runs.config import Config
from deeprecipe.runs.evaluate import evaluate
from deeprecipe.runs.prepare import PreparedData

__all__ = ["more_data_estimate"]


def more_data_estimate(config: Config, data: PreparedData, dev_error: float, *,
                       deadline: float | None = None) -> dict | None:
    """{"sizes": [m/2, m], "dev_errors", "expected_gain_2x", "text"}; None if it diverged.

    ``dev_error``: the accepted model's dev error at the full size m.
    """
    m = len(data.X_train)
    rows = np.sort(np.random.default_rng(config.seed).permutation(m)[:m // 2])
    half = dataclasses.replace(data, X_train=data.X_train[rows], y_train=data.y_train[rows])
    try:
        stop = () if deadline is None else (StopAtDeadline(deadline),)
        net, _ = fit(config, half, callbacks=stop)
    except DivergenceError:
        return None
    sizes, dev = [m // 2, m], [evaluate(net, half)["dev_error"], dev_error]
    gain = more_data_gain(sizes, dev)
    return {"sizes": sizes, "dev_errors": dev, "expected_gain_2x": gain,
            "text": f"more data: dev error {dev[0]:.1%} with half the training set, "
                    f"{dev[1]:.1%} with all of it; twice the data should lower it by about "
                    f"{gain:.1%} (a power law through the two points)"}
