"""pipeline: prepare_data, run, evaluate, gradcheck_for and prepare_run_dir on tiny data."""

from __future__ import annotations

import contextlib
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from _holder import busy, held_elsewhere

from deeprecipe import data as dd
from deeprecipe import workflows
from deeprecipe.errors import DataError, DeepRecipeError
from deeprecipe.runs.build import build_network, fit
from deeprecipe.runs.config import config_from_dict, dump_config, load_config
from deeprecipe.runs.evaluate import evaluate
from deeprecipe.runs.prepare import prepare_data
from deeprecipe.runs.locks import RunDirBusyError
from deeprecipe.runs.rundir import RUN_FILES, prepare_run_dir
from deeprecipe.workflows import gradcheck_for, run


def tiny(**sections) -> dict:
    """A tiny moons configuration as a dict; ``sections`` update its tables."""
    d = {"name": "tiny", "seed": 0, "data": {"dataset": "moons", "n_samples": 200},
         "model": {"hidden_layer_sizes": [8]}, "optimizer": {"learning_rate": 0.01},
         "training": {"epochs": 4}}
    for key, value in sections.items():
        if isinstance(value, dict):  # None drops a key (TOML has no null)
            merged = {**d.get(key, {}), **value}
            d[key] = {k: v for k, v in merged.items() if v is not None}
        else:
            d[key] = value
    return d


@pytest.fixture(scope="module")
def regression_file(tmp_path_factory):
    """A small .npz with continuous targets: y = X @ w + noise."""
    rng = np.random.default_rng(7)
    X = rng.normal(size=(200, 3))
    y = X @ np.array([1.5, -2.0, 0.5]) + 0.1 * rng.normal(size=200) + 0.25
    path = tmp_path_factory.mktemp("regression") / "reg.npz"
    np.savez(path, X=X, y=y)
    return path


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """run() of the tiny config (only read by the tests that use it)."""
    config = config_from_dict(tiny())
    run_dir = tmp_path_factory.mktemp("pipeline") / "tiny"
    return config, run(config, run_dir)


# -- prepare_data --------------------------------------------------------------------------
def test_split_sizes_sum_to_the_data_set():
    data = prepare_data(config_from_dict(tiny()))
    sizes = (len(data.X_train), len(data.X_dev), len(data.X_test))
    assert sum(sizes) == 200
    assert all(n > 0 for n in sizes)
    assert [len(data.y_train), len(data.y_dev), len(data.y_test)] == list(sizes)
    s = data.split_summary
    assert (s["train"], s["dev"], s["test"], s["m"]) == (*sizes, 200)
    assert data.X_train.dtype == np.float32


def test_standardizer_is_fit_on_the_training_set_only():
    config = config_from_dict(tiny())
    data = prepare_data(config, check_distribution=False)
    X_train, X_dev = data.X_train[:], data.X_dev[:]  # Rows: standardized copies
    assert np.abs(X_train.mean(axis=0)).max() < 1e-5
    assert X_train.std(axis=0) == pytest.approx(1.0, abs=1e-4)
    assert np.abs(X_dev.mean(axis=0)).max() > 1e-4  # dev statistics were not used
    # the statistics are those of the raw training rows (the same split prepare_data makes)
    ds = dd.load_dataset("moons", random_state=0, n_samples=200)
    parts = dd.split(ds.X.astype(np.float32), ds.y, random_state=0)
    assert data.standardizer.mean_ == pytest.approx(parts.X_train.mean(axis=0), abs=1e-5)
    assert not np.allclose(data.standardizer.mean_, ds.X.mean(axis=0), atol=1e-5)
    dev_rows = ds.X.astype(np.float32)[np.sort(parts.dev_index)]  # parts are read in row order
    assert X_dev == pytest.approx(data.standardizer.transform(dev_rows), abs=1e-6)


def test_no_standardization_when_turned_off():
    data = prepare_data(config_from_dict(tiny(split={"standardize": False})),
                        check_distribution=False)
    assert data.standardizer is None
    assert np.abs(data.X_train[:].mean(axis=0)).max() > 1e-3


def test_classes_are_mapped_to_indices(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 2))
    y = np.where(X[:, 0] > 0, 7, 3)
    np.savez(tmp_path / "labels.npz", X=X, y=y)
    data = prepare_data(config_from_dict(tiny(data={"dataset": str(tmp_path / "labels.npz"),
                                                    "n_samples": None})),
                        check_distribution=False)
    assert data.classes.tolist() == [3, 7]
    for part in (data.y_train, data.y_dev, data.y_test):
        assert set(np.unique(part)) <= {0, 1}
    assert data.task == "classification"


