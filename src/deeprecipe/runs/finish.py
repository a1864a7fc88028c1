"""Finish a trained model: evaluate, diagnose, check its gradients, write the run files."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from deeprecipe.runs.diagnosis import Diagnosis, diagnose
from deeprecipe.engine.gradcheck import gradient_check
from deeprecipe.engine.network import Sequential
from deeprecipe.optimize.trainer import Trainer
from deeprecipe.runs.config import Config
from deeprecipe.runs.evaluate import evaluate
from deeprecipe.runs.prepare import PreparedData
from deeprecipe.runs.rundir import save_run_files

__all__ = ["RunResult", "save_run"]


@dataclass
class RunResult:
    """What a run produced, and where."""

    run_dir: Path
    metrics: dict
    diagnosis: Diagnosis
    network: Sequential
    history: object
    gradient_check: dict | None = None
    tuning: dict | None = None
    seconds: float = 0.0
    extra: dict = field(default_factory=dict)

    def headline(self) -> str:
        m = self.metrics
        test = (" (dev-only split: no test set, so no unbiased estimate)"
                if m["test_error"] is None else f", test error {m['test_error']:.2%}")
        return (f"train error {m['train_error']:.2%}, dev error {m['dev_error']:.2%}{test} -> "
                f"{self.diagnosis.verdict.replace('_', ' ')}; next: "
                f"{self.diagnosis.next_steps[0] if self.diagnosis.next_steps else 'ship it'}")


def save_run(run_dir: Path, config: Config, data: PreparedData, net: Sequential,
             trainer: Trainer, *, metrics: dict | None = None,
             diagnosis: Diagnosis | None = None, start: float | None = None) -> RunResult:
    """Evaluate, diagnose and gradient-check a trained model, then write every run file.

    Shared by ``run``, the automated recipe and the babysitter, so each run directory holds the
    same files (the report is written by the caller, after its own extra files).
    """
    metrics = evaluate(net, data) if metrics is None else metrics
    if diagnosis is None:
        diagnosis = diagnose(train_error=metrics["train_error"],
                             dev_error=metrics["dev_error"],
                             human_error=config.data.human_error,
                             test_error=metrics["test_error"])
    rows = min(8, len(data.X_train))
    check = gradient_check(net, data.X_train[:rows], data.y_train[:rows], loss=data.loss,
                           l2=config.regularization.l2, l1=config.regularization.l1,
                           max_components=300, freeze_dropout=True).to_dict()
    seconds = 0.0 if start is None else time.perf_counter() - start
    save_run_files(run_dir, config, data, net, trainer, metrics, diagnosis.to_dict(), check,
                   seconds)
    return RunResult(run_dir, metrics, diagnosis, net, trainer.history, check, None, seconds)

