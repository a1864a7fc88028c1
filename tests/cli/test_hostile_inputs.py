"""Issue #16 regressions: every hostile input is one line on stderr and exit 2, never a
traceback, and nothing is written outside the run directory.

The CLI runs in-process (typer's CliRunner) in a temporary working directory; the read-only
and full file systems are real tmpfs mounts (skipped where mounting is not allowed).
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pytest
import typer
from _cli import assert_one_line_error, cli
from typer.testing import CliRunner

from deeprecipe.cli import app

TINY = """\
name = "{name}"
seed = {seed}

[data]
dataset = "{dataset}"
{data}

[model]
hidden_layer_sizes = {hidden}

[training]
epochs = 2
{extra}
"""


def invoke(*args: str):
    """Run the CLI in-process; fail on any exception other than a clean exit."""
    result = CliRunner().invoke(app, [str(a) for a in args])
    exc = result.exception
    assert exc is None or isinstance(exc, SystemExit), (
        f"traceback for {args}: {type(exc).__name__}: {exc}")
    return result


def assert_refused(*args: str, match: str) -> str:
    """Exit 2 with exactly one line, starting 'error:' and containing ``match``."""
    result = invoke(*args)
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 2, result.output
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert match in lines[0], lines[0]
    return lines[0]


def config(path: Path, *, name: str = "t", seed: int | str = 0, dataset: str = "moons",
           data: str = "n_samples = 100", hidden: str = "[4]", extra: str = "") -> Path:
    path.write_text(TINY.format(name=name, seed=seed, dataset=dataset, data=data,
                                hidden=hidden, extra=extra), encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def _workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DEEPRECIPE_MAX_BYTES", str(1 << 30))  # 1 GiB, the same everywhere


# -- item 2: a run name is one folder under runs/ ----------------------------------------------
@pytest.mark.parametrize("name", ["../../x", "/abs/path", "", ".", "..", "a/b", "a\\u0000b",
                                  "a\\nb"])
@pytest.mark.parametrize("command", ["run", "tune", "babysit", "recipe"])
def test_a_name_that_is_not_one_folder_is_refused(tmp_path, command, name):
    assert_refused(command, config(tmp_path / "c.toml", name=name), "-q", match="one folder name")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.toml"]  # nothing written anywhere


def test_train_name_is_checked_and_out_chooses_another_place(tmp_path):
    assert_refused("train", "--dataset", "moons", "--name", "../escape", "--epochs", "1", "-q",
            match="one folder name")
    assert not (tmp_path.parent / "escape").exists()
    result = invoke("train", "--dataset", "moons", "--epochs", "1", "-q",
                    "--out", tmp_path / "elsewhere" / "r")
    assert result.exit_code == 0 and (tmp_path / "elsewhere" / "r" / "model.npz").is_file()


# -- item 5: the gradient check never passes on NaN ------------------------------------------
@pytest.mark.parametrize("args, match", [
    (("--l2", "nan"), "l2 must be >= 0.0, got nan"),
    (("--l2", "-1"), "l2 must be >= 0.0, got -1.0"),
    (("--samples", "-1"), "samples must be >= 1, got -1"),
    (("--samples", "0"), "samples must be >= 1, got 0"),
])
def test_gradcheck_rejects_bad_numbers(args, match):
    assert_refused("gradcheck", *args, match=match)


# -- item 6: integers in [split] are counts -----------------------------------------------------
def test_integer_split_sizes_are_counts(tmp_path):
    result = invoke("run", config(tmp_path / "c.toml", extra="[split]\ndev = 20\ntest = 30"),
                    "-q")
    assert result.exit_code == 0, result.output
    split = json.loads((tmp_path / "runs" / "t" / "summary.json").read_text())["split"]
    assert (split["dev"], split["test"], split["train"]) == (20, 30, 50)


# -- item 7: the CLI tracebacks ---------------------------------------------------------------
def _npy_header_only(path: Path, shape: tuple) -> None:
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False,
                                                  "shape": shape})
    path.write_bytes(header.getvalue())  # the magic string and the header, no data


def _zip_bomb(path: Path) -> None:
    """A small .npz whose X inflates to 800 MB (zeros) and whose y has 10 rows."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False,
                                                  "shape": (100_000_000,)})
    y = io.BytesIO()
    np.save(y, np.arange(10) % 2)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        with zf.open("X.npy", "w", force_zip64=True) as f:
            f.write(header.getvalue())
            for _ in range(50):
                f.write(bytes(16_000_000))  # exactly the 800 MB the header claims
        zf.writestr("y.npy", y.getvalue())


