"""Learning curves of a run: errors against training-set size (runs, CLI, report)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from deeprecipe.basic_recipe.learning_curve import _curve_reading, learning_curve_run
from deeprecipe.report import build_report
from deeprecipe.runs.config import config_from_dict
from deeprecipe.runs.diagnosis import LearningCurve
from deeprecipe.workflows import run
from _timeouts import GUARD


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    config = config_from_dict({
        "name": "lc", "seed": 0,
        "data": {"dataset": "digits", "n_samples": 400, "human_error": 0.01},
        "model": {"hidden_layer_sizes": [16]},
        "optimizer": {"name": "adam", "learning_rate": 0.01},
        "training": {"epochs": 10, "batch_size": 64}})
    run_dir = tmp_path_factory.mktemp("runs") / "lc"
    run(config, run_dir, report=True)
    return run_dir


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "deeprecipe.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=GUARD)


def test_report_without_learning_curve_notes_it_missing(tiny_run, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(tiny_run, copy, ignore=shutil.ignore_patterns("learning_curve.json"))
    html = build_report(copy)
    assert 'id="fig-learning-curve"' not in html
    assert "learning_curve.json" in html.split('<div id="omitted">', 1)[1]


def test_learning_curve_run_writes_json_and_report_figure(tiny_run):
    curve = learning_curve_run(tiny_run)
    assert isinstance(curve, LearningCurve)
    saved = json.loads((tiny_run / "learning_curve.json").read_text())
    assert set(saved) >= {"sizes", "train_errors", "dev_errors", "human_error", "reading"}
    sizes = saved["sizes"]
    assert len(sizes) == 4 and sizes == sorted(set(sizes)) and sizes[0] >= 1
    assert sizes == list(curve.sizes)
    for key in ("train_errors", "dev_errors"):
        assert len(saved[key]) == len(sizes)
        assert all(0.0 <= e <= 1.0 for e in saved[key])
    assert saved["human_error"] == pytest.approx(0.01)
    assert isinstance(saved["reading"], str) and saved["reading"].endswith(".")
    assert any(w in saved["reading"] for w in ("variance", "bias"))
    html = build_report(tiny_run)
    assert '<figure class="plot" id="fig-learning-curve">' in html
    assert "<svg" in html.split('id="fig-learning-curve"', 1)[1][:200]
    assert saved["reading"].split(":")[0] in html


def test_learning_curve_run_is_reproducible(tiny_run):
    first = learning_curve_run(tiny_run, sizes=(0.5, 1.0))
    second = learning_curve_run(tiny_run, sizes=(0.5, 1.0))
    assert first == second
    assert json.loads((tiny_run / "learning_curve.json").read_text())["sizes"] == \
        list(first.sizes)


def test_learning_curve_run_needs_a_run_directory(tmp_path):
    from deeprecipe.errors import DeepRecipeError

    with pytest.raises(DeepRecipeError):
        learning_curve_run(tmp_path)
    assert not (tmp_path / "learning_curve.json").exists()


@pytest.mark.parametrize("train, dev, human, expected", [
    ([0.0, 0.0, 0.01], [0.40, 0.25, 0.10], 0.0, "more data should help"),
    ([0.10, 0.14, 0.15], [0.30, 0.17, 0.16], 0.01, "more data will not help"),
    ([0.0, 0.01, 0.01], [0.03, 0.02, 0.02], 0.01, "neither bias nor variance"),
    ([0.0, 0.0, 0.0], [0.20, 0.20, 0.20], 0.0, "try regularization"),
])
def test_reading(train, dev, human, expected):
    text = _curve_reading(train, dev, human)
    assert expected in text and text.endswith(".") and "\n" not in text


def test_report_figure_from_hand_written_file(tmp_path):
    (tmp_path / "learning_curve.json").write_text(json.dumps({
        "sizes": [10, 50, 100], "train_errors": [0.0, 0.02, 0.03],
        "dev_errors": [0.4, 0.2, 0.1], "human_error": 0.01,
        "reading": "dev error still falling with more data: variance; more data should help."}))
    html = build_report(tmp_path)
    assert 'id="fig-learning-curve"' in html
    assert "more data should help" in html
    (tmp_path / "learning_curve.json").write_text("{not json")
    html = build_report(tmp_path)
    assert 'id="fig-learning-curve"' not in html and "learning_curve.json" in html


def test_cli_learning_curve(tiny_run):
    result = _cli("diagnose", tiny_run, "--learning-curve")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    header = next(i for i, ln in enumerate(lines) if "train error" in ln and "dev error" in ln
                  and "size" in ln)
    rows = [ln.split() for ln in lines[header + 1:header + 5]]
    assert [int(r[0]) for r in rows] == json.loads(
        (tiny_run / "learning_curve.json").read_text())["sizes"]
    assert all(0.0 <= float(v) <= 1.0 for r in rows for v in r[1:])
    assert "help" in result.stdout
    assert 'id="fig-learning-curve"' in (tiny_run / "report.html").read_text()


def test_cli_learning_curve_without_run_dir():
    result = _cli("diagnose", "--learning-curve", "--train-error", "0.1", "--dev-error", "0.2")
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "--learning-curve" in result.stderr and "run directory" in result.stderr
    assert _cli("diagnose", "--learning-curve").returncode == 2
