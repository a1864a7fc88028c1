"""Panda: babysit one model — train in chunks ("days"), nudge it, roll it back, go on.

run_dir/
  panda.json                 branches, the active one, chunk -> checkpoint, session events
  branches/<name>/checkpoints/   the Trainer's checkpoints of that branch (never deleted)
  nudges/*.json              requests waiting for the next epoch boundary; applied/ once done
  model.npz, model.json      the final model, always from the active branch

A nudge is applied at the next epoch boundary of a running babysit (a callback polls nudges/),
or, when nothing runs, at the start of the next ``resume``. ``rollback(chunk=k)`` starts a new
branch from the checkpoint of chunk k; the old branch stays as it was.

``babysit``, ``resume`` and ``rollback`` hold the run directory's lock (``runs.locks``, as
``run`` does) for as long as they work: another writer is refused, ``--force`` or not, and the
kernel drops the lock of a killed process (its leftover ``running`` marker is cleared by the
next ``resume`` or ``rollback``). ``nudge`` only queues a file, so it never needs it.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from deeprecipe._io import load_json, write_json_atomic
from deeprecipe._validation import check_in_range, check_int
from deeprecipe.errors import (
    CheckpointError,
    ConfigError,
    DeepRecipeError,
    InvalidValueError,
)
from deeprecipe.optimize import checkpoints
from deeprecipe.optimize.callbacks import Callback
from deeprecipe.optimize.history import History
from deeprecipe.report import write_report
from deeprecipe.runs import rundir
from deeprecipe.runs.build import build_network, make_trainer
from deeprecipe.runs.config import Config, config_from_dict, config_to_dict
from deeprecipe.runs.finish import save_run
from deeprecipe.runs.knobs import BY_NAME, KNOBS, check_value
from deeprecipe.runs.locks import check_free, hold_run_dir
from deeprecipe.runs.prepare import prepare_data
from deeprecipe.tuning._nudges import NudgeWatcher
from deeprecipe.tuning._session import (
    FORMAT,
    babysit_state,
    event,
    held,
    load_state,
    save_state,
    state_path,
    thread_key,
)

__all__ = ["babysit", "nudge", "rollback", "resume", "status", "BabysitResult", "NudgeWatcher"]



@dataclass
class BabysitResult:
    """The active branch after a session: its network, history and metrics."""

    run_dir: Path
    branch: str
    network: object
    history: History
    metrics: dict
    chunks: dict

    def __str__(self) -> str:
        m = self.metrics
        return (f"branch {self.branch}: {len(self.history)} epochs in {len(self.chunks)} "
                f"chunks; train error {m['train_error']:.2%}, dev error {m['dev_error']:.2%}; "
                f"model in {self.run_dir / 'model.npz'}")


# -- nudges ---------------------------------------------------------------------------------
def nudge(run_dir: str | Path, *, scale_learning_rate: float | None = None,
          **values) -> dict:
    """Ask the babysat model to change course: any knob that can change mid-training
    (``runs.knobs``: learning_rate, beta, keep_prob, l2, ...) := value, or α × scale.

    Written atomically to run_dir/nudges/; applied at the next epoch boundary of a running
    babysit, or at the start of the next ``resume`` when nothing runs. Returns the request
    with its file, whether a babysit was running and, in words, what it was doing
    ("running (pid N)", "stopped (crashed or killed)" or "not running"; see ``status``).
    """
    run_dir = Path(run_dir)
    state = load_state(run_dir)
    cfg = config_from_dict(state["config"])
    request = {k: v for k, v in values.items() if v is not None}
    live = [k.name for k in KNOBS if k.live is not None]
    if not request and scale_learning_rate is None:
        raise InvalidValueError(f"nudge needs at least one of {', '.join(live)} or "
                                "scale_learning_rate")
    if "learning_rate" in request and scale_learning_rate is not None:
        raise InvalidValueError("give learning_rate or scale_learning_rate, not both")
    for name, value in request.items():
        knob = BY_NAME.get(name)
        if knob is None or knob.live is None:
            raise ConfigError(f"{name} cannot be nudged; the knobs that can: {', '.join(live)}")
        request[name] = check_value(name, value)
        reason = knob.applies(cfg) if knob.applies is not None else None
        if reason is not None:
            raise ConfigError(f"{name}: {reason}")
    if scale_learning_rate is not None:
        request["scale_learning_rate"] = check_in_range(
            "scale_learning_rate", scale_learning_rate, low=0.0, closed="neither")
    path = run_dir / rundir.NUDGES / f"{time.time_ns():020d}-{os.getpid()}.json"
    write_json_atomic(path, {**request, "branch": state["active"]})
    running, doing = babysit_state(run_dir, state)
    return {"file": str(path), "request": request, "running": running is not None,
            "babysit": doing}


# -- training sessions ---------------------------------------------------------------------
def _last_chunk(branch: dict) -> tuple[int, dict | None]:
    if not branch["chunks"]:
        return 0, None
    k = max(int(c) for c in branch["chunks"])
    return k, branch["chunks"][str(k)]


def _open(run_dir: Path, state: dict, callbacks=(), verbose: bool = False):
    """(config, data, net, trainer) of the active branch, at the end of its last chunk."""
    cfg = config_from_dict(state["config"])
    cfg = dataclasses.replace(cfg, training=dataclasses.replace(  # chunks are rollback points
        cfg.training, early_stopping=False, keep_checkpoints=0))
    data = prepare_data(cfg, check_distribution=False)
    branch = state["branches"][state["active"]]
    net = build_network(cfg, data)
    trainer = make_trainer(cfg, data, net, verbose=verbose,
                           checkpoint_dir=run_dir / branch["dir"] / rundir.CHECKPOINTS,
                           callbacks=(*callbacks, NudgeWatcher(
                               run_dir, state["active"],
                               lambda kind, message, **extra: event(state, kind, message,
                                                                    **extra))))
    _, entry = _last_chunk(branch)
    if entry is not None:
        trainer.resume(run_dir / entry["checkpoint"])  # nudged values come back with it
    return cfg, data, net, trainer


def _save_run(run_dir: Path, cfg: Config, data, net, trainer) -> dict:
    """The active branch's model and every run file (summary, diagnosis, report); metrics."""
    metrics = save_run(run_dir, cfg, data, net, trainer).metrics
    write_report(run_dir)
    return metrics