def _hostile_data(tmp: Path) -> dict[str, tuple[str, str, str]]:
    """{case: (dataset path, extra [data] lines, expected message part)}."""
    (tmp / "dir.npy").mkdir()
    (tmp / "Xzero.npy").write_bytes(b"")
    np.save(tmp / "yzero.npy", np.arange(10) % 2)
    _npy_header_only(tmp / "Xhuge.npy", (100_000_000_000, 10))
    np.save(tmp / "yhuge.npy", np.arange(10) % 2)
    np.save(tmp / "Xcomplex.npy", np.ones((20, 2), complex))
    np.save(tmp / "ycomplex.npy", np.arange(20) % 2)
    np.save(tmp / "Xlabels.npy", np.random.default_rng(0).random((20, 2)))
    np.save(tmp / "ylabels.npy", (np.arange(20) % 2).astype(np.uint64) * np.uint64(2**64 - 1))
    (tmp / "corrupt.npz").write_bytes(b"PK\x03\x04 not a zip at all")
    np.savez(tmp / "nofeatures.npz", X=np.zeros((50, 0)), y=np.arange(50) % 2)
    (tmp / "latin1.csv").write_bytes(b"a,b,label\n1,2,\xff\n3,4,1\n")
    (tmp / "dup.csv").write_text("a,label,label\n" + "".join(f"{i},{i % 2},{1 - i % 2}\n"
                                                           for i in range(10)))
    (tmp / "onlylabel.csv").write_text("label\n" + "".join(f"{i % 2}\n" for i in range(10)))
    _npy_header_only(tmp / "Xtruncated.npy", (1000, 10))
    np.save(tmp / "ytruncated.npy", np.arange(1000) % 2)
    _zip_bomb(tmp / "bomb.npz")
    lab = 'label = "label"'
    return {
        "directory for a file": ("dir.npy", "", "expected X.npy and y.npy"),  # or a data folder
        "zero-byte .npy": ("Xzero.npy", "", "not a readable .npy file"),
        "huge .npy header": ("Xhuge.npy", "", "would need"),
        "truncated .npy": ("Xtruncated.npy", "", "truncated or corrupt"),
        "complex .npy": ("Xcomplex.npy", "", "X must be real numbers"),
        "huge int labels": ("Xlabels.npy", "", "expected integer labels below 2**53"),
        "corrupt .npz": ("corrupt.npz", "", "not a readable .npz file"),
        "zip bomb": ("bomb.npz", "", "X has 100000000 samples but y has 10"),
        "0 feature columns": ("nofeatures.npz", "", "no feature columns"),
        "non-UTF-8 csv": ("latin1.csv", lab, "not UTF-8 text"),
        "duplicate csv header": ("dup.csv", lab, "more than once"),
        "csv with only a label": ("onlylabel.csv", lab, "no feature columns"),
    }


def test_hostile_data_files_are_one_line(tmp_path):
    for case, (name, data, match) in _hostile_data(tmp_path).items():
        line = assert_refused("run", config(tmp_path / "c.toml", dataset=str(tmp_path / name),
                                     data=data), "-q", match=match)
        assert name in line, (case, line)
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("kwargs, match", [
    ({"seed": -1}, "seed must be in [0, 9223372036854775807], got -1"),
    ({"seed": 2**70}, "seed = 1180591620717411303424 is too large"),
    ({"hidden": "[99999999999999999999999]"}, "is too large"),
    ({"hidden": "[10000000]"}, "would need"),  # checked before any allocation
    ({"hidden": "[100000, 100000]"}, "would need"),
    ({"data": "n_samples = 1000000000"}, "would need"),
    ({"dataset": "a\\u0000b"}, "without NUL characters"),
    ({"extra": "[tuning]\nn_trials = 1\n[tuning.space]\n"
               "learning_rate = { dist = [\"log_uniform\"], low = 1e-3, high = 1e-1 }"},
     "unknown dist ['log_uniform']"),
    ({"hidden": "[4]\nkeep_prob = 1e-300"}, "smaller ones become 0 in float32"),
    ({"dataset": "digits", "data": "n_samples = 100",
      "extra": "[regularization]\naugment = true\naugmentation = { crop = 100 }"},
     "crop must be"),
])
def test_hostile_configs_are_one_line(tmp_path, kwargs, match):
    assert_refused("run", config(tmp_path / "c.toml", **kwargs), "-q", match=match)


