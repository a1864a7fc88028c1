"""The HTML report: every section from hand-made run files, offline, robust to missing files,
and rendered by a real (headless, offline) Chromium."""

from __future__ import annotations

import json
import re
from pathlib import Path

import _browser
import numpy as np
import pytest

from deeprecipe.errors import DataError
from deeprecipe.optimize.history import History
from deeprecipe.optimize.steplog import StepLog
from deeprecipe.report import build_report, write_report
from deeprecipe.report._figures import param_scale
from deeprecipe.report._studies import normalize_trials

CORE_FIGURES = ["fig-step-cost", "fig-epoch-cost", "fig-epoch-error", "fig-learning-rate",
                "fig-bias-variance"]
ALL_SECTIONS = ["data", "model", "curves", "diagnosis", "gradcheck", "tuning", "events",
                "recipe"]
SUMMARY_TABLE = """\
  #  layer                                 output    params
  0  Dense(n_out=20, init=he)               (m, 20)        60
  1  ReLU                                   (m, 20)         0
  2  Dense(n_out=1, init=xavier)             (m, 1)        21
  3  Sigmoid                                 (m, 1)         0
input (m, 2), 81 trainable parameters, float32"""


def _history(epochs: int = 30, batches: int = 8, seed: int = 0) -> History:
    rng = np.random.default_rng(seed)
    h = History()
    for e in range(1, epochs + 1):
        for s in range(1, batches + 1):
            t = (e - 1) * batches + s
            h.steps.append(e, s, float(0.7 * np.exp(-t / 60) + 0.1 + 0.05 * rng.random()),
                           float(0.7 * np.exp(-t / 60) + 0.125))
        h.epochs.append({"epoch": e, "learning_rate": 0.01 / (1 + 0.1 * (e - 1)),
                         "cost": 0.7 * np.exp(-e / 8) + 0.13, "data_cost": 0.7 * np.exp(-e / 8)
                         + 0.12, "train_cost": 0.7 * np.exp(-e / 8) + 0.11,
                         "train_error": 0.3 * np.exp(-e / 6) + 0.02,
                         "dev_cost": 0.7 * np.exp(-e / 8) + 0.2,
                         "dev_error": 0.3 * np.exp(-e / 6) + 0.08, "time": 0.01 * e})
    h.events.append({"epoch": 12, "step": 3, "kind": "nudge",
                     "message": "learning_rate 0.01 -> 0.005"})
    h.events.append({"epoch": epochs, "step": 0, "kind": "early_stopping",
                     "message": "no improvement of dev_cost for 10 epochs"})
    return h


