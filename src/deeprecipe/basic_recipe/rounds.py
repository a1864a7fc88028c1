"""The recipe's state across rounds: search, train, read, judge on dev error, choose a step.

Each round's candidate first gets its α from a short log-scale search, then trains with early
stopping on dev error (the best weights are kept). The round is read orthogonally: avoidable
bias from the best training error the run reached (not the early-stopped snapshot), variance
from the kept model's dev error, and the training curve's reading. Without targets, a gap is
a problem when it is beyond twice the dev set's noise (at least half a point). A change is
kept only when its dev error beats the accepted model's by more than sqrt(p (1 - p) / n_dev);
a tie keeps the simpler model. With ``folds`` (small data) changes are judged by k-fold
cross-validated error instead, example by example for classification: the two models predict
the same pooled examples, so the change is kept when it fixes more of them than it breaks by
more than sqrt(fixed + broke) (``readings.beats_paired``). The architecture and
regularization searches rank their trials by cross-validated error too (``searches``), so a
search proposes what the judge will keep.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console

from deeprecipe.basic_recipe.budget import Budget, StopAtDeadline
from deeprecipe.basic_recipe.folds import as_trained, cross_validated_error
from deeprecipe.basic_recipe.readings import (
    CurveReading,
    beats,
    beats_paired,
    dev_noise,
    dev_set_warning,
    read_curve,
)
from deeprecipe.basic_recipe.searches import (
    ARCHITECTURE_TRIALS,
    alpha_search,
    architecture_search,
    picked_by_search,
    regularization_search,
    regularized,
)
from deeprecipe.basic_recipe.steps import Step, next_step, propose
from deeprecipe.errors import DivergenceError
from deeprecipe.optimize import checkpoints
from deeprecipe.optimize.batches import resolve_batch_size
from deeprecipe.runs import rundir
from deeprecipe.runs.build import fit
from deeprecipe.runs.config import Config
from deeprecipe.runs.diagnosis import Diagnosis, diagnose
from deeprecipe.runs.evaluate import evaluate
from deeprecipe.runs.prepare import PreparedData

__all__ = ["RecipeRound", "Rounds", "Model"]

_CHECKPOINTS_PER_ROUND = 20  # at most, plus the last epoch's (Ctrl-C saves the exact position)
_MIN_TOLERANCE = 0.005  # the smallest gap read as a problem when no target is given
_SEARCH_STEPS = 500  # mini-batch steps of an α trial: enough to rank learning rates
_MORE_SEARCHES = 2  # architecture searches after the first, while a budget has room for them
_WHAT = {"dev_error": "dev", "cv_error": "cross-validated error"}
_WORDS = {"ok": "ok", "high_bias": "high bias", "high_variance": "high variance",
          "high_bias_and_variance": "high bias and high variance"}


@dataclass(frozen=True)
class RecipeRound:
    """One trained model: what changed, its errors and readings, and what the recipe did next.

    ``helped``: the change was kept (dev error beat the accepted model's beyond noise).
    """

    round: int
    changes: dict
    train_error: float | None
    dev_error: float | None
    test_error: float | None
    avoidable_bias: float | None
    variance: float | None
    verdict: str
    decision: str
    narrative: str
    helped: bool | None = None
    seconds: float = 0.0
    reading: dict | None = None
    evidence: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """JSON-ready dict."""
        return dataclasses.asdict(self)


@dataclass
class Model:
    """A trained round: its config, network, trainer, metrics, diagnosis and curve reading."""

    n: int
    config: Config
    net: object = None
    trainer: object = None
    metrics: dict = field(default_factory=dict)
    diag: Diagnosis | None = None
    reading: CurveReading | None = None
    error: str = ""
    cv_wrong: frozenset[int] | None = None  # the pooled examples its folds got wrong
    seconds: float = 0.0  # its training and judging (cross-validation), not its searches


def _search_epochs(config: Config, small: PreparedData) -> int:
    """Epochs of an α trial: about 500 mini-batch steps, between 2 and min(20, epochs / 5)."""
    t = config.training
    m = len(small.X_train)
    size = t.batch_size if not isinstance(t.batch_size, int) else min(t.batch_size, m)
    batch = resolve_batch_size(None if size == "full" else size, m, small.X_train.shape[1])
    steps = -(-m // batch)
    return max(2, min(-(-_SEARCH_STEPS // steps), t.epochs // 5, 20))


def _round_checkpoints(config: Config) -> Config:
    """``config`` checkpointing at most ~20 times per round."""
    t = config.training
    every = max(t.checkpoint_every, math.ceil(t.epochs / _CHECKPOINTS_PER_ROUND))
    return dataclasses.replace(config, training=dataclasses.replace(t, checkpoint_every=every))


class Rounds:
    """The accepted model, the tried steps, the budget and the runner of short searches."""

    def __init__(self, config: Config, run_dir: Path, data: PreparedData, *, tol: dict,
                 budget: Budget, runner, small: PreparedData, console: Console | None,
                 max_rounds: int, folds: int | None = None) -> None:
        self.config, self.run_dir, self.data, self.tol = config, run_dir, data, tol
        self.budget, self.runner, self.small, self.console = budget, runner, small, console
        self.n_dev = self.n_judge = len(data.y_dev)  # n of the error changes are judged on
        self.folds = folds
        self.human_given = config.data.human_error > 0
        self.rounds: list[RecipeRound] = []
        self.tried: list[dict] = []
        self.failed: set[str] = set()
        self.warnings: list[str] = []
        self.accepted: Model | None = None
        self.bias_pays = True
        self.stop_reason = ""
        self.max_rounds = max_rounds

    def _dir(self, n: int) -> Path:
        return self.run_dir / rundir.ROUNDS / f"{n:02d}"

    def _searching(self) -> bool:
        """Short searches only while at least a quarter of the budget is left."""
        return self.budget.total is None or self.budget.left > 0.25 * self.budget.total

    def _search_fits(self) -> bool:
        """Time for the architecture search and a whole round after it: the search may take
        half of what is left, and the round after it twice the accepted round's training
        and judging (a candidate cut short by the budget cannot win), so at least four times
        that is left. The accepted round's own searches do not count: a round whose search
        took 13 s and whose training took 0.4 s leaves room for another search in 15 s."""
        return self.budget.total is None or \
            self.budget.left >= 4.0 * self.accepted.seconds

    def _search_deadline(self) -> float | None:
        """A search may take a quarter of the budget left."""
        return None if self.budget.total is None else \
            time.perf_counter() + 0.25 * self.budget.left

    def prepare(self, n: int, step: Step | None) -> tuple[Step | None, Config, dict]:
        """The searches before round ``n`` trains: the step's own (regularize, search), then
        α's (which the architecture search already covers).

        Returns (the step, completed; None if its search found nothing better, the config to
        train, the searches' evidence)."""
        evidence: dict = {}
        cfg = self.config if step is None else (step.config or self.accepted.config)
        epochs = _search_epochs(cfg, self.small)
        if step is not None and step.config is None:  # a search completes the step
            key, found, done = self._step_search(n, step, cfg, epochs)
            evidence[key] = found
            if done is None:
                self.tried.append({"round": n, "action": step.kind, "text": step.text,
                                   "helped": False})
                self.failed.add(step.kind)
                self.say(f"round {n}: the {key.replace('_', ' ')} " + (
                    "found nothing better" if found else "has no time left in the budget"))
                return None, cfg, evidence
            step = dataclasses.replace(step, config=done[0], changes=done[1], text=done[2])
            cfg = done[0]
        if (step is None or step.problem != "alpha" and step.kind != "search") and \
                self._searching():
            found = alpha_search(self.runner, cfg, self.small, epochs=epochs, round_=n,
                                 cache=self._dir(n) / rundir.ROUND_ALPHA,
                                 deadline=self._search_deadline())
            evidence["alpha_search"] = found
            if found["picked"] != cfg.optimizer.learning_rate:
                cfg = dataclasses.replace(cfg, optimizer=dataclasses.replace(
                    cfg.optimizer, learning_rate=found["picked"]))
        return step, cfg, evidence

    def _step_search(self, n: int, step: Step, cfg: Config, epochs: int
                     ) -> tuple[str, dict | None, tuple | None]:
        """(evidence key, the search's record or None without budget, (config, changes,
        text) of its pick or None) for a step that a search completes."""
        epochs = min(3 * epochs, max(2, cfg.training.epochs // 2))
        if step.kind == "search":  # the last step: half of the budget left may go to it
            if not (self._searching() and self._search_fits()):
                return "architecture_search", None, None
            deadline = None if self.budget.total is None else \
                time.perf_counter() + 0.5 * self.budget.left
            found = architecture_search(self.runner, cfg, self.small, epochs=epochs,
                                        round_=n, seed=self.config.seed, deadline=deadline,
                                        n_trials=ARCHITECTURE_TRIALS, folds=self.folds,
                                        cache=self._dir(n) / rundir.ROUND_SEARCH)
            trials = sum(t["status"] == "complete" for t in found["trials"])
            how = " (ranked by cross-validated error)" if found.get("ranked_by") == \
                "cv_error" else ""
            return "architecture_search", found, picked_by_search(
                cfg, found, f"architecture picked by a random search of {trials} trials{how}")
        if not self._searching():
            return "regularization_search", None, None
        found = regularization_search(
            self.runner, cfg, self.small, len(self.data.X_train), round_=n, epochs=epochs,
            cache=self._dir(n) / rundir.ROUND_REGULARIZATION, deadline=self._search_deadline(),
            folds=self.folds)
        return "regularization_search", found, regularized(cfg, found)

    def train(self, n: int, cfg: Config, step: Step | None, resume: bool) -> Model:
        """Train round ``n`` (resumed from its checkpoints) and read it."""
        start = time.perf_counter()
        ckpt = self._dir(n) / rundir.CHECKPOINTS
        deadline = self.budget.deadline(reserve=min(30.0, 0.05 * (self.budget.total or 0)))
        if deadline is not None and n < self.max_rounds:  # half of what is left at most:
            now = time.perf_counter()                     # a step always gets its turn
            deadline = min(deadline, now + 0.5 * max(deadline - now, 0.0))
        cv_deadline = deadline
        if deadline is not None and self.folds:  # the round, then k folds of about its size
            now = time.perf_counter()
            deadline = now + max(deadline - now, 0.0) / (self.folds + 1)
        try:
            net, trainer = fit(_round_checkpoints(cfg), self.data, checkpoint_dir=ckpt,
                               resume=resume,
                               callbacks=() if deadline is None else (StopAtDeadline(deadline),))
        except KeyboardInterrupt:
            raise KeyboardInterrupt(f"recipe interrupted in round {n}, its state saved in "
                                    f"{ckpt}; continue with `deeprecipe resume "
                                    f"{self.run_dir}`") from None
        except DivergenceError as exc:
            if step is None:
                raise
            return Model(n, cfg, error=str(exc))
        checkpoints.prune(ckpt, 1)  # its final state, enough to replay it
        metrics = evaluate(net, self.data)
        rows = trainer.history.epochs
        best_train = min(r["train_error"] for r in rows)  # bias: the best fit it reached
        stopped = any(e["kind"] == "early_stopping" for e in trainer.history.events)
        cv_wrong = None
        if self.folds:  # judged by k-fold cross-validation over the pooled train + dev sets
            metrics["cv_error"], self.n_judge, cv_wrong = cross_validated_error(
                as_trained(cfg, trainer), self.data, self.folds, deadline=cv_deadline)
        diag = diagnose(train_error=best_train, dev_error=metrics["dev_error"],
                        human_error=cfg.data.human_error, test_error=metrics["test_error"],
                        **self.tolerances(metrics["dev_error"]))
        reading = read_curve([r["cost"] for r in rows], stopped_early=stopped)
        return Model(n, cfg, net, trainer, metrics, diag, reading, cv_wrong=cv_wrong,
                     seconds=time.perf_counter() - start)

    def tolerances(self, dev_error: float) -> dict:
        """diagnose's tolerances: the targets given, else twice the noise of the error changes
        are judged on, 2 sqrt(p (1 - p) / n), at least half a point: a gap the dev set
        cannot measure is not a problem to fix, and one it can measure is worth a step."""
        noise = max(2.0 * dev_noise(dev_error, self.n_judge), _MIN_TOLERANCE)
        return {"bias_tolerance": self.tol.get("bias_tolerance", noise),
                "variance_tolerance": self.tol.get("variance_tolerance", noise)}

    def judge(self, step: Step | None, model: Model
              ) -> tuple[bool | None, str, float, dict | None]:
        """Is the change kept? (None for the baseline), the note saying why, the threshold,
        and for a paired judgment the examples it fixed and broke ({"fixed", "broke"})."""
        if step is None:
            self.accepted = model
            warning = dev_set_warning(model.metrics["dev_error"], self.n_dev, self.folds)
            if warning:
                self.warnings.append(warning)
            return None, "", 0.0, None
        key = "cv_error" if self.folds else "dev_error"
        before, after = self.accepted.metrics[key], model.metrics.get(key)
        pairs, counts = "", None
        if after is None:
            kept, threshold = False, 0.0
        elif self.accepted.cv_wrong is not None and model.cv_wrong is not None:
            kept, threshold, counts = beats_paired(model.cv_wrong, self.accepted.cv_wrong,
                                                   self.n_judge)
            fixed, broke = counts["fixed"], counts["broke"]
            pairs = f"{fixed} example{'' if fixed == 1 else 's'} fixed, {broke} broken, "
        else:
            kept, threshold = beats(after, before, self.n_judge)
        self.tried.append({"round": model.n, "action": step.kind, "text": step.text,
                           "helped": kept})
        if kept:
            self.accepted = model
            return True, (f"kept: {_WHAT[key]} {before:.2%} → {after:.2%} ({pairs}beyond "
                          f"noise ±{threshold:.2%}); "), threshold, counts
        self.failed.add(step.kind)
        if step.problem == "bias" and not self.human_given and after is not None:
            self.bias_pays = False  # no human-level error: bias steps only while they pay
            # (a step that diverged says α was wrong for it, not that bias does not pay)
        why = (f"diverged ({model.error})" if after is None else
               f"did not pay: {_WHAT[key]} {before:.2%} → {after:.2%}, {pairs}not beyond "
               f"noise ±{threshold:.2%}")
        return False, (f"{step.kind} step {why}; back to round {self.accepted.n}'s "
                       "config; "), threshold, counts

    def step_after(self) -> Step | None:
        """The next step from the accepted model (None: none left, ``stop_reason`` says so)."""
        acc = self.accepted
        following = next_step(acc.config, acc.diag, acc.reading, self.data, self.failed,
                              self.config.training.epochs, bias_pays=self.bias_pays,
                              human_given=self.human_given)
        if following is None:
            following = self._another_search()
        if following is None:
            self.stop_reason = "no automatic step left; next: " + (
                "more data, or a longer search with `deeprecipe tune`" if "search" in
                {t["action"] for t in self.tried} else "more data or an architecture search")
        return following

    def _another_search(self) -> Step | None:
        """Another architecture search (fresh draws: trial i comes from the seed, the round
        and i) when the automatic steps are spent but a given budget is not, so that the time
        the user gave goes to the notes' tuning rather than back unused; at most
        1 + _MORE_SEARCHES searches in all, none without a budget, and none without the time
        for a whole round after it (``_search_fits``)."""
        done = sum(t["action"] == "search" for t in self.tried)
        acc = self.accepted
        if self.budget.total is None or not 1 <= done <= _MORE_SEARCHES or \
                not self._search_fits() or \
                propose("search", acc.config, self.data, self.config.training.epochs) is None:
            return None
        problem = "bias" if acc.diag.verdict.startswith("high_bias") else "variance"
        return Step("search", problem, None, {}, (
            f"another random search over the architecture ({done + 1} of "
            f"{1 + _MORE_SEARCHES}: {self.budget.left / self.budget.total:.0%} of the budget "
            "is left)"))

    def decide(self, model: Model, step: Step | None, evidence: dict, seconds: float,
               max_rounds: int) -> Step | None:
        """Record round ``model.n`` and choose the next step (None: stop, ``stop_reason``)."""
        kept, note, threshold, counts = self.judge(step, model)
        acc = self.accepted
        following = None
        if acc.diag.verdict == "ok":
            self.stop_reason = "both gaps are under the targets"
        elif model.n >= max_rounds:
            self.stop_reason = f"max_rounds={max_rounds} reached"
        elif self.budget.left < 0.25 * seconds + 1.0:
            self.stop_reason = f"time budget of {self.budget.total:g}s reached"
        else:
            following = self.step_after()
        rows = [] if model.trainer is None else model.trainer.history.epochs
        evidence = {**evidence, "curve": {k: [r.get(k) for r in rows] for k in
                                          ("cost", "train_error", "dev_error")},
                    "noise_threshold": threshold, "paired": counts, "n_dev": self.n_dev,
                    "n_judged": self.n_judge, "cv_error": model.metrics.get("cv_error"),
                    "m_train": len(self.data.X_train),
                    "kept": kept, "learning_rate": model.config.optimizer.learning_rate}
        self._record(model, step, kept, note, following, seconds, evidence)
        return following

    def _record(self, model: Model, step: Step | None, kept: bool | None, note: str,
                following: Step | None, seconds: float, evidence: dict) -> None:
        diag, metrics = model.diag, model.metrics
        decision = following.text if following is not None else f"stop: {self.stop_reason}"
        verdict = "diverged" if diag is None else diag.verdict
        head = ("training diverged" if diag is None else
                f"best train error {diag.train_error:.1%}, dev {diag.dev_error:.1%} → "
                f"{_WORDS[verdict]}; curve: {model.reading.kind.replace('_', ' ')}")
        line = f"round {model.n}: {head} → {note}{decision}"
        self.rounds.append(RecipeRound(
            round=model.n, changes={} if step is None else step.changes,
            train_error=metrics.get("train_error"), dev_error=metrics.get("dev_error"),
            test_error=metrics.get("test_error"),
            avoidable_bias=None if diag is None else diag.avoidable_bias,
            variance=None if diag is None else diag.variance, verdict=verdict,
            decision=decision, narrative=line, helped=kept, seconds=round(seconds, 3),
            reading=None if model.reading is None else model.reading.to_dict(),
            evidence=evidence))
        self.say(line)

    def say(self, line: str) -> None:
        if self.console is not None:
            self.console.print(line, markup=False, highlight=False, soft_wrap=True)
