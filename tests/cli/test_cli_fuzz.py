"""Property-based hardening (#16): generated configs, data files and arguments drive the CLI
(in-process through typer's CliRunner, plus a few real subprocesses), and generated arrays and
parameters drive the API. Whatever the input: no traceback. The CLI exits 0, or exits 2 with
one line starting "error:" (1 only for a gradient check that fails); the API raises nothing
but DeepRecipeError.

Bounded for CI: each property runs a few dozen derandomized examples, trainings are one epoch
on at most 120 samples.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from typer.testing import CliRunner

import deeprecipe as dr
from deeprecipe.cli import app
from deeprecipe.cli._common import one_line
from deeprecipe.errors import DeepRecipeError
from _timeouts import GUARD

FUZZ = settings(max_examples=40, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])


def deep(max_examples: int) -> settings:
    """FUZZ with ``max_examples``: each property as deep as CI's time allows (see EXAMPLES)."""
    return settings(FUZZ, max_examples=max_examples)


# examples per property, as many as keep this file near two minutes of CPU (measured CPU:
# configs 300 = 10 s, raw 200 = 35 s, csv 300 = 15 s, arrays 200 = 7 s, api 300 = 13 s; the
# generated options train a network per example, about 1 s each, so they stay at 40; the
# real processes take about 50 s)
EXAMPLES = {"configs": 300, "raw": 100, "arrays": 200, "csv": 200, "options": 40, "api": 150,
            "nan": 300}
_COUNTER = itertools.count()


