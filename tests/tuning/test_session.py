"""panda.json, the babysat session's state: a damaged file is one line naming its field,
never a traceback, and no path in it leads outside the run directory."""

from __future__ import annotations

import copy
import json
import shutil

import pytest
from _cli import assert_one_line_error, cli, cli_many
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deeprecipe.errors import CheckpointError
from deeprecipe.runs.config import Config, DataConfig, ModelConfig, TrainingConfig
from deeprecipe.tuning import panda
from deeprecipe.tuning._session import check_state, load_state, state_path

CONFIG = Config(name="session", seed=0, data=DataConfig(dataset="moons", n_samples=200),
                model=ModelConfig(hidden_layer_sizes=[4]),
                training=TrainingConfig(epochs=2, batch_size="full", early_stopping=False))


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    """A finished two-chunk babysit and its panda.json."""
    run_dir = tmp_path_factory.mktemp("panda") / "run"
    panda.babysit(CONFIG, run_dir, chunks=2, epochs_per_chunk=1)
    return run_dir, json.loads(state_path(run_dir).read_text(encoding="utf-8"))


def _damaged(run_dir, state, tmp_path):
    copy_dir = tmp_path / "copy"
    shutil.copytree(run_dir, copy_dir)
    state_path(copy_dir).write_text(json.dumps(state), encoding="utf-8")
    return copy_dir


def _set(state: dict, keys: tuple, value) -> dict:
    state = copy.deepcopy(state)
    target = state
    for k in keys[:-1]:
        target = target[k]
    target[keys[-1]] = value
    return state


CASES = {  # (path in panda.json, the value written, the field the error names)
    "active names no branch": (("active",), "nope", "active"),
    "format": (("format",), "other/9", "format"),
    "config not a table": (("config",), [1, 2], "config"),
    "epochs_per_chunk zero": (("epochs_per_chunk",), 0, "epochs_per_chunk"),
    "epochs_per_chunk bool": (("epochs_per_chunk",), True, "epochs_per_chunk"),
    "events not a list": (("events",), {}, "events"),
    "branches empty": (("branches",), {}, "branches"),
    "branch dir outside": (("branches", "main", "dir"), "../../elsewhere", "branches['main'].dir"),
    "branch dir absolute": (("branches", "main", "dir"), "/tmp", "branches['main'].dir"),
    "parent unknown": (("branches", "main", "parent"), "ghost", "branches['main'].parent"),
    "chunks not a table": (("branches", "main", "chunks"), [], "branches['main'].chunks"),
    "chunk checkpoint outside": (("branches", "main", "chunks", "1", "checkpoint"),
                                 "/etc/passwd", "branches['main'].chunks['1']"),
    "chunk epoch negative": (("branches", "main", "chunks", "1", "epoch"), -1,
                             "branches['main'].chunks['1']"),
    "running without pid": (("running",), {"branch": "main"}, "running"),
    "target unknown branch": (("target",), {"branch": "x", "chunks": 1}, "target"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_damaged_field_is_named(session, tmp_path, case):
    run_dir, state = session
    keys, value, field = CASES[case]
    damaged = _damaged(run_dir, _set(state, keys, value), tmp_path)
    with pytest.raises(CheckpointError) as info:
        load_state(damaged)
    message = str(info.value)
    assert str(state_path(damaged)) in message and f"panda session's {field} must be" in message
    assert "\n" not in message and "start over" in message


def test_the_commands_on_a_damaged_session_say_one_line(session, tmp_path):
    run_dir, state = session
    damaged = _damaged(run_dir, _set(state, ("active",), "nope"), tmp_path)
    before = sorted(p.relative_to(damaged) for p in damaged.rglob("*"))
    results = cli_many([["resume", str(damaged)], ["rollback", str(damaged), "--chunk", "1"],
                        ["nudge", str(damaged), "--scale-learning-rate", "0.5"]],
                       cwd=tmp_path)
    for res in results:
        assert "panda session's active must be one of the branches" in \
            assert_one_line_error(res)
    after = sorted(p.relative_to(damaged) for p in damaged.rglob("*") if p.name != ".lock")
    assert after == [p for p in before if p.name != ".lock"]  # nothing written or copied


def test_the_untouched_session_passes_and_resumes(session, tmp_path):
    run_dir, state = session
    check_state(state, state_path(run_dir))
    copy_dir = _damaged(run_dir, state, tmp_path)
    res = cli("resume", str(copy_dir), "--chunks", "1", "--quiet", cwd=tmp_path)
    assert res.returncode == 0, res.stderr


JSON = st.recursive(st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=8),
                    lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(st.text(max_size=6), inner, max_size=3), max_leaves=8)


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(field=st.sampled_from(["format", "config", "epochs_per_chunk", "active", "running",
                              "events", "branches", "target"]), value=JSON)
def test_any_value_in_any_field_is_accepted_or_named(session, field, value):
    run_dir, state = session
    damaged = _set(state, (field,), value)
    try:
        check_state(damaged, state_path(run_dir))
    except CheckpointError as exc:
        assert "\n" not in str(exc) and "panda session's" in str(exc)
