"""Read the saved files of a run directory, each optional, never raising on a bad file.

Every file is read through ``_io.read_run_text``: a FIFO, a device or a file larger than a run
file can be (``_io.MAX_JSON_BYTES``) is one problem line naming it, never a hang or a huge read.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from deeprecipe._io import read_run_text
from deeprecipe.errors import CheckpointError
from deeprecipe.optimize.history import History
from deeprecipe.runs import rundir

__all__ = ["RunFiles", "load_run", "FILES", "ALWAYS"]

ALWAYS = (rundir.SUMMARY, rundir.HISTORY, rundir.DIAGNOSIS)  # every run writes these
FILES = (*ALWAYS, rundir.TUNING, rundir.PANDA, rundir.RECIPE, rundir.LEARNING_CURVE)


@dataclass
class RunFiles:
    """The parsed files of one run directory; a missing or unreadable file is None.

    ``problems`` holds one line per file that exists but could not be read. ``branches``
    maps each panda branch to {"parent", "active", "history"}, the history being read from
    the branch's last checkpoint; when history.jsonl is missing, the active branch's
    history stands in for it.
    """

    run_dir: Path
    summary: dict | None = None
    history: History | None = None
    diagnosis: dict | None = None
    tuning: dict | None = None
    panda: dict | None = None
    recipe: dict | None = None
    learning_curve: dict | None = None
    branches: dict[str, dict] = field(default_factory=dict)
    searches: dict[int, dict | None] = field(default_factory=dict)
    found: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _read_json(path: Path, files: RunFiles, *, list_key: str | None = None,
               label: str | None = None) -> dict | None:
    """The JSON object in ``path`` (named ``label`` in found/problems, its name by default)."""
    label = label or path.name
    if not path.exists():
        return None
    try:
        data = json.loads(_text(path))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        files.problems.append(f"{label}: could not be read ({_reason(path, exc)})")
        return None
    if isinstance(data, list) and list_key is not None:
        data = {list_key: data}
    if not isinstance(data, dict):
        files.problems.append(f"{label}: expected a JSON object, got "
                              f"{type(data).__name__}")
        return None
    files.found.append(label)
    return data


def _text(path: Path) -> str:
    """``read_run_text``, its CheckpointError (a FIFO, a huge file) an OSError as for any
    unreadable file."""
    try:
        return read_run_text(path)
    except CheckpointError as exc:
        raise OSError(str(exc)) from None


def _reason(path: Path | None, exc: Exception) -> str:
    """Why ``path`` could not be read, without repeating its path."""
    if isinstance(exc, IsADirectoryError):
        return "is a directory"
    return str(exc).removeprefix(f"{path}: ")


def _read_history(path: Path, files: RunFiles) -> History | None:
    if not path.exists():
        return None
    try:
        history = History.from_jsonl(_text(path))
    except (OSError, ValueError, AttributeError, TypeError, RecursionError) as exc:
        files.problems.append(f"{path.name}: could not be read ({_reason(path, exc)})")
        return None
    files.found.append(path.name)
    return history


def load_run(run_dir: str | Path) -> RunFiles:
    """Every report input of ``run_dir`` that exists and parses."""
    run_dir = Path(run_dir)
    files = RunFiles(run_dir)
    files.summary = _read_json(run_dir / rundir.SUMMARY, files)
    files.history = _read_history(run_dir / rundir.HISTORY, files)
    files.diagnosis = _read_json(run_dir / rundir.DIAGNOSIS, files)
    files.tuning = _read_json(run_dir / rundir.TUNING, files, list_key="trials")
    files.panda = _read_json(run_dir / rundir.PANDA, files, list_key="events")
    files.recipe = _read_json(run_dir / rundir.RECIPE, files, list_key="rounds")
    files.learning_curve = _read_json(run_dir / rundir.LEARNING_CURVE, files)
    _read_branches(files)
    _read_searches(files)
    return files


def _read_searches(files: RunFiles) -> None:
    """The recipe's architecture searches: rounds/NN/search.json for every round NN."""
    try:
        paths = sorted((files.run_dir / rundir.ROUNDS).glob(f"*/{rundir.ROUND_SEARCH}"))
    except OSError as exc:
        files.problems.append(f"{rundir.ROUNDS}/: could not be listed ({exc})")
        return
    for path in paths:
        name = path.parent.name
        if name.isascii() and name.isdigit():
            label = f"{rundir.ROUNDS}/{name}/{path.name}"
            files.searches[int(name)] = _read_json(path, files, label=label)


def _read_branches(files: RunFiles) -> None:
    """Each panda branch's history from the .json of its last chunk's checkpoint."""
    panda = files.panda or {}
    branches = panda.get("branches")
    if not isinstance(branches, dict):
        return
    for name, b in branches.items():
        chunks = b.get("chunks") if isinstance(b, dict) else None
        if not isinstance(chunks, dict) or not chunks:
            continue
        path = None
        try:
            last = chunks[max(chunks, key=lambda k: int(k))]
            path = (files.run_dir / last["checkpoint"]).with_suffix(".json")
            history = History.from_dict(json.loads(_text(path))["history"])
        except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
            files.problems.append(f"panda branch {name}: no readable checkpoint history "
                                  f"({_reason(path, exc)})")
            continue
        files.branches[str(name)] = {"parent": b.get("parent"), "history": history,
                                     "active": name == panda.get("active")}
    active = [b for b in files.branches.values() if b["active"]]
    if files.history is None and active:
        files.history = active[0]["history"]
        files.found.append(f"history of the active panda branch {panda.get('active')}")