def make_run(root: Path, *, name: str = "moons-demo", tuning: bool = True,
             panda: bool = True, recipe: bool = True) -> Path:
    """A run directory with realistic, hand-made files (no training)."""
    run = root / name
    run.mkdir(parents=True)
    (run / "history.jsonl").write_text(_history().to_jsonl())
    summary = {
        "name": name, "dataset": "moons",
        "split": {"mode": "train/dev/test", "dev_only": False, "m": 1000, "train": 800,
                  "dev": 100, "test": 100, "stratified": True,
                  "fractions": {"train": 0.8, "dev": 0.1, "test": 0.1}},
        "distribution": {"auc": 0.51, "auc_std": 0.03, "verdict": "same",
                         "message": "dev and test look alike (AUC 0.51)", "n_a": 100,
                         "n_b": 100},
        "metrics": {"train_error": 0.021, "dev_error": 0.081, "test_error": 0.09,
                    "train_cost": 0.11, "dev_cost": 0.2, "test_cost": 0.22},
        "seconds": 3.25,
        "network": {"summary": SUMMARY_TABLE, "n_params": 81,
                    "config": {"layers": [{"type": "Dense", "n_out": 20}], "input_dim": 2}},
        "gradient_check": {"overall": 2.1e-9, "verdict": "great", "epsilon": 1e-7,
                           "parameters": {"0.W": {"error": 2.1e-9, "verdict": "great",
                                                  "checked": 40, "total": 40},
                                          "0.b": {"error": 3e-6, "verdict": "check",
                                                  "checked": 20, "total": 20}}},
        "epochs_run": 30,
        "optimizer": {"type": "Adam", "learning_rate": 0.01, "beta1": 0.9, "beta2": 0.999,
                      "epsilon": 1e-8}}
    (run / "summary.json").write_text(json.dumps(summary))
    (run / "diagnosis.json").write_text(json.dumps({
        "train_error": 0.021, "dev_error": 0.081, "human_error": 0.01, "test_error": 0.09,
        "avoidable_bias": 0.011, "variance": 0.06, "verdict": "high_variance",
        "next_steps": ["more data", "regularization (L2, dropout, data augmentation)"],
        "dev_test_gap": 0.009, "notes": []}))
    if tuning:
        rng = np.random.default_rng(1)
        trials = []
        for n in range(16):
            lr = float(10 ** rng.uniform(-4, -1))
            beta = float(1 - 10 ** rng.uniform(-3, -1))
            dev = float(0.05 + 0.1 * abs(np.log10(lr) + 2.5) + rng.random() * 0.02)
            trials.append({"number": n, "round": 1 if n < 10 else 2, "index": n % 10,
                           "params": {"learning_rate": lr, "beta": beta,
                                      "hidden": int(rng.integers(5, 50)),
                                      "optimizer": ["adam", "momentum"][n % 2]},
                           "dev_error": dev, "state": "PRUNED" if n == 3 else "COMPLETE",
                           "curve": {"dev_error": list(np.linspace(0.5, dev, 10)),
                                     "cost": list(np.linspace(0.7, 0.2, 10))}})
        best = min(trials, key=lambda t: t["dev_error"])["number"]
        (run / "tuning.json").write_text(json.dumps({
            "trials": trials, "best": {"number": best},
            "rounds": [{"round": 1, "n_trials": 10}, {"round": 2, "n_trials": 6}],
            "spaces": [{"learning_rate": {"type": "LogUniform", "low": 1e-4, "high": 1e-1},
                        "beta": {"type": "OneMinusLogUniform"}}]}))
    if panda:
        (run / "panda.json").write_text(json.dumps({
            "events": [{"epoch": 12, "step": 3, "kind": "nudge",
                        "message": "learning_rate 0.01 -> 0.005"},
                       {"epoch": 20, "step": 0, "kind": "rollback",
                        "message": "dev cost rose: back to epoch 16"}],
            "branches": [{"name": "a", "parent": None, "start_epoch": 0,
                          "curve": {"dev_error": [0.3, 0.2, 0.15, 0.12]}},
                         {"name": "b", "parent": "a", "start_epoch": 16,
                          "curve": [0.1, 0.095, 0.09]}]}))
    if recipe:
        (run / "recipe.json").write_text(json.dumps({
            "rounds": [{"round": 1, "train_error": 0.15, "dev_error": 0.17,
                        "verdict": "high_bias", "decision": "bigger network",
                        "narrative": "Round 1: high bias, so a bigger network."},
                       {"round": 2, "train_error": 0.02, "dev_error": 0.09,
                        "verdict": "high_variance", "decision": "l2 = 0.1",
                        "narrative": "Round 2: high variance, so L2 regularization."},
                       {"round": 3, "train_error": 0.021, "dev_error": 0.03,
                        "verdict": "ok", "decision": "stop", "narrative": "Round 3: done."}],
            "narrative": ["Round 1: high bias, so a bigger network.",
                          "Round 2: high variance, so L2 regularization.", "Round 3: done."]}))
    return run


def _figure_ids(html: str) -> list[str]:
    return re.findall(r'<figure class="plot" id="([^"]+)"', html)


@pytest.fixture
def run_dir(tmp_path) -> Path:
    return make_run(tmp_path)


def test_report_has_every_section_and_figure(run_dir):
    path = write_report(run_dir)
    assert path == run_dir / "report.html" and path.is_file()
    html = path.read_text(encoding="utf-8")
    assert html == build_report(run_dir)  # deterministic, and the file is what build returns
    for sid in ALL_SECTIONS:
        assert f'<section id="{sid}">' in html, sid
    ids = _figure_ids(html)
    assert len(ids) == len(set(ids))
    for fid in CORE_FIGURES + ["fig-tuning-curves", "fig-panda", "fig-recipe"]:
        assert fid in ids
    assert sum(i.startswith("fig-tuning-param-") for i in ids) == 4
    assert "moons-demo" in html and "81" in html and "high variance" in html
    assert "more data" in html and "Round 2: high variance" in html
    assert "0.W" in html and "2.10e-09" in html
    assert "rollback" in html and "dev cost rose" in html
    assert "1 − β (log)" in html  # the beta axis is drawn on the log of 1 - beta