def test_a_late_error_leaves_nothing_that_blocks_the_rerun(tmp_path):
    """crop = 100 on 8x8 digits is found once the data is read; the rerun is not blocked."""
    bad = config(tmp_path / "c.toml", dataset="digits", extra=(
        "[regularization]\naugment = true\naugmentation = { crop = 100 }"))
    assert_refused("run", bad, "-q", match="crop must be")
    good = config(tmp_path / "c.toml", dataset="digits")
    assert invoke("run", good, "-q").exit_code == 0


def test_config_files_that_are_not_text(tmp_path):
    (tmp_path / "latin1.toml").write_bytes(b'name = "\xff\xfe"\n')
    assert_refused("run", tmp_path / "latin1.toml", match="is not UTF-8 text")
    assert_refused("run", tmp_path, match="is a directory; expected a TOML config file")


def test_malformed_scheduler_address(tmp_path):
    assert_refused("tune", config(tmp_path / "c.toml"), "--trials", "1", "--scheduler", "tcp://::::",
            "-q", match="is not a valid address")


def test_epochs_per_chunk_zero_is_refused(tmp_path):
    assert_refused("babysit", config(tmp_path / "c.toml"), "--epochs-per-chunk", "0", "-q",
            match="--epochs-per-chunk must be >= 1, got 0")


def _mount_tmpfs(path: Path, size: str) -> None:
    path.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                          capture_output=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")


@pytest.mark.parametrize("kind", ["read-only", "full"])
def test_a_read_only_or_full_file_system_is_one_line(tmp_path, kind):
    if shutil.which("mount") is None:
        pytest.skip("no mount command")
    fs = tmp_path / "fs"
    _mount_tmpfs(fs, "64k")
    try:
        if kind == "read-only":
            subprocess.run(["mount", "-o", "remount,ro", str(fs)], check=True)
            match = "Read-only file system"
        else:
            match = "No space left on device"
        line = assert_refused("run", config(tmp_path / "c.toml", dataset="digits"), "-q", "--out",
                       fs / "run", match=match)
        assert str(fs) in line
    finally:
        subprocess.run(["umount", str(fs)], check=False)


# -- item 8: hostile run files ----------------------------------------------------------------
@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    home = tmp_path_factory.mktemp("finished")
    cfg = config(home / "c.toml", name="good")
    result = CliRunner().invoke(app, ["run", str(cfg), "-q", "--out", str(home / "good")])
    assert result.exit_code == 0, result.output
    return home / "good"


def _edit_json(path: Path, edit) -> None:
    doc = json.loads(path.read_text())
    edit(doc)
    doc.pop("npz_sha256", None)
    path.write_text(json.dumps(doc))


def _replace_npz(run: Path, write) -> None:
    """Write another model.npz and drop the checksum that would catch it first."""
    write(run / "model.npz")
    _edit_json(run / "model.json", lambda doc: None)


def _first_dense(doc: dict) -> dict:
    return next(layer for layer in doc["network"]["layers"] if "n_out" in layer)


def _checkpoints(run: Path, edit) -> None:
    (run / "model.json").unlink()
    for path in sorted((run / "checkpoints").glob("*.json")):
        _edit_json(path, edit)


def _checkpoint_arrays(run: Path, edit) -> None:
    """Edit the arrays of every checkpoint (what resume reads) and drop the final model."""
    (run / "model.json").unlink()
    for path in sorted((run / "checkpoints").glob("epoch-*.npz")):
        with np.load(path) as f:
            arrays = {k: f[k] for k in f.files}
        edit(arrays)
        np.savez(path, **arrays)


