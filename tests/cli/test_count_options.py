"""Count options (--trials, --rounds, --workers, --chunks, --epochs, --samples...) refuse a bad
count with one message shape, whichever the command and whatever the value: the option as the
user typed it, what it expects, and the value given ("--trials must be in [1, 100000], got 0").
Each is checked before a file is read or a process started."""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from deeprecipe.cli import app

CONFIG = 'name = "t"\n[data]\ndataset = "moons"\n[model]\nhidden_layer_sizes = [3]\n' \
         '[training]\nepochs = 2\n'
WORKERS = (f"in [1, {4 * (os.cpu_count() or 1)}] (4 per CPU: more processes only wait "
           "for one)")
COUNTS = [  # (the command and its arguments, the count option, what it expects)
    (["tune", "c.toml"], "--trials", "in [1, 100000]"),
    (["tune", "c.toml"], "--rounds", ">= 1"),
    (["tune", "c.toml"], "--workers", WORKERS),
    (["recipe", "c.toml"], "--rounds", ">= 1"),
    (["recipe", "c.toml"], "--workers", WORKERS),
    (["babysit", "c.toml"], "--chunks", ">= 1"),
    (["babysit", "c.toml"], "--epochs-per-chunk", ">= 1"),
    (["resume", "runs/t"], "--chunks", ">= 1"),
    (["train"], "--epochs", ">= 1"),
    (["train"], "--batch-size", ">= 1"),
    (["gradcheck"], "--samples", ">= 1"),
    (["gradcheck"], "--max-components", ">= 1"),
]


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    home = tmp_path_factory.mktemp("counts")
    (home / "c.toml").write_text(CONFIG, encoding="utf-8")
    return home


def _refusal(home, args: list[str]) -> str:
    cwd = os.getcwd()
    os.chdir(home)
    try:
        result = CliRunner().invoke(app, args)
    finally:
        os.chdir(cwd)
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 2 and len(lines) == 1, (args, result.output)
    return lines[0]


@settings(max_examples=60, deadline=None)
@given(case=st.sampled_from(COUNTS),
       value=st.one_of(st.just(0), st.just(-1), st.integers(max_value=0)))
def test_a_count_below_one_is_refused_in_one_shape(home, case, value):
    args, option, expected = case
    assert _refusal(home, [*args, option, str(value)]) == (
        f"error: {option} must be {expected}, got {value}")
    assert not (home / "runs").exists()


@pytest.mark.parametrize("args, option, expected, value", [
    (["tune", "c.toml"], "--trials", "in [1, 100000]", 100_001),
    (["tune", "c.toml"], "--workers", WORKERS, 10**12),
    (["recipe", "c.toml"], "--workers", WORKERS, 10**12)])
def test_a_count_above_its_range_is_refused_in_the_same_shape(home, args, option, expected,
                                                               value):
    assert _refusal(home, [*args, option, str(value)]) == (
        f"error: {option} must be {expected}, got {value}")


def test_a_config_without_trials_says_how_to_give_them(home):
    assert _refusal(home, ["tune", "c.toml"]) == (
        "error: tuning.n_trials must be in [1, 100000] to tune (0: no search; set it in "
        "[tuning] or give --trials), got 0")


@pytest.mark.parametrize("samples", [3, 10**11])
def test_gradcheck_says_when_samples_exceed_the_training_set(home, samples):
    (home / "small.toml").write_text(
        '[data]\ndataset = "blobs"\nn_samples = 60\n[model]\nhidden_layer_sizes = [3]\n',
        encoding="utf-8")
    m = 36  # the training part of the 60 examples
    result = CliRunner().invoke(app, ["gradcheck", "--config", str(home / "small.toml"),
                                      "--samples", str(samples), "--max-components", "40"])
    assert result.exit_code == 0, result.output
    note = f"--samples {samples} is more than the {m} training examples: all {m} were checked"
    assert (result.output.splitlines()[0] == note) == (samples > m), result.output