def test_report_is_offline(run_dir):
    html = build_report(run_dir)
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", html, re.I)
    assert not re.search(r"url\(\s*['\"]?(?:https?:)?//", html, re.I)
    assert "<script" not in html.lower() and "@import" not in html
    assert not re.search(r"<link[^>]+stylesheet", html, re.I)
    # every in-page reference points to an id that exists, and ids are unique
    ids = re.findall(r'\bid="([^"]+)"', html)
    assert len(ids) == len(set(ids))
    for ref in re.findall(r'href="#([^"]+)"', html) + re.findall(r"url\(#([^)]+)\)", html):
        assert ref in ids, ref


def test_text_from_files_is_escaped(tmp_path):
    run = make_run(tmp_path, name="evil")
    summary = json.loads((run / "summary.json").read_text())
    summary["name"] = "<script>alert(1)</script>"
    summary["dataset"] = 'a "quoted" & <b>bold</b>'
    (run / "summary.json").write_text(json.dumps(summary))
    html = build_report(run)
    assert "<script>" not in html and "<b>bold</b>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_missing_optional_files(tmp_path):
    run = make_run(tmp_path, tuning=False, panda=False, recipe=False)
    html = build_report(run)
    for sid in ("tuning", "recipe"):
        assert f'<section id="{sid}">' not in html
    assert "tuning.json missing" in html and "recipe.json missing" in html
    # events from history.jsonl alone still get a section and markers
    assert '<section id="events">' in html and "Training events" in html
    assert set(CORE_FIGURES) <= set(_figure_ids(html))