def test_binary_and_multiclass_heads():
    binary = prepare_data(config_from_dict(tiny()), check_distribution=False)
    assert (binary.output, binary.loss, binary.n_outputs) == (
        "sigmoid", "binary_crossentropy", 1)
    digits = prepare_data(config_from_dict(tiny(data={"dataset": "digits", "n_samples": 300})),
                          check_distribution=False)
    assert (digits.output, digits.loss, digits.n_outputs) == (
        "softmax", "categorical_crossentropy", 10)
    assert digits.image_shape == (8, 8) and digits.X_train.shape[1] == 64
    net = build_network(config_from_dict(tiny()), binary)
    assert type(net.layers[-1]).__name__ == "Sigmoid"


def test_dev_only_has_no_test_set_and_says_so():
    data = prepare_data(config_from_dict(tiny(split={"dev_only": True})))
    assert data.X_test is None and data.y_test is None
    assert len(data.X_train) + len(data.X_dev) == 200
    assert data.split_summary["dev_only"] is True
    assert "dev-only" in data.split_summary["mode"]
    assert "not an unbiased estimate" in data.split_summary["mode"]
    assert data.distribution is None  # nothing to compare dev with


def test_dev_only_run(tmp_path):
    result = run(config_from_dict(tiny(split={"dev_only": True})), tmp_path / "dev_only")
    assert result.metrics["test_error"] is None and result.metrics["test_cost"] is None
    assert "test error" not in result.headline()
    summary = json.loads((tmp_path / "dev_only" / "summary.json").read_text(encoding="utf-8"))
    assert summary["split"]["dev_only"] is True


# -- run -----------------------------------------------------------------------------------
def test_run_writes_every_file(finished):
    config, result = finished
    for name in RUN_FILES:
        assert (result.run_dir / name).is_file(), name
    checkpoints = sorted(p.name for p in (result.run_dir / "checkpoints").glob("epoch-*.npz"))
    assert checkpoints == [f"epoch-{e:04d}.npz" for e in range(1, 5)]
    assert len(result.history.epochs) == 4
    assert result.gradient_check["verdict"] in ("great", "ok")
    assert set(result.metrics) == {f"{p}_{k}" for p in ("train", "dev", "test")
                                   for k in ("cost", "error")}


def test_saved_config_reloads_equal(finished):
    config, result = finished
    assert load_config(result.run_dir / "config.toml") == config


def test_same_seed_same_metrics(finished, tmp_path):
    config, result = finished
    again = run(load_config(result.run_dir / "config.toml"), tmp_path / "again", report=False)
    assert again.metrics == result.metrics
    other = run(config_from_dict(tiny(seed=1)), tmp_path / "other", report=False)
    assert other.metrics != result.metrics


@pytest.mark.parametrize(("keep", "expected"), [(3, [6, 7, 8]), (0, list(range(1, 9)))])
def test_keep_checkpoints_is_honoured(tmp_path, keep, expected):
    run(config_from_dict(tiny(training={"epochs": 8, "keep_checkpoints": keep})),
        tmp_path / "r", report=False)
    names = sorted(p.name for p in (tmp_path / "r" / "checkpoints").glob("epoch-*.json"))
    assert names == [f"epoch-{e:04d}.json" for e in expected]


def test_checkpoint_every_is_honoured(tmp_path):
    run(config_from_dict(tiny(training={"checkpoint_every": 2})), tmp_path / "r", report=False)
    names = sorted(p.name for p in (tmp_path / "r" / "checkpoints").glob("epoch-*.json"))
    assert names == ["epoch-0002.json", "epoch-0004.json"]


def test_force_clears_stale_checkpoints_and_resume_continues(tmp_path):
    run(config_from_dict(tiny()), tmp_path / "r", report=False)
    short = config_from_dict(tiny(training={"epochs": 2}))
    run(short, tmp_path / "r", report=False, force=True)
    names = sorted(p.name for p in (tmp_path / "r" / "checkpoints").glob("epoch-*.json"))
    assert names == ["epoch-0001.json", "epoch-0002.json"]  # the 4-epoch ones are gone
    resumed = run(load_config(tmp_path / "r" / "config.toml"), tmp_path / "r", resume=True,
                  report=False)
    assert len(resumed.history.epochs) == 2  # already complete: nothing retrained