def check_cli(result) -> None:
    """The CLI's contract on any input."""
    exc = result.exception
    assert exc is None or isinstance(exc, SystemExit), (
        f"traceback: {type(exc).__name__}: {exc}")
    assert result.exit_code in (0, 2), (result.exit_code, result.output[-500:])
    if result.exit_code == 2:  # click's usage errors too (a wrong option type): one line
        lines = [line for line in result.output.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("error: "), result.output[-500:]


def assert_cli_contract(*args) -> None:
    """Run the CLI in-process with ``args`` and assert the contract (check_cli)."""
    check_cli(CliRunner().invoke(app, [str(a) for a in args]))


@pytest.fixture(autouse=True)
def _workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DEEPRECIPE_MAX_BYTES", str(256 << 20))  # 256 MiB: sizes fail fast


# -- generated configs ----------------------------------------------------------------------
weird_text = st.one_of(st.sampled_from(["", ".", "..", "../x", "/tmp/x", "a/b", "a\0b", "ok",
                                        "run-1", "ünï", " ", "x" * 120]),
                       st.text(max_size=12))
numbers = st.one_of(st.integers(-2**70, 2**70), st.floats(allow_nan=True, allow_infinity=True),
                    st.sampled_from([0, 1, -1, 0.5, 1e-300, 1e300, 2**63, 10**9]))
anything = st.one_of(numbers, weird_text, st.booleans(), st.lists(numbers, max_size=3),
                     st.dictionaries(st.sampled_from(["dist", "low", "high", "x"]), numbers,
                                     max_size=3))


def _maybe(strategy):
    return st.one_of(st.none(), strategy, anything)


@st.composite
def configs(draw) -> dict:
    """A config dict: mostly plausible values with a hostile one here and there."""
    cfg = {
        "name": draw(st.one_of(st.just("fuzz"), weird_text)),
        "seed": draw(st.one_of(st.integers(0, 5), numbers)),
        "data": {"dataset": draw(st.one_of(st.sampled_from(["moons", "blobs", "digits"]),
                                           weird_text)),
                 "n_samples": draw(st.one_of(st.integers(10, 120), numbers)),
                 "human_error": draw(_maybe(st.floats(0, 0.2)))},
        "split": {"dev": draw(_maybe(st.one_of(st.integers(1, 40), st.floats(0.05, 0.4)))),
                  "test": draw(_maybe(st.one_of(st.integers(1, 40), st.floats(0.05, 0.4))))},
        "model": {"hidden_layer_sizes": draw(st.one_of(st.lists(st.integers(1, 8), max_size=2),
                                                       st.lists(numbers, max_size=2),
                                                       anything)),
                  "keep_prob": draw(_maybe(st.floats(0.5, 1.0))),
                  "activation": draw(_maybe(st.sampled_from(["relu", "tanh", "sigmoid"])))},
        "regularization": {"l2": draw(_maybe(st.floats(0, 2)))},
        "optimizer": {"name": draw(_maybe(st.sampled_from(["adam", "gd", "momentum"]))),
                      "learning_rate": draw(_maybe(st.floats(1e-4, 0.1)))},
        "training": {"epochs": draw(st.one_of(st.just(1), numbers)),
                     "batch_size": draw(_maybe(st.one_of(st.integers(1, 64),
                                                         st.sampled_from(["auto", "full"]))))},
    }
    if draw(st.booleans()):
        cfg["tuning"] = {"n_trials": draw(st.one_of(st.integers(0, 1), numbers)),
                         "space": draw(st.dictionaries(st.sampled_from(["learning_rate", "l2",
                                                                         "bogus"]),
                                                       anything, max_size=2))}
    return _drop_none(cfg)


def _drop_none(obj):
    if isinstance(obj, dict):
        return {k: _drop_none(v) for k, v in obj.items() if v is not None}
    return obj


def _toml(cfg: dict) -> str | None:
    try:
        text = tomli_w.dumps(cfg)
        tomllib.loads(text)  # a NUL in a key, say, is not TOML: the raw-bytes test covers it
    except (TypeError, ValueError):
        return None
    return text


def _safe_epochs(cfg: dict) -> dict:
    """Keep trainings short: a plausible epochs value becomes 1, the hostile ones stay."""
    training = cfg.get("training", {})
    if isinstance(training.get("epochs"), int) and 1 <= training["epochs"] <= 10**6:
        training["epochs"] = 1
    tuning = cfg.get("tuning", {})
    if isinstance(tuning.get("n_trials"), int) and tuning["n_trials"] > 0:
        tuning["n_trials"], tuning["epochs"] = 1, 1
    data = cfg.get("data", {})
    if isinstance(data.get("n_samples"), int) and 120 < data["n_samples"] < 10**6:
        data["n_samples"] = 120
    return cfg


@deep(EXAMPLES["configs"])
@given(cfg=configs(), command=st.sampled_from(["run", "babysit", "tune"]))
def test_generated_configs_never_traceback(tmp_path, cfg, command):
    text = _toml(_safe_epochs(cfg))
    if text is None:
        return
    path = tmp_path / f"c{next(_COUNTER)}.toml"
    path.write_text(text, encoding="utf-8")
    out = tmp_path / "out" / f"r{next(_COUNTER)}"
    extra = {"run": [], "babysit": ["--chunks", "1"], "tune": ["--trials", "1"]}[command]
    assert_cli_contract(command, path, "-q", "--out", out, *extra)


@deep(EXAMPLES["raw"])
@given(raw=st.binary(max_size=200))
def test_raw_bytes_as_a_config_never_traceback(tmp_path, raw):
    path = tmp_path / f"raw{next(_COUNTER)}.toml"
    path.write_bytes(b'name = "raw"\n[training]\nepochs = 1\n' + raw)
    assert_cli_contract("run", path, "-q", "--out", tmp_path / "out" / path.stem)


# -- generated data files -------------------------------------------------------------------
dtypes = st.sampled_from(["f4", "f8", "i8", "u8", "i1", "c16", "bool", "U3", "f2"])


@st.composite
def arrays(draw):
    dtype = draw(dtypes)
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=12))
    return draw(hnp.arrays(np.dtype(dtype), shape))