def test_empty_and_partial_run_dirs(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    html = build_report(empty)
    assert "<section" not in html and "Not in this report" in html
    assert "history.jsonl missing" in html
    only_history = tmp_path / "plain"
    only_history.mkdir()
    (only_history / "history.jsonl").write_text(_history().to_jsonl())
    html = build_report(only_history)
    assert '<section id="curves">' in html and '<section id="data">' not in html
    assert "fig-step-cost" in html and "fig-bias-variance" not in html


def test_unreadable_files_are_noted_not_raised(run_dir):
    (run_dir / "summary.json").write_text("{not json")
    (run_dir / "tuning.json").write_text('"a string"')
    html = build_report(run_dir)
    assert "summary.json: could not be read" in html
    assert "tuning.json: expected a JSON object" in html
    assert '<section id="curves">' in html


def test_not_a_directory(tmp_path):
    with pytest.raises(DataError, match="run directory"):
        build_report(tmp_path / "nope")


def test_tuning_is_read_defensively(tmp_path):
    run = make_run(tmp_path, tuning=False)
    (run / "tuning.json").write_text(json.dumps([
        {"params": {"l2": 0.1, "keep_prob": 0.8}, "value": 0.2},
        {"params": {"l2": 0.001, "keep_prob": 0.9}, "value": 0.1, "curve": [0.4, 0.1]},
        {"params": {"l2": None}, "state": "FAIL"}, "junk"]))
    html = build_report(run)
    assert '<section id="tuning">' in html and "fig-tuning-curves" in html
    trials = normalize_trials({"trials": json.loads((run / "tuning.json").read_text())})
    assert [t["best"] for t in trials] == [False, True, False]


def _search_study() -> dict:
    """tuning.json as tuning.search's Study.to_dict() writes it (rounds is a count)."""
    spaces = [{"learning_rate": {"dist": "log_uniform", "low": 1e-4, "high": 1e-1},
               "beta": {"dist": "one_minus_log_uniform", "low": 0.9, "high": 0.999},
               "hidden_units": {"dist": "int_uniform", "low": 8, "high": 128, "log": True},
               "optimizer": {"dist": "choice", "choices": ["adam", "momentum"]}},
              {"learning_rate": {"dist": "log_uniform", "low": 1e-3, "high": 1e-2},
               "beta": {"dist": "one_minus_log_uniform", "low": 0.95, "high": 0.99},
               "hidden_units": {"dist": "int_uniform", "low": 16, "high": 64, "log": True},
               "optimizer": {"dist": "choice", "options": ["adam", "momentum"]}}]
    rng = np.random.default_rng(3)
    trials = []
    for n in range(12):
        r = n // 6 + 1  # rounds count from 1
        state = "PRUNED" if n == 4 else "FAIL" if n == 9 else "COMPLETE"
        dev = None if state != "COMPLETE" else float(0.05 + 0.1 * rng.random())
        epochs = [1, 2, 3] if state == "PRUNED" else [1, 2, 3, 4, 5]
        trials.append({"number": n, "round": r, "index": n % 6,
                       "params": {"learning_rate": float(10 ** rng.uniform(-4, -1)),
                                  "beta": float(1 - 10 ** rng.uniform(-3, -1)),
                                  "hidden_units": int(rng.integers(8, 128)),
                                  "optimizer": ["adam", "momentum"][n % 2]},
                       "state": state, "dev_error": dev, "train_error": dev, "dev_cost": None,
                       "curve": {} if state == "FAIL" else {
                           "epoch": epochs, "dev_error": [0.5 / e for e in epochs],
                           "dev_cost": [1.0 / e for e in epochs], "cost": [1.0] * len(epochs),
                           "train_error": [0.4 / e for e in epochs],
                           "learning_rate": [0.01] * len(epochs)},
                       "error": "ValueError: diverged" if state == "FAIL" else None})
    best = min((t for t in trials if t["dev_error"] is not None), key=lambda t: t["dev_error"])
    return {"study_name": "s", "storage": "journal", "seed": 0, "n_trials": 6, "rounds": 2,
            "epochs": 5, "spaces": spaces, "states": {"COMPLETE": 10, "PRUNED": 1, "FAIL": 1},
            "trials": trials, "best": best, "leaderboard": [], "best_config": None,
            "seconds": 1.0}


def test_tuning_json_of_the_search_module(tmp_path):
    run = make_run(tmp_path, tuning=False)
    (run / "tuning.json").write_text(json.dumps(_search_study()))
    html = build_report(run)
    ids = _figure_ids(html)
    assert sum(i.startswith("fig-tuning-param-") for i in ids) == 4
    assert "fig-tuning-curves" in ids
    assert "1 − β (log)" in html and "hidden_units (log)" in html
    assert "Search space per round" in html and "1−β ~ 10^U(−2, −1.3)" in html
    assert "optimizer ∈ {adam, momentum}" in html and "round 0" not in html


def make_panda_run(root: Path) -> Path:
    """A babysat run as tuning.panda leaves it: panda.json + branch checkpoints, no
    history.jsonl (each branch's history lives in its checkpoints)."""
    run = root / "panda-run"
    h = _history(epochs=12)
    h.events = [{"epoch": 4, "step": 0, "kind": "nudge", "message": "learning_rate x 0.5",
                 "changes": {"learning_rate": [0.01, 0.005]}}]
    main = History(h.epochs[:8], events=list(h.events))
    b1 = History(h.epochs[:4] + [dict(r, dev_error=r["dev_error"] * 0.9) for r in h.epochs[4:]],
                 events=h.events + [{"epoch": 4, "step": 0, "kind": "rollback",
                                     "message": "rolled back to chunk 1 of branch 'main' "
                                                "(epoch 4)", "from_branch": "main",
                                     "chunk": 1}])
    for name, hist, epoch in (("main", main, 8), ("b1", b1, 12)):
        ckpt = run / "branches" / name / "checkpoints" / f"epoch-{epoch:04d}.json"
        ckpt.parent.mkdir(parents=True)
        ckpt.write_text(json.dumps({"epoch": epoch, "history": hist.to_dict()}))
    rb = "rolled back to chunk 1 of branch 'main' (epoch 4)"
    (run / "panda.json").write_text(json.dumps({
        "format": "deeprecipe-panda/1", "config": {}, "epochs_per_chunk": 4, "active": "b1",
        "running": None,
        "events": [{"time": "2025-01-01T00:00:00", "kind": "babysit", "branch": "main",
                    "message": "started: 2 chunks of 4 epochs"},
                   {"time": "2025-01-01T00:00:01", "kind": "chunk", "branch": "main",
                    "message": "chunk 1 done", "chunk": 1, "epoch": 4},
                   {"time": "2025-01-01T00:00:03", "kind": "rollback", "branch": "main",
                    "message": rb, "from_branch": "main", "chunk": 1}],
        "branches": {
            "main": {"parent": None, "from_chunk": None, "dir": "branches/main",
                     "chunks": {"1": {"checkpoint": "branches/main/checkpoints/epoch-0004.json",
                                      "epoch": 4},
                                "2": {"checkpoint": "branches/main/checkpoints/epoch-0008.json",
                                      "epoch": 8}}},
            "b1": {"parent": "main", "from_chunk": 1, "dir": "branches/b1",
                   "chunks": {"1": {"checkpoint": "branches/b1/checkpoints/epoch-0004.json",
                                    "epoch": 4},
                              "3": {"checkpoint": "branches/b1/checkpoints/epoch-0012.json",
                                    "epoch": 12}}}}}))
    return run


def test_panda_session_directory(tmp_path):
    html = build_report(make_panda_run(tmp_path))
    assert '<section id="events">' in html and "Babysitting (panda)" in html
    assert "fig-panda" in _figure_ids(html)
    # no history.jsonl: the active branch's history gives the learning curves
    assert "fig-epoch-error" in _figure_ids(html) and "active panda branch b1" in html
    assert html.count(">rolled back to chunk 1 of branch &#x27;main&#x27; (epoch 4)<") == 1
    assert "learning_rate x 0.5" in html and "<td>b1</td><td>main</td>" in html


@pytest.mark.parametrize("name, values, expected", [
    ("learning_rate", [1e-4, 0.1], "log"), ("l2", [0.01, 1.0], "log"),
    ("epsilon", [1e-8, 1e-6], "log"), ("beta", [0.9, 0.999], "one_minus"),
    ("beta2", [0.99, 0.9999], "one_minus"), ("hidden", [5, 50], "linear"),
    ("optimizer", ["adam", "gd"], "category"), ("keep_prob", [0.5, 0.9], "linear"),
    ("x", [0.9, 0.99], "linear")])
def test_param_scale(name, values, expected):
    assert param_scale(name, values) == expected


def test_space_hint_overrides_name():
    assert param_scale("rate", [1e-3, 1e-1], {"type": "LogUniform"}) == "log"
    assert param_scale("b", [0.9, 0.99], "OneMinusLogUniform(0.9, 0.999)") == "one_minus"


@pytest.mark.skipif(_browser.unavailable() is not None,
                    reason=str(_browser.unavailable()))
@pytest.mark.parametrize("kind", ["full", "plain", "panda"])
def test_report_renders_in_offline_chromium(tmp_path, kind):
    if kind == "panda":
        run = make_panda_run(tmp_path)
    else:
        run = make_run(tmp_path, tuning=kind == "full", panda=kind == "full",
                       recipe=kind == "full")
    path = write_report(run)
    expected = set(_figure_ids(path.read_text(encoding="utf-8")))
    assert expected
    with _browser.offline_chromium(tmp_path / "profile") as driver:
        driver.get(path.resolve().as_uri())
        assert driver.title.startswith("deeprecipe report")
        assert _browser.severe_logs(driver) == []
        assert _browser.resource_urls(driver) == []  # nothing fetched, not even from cache
        boxes = _browser.figure_boxes(driver)
        assert {b["id"] for b in boxes} == expected
        for b in boxes:
            assert b["width"] > 100 and b["height"] > 50, b
            assert b["tag"] == "svg" and b["graphic_width"] > 0 and b["graphic_height"] > 0, b
            assert b["children"] > 10, b
        sections = driver.execute_script(
            "return Array.from(document.querySelectorAll('section')).map(s => s.id);")
        assert {"curves", "events"} <= set(sections)
        if kind != "panda":
            assert {"data", "model", "diagnosis", "gradcheck"} <= set(sections)
        png = _browser.screenshot(driver, tmp_path / "report.png")
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000


# -- #16 ------------------------------------------------------------------------------------
def test_a_plain_run_is_not_called_a_panda_and_lacks_no_optional_file(tmp_path):
    html = build_report(make_run(tmp_path, tuning=False, panda=False, recipe=False))
    assert "babysat model (panda)" not in html and "The training run" in html
    footer = html[html.index('id="omitted"'):]
    assert "Missing or unreadable" not in footer  # panda/recipe/tuning files are optional
    (tmp_path / "moons-demo" / "diagnosis.json").unlink()
    footer = build_report(tmp_path / "moons-demo").split('id="omitted"')[1]
    assert "Missing or unreadable: diagnosis.json." in footer


def test_the_optimizer_table_labels_configured_and_decayed_alpha(tmp_path):
    run = make_run(tmp_path, tuning=False, panda=False, recipe=False)
    summary = json.loads((run / "summary.json").read_text())
    summary["optimizer"]["final_learning_rate"] = 0.0025
    (run / "summary.json").write_text(json.dumps(summary))
    html = build_report(run)
    assert "learning_rate (configured α)" in html
    assert "α at the last epoch (after the schedule&#x27;s decay)" in html or \
        "α at the last epoch (after the schedule's decay)" in html


def test_full_batch_runs_get_an_ewa_window_that_fits(tmp_path):
    run = make_run(tmp_path, tuning=False, panda=False, recipe=False)
    (run / "history.jsonl").write_text(_history(epochs=40, batches=1).to_jsonl())
    html = build_report(run)
    assert "a window that fits 40 full-batch steps" in html
    assert "β = 0.75" in html  # 1 - 1/(40/10)


def test_a_thinned_step_log_names_its_stride_and_keeps_the_recorded_ewa(tmp_path):
    run = make_run(tmp_path, tuning=False, panda=False, recipe=False)
    h = _history()  # 30 epochs of 8 steps
    h.steps, full = StepLog(capacity=16), h.steps
    h.steps.extend(full)  # every 16th step: one row in two epochs, as if full-batch
    assert h.steps.stride == 16 and h.steps["step"].max() == 1
    (run / "history.jsonl").write_text(h.to_jsonl())
    html = build_report(run)
    assert "one mini-batch in 16; the log keeps at most 16" in html
    assert "EWA, bias-corrected (recorded)" in html and "full-batch" not in html


BIAS_VARIANCE_CASES = [  # human, train, dev, test (None: not in the diagnosis)
    (0.005, 0.02, 0.1, 0.11), (0.005, 0.3, 0.32, 0.31), (0.0, 0.0, 0.5, None),
    (0.01, 0.01, 0.01, 0.01), (0.1, 0.05, 0.5, 0.5), (0.3, 1.0, 1.0, 0.0),
    (None, 0.02, 0.4, 0.4), (0.02, 0.5, 0.05, None), (0.001, 0.002, 0.003, None),
    (0.5, 0.0, 0.0, 1.0)]


def _bias_variance_figure(monkeypatch, diag: dict):
    """The drawn (not saved) Figure of the bias/variance chart, with a renderer to measure."""
    import matplotlib  # only to measure the figure: the report itself never needs a backend
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from deeprecipe.report import _figures

    drawn = {}

    def render(fid, draw, size=_figures.SIZE):
        with matplotlib.rc_context(_figures._RC):
            fig = Figure(figsize=size, layout="constrained")
            FigureCanvasAgg(fig)
            draw(fig)
            fig.draw_without_rendering()  # constrained layout done: positions are final
        drawn["fig"] = fig
        return "<svg></svg>"

    monkeypatch.setattr(_figures, "render", render)
    assert _figures.bias_variance_svg("fig-bias-variance", diag) is not None
    return drawn["fig"]


@pytest.mark.parametrize("human, train, dev, test", BIAS_VARIANCE_CASES)
def test_bias_variance_labels_overlap_no_bar_and_no_value(monkeypatch, human, train, dev, test):
    diag = {k: v for k, v in (("human_error", human), ("train_error", train),
                              ("dev_error", dev), ("test_error", test)) if v is not None}
    fig = _bias_variance_figure(monkeypatch, diag)
    (ax,) = fig.axes
    renderer = fig.canvas.get_renderer()
    bars = [bar.get_window_extent(renderer) for bar in ax.patches]
    assert len(bars) == len(diag)
    texts = [(t.get_text(), t.get_window_extent(renderer)) for t in ax.texts if t.get_text()]
    gaps = [(text, box) for text, box in texts if text.endswith(" pts")]
    assert len(gaps) == (2 if human is not None else 1)  # avoidable bias, variance
    inside = ax.get_window_extent(renderer)
    for text, box in gaps:
        for i, bar in enumerate(bars):
            assert not box.overlaps(bar), f"{text!r} overlaps bar {i} in {diag}"
        for other, other_box in texts:
            assert other == text or not box.overlaps(other_box), (
                f"{text!r} overlaps {other!r} in {diag}")
        assert inside.y0 <= box.y0 and box.y1 <= inside.y1, f"{text!r} is cut off in {diag}"