def test_resuming_an_early_stopped_run_trains_no_further(tmp_path):
    config = config_from_dict(tiny(optimizer={"learning_rate": 0.3},
                                   training={"epochs": 60, "patience": 1}))
    done = run(config, tmp_path / "r", report=False)
    assert len(done.history.epochs) < 60  # early stopping ended it
    resumed = run(config, tmp_path / "r", resume=True, report=False)
    assert resumed.history.epochs == done.history.epochs
    for key, value in done.network.params.items():  # the best epoch's weights, as before
        np.testing.assert_array_equal(resumed.network.params[key], value)
    assert resumed.metrics == done.metrics


def test_bad_data_leaves_no_run_directory(tmp_path):
    with pytest.raises(DataError, match="missing.csv: file not found"):
        run(config_from_dict({"data": {"dataset": str(tmp_path / "missing.csv")}}),
            tmp_path / "never")
    assert not (tmp_path / "never").exists()


# -- regression ----------------------------------------------------------------------------
def test_regression_prepare_and_evaluate(regression_file):
    config = config_from_dict(tiny(data={"dataset": str(regression_file), "n_samples": None},
                                   training={"epochs": 3}))
    data = prepare_data(config, check_distribution=False)
    assert data.task == "regression" and data.classes is None
    assert (data.output, data.loss, data.n_outputs) == ("linear", "mean_squared_error", 1)
    net, _ = fit(config, data)
    metrics = evaluate(net, data)
    for part in ("train", "dev", "test"):
        assert 0.0 <= metrics[f"{part}_error"] <= 1.0
        assert metrics[f"{part}_cost"] >= 0.0


def test_regression_run_end_to_end(regression_file, tmp_path):
    config = config_from_dict(tiny(data={"dataset": str(regression_file), "n_samples": None},
                                   optimizer={"learning_rate": 0.03},
                                   training={"epochs": 30}))
    result = run(config, tmp_path / "reg")
    for name in RUN_FILES:
        assert (tmp_path / "reg" / name).is_file(), name
    for part in ("train", "dev", "test"):
        assert 0.0 <= result.metrics[f"{part}_error"] <= 1.0
    assert result.metrics["train_error"] < 0.5  # a linear target is learnt (1 - R^2 small)
    info = json.loads((tmp_path / "reg" / "model.json").read_text(encoding="utf-8"))
    assert info["metadata"]["task"] == "regression"


# -- gradcheck_for, prepare_run_dir --------------------------------------------------------
def test_gradcheck_for_is_great(tmp_path):
    report = gradcheck_for(dataset="moons")
    assert report.verdict == "great"
    path = tmp_path / "g.toml"
    path.write_text('[data]\ndataset = "blobs"\nn_samples = 60\n[model]\n'
                    'hidden_layer_sizes = [4]\n[regularization]\nl2 = 0.3\n', encoding="utf-8")
    assert gradcheck_for(config_path=path).verdict == "great"


SMALL = ('[data]\ndataset = "blobs"\nn_samples = 60\n[model]\nhidden_layer_sizes = [3]\n'
         '[regularization]\nl2 = 0.3\n')


@settings(max_examples=12, deadline=None)
@given(samples=st.one_of(st.integers(1, 60), st.integers(60, 10**30)))
def test_gradcheck_for_checks_at_most_the_training_set_and_says_how_many(tmp_path_factory,
                                                                         samples):
    path = tmp_path_factory.getbasetemp() / "small.toml"
    path.write_text(SMALL, encoding="utf-8")
    m = len(prepare_data(load_config(path), check_distribution=False).X_train)
    report = gradcheck_for(config_path=path, samples=samples, max_components=40)
    assert report.examples == min(samples, m) and report.verdict == "great"


def test_prepare_run_dir_refuses_to_overwrite(tmp_path):
    run_dir = tmp_path / "r"
    assert prepare_run_dir(run_dir, create=False) == run_dir and not run_dir.exists()
    assert prepare_run_dir(run_dir).is_dir()
    assert prepare_run_dir(run_dir) == run_dir  # an empty directory is fine
    (run_dir / "model.json").write_text("{}", encoding="utf-8")
    with pytest.raises(DeepRecipeError, match="already holds a run.*--force"):
        prepare_run_dir(run_dir)
    assert prepare_run_dir(run_dir, force=True) == run_dir
    assert prepare_run_dir(run_dir, resume=True) == run_dir
    (tmp_path / "file").write_text("x", encoding="utf-8")
    with pytest.raises(DeepRecipeError, match="is a file"):
        prepare_run_dir(tmp_path / "file")