@deep(EXAMPLES["arrays"])
@given(X=arrays(), y=arrays(), kind=st.sampled_from(["npz", "npy", "npz_parts"]))
def test_generated_array_files_never_traceback(tmp_path, X, y, kind):
    n = next(_COUNTER)
    if kind == "npz":
        path = tmp_path / f"d{n}.npz"
        np.savez(path, X=X, y=y)
    elif kind == "npz_parts":
        path = tmp_path / f"d{n}.npz"
        np.savez(path, X_train=X, y_train=y, X_test=X[:3], y_test=y[:3])
    else:
        path = tmp_path / f"X{n}.npy"
        np.save(path, X)
        np.save(tmp_path / f"y{n}.npy", y)
    cfg = tmp_path / f"c{n}.toml"
    cfg.write_text(f'name = "d"\n[data]\ndataset = "{path}"\n[model]\n'
                   'hidden_layer_sizes = [3]\n[training]\nepochs = 1\n', encoding="utf-8")
    assert_cli_contract("run", cfg, "-q", "--out", tmp_path / "out" / f"r{n}")


cells = st.one_of(st.integers(-5, 5).map(str), st.floats(allow_nan=True).map(repr),
                  st.sampled_from(["", "a", "cat", '"1"', "1e999", " 2 ", "nan", "\xff"]),
                  st.text(max_size=4))


@deep(EXAMPLES["csv"])
@given(header=st.lists(st.sampled_from(["a", "b", "label", "c", ""]), min_size=0, max_size=4),
       rows=st.lists(st.lists(cells, min_size=0, max_size=5), max_size=12),
       encoding=st.sampled_from(["utf-8", "latin-1"]))
def test_generated_csv_files_never_traceback(tmp_path, header, rows, encoding):
    n = next(_COUNTER)
    path = tmp_path / f"d{n}.csv"
    text = ",".join(header) + "\n" + "".join(",".join(r) + "\n" for r in rows)
    path.write_bytes(text.encode(encoding, errors="replace"))
    cfg = tmp_path / f"c{n}.toml"
    cfg.write_text(f'name = "d"\n[data]\ndataset = "{path}"\nlabel = "label"\n[model]\n'
                   'hidden_layer_sizes = [3]\n[training]\nepochs = 1\n', encoding="utf-8")
    assert_cli_contract("run", cfg, "-q", "--out", tmp_path / "out" / f"r{n}")
    assert_cli_contract("predict", tmp_path / "nothing-here", "--input", path)


@pytest.mark.parametrize("name", ["0\x1e0", "bell\x07", "tab\there", "x\u2028y", "ünï"])
def test_an_error_quoting_a_column_name_stays_one_line(tmp_path, name):
    """A header cell holding a line separator (found by the generated CSVs above: \\x1e) is
    quoted escaped, so the error is one line; printable names, ü included, are kept as they
    are."""
    path = tmp_path / "d.csv"
    path.write_text(f"{name},b\n1,2\n", encoding="utf-8", newline="")
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'name = "d"\n[data]\ndataset = "{path}"\nlabel = "label"\n',
                   encoding="utf-8")
    result = CliRunner().invoke(app, ["run", str(cfg), "-q", "--out", str(tmp_path / "out")])
    check_cli(result)
    assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1
    assert one_line(name) in result.output and ("ünï" in result.output) == (name == "ünï")


@pytest.mark.parametrize("command", [
    ["demo"], ["run", "c.toml"], ["train"], ["tune", "c.toml"], ["recipe", "c.toml"],
    ["babysit", "c.toml"], ["export", "some-run"]])
@pytest.mark.parametrize("out", ["", "  "])
def test_an_empty_out_is_refused_before_anything_is_written(tmp_path, command, out):
    """``--out "$UNSET"`` would otherwise be the working directory, filled with a run."""
    result = CliRunner().invoke(app, [*command, "--out", out])
    check_cli(result)
    assert result.exit_code == 2 and "Invalid value for '--out': is empty" in result.output
    assert list(tmp_path.iterdir()) == []  # the working directory (see _workdir)


# -- generated command-line arguments --------------------------------------------------------
option_values = st.one_of(st.sampled_from(["nan", "-1", "0", "1e-300", "inf", "", "1e400",
                                           "99999999999999999999999", "../x", "a,b", "3,,4"]),
                          st.integers(-10, 10).map(str), st.floats().map(repr))