def _session(run_dir: Path, state: dict, n_chunks: int, callbacks, verbose: bool
             ) -> BabysitResult:
    cfg, data, net, trainer = _open(run_dir, state, callbacks, verbose)
    name = state["active"]
    branch = state["branches"][name]
    state["running"] = {"pid": os.getpid(), "thread": thread_key(), "branch": name,
                        "since": time.strftime("%Y-%m-%dT%H:%M:%S")}
    # the chunk count this session ends at: a resume after a crash (even one during the final
    # save) trains only what is left of it, never an extra chunk
    state["target"] = {"branch": name, "chunks": _last_chunk(branch)[0] + n_chunks}
    save_state(run_dir, state)
    try:
        for _ in range(n_chunks):
            trainer.fit(trainer.epoch + state["epochs_per_chunk"])
            path = checkpoints.save_checkpoint(trainer.checkpoint_dir, *trainer.state_dict())
            k = _last_chunk(branch)[0] + 1
            branch["chunks"][str(k)] = {"checkpoint": str(path.relative_to(run_dir)),
                                        "epoch": trainer.epoch}
            last = trainer.history.last
            event(state, "chunk", f"chunk {k} done at epoch {trainer.epoch}: dev_error "
                   f"{last.get('dev_error', float('nan')):.4f}", chunk=k, epoch=trainer.epoch)
            save_state(run_dir, state)
            if trainer.stop_training:
                break
    except KeyboardInterrupt:
        raise KeyboardInterrupt(f"interrupted; its state is saved in {run_dir}; continue with "
                                f"`deeprecipe resume {run_dir}`") from None
    finally:
        state["running"] = None
        save_state(run_dir, state)
    metrics = _save_run(run_dir, cfg, data, net, trainer)
    state["target"] = None
    save_state(run_dir, state)
    return BabysitResult(run_dir, name, net, trainer.history, metrics, dict(branch["chunks"]))