def test_n_samples_takes_a_seeded_subset_of_a_file(tmp_path):
    rng = np.random.default_rng(3)
    path = tmp_path / "many.npz"
    np.savez(path, X=rng.normal(size=(300, 4)), y=rng.integers(0, 2, 300))
    cfg = config_from_dict({"data": {"dataset": str(path), "n_samples": 120}})
    first, again = prepare_data(cfg, check_distribution=False), prepare_data(
        cfg, check_distribution=False)
    total = len(first.X_train) + len(first.X_dev) + len(first.X_test)
    assert total == 120
    np.testing.assert_array_equal(first.X_train, again.X_train)


def test_a_dev_only_run_says_so_in_its_headline(tmp_path):
    from deeprecipe.workflows import run

    cfg = config_from_dict({"data": {"dataset": "moons", "n_samples": 200},
                            "split": {"dev_only": True},
                            "model": {"hidden_layer_sizes": [4]},
                            "training": {"epochs": 2}})
    result = run(cfg, tmp_path / "run", report=False)
    assert result.metrics["test_error"] is None
    assert "dev-only split" in result.headline()
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["split"]["dev_only"] is True


def test_an_npz_with_its_own_test_set_keeps_it_as_the_test_set(tmp_path):
    rng = np.random.default_rng(0)
    X_train, X_test = rng.normal(size=(120, 2)), rng.normal(size=(50, 2)) + 3.0
    np.savez(tmp_path / "given.npz", X_train=X_train, y_train=np.arange(120) % 2,
             X_test=X_test, y_test=np.arange(50) % 3)  # class 2 only in the test part
    config = config_from_dict(tiny(data={"dataset": str(tmp_path / "given.npz"),
                                         "n_samples": None}))
    data = prepare_data(config, check_distribution=False)
    np.testing.assert_allclose(data.X_test, data.standardizer.transform(
        X_test.astype(np.float32)))
    assert len(data.X_train) + len(data.X_dev) == 120
    assert data.classes.tolist() == [0, 1, 2]
    assert data.y_test.tolist() == (np.arange(50) % 3).tolist()
    assert (data.split_summary["test"], data.split_summary["m"]) == (50, 170)
    assert "own test set" in data.split_summary["mode"]
    # dev-only: the file's test set becomes the dev set (the lecture's football setup)
    dev_only = config_from_dict(tiny(data={"dataset": str(tmp_path / "given.npz"),
                                           "n_samples": None}, split={"dev_only": True}))
    data = prepare_data(dev_only, check_distribution=False)
    assert data.X_test is None and (len(data.X_train), len(data.X_dev)) == (120, 50)
    np.testing.assert_allclose(data.X_dev, data.standardizer.transform(X_test.astype(np.float32)))
    assert "the file's test set as the dev set" in data.split_summary["mode"]


def test_a_run_that_loses_the_race_for_a_new_directory_leaves_it_to_the_winner(tmp_path,
                                                                               monkeypatch):
    """Two runs start on one new directory; the other takes its lock while this one loads
    the data: this one is refused and must not delete the directory the winner works in."""
    run_dir = tmp_path / "new"
    winner = contextlib.ExitStack()

    def prepare_while_another_run_starts(config, **kwargs):
        data = prepare_data(config, **kwargs)
        pid = winner.enter_context(held_elsewhere(run_dir))
        (run_dir / "theirs.txt").write_text(str(pid))
        return data

    monkeypatch.setattr(workflows, "prepare_data", prepare_while_another_run_starts)
    with winner, pytest.raises(RunDirBusyError) as refused:
        run(config_from_dict(tiny()), run_dir, report=False)
    assert str(refused.value) == busy(run_dir, "start", int((run_dir / "theirs.txt").read_text()))


def test_a_run_and_its_resume_each_get_their_own_advice_while_another_process_works(tmp_path):
    """A new run (--force or not) is told to choose another --out; a resume (run --resume, or
    resume RUN_DIR) works on this very directory, so it is told to wait and resume."""
    run_dir = tmp_path / "r"
    config = config_from_dict(tiny())
    run_dir.mkdir()
    (run_dir / "config.toml").write_text(dump_config(config), encoding="utf-8")
    with held_elsewhere(run_dir) as pid:
        for start, action in ((lambda: run(config, run_dir, report=False), "start"),
                              (lambda: run(config, run_dir, force=True, report=False), "start"),
                              (lambda: run(config, run_dir, resume=True, report=False), "resume"),
                              (lambda: workflows.resume(run_dir), "resume"),
                              (lambda: workflows.resume(run_dir, force=True), "resume")):
            with pytest.raises(RunDirBusyError) as refused:
                start()
            assert str(refused.value) == busy(run_dir, action, pid)
    assert sorted(p.name for p in run_dir.iterdir()) == [".lock", "config.toml"]