HOSTILE_RUN_FILES = {
    "n_out = 10^9": (lambda r: _edit_json(r / "model.json", lambda d: _first_dense(d).update(
        n_out=10**9)), ("evaluate",), "would need"),
    "100k-deep model.json": (lambda r: (r / "model.json").write_text("[" * 100_000),
                             ("evaluate",), "JSON nested too deeply"),
    "metadata.classes = [7]": (lambda r: _edit_json(r / "model.json", lambda d: d[
        "metadata"].update(classes=[7])), ("evaluate",), "metadata.classes must list 2"),
    "model.npz from another network": (lambda r: _replace_npz(r, lambda p: np.savez(p, **{
        k: np.zeros((3, 3), np.float32) for k in np.load(p).files})),
        ("evaluate",), "from a different network"),
    "zip-bomb model.npz": (lambda r: _replace_npz(r, _zip_bomb), ("evaluate",),
                           "bytes, more than the"),
    "deep summary.json": (lambda r: (r / "summary.json").write_text("[" * 100_000),
                          ("report",), "wrote"),
    "negative epoch": (lambda r: _checkpoints(r, lambda d: d.update(epoch=-3)), ("resume",),
                       "epoch must be an integer >= 0, got -3"),
    "bad RNG state": (lambda r: _checkpoints(r, lambda d: d["rng"].update(
        shuffle={"bit_generator": "PCG64", "state": "x"})), ("resume",),
        "its shuffle RNG state is not a PCG64 state: the state must be a table with keys"),
    "string learning rate": (lambda r: _checkpoints(r, lambda d: d["optimizer"].update(
        learning_rate="fast")), ("resume",), "learning_rate must be a real number"),
    "deep checkpoint": (lambda r: _checkpoints(r, lambda d: d.update(
        epoch=json.loads("[" * 500 + "]" * 500))), ("resume",), "epoch must be an integer"),
    "string beta1": (lambda r: _checkpoints(r, lambda d: d["optimizer"].update(beta1="x")),
                     ("resume",), "the checkpoint's optimizer.beta1 must be a real number, "
                                  "got 'x'"),
    "unknown optimizer key": (lambda r: _checkpoints(r, lambda d: d["optimizer"].update(
        _tmp=None)), ("resume",), "the checkpoint's optimizer must be a table with keys"),
    "negative schedule lr0": (lambda r: _checkpoints(r, lambda d: d["schedule"].update(lr0=-1)),
                              ("resume",), "the checkpoint's schedule.lr0 must be > 0.0, got -1"),
    "history a list": (lambda r: _checkpoints(r, lambda d: d.update(history=[])), ("resume",),
                       "the checkpoint's history must be a table"),
    "steps of two lengths": (lambda r: _checkpoints(r, lambda d: d["history"]["steps"][
        "cost"].pop()), ("resume",), "the checkpoint's history.steps must be lists of one "
                                     "length"),
    "early stopping wait a string": (lambda r: _checkpoints(r, lambda d: d["callbacks"][0].update(
        wait="2")), ("resume",), "the checkpoint's callbacks[0].wait must be an integer"),
    "NaN weights": (lambda r: _checkpoint_arrays(r, lambda a: a.update({
        "param/0.W": np.full_like(a["param/0.W"], np.nan)})), ("resume",),
        "the checkpoint's array 'param/0.W' must be finite, got NaN or inf"),
    "float64 weights": (lambda r: _checkpoint_arrays(r, lambda a: a.update({
        "param/0.W": a["param/0.W"].astype(np.float64)})), ("resume",),
        "the checkpoint's array 'param/0.W' must be float32 of shape (2, 4), got float64"),
}


@pytest.mark.parametrize("case", list(HOSTILE_RUN_FILES))
def test_hostile_run_files(tmp_path, finished_run, case):
    mutate, command, match = HOSTILE_RUN_FILES[case]
    run = tmp_path / "h"
    shutil.copytree(finished_run, run)
    mutate(run)
    if case == "deep summary.json":  # the report is rebuilt and names the unreadable file
        result = invoke(*command, run)
        assert result.exit_code == 0 and match in result.output
        assert "could not be read" in (run / "report.html").read_text()
        return
    assert_refused(*command, run, match=match)


