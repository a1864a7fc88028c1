"""Caviar: train many models at once — serially, on local processes, or on a Dask cluster.

Every trial is a plain, picklable job ``{"config": dict, "params": dict, "round", "index",
"epochs"}`` run by :func:`run_trial`, which returns a plain result dict. Workers never write the
study (unless pruning needs live reports), the parent process alone tells Optuna the results, so
serial, process and Dask runs record the same trials. Each trial runs on one BLAS thread
(``threadpool_limits(1)``), so all three compute bit-identical numbers.
"""

from __future__ import annotations

import dataclasses
import json
import multiprocessing
import os
import sys
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from contextlib import contextmanager

import numpy as np
import optuna
from threadpoolctl import threadpool_limits

from deeprecipe.errors import ConfigError, DeepRecipeError
from deeprecipe.optimize.callbacks import Callback
from deeprecipe.runs.build import build_network, make_trainer
from deeprecipe.runs.config import config_from_dict, config_to_dict
from deeprecipe.runs.evaluate import evaluate
from deeprecipe.runs.folds import kfold_data, mean_metrics
from deeprecipe.runs.prepare import prepare_data
from deeprecipe.tuning._storage import open_storage
from deeprecipe.tuning.hyperparameters import apply
from deeprecipe.tuning.samplers import make_pruner

__all__ = ["run_trial", "warm_up", "Runner", "connect", "SchedulerUnreachableError"]

_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
_DATA_CACHE: dict[str, object] = {}  # per process: the prepared data of each config


class SchedulerUnreachableError(DeepRecipeError, ConnectionError):
    """The Dask scheduler address did not answer in time."""


class _Report(Callback):
    """Reports dev_error to an Optuna trial each epoch; raises TrialPruned when told to."""

    def __init__(self, trial) -> None:
        self.trial = trial

    def on_epoch_end(self, trainer, record: dict) -> None:
        self.trial.report(float(record["dev_error"]), int(record["epoch"]))
        if self.trial.should_prune():
            raise optuna.TrialPruned(f"pruned at epoch {record['epoch']}")


def _data_for(config):
    d = config_to_dict(config)
    key = json.dumps([d["seed"], d["data"], d["split"]], sort_keys=True)
    if key not in _DATA_CACHE:
        _DATA_CACHE.clear()
        _DATA_CACHE[key] = (kfold_data(config) if config.split.folds
                            else prepare_data(config, check_distribution=False))
    return _DATA_CACHE[key]


def _live_trial(job: Mapping):
    study = optuna.load_study(study_name=job["study_name"], storage=open_storage(job["storage"]),
                              pruner=make_pruner(job.get("prune", "median"),
                                                 job.get("epochs") or 50))
    return optuna.trial.Trial(study, job["trial_id"])


def _regression_errors(net, data) -> dict:
    """dev_rmse = sqrt(mean((y_hat - y)^2)), dev_mae = mean(|y_hat - y|) on the dev set."""
    if data.task != "regression":
        return {}
    y = np.asarray(data.y_dev, dtype=np.float64)
    diff = np.asarray(net.forward(data.X_dev), dtype=np.float64).reshape(y.shape) - y
    return {"dev_rmse": float(np.sqrt(np.mean(diff ** 2))),
            "dev_mae": float(np.mean(np.abs(diff)))}


def _fit_one(cfg, data, trial, trainers: list):
    """(metrics, net) of one training of ``cfg`` on ``data``; its trainer is appended to
    ``trainers`` before training (a pruned trial still shows its curve)."""
    net = build_network(cfg, data)  # a sampled batch size beyond m: make_trainer clamps it
    callbacks = (_Report(trial),) if trial is not None else ()
    trainer = make_trainer(cfg, data, net, callbacks=callbacks)
    trainers.append(trainer)
    trainer.fit(cfg.training.epochs)
    metrics = {k: v for k, v in evaluate(net, data).items()
               if k in ("dev_error", "train_error", "dev_cost", "train_cost")}
    return {**metrics, **_regression_errors(net, data)}, net