def babysit(config: Config, run_dir: str | Path, *, chunks: int = 3,
            epochs_per_chunk: int | None = None, verbose: bool = False,
            callbacks: tuple[Callback, ...] = (), force: bool = False) -> BabysitResult:
    """Train one model in ``chunks`` chunks of ``epochs_per_chunk`` epochs, a checkpoint each.

    epochs_per_chunk defaults to max(1, training.epochs // chunks). Early stopping is off (you
    are the one watching). Between chunks, or while it runs, ``nudge`` it; afterwards
    ``rollback`` or ``resume``. ``callbacks`` are extra training callbacks. A directory that
    holds a run or a session is refused (with the command that continues it) unless ``force``.
    """
    run_dir = Path(run_dir)
    if run_dir.is_dir():  # a live run, babysit or recipe: refused first, whatever the flags
        check_free(run_dir)
    if state_path(run_dir).exists() and not force:
        raise DeepRecipeError(f"{run_dir} already holds a panda session (a babysat model); "
                              f"continue it with `deeprecipe resume {run_dir}`, pass --force "
                              "to start over, or choose another --out")
    rundir.prepare_run_dir(run_dir, force=force, create=False)  # a finished run: refused
    chunks = check_int("chunks", chunks, low=1)
    per = (max(1, config.training.epochs // chunks) if epochs_per_chunk is None
           else check_int("epochs_per_chunk", epochs_per_chunk, low=1))
    run_dir.mkdir(parents=True, exist_ok=True)
    with hold_run_dir(run_dir):  # for the whole session: no second writer, --force or not
        if force:  # start over: the old session's branches and queued nudges go with it
            for name in (rundir.PANDA, rundir.BRANCHES, rundir.NUDGES):
                path = run_dir / name
                shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
        state = {"format": FORMAT, "config": config_to_dict(config), "epochs_per_chunk": per,
                 "active": "main", "running": None, "events": [],
                 "branches": {"main": {"parent": None, "from_chunk": None,
                                       "dir": "branches/main", "chunks": {}}}}
        event(state, "babysit", f"started: {chunks} chunks of {per} epochs")
        return _session(run_dir, state, chunks, callbacks, verbose)


def resume(run_dir: str | Path, *, chunks: int | None = None, verbose: bool = False,
           callbacks: tuple[Callback, ...] = (), force: bool = False) -> BabysitResult:
    """Continue the active branch for ``chunks`` more chunks (pending nudges applied first).

    None: finish an interrupted session (only the chunks it had left, possibly none: then the
    model is saved), else 1 chunk. A live babysit (or run, or recipe) in ``run_dir`` refuses it
    with RunDirBusyError; a crashed babysit's leftover ``running`` marker does not. ``force``
    is accepted and ignored: it used to take over from such a marker, which the run
    directory's lock now tells apart from a live babysit by itself.
    """
    run_dir = Path(run_dir)
    with held(run_dir, "resume") as state:
        target = state.get("target")
        if chunks is None and target and target["branch"] == state["active"]:
            chunks = max(0, target["chunks"] - _last_chunk(state["branches"][state["active"]])[0])
        else:
            chunks = 1 if chunks is None else check_int("chunks", chunks, low=1)
        event(state, "resume", f"resumed branch {state['active']} for {chunks} chunk(s)")
        return _session(run_dir, state, chunks, callbacks, verbose)


def rollback(run_dir: str | Path, *, chunk: int, force: bool = False) -> dict:
    """Start a new branch from the checkpoint at the end of ``chunk`` of the active branch.

    The old branch keeps its checkpoints and history; the new one becomes active, its
    history records the roll-back, and the model in run_dir is the new branch's. ``force``:
    accepted and ignored, as for :func:`resume`.
    """
    run_dir = Path(run_dir)
    with held(run_dir, "rollback") as state:
        return _rollback(run_dir, state, chunk)


def _rollback(run_dir: Path, state: dict, chunk: int) -> dict:
    parent = state["active"]
    src = state["branches"][parent]
    if str(chunk) not in src["chunks"]:
        raise InvalidValueError(f"branch {parent!r} has chunks "
                                f"{sorted(int(c) for c in src['chunks'])}, got chunk={chunk!r}")
    n = len(state["branches"])
    while f"b{n}" in state["branches"]:
        n += 1
    name = f"b{n}"
    entry = src["chunks"][str(chunk)]
    source = run_dir / entry["checkpoint"]
    meta, history = _checkpoint(source)  # a corrupt one is named before anything is copied
    target = run_dir / rundir.BRANCHES / name / rundir.CHECKPOINTS / source.name
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source.with_suffix(".npz"), target.with_suffix(".npz"))
    message = f"rolled back to chunk {chunk} of branch {parent!r} (epoch {entry['epoch']})"
    history.events.append({"epoch": entry["epoch"], "step": 0, "kind": "rollback",
                           "message": message, "from_branch": parent, "chunk": chunk})
    meta["history"] = history.to_dict()
    write_json_atomic(target.with_suffix(".json"), meta)  # last: the checkpoint is complete
    chunks = {c: e for c, e in src["chunks"].items() if int(c) < chunk}
    chunks[str(chunk)] = {"checkpoint": str(target.relative_to(run_dir)),
                          "epoch": entry["epoch"]}
    state["branches"][name] = {"parent": parent, "from_chunk": chunk,
                               "dir": f"branches/{name}", "chunks": chunks}
    state["active"] = name
    event(state, "rollback", message, from_branch=parent, chunk=chunk)
    carried = _carry_nudges(run_dir, state, parent, name)
    if carried:
        message += f"; {carried} pending nudge(s) of {parent!r} will apply to {name!r}"
    save_state(run_dir, state)
    cfg, data, net, trainer = _open(run_dir, state)
    _save_run(run_dir, cfg, data, net, trainer)
    return {"branch": name, "parent": parent, "chunk": chunk, "epoch": entry["epoch"],
            "message": message}


