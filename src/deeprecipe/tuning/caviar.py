"""Caviar: train many models at once — serially, on local processes, or on a Dask cluster.

Every trial is a plain, picklable job ``{"config": dict, "params": dict, "round", "index",
"epochs"}`` run by :func:`run_trial`, which returns a plain result dict. Workers never write the
study (unless pruning needs live reports), the parent process alone tells Optuna the results, so
serial, process and Dask runs record the same trials. Each trial runs on one BLAS thread
(``threadpool_limits(1)``), so all three compute bit-identical numbers.
"""

from __future__ import annotations

import json
import multiprocessing
import os
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager

import optuna
from threadpoolctl import threadpool_limits

from deeprecipe.errors import DeepRecipeError
from deeprecipe.optimize.callbacks import Callback
from deeprecipe.runs.build import build_network, make_trainer
from deeprecipe.runs.config import config_from_dict, config_to_dict
from deeprecipe.runs.evaluate import evaluate
from deeprecipe.runs.prepare import prepare_data
from deeprecipe.tuning.hyperparameters import apply

__all__ = ["run_trial", "Runner", "connect", "SchedulerUnreachableError"]

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


def make_pruner(prune: bool):
    """MedianPruner (5 startup trials, 1 warm-up epoch) when pruning, else NopPruner."""
    if prune:
        return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=1)
    return optuna.pruners.NopPruner()


def open_storage(spec: str):
    """An Optuna storage from "journal:<path>" (a journal file) or a storage URL (as is)."""
    if spec.startswith("journal:"):
        path = spec[len("journal:"):]
        # a lock left by a killed process is released after 5 s (writes take milliseconds)
        lock = optuna.storages.journal.JournalFileSymlinkLock(path, grace_period=5)
        backend = optuna.storages.journal.JournalFileBackend(path, lock_obj=lock)
        return optuna.storages.JournalStorage(backend)
    return spec


def _data_for(config):
    d = config_to_dict(config)
    key = json.dumps([d["seed"], d["data"], d["split"]], sort_keys=True)
    if key not in _DATA_CACHE:
        _DATA_CACHE.clear()
        _DATA_CACHE[key] = prepare_data(config, check_distribution=False)
    return _DATA_CACHE[key]


def _live_trial(job: Mapping):
    study = optuna.load_study(study_name=job["study_name"], storage=open_storage(job["storage"]),
                              pruner=make_pruner(True))
    return optuna.trial.Trial(study, job["trial_id"])


def run_trial(job: Mapping, data=None, trial=None) -> dict:
    """Train one configuration; dev_error = the objective (minimized).

    job: {"config": Config dict, "params": {name: value}, "round": r, "index": i,
    "epochs": epochs or None, and for pruning in a worker "storage", "study_name",
    "trial_id"}. ``data`` (PreparedData) is re-prepared from the config when None.
    ``trial``: a live Optuna trial to report to (pruning). Returns {"round", "index",
    "status": "complete" | "pruned" | "failed", "dev_error", "train_error", "dev_cost",
    "train_cost", "curve": {"epoch", "dev_error", "cost", ...}, "error"}.
    """

    out = {"round": job["round"], "index": job["index"], "params": dict(job["params"]),
           "status": "complete", "dev_error": None, "train_error": None, "dev_cost": None,
           "train_cost": None, "curve": {}, "error": None}
    if trial is None and job.get("storage") and job.get("trial_id") is not None:
        trial = _live_trial(job)
    trainer = None
    with threadpool_limits(1):
        try:
            base = config_from_dict(job["config"])
            cfg = apply(base, job["params"])
            if job.get("epochs"):
                cfg = apply(cfg, {"epochs": job["epochs"]})
            data = data if data is not None else _data_for(base)
            bs = cfg.training.batch_size
            if isinstance(bs, int) and bs > len(data.X_train):  # a sampled size beyond m is
                cfg = apply(cfg, {"batch_size": "full"})       # batch gradient descent
            net = build_network(cfg, data)
            callbacks = (_Report(trial),) if trial is not None else ()
            trainer = make_trainer(cfg, data, net, callbacks=callbacks)
            trainer.fit(cfg.training.epochs)
            out.update({k: v for k, v in evaluate(net, data).items()
                        if k in ("dev_error", "train_error", "dev_cost", "train_cost")})
        except optuna.TrialPruned as exc:
            out.update(status="pruned", error=str(exc))
        except DeepRecipeError as exc:  # divergence or a bad value: deterministic, keep it
            out.update(status="failed", error=f"{type(exc).__name__}: {exc}")
    if trainer is not None:
        rows = trainer.history.epochs
        out["curve"] = {k: [r.get(k) for r in rows] for k in
                        ("epoch", "dev_error", "dev_cost", "cost", "train_error",
                         "learning_rate")}
        out["epochs_run"] = trainer.epoch
        if out["status"] == "pruned" and rows:
            out["dev_error"] = rows[-1].get("dev_error")
            out["train_error"] = rows[-1].get("train_error")
    return out


_SHARED: dict[str, object] = {}  # per worker process: the data sent by the initializer


def _init_worker(data) -> None:
    threadpool_limits(1)
    _SHARED["data"] = data


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


class Runner:
    """Runs trial jobs, keeping its pool (or Dask client) open across rounds.

    workers == 1 and no scheduler: in this process (``trials`` maps (round, index) to a live
    Optuna trial for pruning). workers > 1: a spawn-context ProcessPoolExecutor whose workers
    receive ``data`` once. scheduler: the Dask cluster at that address (``data`` scattered to
    every worker). Without ``data`` each worker prepares it from the job's config.
    """

    def __init__(self, workers: int = 1, scheduler: str | None = None, data=None) -> None:
        self.workers, self.scheduler, self.data = workers, scheduler, data
        self._pool = self._client = self._data_future = None

    def __enter__(self) -> Runner:
        if self.scheduler:
            self._client = connect(self.scheduler)
            if self.data is not None:
                self._data_future = self._client.scatter(self.data, broadcast=True)
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        if self._client is not None:
            self._client.close()
            self._client = None

    def run(self, jobs: Iterable[Mapping], trials: Mapping | None = None) -> Iterator[dict]:
        """Yield each job's result as it finishes (the order may differ from ``jobs``)."""
        jobs = list(jobs)
        if not jobs:
            return
        if self.scheduler:
            yield from self._on_dask(jobs)
        elif self.workers <= 1:
            trials = trials or {}
            for job in jobs:
                yield run_trial(job, data=self.data,
                                trial=trials.get((job["round"], job["index"])))
        else:
            yield from self._on_processes(jobs)

    def _on_processes(self, jobs: list) -> Iterator[dict]:
        if self._pool is None:
            with _one_thread_env():  # inherited by the children at spawn
                self._pool = ProcessPoolExecutor(
                    max_workers=self.workers, mp_context=multiprocessing.get_context("spawn"),
                    initializer=_init_worker, initargs=(self.data,))
        yield from _as_completed([self._pool.submit(_run_shared, job) for job in jobs],
                                 as_completed)

    def _on_dask(self, jobs: list) -> Iterator[dict]:
        from distributed import as_completed  # heavy; only a cluster run needs it

        if self._client is None:
            self.__enter__()
        yield from _as_completed([self._client.submit(run_trial, job, self._data_future,
                                                      pure=False) for job in jobs],
                                 as_completed)


def _as_completed(futures: list, as_completed) -> Iterator[dict]:
    """Results in the order they finish; unfinished futures are cancelled if we stop early."""
    try:
        for future in as_completed(futures):
            yield future.result()
    finally:
        for future in futures:
            future.cancel()