def run_trial(job: Mapping, data=None, trial=None) -> dict:
    """Train one configuration; ``value`` = its metric (minimized; dev_error by default).

    job: {"config": Config dict, "params": {name: value}, "round": r, "index": i,
    "epochs": epochs or None, "metric": "dev_error" | "dev_cost" | "dev_rmse" | "dev_mae", and
    for pruning in a worker "storage", "study_name", "trial_id", "prune"}. ``data``: a
    PreparedData, or a list of them (k folds: the metrics are their means), re-prepared from
    the config when None. ``trial``: a live Optuna trial to report to (pruning). Returns
    {"round", "index", "params", "status": "complete" | "pruned" | "failed", "value",
    "dev_error", "train_error", "dev_cost", "train_cost", "n_params", "n_dev",
    "curve": {"epoch", "dev_error", "cost", ...}, "epochs_run", "error", "seconds",
    "cpu_seconds"}.
    """
    out = {"round": job["round"], "index": job["index"], "params": dict(job["params"]),
           "status": "complete", "value": None, "dev_error": None, "train_error": None,
           "dev_cost": None, "train_cost": None, "n_params": None, "n_dev": None, "curve": {},
           "error": None}
    if trial is None and job.get("storage") and job.get("trial_id") is not None:
        trial = _live_trial(job)
    trainers, start, cpu = [], time.perf_counter(), time.process_time()
    with threadpool_limits(1):
        try:
            base = config_from_dict(job["config"])
            cfg = apply(base, job["params"])
            if job.get("epochs"):
                cfg = apply(cfg, {"epochs": job["epochs"]})
            data = data if data is not None else _data_for(base)
            parts = data if isinstance(data, list) else [data]
            per_fold = []
            for part in parts:
                metrics, net = _fit_one(cfg, part, trial, trainers)
                per_fold.append(metrics)
            out.update(mean_metrics(per_fold), n_params=int(net.n_params),
                       n_dev=int(sum(len(p.y_dev) for p in parts)))
            out["value"] = out.get(job.get("metric") or "dev_error")
            if out["value"] is None:
                raise ConfigError(f"metric {job.get('metric')!r} needs a regression data set; "
                                  "use dev_error or dev_cost")
        except optuna.TrialPruned as exc:
            out.update(status="pruned", error=str(exc))
        except DeepRecipeError as exc:  # divergence or a bad value: deterministic, keep it
            out.update(status="failed", error=f"{type(exc).__name__}: {exc}")
    if trainers:
        trainer = trainers[0]  # the curve shown is the first fold's
        rows = trainer.history.epochs
        out["curve"] = {k: [r.get(k) for r in rows] for k in
                        ("epoch", "dev_error", "dev_cost", "cost", "train_error",
                         "learning_rate")}
        out["epochs_run"] = trainer.epoch
        if out["status"] == "pruned" and rows:
            out["dev_error"] = rows[-1].get("dev_error")
            out["train_error"] = rows[-1].get("train_error")
    out["seconds"] = time.perf_counter() - start
    out["cpu_seconds"] = time.process_time() - cpu
    return out


def warm_up(job: Mapping, data) -> None:
    """Run ``job`` for one epoch on 32 training rows: imports done and kernels compiled, so
    processes forked afterwards start warm."""
    part = data[0] if isinstance(data, list) else data
    if part is None:
        return
    small = dataclasses.replace(part, X_train=part.X_train[:32], y_train=part.y_train[:32],
                                X_dev=part.X_dev[:32], y_dev=part.y_dev[:32])
    run_trial({**job, "epochs": 1, "storage": None, "trial_id": None}, data=small)


_SHARED: dict[str, object] = {}  # per worker process: the data sent by the initializer


def _init_worker(data, parent: int) -> None:
    threadpool_limits(1)
    _SHARED["data"] = data
    threading.Thread(target=_exit_with, args=(parent,), daemon=True).start()


def _exit_with(parent: int) -> None:
    """End this worker when its parent is gone (killed): no orphan keeps training."""
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(1)


def _run_shared(job: Mapping) -> dict:
    return run_trial(job, data=_SHARED.get("data"))


@contextmanager
def _one_thread_env() -> Iterator[None]:
    """OMP/OpenBLAS/MKL_NUM_THREADS=1 for children spawned inside (set before numpy loads)."""
    old = {k: os.environ.get(k) for k in _THREAD_VARS}
    os.environ.update({k: "1" for k in _THREAD_VARS})
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def connect(address: str, timeout: str = "5s"):
    """A ``distributed.Client`` for ``address``; SchedulerUnreachableError if it is silent."""
    try:
        from distributed import Client  # heavy; only a cluster run needs it
    except ImportError:  # pragma: no cover - distributed is a dependency
        raise DeepRecipeError("a Dask scheduler needs the 'distributed' package: "
                              "pip install distributed") from None
    try:
        return Client(address, timeout=timeout)
    except ValueError as exc:  # a malformed address, e.g. "tcp://::::"
        raise DeepRecipeError(f"scheduler {address!r} is not a valid address ({exc}); expected "
                              "e.g. tcp://host:8786") from None
    except (OSError, TimeoutError) as exc:
        raise SchedulerUnreachableError(
            f"no Dask scheduler answered at {address} within {timeout} ({type(exc).__name__}); "
            "start one with `dask scheduler` and workers with `dask worker ADDRESS`, or "
            "leave scheduler unset to use local processes") from None


