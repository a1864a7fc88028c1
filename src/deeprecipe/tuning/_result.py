"""A finished search as data: its trials (rounds numbered from 1), the best one, the spaces of
each round (the zoom boxes of coarse to fine) and Optuna's hyperparameter importances."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path

import optuna

from deeprecipe.runs.config import Config, config_to_dict, dump_config
from deeprecipe.tuning import _select
from deeprecipe.tuning.hyperparameters import apply

__all__ = ["StudyResult", "trial_row", "importances"]


def trial_row(t) -> dict:
    """The JSON row of a finished Optuna trial (params as our spaces give them)."""
    a, state = t.user_attrs, t.state.name
    result = a.get("result") or {}
    return {"number": t.number, "round": a["round"], "index": a["index"],
            "params": a.get("params", dict(t.params)), "state": state,
            "value": t.value if state == "COMPLETE" else None,
            **{k: result.get(k) for k in ("dev_error", "train_error", "dev_cost", "train_cost",
                                          "dev_rmse", "dev_mae", "n_params", "n_dev",
                                          "epochs_run", "seconds", "cpu_seconds",
                                          "error")},
            "curve": result.get("curve") or {}}


def importances(study, seed: int) -> dict[str, float]:
    """fANOVA importance of each hyperparameter for the objective (Optuna's evaluator), over
    the completed trials; {} with fewer than 3 of them or a single dimension. ``study=None``
    only loads the evaluator's modules (~0.5 s, done while the workers train)."""
    if study is None:
        optuna.importance.FanovaImportanceEvaluator(n_trees=16, seed=seed)
        return {}
    done = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    if len(done) < 3 or len({k for t in done for k in t.params}) < 2:
        return {}
    try:
        values = optuna.importance.get_param_importances(
            study, evaluator=optuna.importance.FanovaImportanceEvaluator(n_trees=16, seed=seed))
    except (ValueError, RuntimeError):  # e.g. every trial with the same value
        return {}
    return {k: float(v) for k, v in values.items() if math.isfinite(v)}


@dataclass
class StudyResult:
    """The trials of a search (sorted by round, index), the best one and its Config."""

    config: Config
    trials: list[dict]
    spaces: list[dict]
    run_dir: Path
    storage: str
    study_name: str
    seed: int
    n_trials: int
    epochs: int | None = None
    seconds: float = 0.0
    extra: dict = field(default_factory=dict)

    @property
    def metric(self) -> str:
        return self.config.tuning.metric

    @property
    def completed(self) -> list[dict]:
        return [t for t in self.trials if t["state"] == "COMPLETE"]

    @property
    def best(self) -> dict:
        """The best completed trial (``_select.rank``: ties within the dev set's noise go to
        the lower dev cost, then the smaller model)."""
        return _select.best(self.trials, self.metric)

    @property
    def best_config(self) -> Config:
        """The base config with the best params, and no further tuning (ready to run)."""
        cfg = apply(self.config, self.best["params"])
        return dataclasses.replace(cfg, tuning=dataclasses.replace(cfg.tuning, n_trials=0))

    def leaderboard(self, k: int = 10) -> list[dict]:
        """The k best completed trials, best first: rank, round, index, value, errors, params."""
        return [{"rank": n + 1, **{key: t.get(key) for key in (
                    "number", "round", "index", "value", "dev_error", "train_error",
                    "dev_cost", "n_params", "tied", "params")}}
                for n, t in enumerate(_select.rank(self.trials, self.metric)[:k])]

    def best_config_toml(self) -> str:
        """TOML of ``best_config`` (also written to run_dir/best_config.toml)."""
        return dump_config(self.best_config)

    def to_dict(self) -> dict:
        """JSON-able summary for the report: trials with curves, per-round spaces, best."""
        best = self.best if self.completed else None
        states: dict[str, int] = {}
        for t in self.trials:
            states[t["state"]] = states.get(t["state"], 0) + 1
        return {"study_name": self.study_name, "storage": self.storage, "seed": self.seed,
                "n_trials": self.n_trials, "rounds": len(self.spaces), "epochs": self.epochs,
                "metric": self.metric, "method": self.config.tuning.method,
                "prune": self.config.tuning.prune, "folds": self.config.split.folds,
                "spaces": self.spaces, "states": states, "trials": self.trials,
                "best": best, "leaderboard": self.leaderboard(),
                "best_config": config_to_dict(self.best_config) if best else None,
                "seconds": self.seconds, **self.extra}
