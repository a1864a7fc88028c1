"""README.md's examples run as printed and do what the README says they do.

Everything is read from README.md itself, so a renamed command, option or function fails here:

- every ```python block runs as it stands (nothing shortened), in order, in the folder where
  the CLI session below ran (the ONNX block reads its ``runs/demo/model.onnx``), with one BLAS
  thread as the CLI's children have (spinning BLAS threads on a shared two-core machine double
  the time; the numbers are the same); a number its comments state (``# 0.9449...``) must be
  what it prints, to 1e-3;
- every ``deeprecipe ...`` line of the ```bash blocks is parsed by the real CLI's parser, and
  every command and ``--option`` the prose names must exist;
- the ``deeprecipe`` lines run through the real CLI (subprocesses, tests/_cli.py), as printed and
  in README order, except ``recipe`` and ``tune`` (their ``--budget 10m`` takes minutes: parsed
  only); the Deploy block's ``demo --out runs/demo`` is refused, as its comment says, since the
  first line made ``runs/demo``. For speed the commands run in two lanes at once:
  ``CONFIG_LANE`` (the ``my.toml`` and ``runs/panda`` commands, and ``train`` and ``gradcheck``)
  and the rest, each lane in README order. The inputs the README leaves to the user are made
  here: ``new.npy`` (five digits), ``big.npz``, and the pets files (``pets.csv``, whose
  ``species`` names the classes, ``new.csv`` with an ``id`` column, and ``runs/pets`` trained
  from a ``pets.toml`` with ``dataset = "pets.csv"`` and ``label = "species"``).
"""

from __future__ import annotations

import contextlib
import io
import re
import shlex
import threading
from pathlib import Path

import numpy as np
import pytest
import typer.main
from _cli import cli
from sklearn.datasets import load_digits
from threadpoolctl import threadpool_limits

from deeprecipe.cli import app

README = Path(__file__).resolve().parents[1] / "README.md"
TEXT = README.read_text(encoding="utf-8")
SLOW = {"recipe", "tune"}  # parsed only: a 10-minute budget
CONFIG_LANE = {"init", "run", "babysit", "nudge", "rollback", "resume", "train", "gradcheck"}
REFUSED = ["demo", "--out", "runs/demo"]  # "(made already by the first line ...? skip it)"
RUN_FILES = ["config.toml", "history.jsonl", "checkpoints", "model.npz", "model.json",
             "diagnosis.json", "summary.json", "report.html"]  # "A run directory"
GROUP = typer.main.get_command(app)


def fenced(lang: str) -> list[str]:
    """The README's ```lang blocks, in order."""
    return re.findall(rf"^```{lang}\n(.*?)^```", TEXT, flags=re.S | re.M)


def shell_commands(block: str) -> list[list[str]]:
    """The commands of a shell block as word lists: `a && b`, `a; b` and `a &` are two or one,
    comments are dropped."""
    commands = []
    for line in block.splitlines():
        lex = shlex.shlex(line, posix=True, punctuation_chars=True)
        lex.whitespace_split, lex.commenters = True, "#"
        words: list[str] = []
        for token in [*lex, ";"]:
            if token in (";", "&&", "&", "||", "|"):
                if words:
                    commands.append(words)
                words = []
            else:
                words.append(token)
    return commands


COMMANDS = [words[1:] for block in fenced("bash") for words in shell_commands(block)
            if words[0] == "deeprecipe"]
PYTHON = fenced("python")


def test_readme_keeps_its_first_two_lines_and_an_example_of_every_command():
    assert fenced("bash")[0].splitlines()[:2] == [
        "pip install . && deeprecipe demo                      # install, then run the main job "
        "on embedded digits",
        'pip install -e ".[test]" && python -m pytest          # install the test extras, run '
        "every test"]
    assert len(PYTHON) >= 3 and len(COMMANDS) >= 20
    assert {c[0] for c in COMMANDS} == set(GROUP.commands)  # every command, and no other


@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_every_readme_command_line_parses(args):
    """The real parser: an unknown command or option, a missing argument or a bad value fails."""
    command = GROUP.commands.get(args[0])
    assert command is not None, f"deeprecipe has no command {args[0]!r}"
    with command.make_context(f"deeprecipe {args[0]}", list(args[1:])):
        pass


def _options(name: str) -> set[str]:
    return {opt for p in GROUP.commands[name].params for opt in [*p.opts, *p.secondary_opts]}