@deep(EXAMPLES["options"])
@given(command=st.sampled_from([
    ("gradcheck", "--l2"), ("gradcheck", "--samples"), ("gradcheck", "--max-components"),
    ("gradcheck", "--dataset"), ("train", "--hidden"), ("train", "--lr"),
    ("train", "--keep-prob"), ("train", "--batch-size"), ("train", "--seed"),
    ("train", "--name"), ("diagnose", "--train-error"), ("diagnose", "--human-error")]),
    value=option_values)
def test_generated_options_never_traceback(tmp_path, command, value):
    cmd, option = command
    extra = {"train": ["--dataset", "moons", "--epochs", "1", "-q", "--out",
                       tmp_path / "out" / f"t{next(_COUNTER)}"],
             "diagnose": ["--dev-error", "0.1", "--train-error", "0.05"]}.get(cmd, [])
    result = CliRunner().invoke(app, [cmd, *map(str, extra), option, value])
    if cmd == "gradcheck" and result.exit_code == 1:  # a failed check, never a traceback
        assert result.exception is None or isinstance(result.exception, SystemExit)
        assert "not finite" in result.output or "bug" in result.output
        return
    check_cli(result)


# -- the API with generated arrays and parameters --------------------------------------------
@deep(EXAMPLES["api"])
@given(X=arrays(), y=arrays(), l2=numbers, keep_prob=numbers, hidden=anything,
       lr=numbers)
def test_the_api_raises_only_deeprecipe_errors(X, y, l2, keep_prob, hidden, lr):
    def call(fn):
        try:
            fn()
        except DeepRecipeError:
            pass
    call(lambda: dr.DeepClassifier(hidden_layer_sizes=hidden, l2=l2, keep_prob=keep_prob,
                                   learning_rate=lr, epochs=1, random_state=0).fit(X, y))
    call(lambda: dr.data.split(X, y, random_state=0))
    call(lambda: dr.data.Standardizer().fit(X))
    net = dr.Sequential([dr.layers.Dense(3), dr.layers.Tanh(), dr.layers.Dense(1),
                         dr.layers.Sigmoid()], input_dim=2, random_state=0)
    call(lambda: dr.gradient_check(net, X, y, loss="binary_crossentropy", l2=l2))


@deep(EXAMPLES["nan"])
@given(W=hnp.arrays(np.float64, (2, 3), elements=st.floats(allow_nan=True,
                                                            allow_infinity=True)))
def test_gradient_check_never_says_great_on_nan(W):
    net = dr.Sequential([dr.layers.Dense(3), dr.layers.Tanh(), dr.layers.Dense(1),
                         dr.layers.Sigmoid()], input_dim=2, random_state=0, dtype=np.float64)
    net.params["0.W"][...] = W
    X = np.random.default_rng(0).normal(size=(8, 2))
    y = np.arange(8) % 2
    report = dr.gradient_check(net, X, y, loss="binary_crossentropy")
    if not np.isfinite(W).all():
        assert report.verdict == "not finite"
    assert report.verdict != "great" or np.isfinite(report.overall)


# -- a few real subprocesses ----------------------------------------------------------------
@pytest.mark.parametrize("files, args", [
    ({"c.toml": b'name = "../../escape"\n'}, ["run", "c.toml"]),
    ({"c.toml": b'name = "\xff"\n'}, ["run", "c.toml"]),
    ({"c.toml": b'seed = -1\n'}, ["run", "c.toml"]),
    ({"X.npy": b""}, ["predict", "runs/none", "--input", "X.npy"]),
    ({}, ["gradcheck", "--l2", "nan"]),
])
def test_real_processes_print_one_line(tmp_path, files, args):
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    proc = subprocess.run([sys.executable, "-m", "deeprecipe.cli", *args], cwd=tmp_path,
                          capture_output=True, text=True, timeout=GUARD, env=env)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and proc.stderr.startswith("error: ")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(files)  # nothing written
    assert not (Path(tmp_path).parent / "escape").exists()
