"""The study's storage: a journal file guarded by a crash-proof lock, opened with a fingerprint.

Optuna's JournalFileSymlinkLock leaves a symlink behind when its holder is killed; with a
relative path the symlink dangles, ``os.stat`` fails, and the next process spins forever. Here
the journal path is absolute and its writes take an ``flock`` (runs.locks.FileLock), which
the kernel releases when the holder dies. The study records a fingerprint of the data and of the
whole config (all but workers/scheduler), and a resumed study must match it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path

import numpy as np
import optuna
from optuna.storages.journal import JournalFileBackend
from optuna.storages.journal._file import BaseJournalFileLock, get_lock_file

from deeprecipe.errors import ConfigError, DeepRecipeError
from deeprecipe.runs import rundir
from deeprecipe.runs.config import Config, config_to_dict
from deeprecipe.runs.locks import FileLock

__all__ = ["JournalLock", "open_storage", "open_study", "fingerprint", "clean_stale",
           "finished"]


class JournalLock(BaseJournalFileLock):
    """Optuna's journal lock as an ``flock`` on ``<journal>.flock``: a killed writer's lock is
    gone at once (no grace period to wait out, no symlink to go stale)."""

    def __init__(self, journal: str | Path) -> None:
        self._lock = FileLock(Path(os.path.abspath(journal)).with_name(rundir.JOURNAL_LOCK))

    def acquire(self) -> bool:
        return self._lock.acquire()

    def release(self) -> None:
        self._lock.release()


class JournalBackend(JournalFileBackend):
    """Optuna's journal file, appended under ``JournalLock`` and flushed to the kernel without
    an fsync per line (~6 ms each, ten per trial: the parent's bottleneck with short trials).
    A killed process loses nothing the kernel holds; a half-written last line is skipped by
    the reader. Only a power cut can lose the latest lines (those trials then run again)."""

    def append_logs(self, logs: list[dict]) -> None:
        text = "\n".join(json.dumps(log, separators=(",", ":")) for log in logs) + "\n"
        with get_lock_file(self._lock), open(self._file_path, "ab") as f:
            f.write(text.encode("utf-8"))
            f.flush()


def open_storage(spec: str):
    """An Optuna storage from "journal:<path>" (made absolute) or a storage URL (as is)."""
    if spec.startswith("journal:"):
        path = os.path.abspath(spec[len("journal:"):])
        return optuna.storages.JournalStorage(JournalBackend(path, lock_obj=JournalLock(path)))
    return spec


def fingerprint(config: Config, data) -> dict:
    """{"config": the whole config but where it runs, "data": sha256 of the arrays}."""
    tuning = {k: v for k, v in dataclasses.asdict(config.tuning).items()
              if k not in ("workers", "scheduler")}
    h = hashlib.sha256()
    for part in data if isinstance(data, list) else [data]:
        for name in ("X_train", "y_train", "X_dev", "y_dev", "X_test", "y_test"):
            a = getattr(part, name)
            if a is not None:
                h.update(np.ascontiguousarray(a).tobytes())
    return {"config": {**config_to_dict(config), "tuning": tuning}, "data": h.hexdigest()}


def _differences(saved: dict, now: dict, prefix: str = "") -> list[str]:
    keys = sorted(set(saved) | set(now))
    out = []
    for k in keys:
        a, b = saved.get(k), now.get(k)
        if isinstance(a, dict) and isinstance(b, dict):
            out += _differences(a, b, f"{prefix}{k}.")
        elif a != b:
            out.append(f"{prefix}{k}")
    return out


def open_study(spec: str, study_name: str, sampler, pruner, setup: dict):
    """Create or load the study; ConfigError when it was started with another config or data."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        study = optuna.create_study(study_name=study_name, storage=open_storage(spec),
                                    sampler=sampler, pruner=pruner, direction="minimize",
                                    load_if_exists=True)
    except Exception as exc:  # noqa: BLE001 - any storage failure, told plainly
        raise DeepRecipeError(f"cannot open the Optuna storage {spec!r}: {exc}") from None
    saved = study.user_attrs.get("setup")
    if saved is None:
        study.set_user_attr("setup", setup)
    elif saved != setup:
        changed = _differences(saved, setup)
        what = "other data" if changed == ["data"] else "another configuration"
        raise ConfigError(f"the study in {spec} was started with {what} "
                          f"({', '.join(changed[:6])} differ); resume with the same config and "
                          "data, pass --force to start over, or choose another --out")
    return study


def clean_stale(study) -> int:
    """Mark trials a killed process left RUNNING or WAITING as FAIL (stale); return how many."""
    n = 0
    for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        study._storage.set_trial_user_attr(t._trial_id, "stale", True)
        study.tell(t.number, state=optuna.trial.TrialState.FAIL, skip_if_finished=True)
        n += 1
    while study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.WAITING,)):
        trial = study.ask()
        trial.set_user_attr("stale", True)
        study.tell(trial, state=optuna.trial.TrialState.FAIL)
        n += 1
    return n


def finished(study, round_: int) -> dict[int, object]:
    """index -> the finished trial of ``round_`` (COMPLETE, PRUNED, or FAIL that is final)."""
    out: dict[int, object] = {}
    for t in study.get_trials(deepcopy=False):
        a = t.user_attrs
        if a.get("round") != round_ or "index" not in a:
            continue
        state = t.state.name
        final = (a.get("result") or {}).get("final")
        if (state in ("COMPLETE", "PRUNED") or (state == "FAIL" and final)) \
                and a["index"] not in out:
            out[a["index"]] = t
    return out