def test_resume_of_a_corrupt_checkpoint_is_one_line_on_stderr(tmp_path, finished_run):
    """The real command line: exit 2, one line on stderr naming the checkpoint file and the
    field, no traceback (a string β used to pass the load and fail in the first step)."""
    run = tmp_path / "h"
    shutil.copytree(finished_run, run)
    _checkpoints(run, lambda d: d["optimizer"].update(beta1="0.9"))
    line = assert_one_line_error(cli("resume", run, "-q", cwd=tmp_path))
    assert line.startswith(f"error: {run / 'checkpoints' / 'epoch-0002.json'}: ")
    assert line.endswith("the checkpoint's optimizer.beta1 must be a real number, got '0.9'")


# -- item 9: a stale "running" marker whose pid another process reuses ---------------------------
def test_resume_and_rollback_get_past_a_reused_pid_with_or_without_force(tmp_path):
    """The lock is free, so the marker is a crashed babysit's: no --force needed, and
    --force (kept for old scripts) changes nothing; its help says so."""
    cfg = config(tmp_path / "c.toml", name="p")
    assert invoke("babysit", cfg, "--chunks", "2", "-q").exit_code == 0
    run = tmp_path / "runs" / "p"
    sleeper = subprocess.Popen(["sleep", "600"])  # alive, and not a babysit
    try:
        for command in (["rollback", run, "--chunk", "1"], ["resume", run, "-q"],
                        ["rollback", run, "--chunk", "1", "--force"],
                        ["resume", run, "-q", "--force"]):
            state = json.loads((run / "panda.json").read_text())
            state["running"] = {"pid": sleeper.pid, "thread": "1-2", "branch": state["active"]}
            (run / "panda.json").write_text(json.dumps(state))
            result = invoke(*command)
            assert result.exit_code == 0, (command, result.output)
            assert json.loads((run / "panda.json").read_text())["running"] is None
    finally:
        sleeper.kill()
        sleeper.wait()
    events = json.loads((run / "panda.json").read_text())["events"]
    assert [e["pid"] for e in events if e["kind"] == "stale_marker"] == [sleeper.pid] * 4
    for command in ("resume", "rollback"):
        assert "Does nothing (kept for old scripts)" in " ".join(
            invoke(command, "--help").output.split())


# -- item 10: help text -----------------------------------------------------------------------
def test_every_option_has_help_and_flags_show_no_type():
    command = typer.main.get_command(app)
    for name, sub in command.commands.items():
        missing = [p.name for p in sub.params if not getattr(p, "help", None)]
        assert not missing, f"{name}: options without help: {missing}"
        text = invoke(name, "--help").output
        assert "<bool>" not in text and "\\[" not in text, (name, text)
        assert f"Example: deeprecipe {name}" in text


# -- item 3: one rule for an existing directory -------------------------------------------------
def test_every_command_refuses_a_directory_that_holds_work_with_the_next_command(tmp_path):
    cfg = config(tmp_path / "c.toml", name="same")
    assert invoke("babysit", cfg, "--chunks", "1", "-q").exit_code == 0
    model = (tmp_path / "runs" / "same" / "model.npz").read_bytes()
    for command in (["run", cfg], ["recipe", cfg, "--rounds", "1"], ["babysit", cfg]):
        line = assert_refused(*command, "-q", match="deeprecipe resume runs/same")
        assert "--force" in line
    assert (tmp_path / "runs" / "same" / "model.npz").read_bytes() == model
    line = assert_refused("demo", "--out", tmp_path / "runs" / "same", "-q",
                   match="deeprecipe resume")
    assert (tmp_path / "runs" / "same" / "model.npz").read_bytes() == model


@pytest.mark.parametrize("command", [["recipe", "--rounds", "1"], ["tune", "--trials", "1"]])
def test_workers_beyond_four_per_cpu_are_refused_before_any_process_starts(
        tmp_path, monkeypatch, command):
    """--workers 100000 forked 100,000 processes: the OOM killer ended the command."""
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    assert_refused(command[0], config(tmp_path / "c.toml"), *command[1:], "--workers", "100000",
                   "-q", match="workers must be in [1, 8] (4 per CPU: more processes only "
                               "wait for one), got 100000")
    assert not (tmp_path / "runs").exists()


def test_recipe_rounds_zero_is_refused_not_the_default(tmp_path):
    """--rounds 0 ran the default 5 rounds and exited 0."""
    assert_refused("recipe", config(tmp_path / "c.toml"), "--rounds", "0", "-q",
                   match="--rounds must be >= 1, got 0")
    assert not (tmp_path / "runs").exists()