def test_every_command_and_option_the_prose_names_exists():
    for name, rest in re.findall(r"`deeprecipe ([a-z]+)([^`]*)`", TEXT):
        assert name in GROUP.commands, name
        for option in re.findall(r"--[a-z][a-z0-9-]*", rest):
            assert option in _options(name), f"`deeprecipe {name}` has no {option}"
    known = set().union(*map(_options, GROUP.commands)) | {"--debug", "--help"}
    dask = "\n".join(line for line in TEXT.splitlines() if not line.startswith("dask "))
    named = set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", dask))
    assert named and named <= known, named - known


def test_the_errors_the_readme_quotes_are_the_ones_printed(tmp_path):
    from deeprecipe.errors import ConfigError
    from deeprecipe.runs.config import config_from_dict

    with pytest.raises(ConfigError) as info:
        config_from_dict({"model": {"activaton": "relu"}})
    quoted = re.search(r"`(unknown\s+key\s+'model\.activaton'[^`]*)`", TEXT).group(1)
    assert str(info.value) == " ".join(quoted.split())
    # "refused before anything is read, always in one shape": there is no my.toml here
    quoted = re.search(r"`(--trials must be in [^`]*)`", TEXT).group(1)
    refused = cli("tune", "my.toml", "--trials", "0", cwd=tmp_path)
    assert (refused.returncode, refused.stderr) == (2, f"error: {quoted}\n")


# --- the CLI session: the README's commands, run in a temporary folder ----------------------

def _inputs(folder: Path) -> None:
    """What the README's commands read but leave to the user to provide."""
    digits = load_digits()
    np.save(folder / "new.npy", digits.data[:5])
    np.savez_compressed(folder / "big.npz", X=digits.data.astype(np.float32), y=digits.target)
    rng = np.random.default_rng(0)
    names = ["cat", "dog", "fish"]
    rows = [f"{w:.2f},{legs:.2f},{age:.2f},{names[i % 3]}" for i in range(150) for w, legs, age
            in [rng.normal([4.0 + 4 * (i % 3), 4.0 - 2 * (i % 3), 8.0 - 3 * (i % 3)], 0.5)]]
    (folder / "pets.csv").write_text("weight,legs,age,species\n" + "\n".join(rows) + "\n")
    (folder / "new.csv").write_text("id,age,weight,legs\nrex,8.0,4.0,4.0\nnemo,2.0,12.0,0.0\n")
    (folder / "pets.toml").write_text('name = "pets"\n[data]\ndataset = "pets.csv"\n'
                                      'label = "species"\n[optimizer]\nlearning_rate = 0.03\n'
                                      "[training]\nepochs = 20\n")


