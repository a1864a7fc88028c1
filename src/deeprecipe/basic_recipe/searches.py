"""The recipe's short searches on the caviar runner: α for every candidate network, the
L2 λ and keep_prob of a variance step, and the random search over the architecture that
comes when the steps are spent.

The trials train on a seeded subset of the data (at most 10,000 training and 5,000 dev rows:
α and the regularization strength carry over, and the trials stay short) and run in parallel
when the runner has workers. Each search is saved (``rounds/NN/<search>.json``), so a resumed
recipe reuses it instead of training its trials again.

When the recipe judges by k-fold cross-validation (``folds`` k >= 2, small data), the
architecture and regularization searches rank their trials as the recipe will judge the
pick: by the cross-validated error over the pooled train + dev sets (``runs.folds``'s folds,
each trial's config and epochs trained k times). Trials first train once and are ordered by
dev error (then dev cost, then trial number); every complete trial is then cross-validated
when train + dev holds at most 1,000 examples (_CV_ALL_POOLED: there a dev error is mostly
noise and a trial is cheap), else the 5 best on dev (_CV_TOP; k trainings each). With a
deadline, the trials may take the first half of the time to it and the cross-validation the
rest, in that dev order; a trial not cross-validated cannot be picked, and a search with no
cross-validated trial falls back to dev error. The saved search says which error ranked
it (``"ranked_by"``: ``"cv_error"`` or ``"dev_error"``) and holds each trial's ``cv_error``
(None: not cross-validated). The α search stays on dev error: it runs in every round, and
its pick, the middle of the α within the dev set's noise of the best, already absorbs that
noise.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import numpy as np

from deeprecipe._io import load_json, write_json_atomic
from deeprecipe.basic_recipe.readings import dev_noise
from deeprecipe.basic_recipe.steps import set_knobs
from deeprecipe.runs.config import Config, config_to_dict
from deeprecipe.runs.folds import kfold_data
from deeprecipe.runs.prepare import PreparedData
from deeprecipe.tuning.caviar import Runner
from deeprecipe.tuning.draws import draw
from deeprecipe.tuning.spaces import IntUniform, LogUniform, Uniform

__all__ = ["search_data", "alpha_search", "regularization_search", "architecture_search",
           "architecture_space", "picked_by_search", "regularized", "ARCHITECTURE_TRIALS",
           "ALPHA_FACTORS"]

#: α candidates: the current α times 10^k, k = 0, -1/2, 1/2, -1, 1 (a log scale; the nearest
#: first, in case the budget cuts the search short).
ALPHA_FACTORS = (1.0, 10 ** -0.5, 10 ** 0.5, 0.1, 10.0)
_L2_PER_EXAMPLE = (0.001, 0.004, 0.016)  # λ/m on the (λ/2m) Σ‖W‖² scale
_KEEP_PROBS = (0.9, 0.75, 0.5)
_MAX_TRAIN, _MAX_DEV = 10_000, 5_000
ARCHITECTURE_TRIALS = 30  # drawn configurations of an architecture search (the budget may cut it)
_UNITS = (16, 1024)       # hidden units per layer, log scale
_LAYERS = (1, 3)
_KEEP = (0.5, 1.0)        # keep_prob, linear scale
_CV_ALL_POOLED = 1_000    # train + dev at most: every complete trial is cross-validated
_CV_TOP = 5               # else the trials cross-validated: the best on dev error


def search_data(data: PreparedData, seed: int) -> PreparedData:
    """A seeded subset of ``data`` for short trials (all of it when it is small)."""
    rng = np.random.default_rng(seed)

    def rows(n: int, cap: int) -> np.ndarray:
        return np.sort(rng.choice(n, cap, replace=False)) if n > cap else np.arange(n)

    tr, dv = rows(len(data.X_train), _MAX_TRAIN), rows(len(data.X_dev), _MAX_DEV)
    return dataclasses.replace(data, X_train=data.X_train[tr], y_train=data.y_train[tr],
                               X_dev=data.X_dev[dv], y_dev=data.y_dev[dv], X_test=None,
                               y_test=None)


def _trials(runner: Runner, config: Config, candidates: list[dict], epochs: int,
            round_: int, deadline: float | None) -> list[dict]:
    """Each candidate's short trial, in candidate order; past ``deadline`` (a perf_counter
    time) no more trials start and the rest are marked "skipped"."""
    jobs = [{"config": config_to_dict(config), "params": params, "round": round_,
             "index": i, "epochs": epochs} for i, params in enumerate(candidates)]
    done: dict[int, dict] = {}
    for r in runner.run(jobs):
        done[r["index"]] = r
        if deadline is not None and time.perf_counter() > deadline:
            break  # closing the generator cancels the trials not started
    skipped = {"status": "skipped", "dev_error": None, "train_error": None, "curve": {},
               "dev_cost": None,
               "error": "the search's share of the time budget was spent"}
    results = [done.get(i, {**skipped, "params": job["params"]}) for i, job in enumerate(jobs)]
    return [{"params": r["params"], "status": r["status"], "dev_error": r["dev_error"],
             "train_error": r["train_error"], "dev_cost": r.get("dev_cost"),
             "final_cost": (r["curve"].get("cost") or [None])[-1], "error": r["error"]}
            for r in results]


def _ranked(trials: list[dict], key: str = "dev_error") -> list[int]:
    """Indices of the complete trials with a ``key`` error, best first: the error, then the
    matching cost (dev_cost or cv_cost), then the trial number."""
    cost = "cv_cost" if key == "cv_error" else "dev_cost"
    ok = [i for i, t in enumerate(trials) if t["status"] == "complete"
          and t.get(key) is not None]
    return sorted(ok, key=lambda i: (trials[i][key], trials[i].get(cost) or 0.0, i))


def _ties(trials: list[dict], n: int, key: str = "dev_error") -> tuple[list[int], float]:
    """Indices of the trials whose ``key`` error is within sqrt(p (1 - p) / n) of the lowest
    (empty when every trial failed), and that threshold."""
    ok = _ranked(trials, key)
    if not ok:
        return [], 0.0
    best = trials[ok[0]][key]
    threshold = dev_noise(best, n)
    return [i for i in ok if trials[i][key] <= best + threshold], threshold


def _ranked_trials(runner: Runner, config: Config, candidates: list[dict], epochs: int,
                   round_: int, deadline: float | None, n_dev: int, folds: int | None
                   ) -> tuple[list[dict], dict]:
    """(the candidates' trials, {"ranked_by", "n_ranked"[, "folds"]}): ranked by dev error
    on ``n_dev`` examples, or with ``folds`` >= 2 by the cross-validated error of the trials
    the module docstring names, on the m pooled examples."""
    if not folds or folds < 2:
        trials = _trials(runner, config, candidates, epochs, round_, deadline)
        return trials, {"ranked_by": "dev_error", "n_ranked": n_dev}
    first = deadline if deadline is None else \
        time.perf_counter() + 0.5 * (deadline - time.perf_counter())
    trials = _trials(runner, config, candidates, epochs, round_, first)
    for t in trials:
        t["cv_error"] = t["cv_cost"] = None
    if not _ranked(trials) or deadline is not None and time.perf_counter() > deadline:
        return trials, {"ranked_by": "dev_error", "n_ranked": n_dev}
    parts = kfold_data(config, folds)
    m = sum(len(p.y_dev) for p in parts)
    order = _ranked(trials)[:None if m <= _CV_ALL_POOLED else _CV_TOP]
    with Runner(runner.workers, runner.scheduler, data=parts) as cv_runner:
        cv = _trials(cv_runner, config, [trials[i]["params"] for i in order], epochs, round_,
                     deadline)
    for i, r in zip(order, cv, strict=True):  # the mean of the folds' errors, rounded so
        if r["status"] == "complete":        # that equal counts tie whatever the float sum
            trials[i]["cv_error"] = round(r["dev_error"], 12)
            trials[i]["cv_cost"] = r["dev_cost"]
    if not _ranked(trials, "cv_error"):
        return trials, {"ranked_by": "dev_error", "n_ranked": n_dev}
    return trials, {"ranked_by": "cv_error", "n_ranked": m, "folds": folds}


def _cached(path: Path | None, run):
    if path is not None and path.is_file():
        return load_json(path)
    found = run()
    if path is not None:
        write_json_atomic(path, found)
    return found


def alpha_search(runner: Runner, config: Config, data: PreparedData, *, epochs: int,
                 round_: int, cache: Path | None = None, deadline: float | None = None
                 ) -> dict:
    """Train the candidate with α x 10^k (ALPHA_FACTORS) for ``epochs``; keep the α with the
    lowest dev error; among α within sqrt(p (1 - p) / n_dev) of it, the middle one on the log
    scale (the centre of the range that works, away from its diverging edge).

    Returns {"name": "alpha", "epochs", "trials", "picked": α, "threshold"}.
    """
    lr = config.optimizer.learning_rate

    def run() -> dict:
        lrs = [float(f"{min(lr * f, 1.0):.3g}") for f in ALPHA_FACTORS]
        trials = _trials(runner, config, [{"learning_rate": a, "early_stopping": False}
                                          for a in dict.fromkeys(lrs)], epochs, round_,
                         deadline)
        ties, threshold = _ties(trials, len(data.y_dev))
        ties.sort(key=lambda j: trials[j]["params"]["learning_rate"])
        picked = trials[ties[(len(ties) - 1) // 2]]["params"]["learning_rate"] if ties else lr
        return {"name": "alpha", "epochs": epochs, "trials": trials, "picked": picked,
                "threshold": threshold}

    return _cached(cache, run)


def regularization_search(runner: Runner, config: Config, data: PreparedData,
                          m_full: int, *, epochs: int, round_: int,
                          cache: Path | None = None, deadline: float | None = None,
                          folds: int | None = None) -> dict:
    """Try L2 λ (λ/m in 0.001, 0.004, 0.016) and keep_prob (0.9, 0.75, 0.5) one at a time
    against the unchanged config; keep the lowest error, where errors within
    sqrt(p (1 - p) / n) of it tie and a tie goes to the first option (the unchanged config).
    The error is the dev error (n = n_dev), or with ``folds`` >= 2 the cross-validated error
    (n = train + dev; see the module docstring).

    Returns {"name": "regularization", "trials", "picked": {knob: value for the full data},
    "threshold", "ranked_by", "n_ranked"[, "folds"]}.
    """
    m_sub = len(data.X_train)
    old_l2, old_keep = config.regularization.l2, config.model.keep_prob
    options: list[tuple[dict, dict]] = [({}, {})]
    options += [({"l2": r * m_sub}, {"l2": float(f"{r * m_full:.3g}")})
                for r in _L2_PER_EXAMPLE if r * m_full > 1.5 * old_l2]
    options += [({"keep_prob": k}, {"keep_prob": k}) for k in _KEEP_PROBS if k < old_keep]

    def run() -> dict:
        trials, ranking = _ranked_trials(runner, config, [sub for sub, _ in options], epochs,
                                         round_, deadline, len(data.y_dev), folds)
        ties, threshold = _ties(trials, ranking["n_ranked"], ranking["ranked_by"])
        return {"name": "regularization", "epochs": epochs, "trials": trials,
                "picked": options[min(ties)][1] if ties else {}, "threshold": threshold,
                **ranking}  # ties: the first, the unchanged config if it is tied

    return _cached(cache, run)


def regularized(config: Config, found: dict) -> tuple[Config, dict, str] | None:
    """The config with the search's pick, its changes and a sentence (None: nothing beat
    the unchanged config)."""
    return picked_by_search(config, found, "regularized by a small search")


def architecture_space(config: Config) -> dict:
    """The search's space, each on its scale: α ~ α0 · 10^U(-1, 1), hidden units
    ~ 2^U(log2 16, log2 1024) (rounded), layers ~ U{1, 2, 3}, keep_prob ~ U(0.5, 1)."""
    lr = config.optimizer.learning_rate
    return {"learning_rate": LogUniform(lr / 10, min(lr * 10, 1.0)),
            "hidden_units": IntUniform(*_UNITS, log=True), "n_layers": IntUniform(*_LAYERS),
            "keep_prob": Uniform(*_KEEP)}


def architecture_search(runner: Runner, config: Config, data: PreparedData, *, epochs: int,
                        round_: int, seed: int, n_trials: int = ARCHITECTURE_TRIALS,
                        cache: Path | None = None, deadline: float | None = None,
                        folds: int | None = None) -> dict:
    """A random search (``architecture_space``, trial i drawn from (seed, round, i) alone) with
    the unchanged config as trial 0. It proposes the trial with the lowest error (then the
    lower cost, then the lower trial number), unless that is the unchanged config: the dev
    error, or with ``folds`` >= 2 the cross-validated error (see the module docstring). The
    round that trains the proposal is judged like any step, so the search itself applies no
    noise threshold ("threshold" records sqrt(p (1 - p) / n) of the best).

    Returns {"name": "search", "epochs", "space", "trials", "picked": {knob: value} or {},
    "threshold", "ranked_by", "n_ranked"[, "folds"]}.
    """
    space = architecture_space(config)
    candidates = [{}] + [draw(space, seed, round_, n_trials, i) for i in range(n_trials)]
    candidates[1:] = [{**c, "keep_prob": round(c["keep_prob"], 2),
                       "learning_rate": float(f"{c['learning_rate']:.3g}")}
                      for c in candidates[1:]]

    def run() -> dict:
        trials, ranking = _ranked_trials(runner, config, candidates, epochs, round_,
                                         deadline, len(data.y_dev), folds)
        best = (_ranked(trials, ranking["ranked_by"]) or [0])[0]
        params = trials[best]["params"]
        picked = {} if best == 0 else {
            "hidden_layer_sizes": [params["hidden_units"]] * params["n_layers"],
            "keep_prob": params["keep_prob"], "learning_rate": params["learning_rate"]}
        return {"name": "search", "epochs": epochs,
                "space": {k: d.to_dict() for k, d in space.items()}, "trials": trials,
                "picked": picked,
                "threshold": _ties(trials, ranking["n_ranked"], ranking["ranked_by"])[1],
                **ranking}

    return _cached(cache, run)


def picked_by_search(config: Config, found: dict, what: str) -> tuple[Config, dict, str] | None:
    """The config with a search's pick, its changes and a sentence (None: nothing picked)."""
    if not found["picked"]:
        return None
    changes: dict = {}
    new = set_knobs(config, found["picked"], changes)
    text = ", ".join(f"{k} {_show(c['from'])} → {_show(c['to'])}" for k, c in changes.items())
    return new, changes, f"{what}: {text}"


def _show(value) -> str:
    return f"{value:g}" if isinstance(value, float | int) else str(value)
