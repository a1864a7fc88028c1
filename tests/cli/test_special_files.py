"""A FIFO or a device where a file is expected (a config, a data file, a run's saved files) is
one line and exit 2 at once: never a process blocked in open() on a FIFO, never /dev/zero read
until memory runs out.

Real processes (the hang is the defect), each under a 2 GiB address-space limit so that a
regression reading /dev/zero ends in MemoryError instead of taking the machine's memory; the
timeouts are hang guards only.
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from _cli import CLI, _env, assert_one_line_error
from typer.testing import CliRunner

from deeprecipe.cli import app

HANG_GUARD = 300  # seconds; the refusal takes about one second


def _small_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))


def cli(*args, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(_env(), PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    return subprocess.run([*CLI, *map(str, args)], cwd=cwd, capture_output=True, text=True,
                          timeout=HANG_GUARD, env=env, preexec_fn=_small_memory)


def special(path: Path, kind: str) -> Path:
    """Make ``path`` a FIFO or a symlink to /dev/zero (replacing what is there)."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)
    if kind == "fifo":
        os.mkfifo(path)
    else:
        path.symlink_to("/dev/zero")
    return path


WHAT = {"fifo": "is a named pipe (FIFO), not a regular file",
        "zero": "is a character device, not a regular file"}
CONFIG = 'name = "t"\n[data]\ndataset = "{dataset}"\n[model]\nhidden_layer_sizes = [3]\n' \
         '[training]\nepochs = 2\n'


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    home = tmp_path_factory.mktemp("finished")
    (home / "c.toml").write_text(CONFIG.format(dataset="moons"), encoding="utf-8")
    result = CliRunner().invoke(app, ["run", str(home / "c.toml"), "-q", "--out",
                                      str(home / "good")])
    assert result.exit_code == 0, result.output
    return home / "good"


@pytest.mark.parametrize("kind", ["fifo", "zero"])
def test_a_config_that_is_a_fifo_or_a_device(tmp_path, kind):
    cfg = special(tmp_path / "c.toml", kind)
    for args in (["run", cfg, "-q"], ["gradcheck", "--config", cfg]):
        line = assert_one_line_error(cli(*args, cwd=tmp_path))
        assert line == f"error: {cfg}: {WHAT[kind]}; expected a TOML config file", args


def _data(tmp_path: Path, case: str, kind: str) -> tuple[Path, Path]:
    """(the dataset named in the config, the special file in it)."""
    rng = np.random.default_rng(0)
    folder = tmp_path / "data"
    folder.mkdir()
    if case == "labels of an .npy pair":
        np.save(folder / "X.npy", rng.random((20, 2)))
        return folder / "X.npy", special(folder / "y.npy", kind)
    if case == "a shard":
        np.save(folder / "X_000.npy", rng.random((20, 2)))
        return folder, special(folder / "y_000.npy", kind)
    np.save(folder / "y.npy", np.arange(20) % 2)  # "X.npy of a folder"
    return folder, special(folder / "X.npy", kind)


@pytest.mark.parametrize("kind", ["fifo", "zero"])
@pytest.mark.parametrize("case", ["labels of an .npy pair", "a shard", "X.npy of a folder"])
def test_a_data_file_that_is_a_fifo_or_a_device(tmp_path, case, kind):
    dataset, bad = _data(tmp_path, case, kind)
    (tmp_path / "c.toml").write_text(CONFIG.format(dataset=dataset), encoding="utf-8")
    line = assert_one_line_error(cli("run", "c.toml", "-q", cwd=tmp_path))
    assert line == f"error: {bad}: {WHAT[kind]}", line
    if case == "a shard":
        line = assert_one_line_error(cli("convert", dataset, tmp_path / "out", cwd=tmp_path))
        assert line == f"error: {bad}: {WHAT[kind]}", line
    assert not (tmp_path / "runs").exists() and not (tmp_path / "out").exists()


@pytest.mark.parametrize("kind", ["fifo", "zero"])
@pytest.mark.parametrize("name, command", [
    ("model.json", ["evaluate"]), ("model.npz", ["predict", "--input", "in.npy"]),
    ("config.toml", ["diagnose"]), ("checkpoints/epoch-0002.json", ["resume", "-q"]),
    ("checkpoints/epoch-0002.npz", ["resume", "-q"])])
def test_a_run_file_that_is_a_fifo_or_a_device(tmp_path, finished_run, name, command, kind):
    run = tmp_path / "r"
    shutil.copytree(finished_run, run)
    np.save(tmp_path / "in.npy", np.zeros((3, 2), np.float32))
    if command[0] == "resume":  # resume reads the checkpoints of an unfinished run
        (run / "model.json").unlink()
    bad = special(run / name, kind)
    line = assert_one_line_error(cli(command[0], run, *command[1:], cwd=tmp_path))
    assert f"{bad}: {WHAT[kind]}" in line, line
