"""Which trial is best: the lowest metric, with ties within the dev set's noise broken sensibly.

For ``dev_error`` (a misclassification rate p on n_dev examples) two trials whose errors differ
by less than the standard error sqrt(p (1 - p) / n_dev) of the best p cannot be told apart: on
a 33-example dev set, twelve trials at 0% are a tie, not a win for the first one. Among tied
trials the lower dev cost wins (a more confident model), then the smaller model (fewer
parameters), then the earlier (round, index). Other metrics tie only when equal.
"""

from __future__ import annotations

import math

from deeprecipe.errors import DeepRecipeError

__all__ = ["METRICS", "noise", "rank", "best"]

METRICS = ("dev_error", "dev_cost", "dev_rmse", "dev_mae")


def noise(p: float, n_dev: int | None) -> float:
    """Standard error of an error rate p measured on n_dev examples: sqrt(p (1 - p) / n_dev).

    >>> round(noise(0.1, 100), 4)
    0.03
    """
    if not n_dev:
        return 0.0
    return math.sqrt(max(p, 0.0) * max(1.0 - p, 0.0) / n_dev)


def _cost(t: dict) -> float:
    return math.inf if t.get("dev_cost") is None else float(t["dev_cost"])


def _size(t: dict) -> float:
    return math.inf if t.get("n_params") is None else float(t["n_params"])


def rank(trials: list[dict], metric: str = "dev_error") -> list[dict]:
    """Completed trials, best first: the tie group of the best (within noise for dev_error) by
    (dev cost, n_params, round, index), then the rest by (value, round, index)."""
    done = [t for t in trials if t.get("state") == "COMPLETE" and t.get("value") is not None]
    if not done:
        return []
    low = min(t["value"] for t in done)
    width = noise(low, min((t.get("n_dev") or 0) for t in done)) if metric == "dev_error" \
        else 0.0
    tied = [t for t in done if t["value"] <= low + width]
    rest = [t for t in done if t["value"] > low + width]
    tied.sort(key=lambda t: (_cost(t), _size(t), t["round"], t["index"]))
    rest.sort(key=lambda t: (t["value"], t["round"], t["index"]))
    for t in tied:
        t["tied"] = len(tied) > 1
    return tied + rest


def best(trials: list[dict], metric: str = "dev_error") -> dict:
    """The first of ``rank``; DeepRecipeError when no trial completed."""
    ranked = rank(trials, metric)
    if not ranked:
        raise DeepRecipeError("no trial of the study completed; look at the trials' 'error' "
                              "entries (diverged? try a smaller learning_rate)")
    return ranked[0]
