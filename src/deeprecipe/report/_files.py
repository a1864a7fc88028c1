"""Read the saved files of a run directory, each optional, never raising on a bad file."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from deeprecipe.history import History

__all__ = ["RunFiles", "load_run", "FILES"]

FILES = ("summary.json", "history.jsonl", "diagnosis.json", "tuning.json", "panda.json",
         "recipe.json")


@dataclass
class RunFiles:
    """The parsed files of one run directory; a missing or unreadable file is None.

    ``problems`` holds one line per file that exists but could not be read.
    """

    run_dir: Path
    summary: dict | None = None
    history: History | None = None
    diagnosis: dict | None = None
    tuning: dict | None = None
    panda: dict | None = None
    recipe: dict | None = None
    found: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _read_json(path: Path, files: RunFiles, *, list_key: str | None = None) -> dict | None:
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        files.problems.append(f"{path.name}: could not be read ({exc})")
        return None
    if isinstance(data, list) and list_key is not None:
        data = {list_key: data}
    if not isinstance(data, dict):
        files.problems.append(f"{path.name}: expected a JSON object, got "
                              f"{type(data).__name__}")
        return None
    files.found.append(path.name)
    return data


def _read_history(path: Path, files: RunFiles) -> History | None:
    if not path.is_file():
        return None
    try:
        history = History.from_jsonl(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, AttributeError, TypeError) as exc:
        files.problems.append(f"{path.name}: could not be read ({exc})")
        return None
    files.found.append(path.name)
    return history


def load_run(run_dir: str | Path) -> RunFiles:
    """Every report input of ``run_dir`` that exists and parses."""
    run_dir = Path(run_dir)
    files = RunFiles(run_dir)
    files.summary = _read_json(run_dir / "summary.json", files)
    files.history = _read_history(run_dir / "history.jsonl", files)
    files.diagnosis = _read_json(run_dir / "diagnosis.json", files)
    files.tuning = _read_json(run_dir / "tuning.json", files, list_key="trials")
    files.panda = _read_json(run_dir / "panda.json", files, list_key="events")
    files.recipe = _read_json(run_dir / "recipe.json", files, list_key="rounds")
    return files