def _lane(commands: list[list[str]], folder: Path, results: dict) -> None:
    for args in commands:
        if args[:2] == ["predict", "runs/pets"] and "pets" not in results:
            results["pets"] = cli("run", "pets.toml", "-q", cwd=folder)
        results[" ".join(args)] = cli(*args, cwd=folder)


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    """(folder, {command line: CompletedProcess}) after the README's cheap commands ran."""
    folder = tmp_path_factory.mktemp("readme")
    _inputs(folder)
    runnable = [args for args in COMMANDS if args[0] not in SLOW]
    lanes = [[a for a in runnable if (a[0] in CONFIG_LANE) == config] for config in (True, False)]
    results: dict = {}
    threads = [threading.Thread(target=_lane, args=(lane, folder, results)) for lane in lanes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return folder, results


def _ok(results: dict, line: str):
    assert line in results, f"the README no longer runs `deeprecipe {line}`"
    res = results[line]
    assert res.returncode == 0, (line, res.stdout[-2000:], res.stderr[-2000:])
    return res


def test_every_cheap_command_succeeds(session):
    _, results = session
    ran = [" ".join(a) for a in COMMANDS if a[0] not in SLOW and a != REFUSED]
    assert ran and set(ran) <= set(results)
    for line in ran:
        _ok(results, line)
    refused = results[" ".join(REFUSED)]
    assert refused.returncode == 2 and "runs/demo already holds a run" in refused.stderr


def test_demo_and_run_write_the_run_directory_the_readme_lists(session):
    folder, _ = session
    for run, more in [("runs/demo", ["study", "tuning.json", "learning_curve.json",
                                     "model.onnx"]), ("runs/example", [])]:
        missing = [f for f in RUN_FILES + more if not (folder / run / f).exists()]
        assert not missing, (run, missing)
        checkpoints = sorted(p.name for p in (folder / run / "checkpoints").iterdir())
        assert "best.npz" in checkpoints
        epochs = [c for c in checkpoints if re.fullmatch(r"epoch-\d{4}\.(npz|json)", c)]
        assert 0 < len(epochs) <= 2 * 5 and len(epochs) == len(checkpoints) - 1
    sections = re.findall(r"`\[(\w+)\]`", TEXT.split("`deeprecipe init` writes")[1][:200])
    toml = (folder / "my.toml").read_text()
    assert len(sections) == 8 and all(f"[{s}]" in toml for s in sections)


def test_the_cli_block_outputs(session):
    folder, results = session
    assert "great" in _ok(results, "gradcheck --dataset moons --l2 0.7").stdout.split("overall")[1]
    assert "High variance" in _ok(results, "diagnose --train-error 0.01 --dev-error 0.11").stdout
    assert "dev_error" in _ok(results, "evaluate runs/demo").stdout
    assert len(_ok(results, "predict runs/demo --input new.npy").stdout.splitlines()) == 1 + 5
    assert [np.load(folder / "data/big" / f, mmap_mode="r").shape[0] for f in
            ("X.npy", "y.npy")] == [1797, 1797]
    assert "wrote runs/demo/report.html" in _ok(results, "report runs/demo").stdout


def test_the_babysat_model_is_nudged_rolled_back_and_resumed(session):
    import deeprecipe as dr

    folder, results = session
    assert (folder / "runs/panda/panda.json").is_file()
    assert (folder / "runs/panda/branches").is_dir()
    nudged = _ok(results, "nudge runs/panda --scale-learning-rate 0.5").stdout
    assert "`deeprecipe resume runs/panda` applies it" in " ".join(nudged.split())
    status = dr.tuning.status(folder / "runs/panda")
    assert status["babysit"] == "not running" and status["active"] != "main"
    assert status["branches"][status["active"]]["from_chunk"] == 1


def test_the_deploy_blocks(session):
    folder, results = session
    _ok(results, "pets")  # runs/pets, from the README's `dataset = "pets.csv"`, `label = ...`
    _ok(results, "predict runs/pets --input new.csv --id-column id --output preds.csv")
    shown = re.search(r"# preds\.csv:\s+(.*?)\.\.\.", TEXT).group(1).split(" / ")
    assert (folder / "preds.csv").read_text().splitlines() == [s.strip() for s in shown]


def _stated_numbers(block: str) -> list[float]:
    return [float(m) for m in re.findall(r"#[^\n]*?(-?\d+\.\d+)\.\.\.", block)]


def _run_block(block: str, folder: Path, monkeypatch) -> tuple[dict, str]:
    monkeypatch.chdir(folder)
    namespace = {"__name__": "__readme__"}
    with contextlib.redirect_stdout(io.StringIO()) as out, threadpool_limits(1):
        # the README's code, compiled at its own line numbers so a traceback points into it
        exec(compile("\n" * TEXT[:TEXT.index(block)].count("\n") + block, str(README), "exec"),
             namespace)
    return namespace, out.getvalue()


@pytest.mark.parametrize("index", range(len(PYTHON)))
def test_python_block(index, session, monkeypatch):
    folder, _ = session
    block = PYTHON[index]
    namespace, out = _run_block(block, folder, monkeypatch)
    printed = [float(line) for line in out.splitlines() if re.fullmatch(r"-?\d+\.\d+", line)]
    stated = _stated_numbers(block)
    assert len(printed) >= len(stated), out
    assert np.allclose(printed[:len(stated)], stated, rtol=0, atol=1e-3), (printed, stated)
    if "dr.Sequential(" in block:
        _check_quickstart(namespace, out)
    if "onnxruntime" in block:
        assert out.startswith("[0 1 2 3 4] [0, 1, 2, 3"), out
        assert "[0 1 2 3 4] [0, 1, ...]" in block


def _check_quickstart(ns: dict, out: str) -> None:
    """The quickstart's comments: 60/20/20 stratified, float32, every gradient great."""
    parts = ns["parts"]
    assert [len(parts.y_train), len(parts.y_dev), len(parts.y_test)] == [600, 200, 200]
    assert np.bincount(parts.y_dev.astype(int)).tolist() == [100, 100]
    assert all(p.dtype == np.float32 for p in ns["net"].params.values())
    rows = [line.split() for line in out.splitlines() if line[:1].isdigit()]
    assert rows and all(row[-1] == "great" for row in rows), out
    history = ns["history"]  # final: the epoch early stopping restored (the lowest dev cost)
    restored = any(e["kind"] == "restored_best" for e in history.events)
    assert history.final == (min(history.epochs, key=lambda r: r["dev_cost"]) if restored
                             else history.last)
    verdict = out.strip().splitlines()[-1].split()[0]
    assert verdict in ("ok", "high_bias", "high_variance", "high_bias_and_variance"), out