def _checkpoint(path: Path) -> tuple[dict, History]:
    """(metadata, history) of a branch's checkpoint; CheckpointError naming the file."""
    path = path.with_suffix(".json")
    meta = load_json(path)
    try:
        if not isinstance(meta, dict):
            raise CheckpointError("the checkpoint must be a JSON table, got "
                                  f"{type(meta).__name__}")
        return meta, History.from_dict(meta.get("history"), what="the checkpoint's history")
    except CheckpointError as exc:
        raise CheckpointError(f"{path}: {exc}") from None


def _carry_nudges(run_dir: Path, state: dict, parent: str, name: str) -> int:
    """Address the nudges pending for ``parent`` to its new branch ``name``, each logged in
    panda.json (never applied silently to another branch); how many."""
    folder = run_dir / rundir.NUDGES
    pending = sorted(folder.glob("*.json")) if folder.is_dir() else []
    carried = 0
    for path in pending:
        request = load_json(path)
        if request.get("branch", parent) == parent:
            write_json_atomic(path, {**request, "branch": name})
            event(state, "nudge_carried", f"the nudge {request} queued on branch {parent!r} "
                   f"applies to branch {name!r}, made by the roll-back", request=request)
            carried += 1
    return carried


def status(run_dir: str | Path) -> dict:
    """Branches (parent, chunks, history, events), the active one, session events, nudges;
    ``running``: the marker of the babysit that trains now (None if none does) and
    ``babysit``: "running (pid N)", "stopped (crashed or killed)" (a marker left behind: the
    run directory's lock is free) or "not running". Takes no lock."""
    run_dir = Path(run_dir)
    state = load_state(run_dir)
    branches = {}
    for name, b in state["branches"].items():
        _, entry = _last_chunk(b)
        hist = (_checkpoint(run_dir / entry["checkpoint"])[1].to_dict() if entry
                else {"epochs": [], "events": []})
        branches[name] = {"parent": b["parent"], "from_chunk": b["from_chunk"],
                          "chunks": b["chunks"], "epochs": hist["epochs"],
                          "events": hist["events"]}
    folder = run_dir / rundir.NUDGES
    running, doing = babysit_state(run_dir, state)
    return {"run_dir": str(run_dir), "active": state["active"], "running": running,
            "babysit": doing,
            "epochs_per_chunk": state["epochs_per_chunk"], "branches": branches,
            "events": state["events"],
            "pending_nudges": [load_json(p) for p in sorted(folder.glob("*.json"))]
            if folder.is_dir() else [],
            "applied_nudges": len(list((folder / rundir.APPLIED).glob("*.json")))
            if (folder / rundir.APPLIED).is_dir() else 0}
