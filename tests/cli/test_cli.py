"""The ``deeprecipe`` command line, run as real subprocesses in a temporary working directory.

Each command is started with ``python -m deeprecipe.cli`` (the installed ``deeprecipe`` script
once) on tiny configurations. One finished run directory is shared by the tests that only read
it. Independent, quick invocations (``--help``, bad configs) are started concurrently.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from _cli import CLI, _env, assert_one_line_error, cli, cli_many
from _timeouts import GUARD, wait_until

from deeprecipe.runs.config import load_config

COMMANDS = ("demo", "run", "train", "evaluate", "predict", "diagnose", "gradcheck", "tune",
            "babysit", "nudge", "rollback", "resume", "recipe", "report", "init", "export",
            "convert")
RUN_FILES = ("config.toml", "history.jsonl", "model.npz", "model.json", "diagnosis.json",
             "summary.json", "report.html")

TINY = """\
name = "tiny"
seed = 0

[data]
dataset = "moons"
n_samples = 200

[model]
hidden_layer_sizes = [8]

[optimizer]
learning_rate = 0.01

[training]
epochs = 4
"""


def write_config(path: Path, text: str = TINY, **replace: str) -> Path:
    for old, new in replace.items():
        text = text.replace(old, new)
    path.write_text(text, encoding="utf-8")
    return path


# -- shared state --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    """A working directory holding tiny.toml."""
    root = tmp_path_factory.mktemp("cli")
    write_config(root / "tiny.toml")
    return root


@pytest.fixture(scope="module")
def finished(work) -> tuple[Path, subprocess.CompletedProcess]:
    """``deeprecipe run tiny.toml --out runs/tiny`` once; the run directory is only read."""
    res = cli("run", "tiny.toml", "--out", "runs/tiny", "--quiet", cwd=work)
    assert res.returncode == 0, res.stderr
    return work / "runs" / "tiny", res


@pytest.fixture(scope="module")
def helps(work) -> dict:
    """``--help`` of the app and of every command, started concurrently."""
    arg_lists = [["--help"]] + [[cmd, "--help"] for cmd in COMMANDS]
    results = cli_many(arg_lists, cwd=work)
    return {" ".join(a): r for a, r in zip(arg_lists, results, strict=True)}


# -- entry points and help -----------------------------------------------------------------
def test_app_help_lists_every_command(helps):
    res = helps["--help"]
    assert res.returncode == 0, res.stderr
    for cmd in COMMANDS:
        assert cmd in res.stdout
    assert "deeprecipe demo" in res.stdout  # the example of how to start
    assert "[tuning]" in res.stdout  # rich markup must not eat the table name


@pytest.mark.parametrize("cmd", COMMANDS)
def test_command_help_has_text_and_example(helps, cmd):
    res = helps[f"{cmd} --help"]
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip()
    assert f"Example: deeprecipe {cmd}" in res.stdout
    assert "--help" in res.stdout


def test_installed_console_script(work):
    exe = shutil.which("deeprecipe")
    assert exe is not None, "the deeprecipe console script is not installed"
    res = subprocess.run([exe, "gradcheck", "--help"], cwd=work, capture_output=True, text=True,
                         timeout=GUARD, env=_env())
    assert res.returncode == 0, res.stderr
    assert "Example: deeprecipe gradcheck" in res.stdout


def test_python_dash_m_deeprecipe_is_the_command(work):
    """``python -m deeprecipe`` runs the same command line as ``deeprecipe``."""
    res = subprocess.run([sys.executable, "-m", "deeprecipe", "gradcheck", "--help"], cwd=work,
                         capture_output=True, text=True, timeout=GUARD, env=_env())
    assert res.returncode == 0, res.stderr
    assert "Example: deeprecipe gradcheck" in res.stdout
    res = subprocess.run([sys.executable, "-m", "deeprecipe", "run", "missing.toml"], cwd=work,
                         capture_output=True, text=True, timeout=GUARD, env=_env())
    assert res.returncode == 2 and res.stderr.startswith("error: config file not found")


def test_no_command_shows_help_and_unknown_command_fails(work):
    bare, unknown = cli_many([[], ["frobnicate"]], cwd=work)
    assert "Usage" in bare.stdout + bare.stderr
    assert unknown.returncode != 0
    assert "frobnicate" in unknown.stderr


# -- init ----------------------------------------------------------------------------------
def test_init_writes_a_valid_config_and_refuses_to_overwrite(tmp_path):
    res = cli("init", "my.toml", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    config = load_config(tmp_path / "my.toml")
    assert config.name == "example"

    (tmp_path / "my.toml").write_text("# mine\n", encoding="utf-8")
    line = assert_one_line_error(cli("init", "my.toml", cwd=tmp_path))
    assert "--force" in line
    assert (tmp_path / "my.toml").read_text(encoding="utf-8") == "# mine\n"

    assert cli("init", "my.toml", "--force", cwd=tmp_path).returncode == 0
    assert load_config(tmp_path / "my.toml").name == "example"


def test_init_force_never_replaces_a_folder_or_a_special_file(tmp_path):
    os.mkfifo(tmp_path / "pipe")
    (tmp_path / "folder").mkdir()
    for target, what in (("pipe", "is a named pipe (FIFO)"), ("folder", "is a folder")):
        line = assert_one_line_error(cli("init", target, "--force", cwd=tmp_path))
        assert what in line, line
    assert (tmp_path / "folder").is_dir() and not (tmp_path / "pipe").is_file()


# -- run -----------------------------------------------------------------------------------
def test_run_writes_the_run_directory(finished):
    run_dir, res = finished
    for name in RUN_FILES:
        assert (run_dir / name).is_file(), name
    checkpoints = sorted(p.name for p in (run_dir / "checkpoints").glob("epoch-*.json"))
    assert checkpoints[-1] == "epoch-0004.json"
    assert "train error" in res.stdout and "dev error" in res.stdout
    summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    assert summary["epochs_run"] == 4
    assert 0.0 <= summary["metrics"]["dev_error"] <= 1.0
    assert (run_dir / "report.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert load_config(run_dir / "config.toml") == load_config(run_dir.parent.parent /
                                                               "tiny.toml")


def test_run_refuses_to_overwrite_without_force(finished, work):
    run_dir, _ = finished
    before = (run_dir / "model.npz").stat().st_mtime_ns
    line = assert_one_line_error(cli("run", "tiny.toml", "--out", "runs/tiny", "-q", cwd=work))
    assert "--force" in line and "runs/tiny" in line
    assert (run_dir / "model.npz").stat().st_mtime_ns == before


def test_rerunning_the_saved_config_reproduces_the_metrics(finished, work):
    run_dir, _ = finished
    res = cli("run", run_dir / "config.toml", "--out", "rerun", "-q", cwd=work)
    assert res.returncode == 0, res.stderr
    first = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))["metrics"]
    again = json.loads((work / "rerun" / "summary.json").read_text(encoding="utf-8"))["metrics"]
    assert again == first
    # --force overwrites, with the same result again
    res = cli("run", run_dir / "config.toml", "--out", "rerun", "-q", "--force", cwd=work)
    assert res.returncode == 0, res.stderr
    assert json.loads((work / "rerun" / "summary.json").read_text(encoding="utf-8"))[
        "metrics"] == first


def test_train_from_flags(tmp_path):
    res = cli("train", "--dataset", "moons", "--hidden", "8,4", "--optimizer", "momentum",
              "--lr", "0.05", "--epochs", "3", "--batch-size", "32", "--l2", "0.1",
              "--keep-prob", "0.9", "--batch-norm", "--seed", "3", "--name", "flags",
              "--out", "tr", "-q", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    config = load_config(tmp_path / "tr" / "config.toml")
    assert config.name == "flags" and config.seed == 3
    assert config.model.hidden_layer_sizes == [8, 4]
    assert config.model.batch_norm and config.model.keep_prob == 0.9
    assert config.optimizer.name == "momentum" and config.optimizer.learning_rate == 0.05
    assert config.training.epochs == 3 and config.training.batch_size == 32
    assert config.regularization.l2 == 0.1
    assert (tmp_path / "tr" / "model.npz").is_file()

    for typo in ("8,x", "8,,4", "8,"):  # an empty item is a typo, not "no such layer"
        bad = assert_one_line_error(cli("train", "--hidden", typo, "--out", "tr2",
                                        cwd=tmp_path))
        assert "--hidden" in bad and repr(typo) in bad
        assert not (tmp_path / "tr2").exists()


# -- evaluate, predict, diagnose, report ---------------------------------------------------
def test_evaluate_prints_metrics_and_json(finished, work):
    run_dir, _ = finished
    text, as_json = cli_many([["evaluate", run_dir], ["evaluate", run_dir, "--json"]], cwd=work,
                             columns=60)
    assert text.returncode == 0, text.stderr
    assert "dev_error" in text.stdout and "train_cost" in text.stdout
    assert as_json.returncode == 0, as_json.stderr
    assert len(as_json.stdout.strip().splitlines()) == 1  # one line even in a narrow terminal
    metrics = json.loads(as_json.stdout)
    saved = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))["metrics"]
    assert metrics == pytest.approx(saved)


def test_predict_npy_to_csv_and_csv_input(finished, work):
    run_dir, _ = finished
    X = np.random.default_rng(0).normal(size=(7, 2))
    np.save(work / "x.npy", X.astype(np.float32))
    np.savetxt(work / "x.csv", X, delimiter=",", header="x1,x2", comments="")
    to_file, from_csv, proba = cli_many(
        [["predict", run_dir, "--input", "x.npy", "--output", "p.csv"],
         ["predict", run_dir, "--input", "x.csv"],
         ["predict", run_dir, "--input", "x.npy", "--proba"]], cwd=work)
    assert to_file.returncode == 0, to_file.stderr
    assert "wrote 7 predictions to p.csv" in to_file.stdout
    labels = np.loadtxt(work / "p.csv", delimiter=",", skiprows=1)  # header "prediction"
    assert labels.shape == (7,) and set(labels) <= {0.0, 1.0}
    assert from_csv.returncode == 0, from_csv.stderr
    assert from_csv.stdout.splitlines()[0] == "prediction"
    assert np.loadtxt(from_csv.stdout.splitlines()[1:], delimiter=",") == pytest.approx(labels)
    assert proba.returncode == 0, proba.stderr
    assert proba.stdout.splitlines()[0] == "0,1"  # one column per class
    p = np.loadtxt(proba.stdout.splitlines()[1:], delimiter=",")
    assert ((p > 0) & (p < 1)).all() and p.sum(axis=1) == pytest.approx(1.0)
    assert (p[:, 1] > 0.5).astype(float) == pytest.approx(labels)

    line = assert_one_line_error(cli("predict", run_dir, "--input", "absent.npy", cwd=work))
    assert "absent.npy" in line and "not found" in line


def test_diagnose_from_numbers_and_from_a_run(finished, work):
    run_dir, _ = finished
    numbers, from_run, neither = cli_many(
        [["diagnose", "--train-error", "0.01", "--dev-error", "0.11"], ["diagnose", run_dir],
         ["diagnose"]], cwd=work)
    assert numbers.returncode == 0, numbers.stderr
    assert "high variance" in numbers.stdout.lower()
    assert "regularization" in numbers.stdout.lower()
    assert from_run.returncode == 0, from_run.stderr
    saved = json.loads((run_dir / "diagnosis.json").read_text(encoding="utf-8"))
    # the command re-evaluates the saved model: the same numbers as the run's own reading
    assert f"train error {saved['train_error']:.1%}" in from_run.stdout
    assert f"dev error {saved['dev_error']:.1%}" in from_run.stdout
    assert "  1. " in from_run.stdout  # the numbered next steps
    assert "--train-error" in assert_one_line_error(neither)


def test_report_rebuilds_the_html(finished, tmp_path):
    run_dir, _ = finished
    copy = shutil.copytree(run_dir, tmp_path / "copy")
    (copy / "report.html").unlink()
    res = cli("report", copy, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    html = (copy / "report.html").read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and "tiny" in html


def test_report_refuses_a_folder_that_holds_no_run(tmp_path):
    (tmp_path / "photos").mkdir()
    (tmp_path / "data.csv").write_text("a\n1\n")
    for target, what in (("photos", "holds no run"), ("data.csv", "is not a folder")):
        line = assert_one_line_error(cli("report", target, cwd=tmp_path))
        assert f"{target} is not a run directory: it {what}" in line, line
    assert not (tmp_path / "photos" / "report.html").exists()


def test_gradcheck_is_great(work):
    res = cli("gradcheck", cwd=work)
    assert res.returncode == 0, res.stderr
    assert "parameter" in res.stdout and "overall" in res.stdout
    assert "great" in res.stdout and "bug" not in res.stdout


# -- tuning, panda, recipe -----------------------------------------------------------------
def test_tune_writes_the_best_config(work):
    write_config(work / "tune.toml", TINY + """