def _start_method() -> str:
    """fork on Linux (the workers inherit the warm parent: modules, kernels, data), else spawn."""
    return "fork" if sys.platform == "linux" else "spawn"


class Runner:
    """Runs trial jobs, keeping its pool (or Dask client) open and warm across rounds.

    workers == 1 and no scheduler: in this process (``trials`` maps (round, index) to a live
    Optuna trial for pruning). workers > 1: a ProcessPoolExecutor started once, on entry; on
    Linux its workers are forked from this process after ``warm_up`` (so they start with the
    kernels compiled and ``data`` in memory), elsewhere spawned and sent ``data`` once.
    scheduler: the Dask cluster at that address (``data`` scattered to every worker). Without
    ``data`` each worker prepares it from the job's config. ``warm``: a job to warm up with.
    """

    def __init__(self, workers: int = 1, scheduler: str | None = None, data=None,
                 warm: Mapping | None = None) -> None:
        self.workers, self.scheduler, self.data, self.warm = workers, scheduler, data, warm
        self._pool = self._client = self._data_future = None
        self.start_cpu_seconds = 0.0  # this process's CPU time to warm up and start the pool

    def __enter__(self) -> Runner:
        if self.scheduler:
            self._client = connect(self.scheduler)
            if self.data is not None:
                self._data_future = self._client.scatter(self.data, broadcast=True)
        elif self.workers > 1:
            self._start_pool()
        return self

    def _start_pool(self) -> None:
        cpu = time.process_time()
        method = _start_method()
        if method == "fork" and self.warm is not None:
            warm_up(self.warm, self.data)
        with _one_thread_env():  # inherited by the children
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers, mp_context=multiprocessing.get_context(method),
                initializer=_init_worker, initargs=(self.data, os.getpid()))
        for future in [self._pool.submit(time.sleep, 0) for _ in range(self.workers)]:
            future.result()  # every worker started now, not during the first trials
        self.start_cpu_seconds = time.process_time() - cpu

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        if self._client is not None:
            self._client.close()
            self._client = None

    def run(self, jobs: Iterable[Mapping], trials: Mapping | None = None,
            ahead: int = 0) -> Iterator[dict]:
        """Yield each job's result as it finishes (the order may differ from ``jobs``).

        ``jobs`` is read lazily: at most ``workers + ahead`` jobs are in flight, and the next
        one is taken only when a result has been handled, so a generator of jobs can ask a
        sampler that learns from the results, or stop at a deadline. ``ahead = 1`` keeps a job
        queued, so no worker waits while this process records a result.
        """
        if self.scheduler:
            yield from self._on_dask(jobs)
        elif self.workers <= 1:
            trials = {} if trials is None else trials
            for job in jobs:
                yield run_trial(job, data=self.data,
                                trial=trials.get((job["round"], job["index"])))
        else:
            if self._pool is None:
                self._start_pool()
            yield from _windowed(lambda job: self._pool.submit(_run_shared, job), jobs,
                                 self.workers + ahead, wait)

    def _on_dask(self, jobs: Iterable[Mapping]) -> Iterator[dict]:
        from distributed import wait as dask_wait  # heavy; only a cluster run needs it

        if self._client is None:
            self.__enter__()
        width = max(self.workers, sum(self._client.nthreads().values()), 1)
        yield from _windowed(lambda job: self._client.submit(run_trial, job, self._data_future,
                                                             pure=False),
                             jobs, width, dask_wait)


def _windowed(submit, jobs: Iterable[Mapping], width: int, wait_for) -> Iterator[dict]:
    """Results in the order they finish, at most ``width`` jobs in flight; unfinished futures
    are cancelled if the consumer stops early."""
    pending: set = set()
    source = iter(jobs)

    def fill() -> None:
        while len(pending) < width:
            job = next(source, None)
            if job is None:
                return
            pending.add(submit(job))

    try:
        fill()
        while pending:
            done, _ = wait_for(pending, return_when=FIRST_COMPLETED)
            for future in done:
                pending.discard(future)
                yield future.result()
                fill()
    finally:
        for future in pending:
            future.cancel()
