"""Reading a run directory for the report: a FIFO, a huge file, a directory or garbage where a
run file should be is one line naming that file, and the report carries on with the rest;
never a hang on a FIFO or a read of a huge file into memory."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import tempfile
from pathlib import Path

import pytest
from _cli import CLI, _env
from _timeouts import GUARD
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deeprecipe._io import MAX_JSON_BYTES
from deeprecipe.optimize.history import History
from deeprecipe.report._files import load_run

CHECKPOINT = "branches/main/checkpoints/epoch-0001.json"
JSON = {"summary.json": {"name": "r"}, "diagnosis.json": {"verdict": "ok"},
        "tuning.json": {"trials": []}, "recipe.json": {"rounds": []},
        "learning_curve.json": {"sizes": []}, "rounds/02/search.json": {"trials": []},
        "panda.json": {"active": "main", "events": [], "branches": {"main": {
            "parent": None, "chunks": {"1": {"checkpoint": CHECKPOINT}}}}},
        CHECKPOINT: {"history": History().to_dict()}}
LABELS = {CHECKPOINT: "panda branch main"}  # how the report names each file


def _run_dir(root: Path) -> Path:
    run = root / "run"
    for name, data in JSON.items():
        (run / name).parent.mkdir(parents=True, exist_ok=True)
        (run / name).write_text(json.dumps(data), encoding="utf-8")
    (run / "history.jsonl").write_text(History().to_jsonl(), encoding="utf-8")
    return run


def _damage(path: Path, kind: str, size: int) -> str:
    """Make ``path`` ``kind``; the reason the report gives for it."""
    path.unlink()
    if kind == "fifo":
        os.mkfifo(path)
        return "is a named pipe (FIFO), not a regular file"
    if kind == "directory":
        path.mkdir()
        return "is a directory"
    path.touch()
    os.truncate(path, size)  # sparse: no disk used
    return f"{size} bytes is too large for a run file (at most {MAX_JSON_BYTES})"


@pytest.mark.timeout(GUARD)  # a hang guard: a FIFO read blocks forever
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from([*JSON, "history.jsonl"]),
       kind=st.sampled_from(["fifo", "huge", "directory"]),
       extra=st.integers(1, 1 << 20))
def test_a_special_or_huge_run_file_is_one_line_naming_it(name, kind, extra):
    with tempfile.TemporaryDirectory() as tmp:
        run = _run_dir(Path(tmp))
        reason = _damage(run / name, kind, MAX_JSON_BYTES + extra)
        files = load_run(run)
    label = LABELS.get(name, name)
    (problem,) = files.problems
    assert problem.startswith(f"{label}: ") and reason in problem, problem
    expected = {*JSON, "history.jsonl"} - {name, CHECKPOINT}
    if name == "panda.json":
        expected -= {CHECKPOINT}
    assert expected <= set(files.found) and label not in files.found


def _small_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))


@pytest.mark.parametrize("kind", ["fifo", "huge"])
def test_the_report_command_names_a_fifo_or_a_2_gib_summary_and_carries_on(tmp_path, kind):
    run = _run_dir(tmp_path)
    reason = _damage(run / "summary.json", kind, 2 << 30)
    done = subprocess.run([*CLI, "report", str(run)], capture_output=True, text=True,
                          timeout=GUARD, env=_env(), preexec_fn=_small_memory)
    assert done.returncode == 0, done.stderr
    html = (run / "report.html").read_text(encoding="utf-8")
    assert f"<b>Unreadable:</b> summary.json: could not be read ({reason})" in html