[tuning.space]
learning_rate = { dist = "log_uniform", low = 1e-3, high = 1e-1 }
l2 = { dist = "log_uniform", low = 1e-3, high = 1.0 }
""", **{'name = "tiny"': 'name = "tuned"'})
    res = cli("tune", "tune.toml", "--trials", "3", "-q", cwd=work)
    assert res.returncode == 0, res.stderr
    best = work / "runs" / "tuned" / "study" / "best_config.toml"
    assert best.is_file()
    config = load_config(best)
    assert 1e-3 <= config.optimizer.learning_rate <= 1e-1
    rows = [json.loads(line) for line in res.stdout.splitlines() if line.startswith("{")]
    assert len(rows) == 3 and rows[0]["rank"] == 1
    study = json.loads((best.parent / "study.json").read_text(encoding="utf-8"))
    assert study["states"] == {"COMPLETE": 3}


def test_babysit_nudge_rollback_resume(work):
    from deeprecipe.tuning import status

    res = cli("babysit", "tiny.toml", "--chunks", "2", "--out", "panda", "-q", cwd=work)
    assert res.returncode == 0, res.stderr
    assert "2 chunks" in res.stdout
    panda = work / "panda"
    assert (panda / "panda.json").is_file() and (panda / "model.npz").is_file()

    res = cli("nudge", panda, "--scale-learning-rate", "0.5", cwd=work)
    assert res.returncode == 0, res.stderr
    assert "nudge queued" in res.stdout
    assert len(status(panda)["pending_nudges"]) == 1

    res = cli("rollback", panda, "--chunk", "1", cwd=work)
    assert res.returncode == 0, res.stderr
    assert "'b1'" in res.stdout

    res = cli("resume", panda, "-q", cwd=work)
    assert res.returncode == 0, res.stderr
    assert "branch b1" in res.stdout
    state = status(panda)
    assert state["active"] == "b1" and state["pending_nudges"] == []
    assert state["applied_nudges"] == 1
    assert sorted(state["branches"]["b1"]["chunks"]) == ["1", "2"]
    events = [e["kind"] for e in state["branches"]["b1"]["events"]]
    assert "rollback" in events and "nudge" in events

    res = cli("evaluate", panda, "--json", cwd=work)  # a babysat run can be evaluated too
    assert res.returncode == 0, res.stderr
    assert 0.0 <= json.loads(res.stdout)["dev_error"] <= 1.0

    line = assert_one_line_error(cli("rollback", panda, "--chunk", "9", cwd=work))
    assert "chunk" in line


def test_interrupted_run_resumes(tmp_path):
    write_config(tmp_path / "long.toml", **{
        "epochs = 4": "epochs = 80\nearly_stopping = false\nbatch_size = 16"})
    proc = subprocess.Popen([*CLI, "run", "long.toml", "--out", "long", "-q"], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=_env())
    checkpoints = tmp_path / "long" / "checkpoints"  # the latest 5 are kept as it goes
    wait_until(lambda: any(checkpoints.glob("epoch-*.json")), "first checkpoint", proc=proc)
    assert proc.poll() is None, "the run ended before it could be interrupted"
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=GUARD)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    run_dir = tmp_path / "long"
    assert (run_dir / "config.toml").is_file()  # written before training: resumable
    assert not (run_dir / "model.npz").exists()
    saved = sorted((run_dir / "checkpoints").glob("epoch-*.json"))
    assert saved and "epoch-0080.json" not in {p.name for p in saved}

    res = cli("resume", run_dir, "-q", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    assert summary["epochs_run"] == 80
    epochs = [json.loads(line)["epoch"] for line in
              (run_dir / "history.jsonl").read_text(encoding="utf-8").splitlines()
              if json.loads(line).get("type") == "epoch"]
    assert epochs == list(range(1, 81))
    # and it ends exactly where an uninterrupted run ends (checkpoints change no number)
    from deeprecipe.workflows import run

    config = load_config(tmp_path / "long.toml")
    config.training.checkpoint_every = 1000
    straight = run(config, tmp_path / "straight", report=False)
    assert summary["metrics"] == straight.metrics


def test_recipe_rounds(work):
    res = cli("recipe", "tiny.toml", "--rounds", "2", "--out", "recipe", "-q", cwd=work)
    assert res.returncode == 0, res.stderr
    assert "round 1" in res.stdout and "best: round" in res.stdout
    doc = json.loads((work / "recipe" / "recipe.json").read_text(encoding="utf-8"))
    assert 1 <= len(doc["rounds"]) <= 2
    assert (work / "recipe" / "report.html").is_file()
    # a recipe directory resumes by itself (here: replays its finished rounds)
    again = cli("resume", "recipe", "-q", cwd=work)
    assert again.returncode == 0, again.stderr
    redo = json.loads((work / "recipe" / "recipe.json").read_text(encoding="utf-8"))
    assert [r["narrative"] for r in redo["rounds"]] == [r["narrative"] for r in doc["rounds"]]
    clash = cli("recipe", "tiny.toml", "--rounds", "3", "--out", "recipe", "--resume", cwd=work)
    assert clash.returncode == 2 and "other max_rounds" in clash.stderr


def test_demo(tmp_path):
    res = cli("demo", "--out", "demo", "-q", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    for name in (*RUN_FILES, "tuning.json"):
        assert (tmp_path / "demo" / name).is_file(), name
    assert "dev error" in res.stdout
    summary = json.loads((tmp_path / "demo" / "summary.json").read_text(encoding="utf-8"))
    assert summary["dataset"] == "digits" and summary["metrics"]["dev_error"] < 0.5
    # diagnose RUN_DIR reads against the run's own human-level error (0.5% in the demo)
    res = cli("diagnose", "demo", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    saved = json.loads((tmp_path / "demo" / "diagnosis.json").read_text(encoding="utf-8"))
    assert saved["human_error"] == 0.005
    assert "vs human-level 0.5%" in res.stdout
    assert f"(avoidable bias {saved['avoidable_bias']:.1%})" in res.stdout


# -- errors --------------------------------------------------------------------------------
def test_commands_on_a_missing_run_directory(tmp_path):
    results = cli_many([["evaluate", "nowhere"], ["predict", "nowhere", "--input", "x.npy"],
                        ["resume", "nowhere"], ["report", "nowhere"], ["nudge", "nowhere",
                                                                       "--l2", "0.1"]],
                       cwd=tmp_path, columns=40)
    for res in results:
        line = assert_one_line_error(res)
        assert "nowhere" in line, line
    assert "nothing to resume" in results[2].stderr


USAGE_ERRORS = {  # click's own usage errors: arguments -> what the one line must name
    "wrong_int": (["tune", "tiny.toml", "--workers", "abc"], ["deeprecipe tune", "--workers",
                                                              "integer", "'abc'"]),
    "float_for_int": (["tune", "tiny.toml", "--trials", "1.5"], ["--trials", "integer",
                                                                 "'1.5'"]),
    "wrong_float": (["train", "--lr", "fast"], ["--lr", "number", "'fast'"]),
    "missing_argument": (["run"], ["deeprecipe run", "Missing argument", "config_path"]),
    "unknown_option": (["run", "tiny.toml", "--bogus"], ["No such option: --bogus"]),
    "unknown_command": (["frobnicate"], ["No such command 'frobnicate'"]),
    "unknown_app_option": (["--bogus"], ["No such option: --bogus"]),
    "newline_in_option": (["run", "tiny.toml", "--bo\ngus"], ["No such option: --bo\\x0agus"]),
}


def test_usage_errors_are_one_line_naming_the_option(work):
    """A wrong option type, an unknown option or a missing argument: one line on stderr that
    names the option and what it expected, exit 2 (no usage box), even on a narrow terminal."""
    names = list(USAGE_ERRORS)
    results = cli_many([USAGE_ERRORS[n][0] for n in names], cwd=work, columns=40)
    for name, res in zip(names, results, strict=True):
        line = assert_one_line_error(res)
        assert "Usage:" not in res.stdout + res.stderr, name
        for part in USAGE_ERRORS[name][1]:
            assert part in line, (name, line)
        assert line.endswith("--help)"), line  # where to look next


BAD_CONFIGS = {
    "unknown_key": ('[model]\nhiden_layer_sizes = [8]\n',
                    "did you mean 'hidden_layer_sizes'"),
    "wrong_type": ('[training]\nepochs = "many"\n', "training.epochs = 'many' has the wrong type"),
    "out_of_range": ('[model]\nkeep_prob = 1.5\n', "keep_prob must be in (0.0, 1.0], got 1.5"),
    "missing_data": ('[data]\ndataset = "missing.csv"\n', "missing.csv: file not found"),
    "invalid_toml": ('[data\ndataset =\n', "is not valid TOML"),
    "missing_file": (None, "config file not found"),
}


@pytest.fixture(scope="module")
def bad_runs(tmp_path_factory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("bad")
    for name, (text, _) in BAD_CONFIGS.items():
        if text is not None:
            (root / f"{name}.toml").write_text(text, encoding="utf-8")
    names = list(BAD_CONFIGS)
    # a narrow terminal: the one-line error must not be wrapped
    results = cli_many([["run", f"{n}.toml", "--out", f"out_{n}", "-q"] for n in names],
                       cwd=root, columns=40)
    return root, dict(zip(names, results, strict=True))


@pytest.mark.parametrize("name", list(BAD_CONFIGS))
def test_bad_config_is_one_line_exit_2(bad_runs, name):
    root, results = bad_runs
    line = assert_one_line_error(results[name])
    assert BAD_CONFIGS[name][1] in line
    assert not (root / f"out_{name}").exists()  # nothing left behind


def test_debug_shows_the_traceback(bad_runs):
    root, _ = bad_runs
    res = cli("--debug", "run", "unknown_key.toml", "--out", "dbg", cwd=root)
    assert res.returncode not in (0, 2)
    assert "Traceback" in res.stderr
    assert "ConfigError" in res.stderr and "did you mean 'hidden_layer_sizes'" in res.stderr


# -- convert: an .npz becomes mappable .npy files ----------------------------------------------
def test_convert_writes_npy_files_that_a_config_names_as_a_folder(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 3)).astype(np.float32)
    np.savez_compressed(tmp_path / "d.npz", X=X, y=(X[:, 0] > 0).astype(np.int64))
    res = cli("convert", "d.npz", "mapped", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert 'dataset = "mapped"' in res.stdout
    assert np.array_equal(np.load(tmp_path / "mapped" / "X.npy", mmap_mode="r"), X)
    config = write_config(tmp_path / "c.toml", **{'"moons"': '"mapped"', "n_samples = 200": ""})
    run = cli("run", config, "--out", tmp_path / "run", "--quiet", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["split"]["m"] == 300
    line = assert_one_line_error(cli("convert", "absent.npz", "out", cwd=tmp_path))
    assert "absent.npz: not found" in line
