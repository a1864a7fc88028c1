"""runs: evaluate_run, predict_file and load_run_model on a finished run directory."""

from __future__ import annotations

import json

import numpy as np
import pytest

from deeprecipe.data import Standardizer
from deeprecipe.engine.network import Sequential
from deeprecipe.errors import DataError, DeepRecipeError
from deeprecipe.prediction import predict_file
from deeprecipe.runs.config import config_from_dict
from deeprecipe.runs.evaluate import evaluate_run
from deeprecipe.runs.rundir import load_run_model
from deeprecipe.workflows import run

LABELS = (10, 20, 30)
CENTERS = np.array([[-4.0, 0.0, 1.0], [4.0, 0.0, -1.0], [0.0, 5.0, 0.0]])


def _blobs(rng: np.random.Generator, n_per_class: int) -> tuple[np.ndarray, np.ndarray]:
    X = np.concatenate([c + 0.5 * rng.normal(size=(n_per_class, 3)) for c in CENTERS])
    y = np.repeat(LABELS, n_per_class)
    return X, y


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A run on three well-separated blobs labelled 10, 20, 30 (not 0, 1, 2)."""
    root = tmp_path_factory.mktemp("runs")
    X, y = _blobs(np.random.default_rng(0), 60)
    np.savez(root / "blobs.npz", X=X, y=y)
    config = config_from_dict({
        "name": "blobs", "seed": 0, "data": {"dataset": str(root / "blobs.npz")},
        "model": {"hidden_layer_sizes": [8]}, "optimizer": {"learning_rate": 0.05},
        "training": {"epochs": 20}})
    result = run(config, root / "run", report=False)
    return root, result


def test_load_run_model(finished):
    root, result = finished
    net, standardizer, meta = load_run_model(root / "run")
    assert isinstance(net, Sequential) and isinstance(standardizer, Standardizer)
    assert meta["classes"] == list(LABELS)
    assert meta["task"] == "classification" and meta["loss"] == "categorical_crossentropy"
    for key, value in result.network.params.items():
        np.testing.assert_array_equal(net.params[key], value)
    # the model's base name works as well as the directory
    net2, _, _ = load_run_model(root / "run" / "model")
    np.testing.assert_array_equal(net2.params["0.W"], net.params["0.W"])


def test_evaluate_run_matches_the_run(finished):
    root, result = finished
    metrics = evaluate_run(root / "run")
    assert metrics == pytest.approx(result.metrics)
    summary = json.loads((root / "run" / "summary.json").read_text(encoding="utf-8"))
    assert metrics == pytest.approx(summary["metrics"])


def test_predictions_map_back_to_the_original_labels(finished, tmp_path):
    root, _ = finished
    X, y = _blobs(np.random.default_rng(1), 10)  # fresh points, raw (unstandardized) units
    np.save(tmp_path / "x.npy", X)
    preds = predict_file(root / "run", tmp_path / "x.npy")
    assert preds.shape == (30,)
    assert set(preds.tolist()) <= set(LABELS)
    assert np.mean(preds == y) >= 0.9


def test_predict_proba_and_every_input_format(finished, tmp_path):
    root, _ = finished
    X, _ = _blobs(np.random.default_rng(2), 4)
    np.save(tmp_path / "x.npy", X)
    np.savez(tmp_path / "x.npz", X=X)
    np.savetxt(tmp_path / "x.csv", X, delimiter=",", header="a,b,c", comments="")
    np.savetxt(tmp_path / "plain.csv", X, delimiter=",")
    proba = predict_file(root / "run", tmp_path / "x.npy", proba=True)
    assert proba.shape == (12, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    labels = predict_file(root / "run", tmp_path / "x.npy")
    for name in ("x.npz", "x.csv", "plain.csv"):
        np.testing.assert_array_equal(predict_file(root / "run", tmp_path / name), labels)
    np.testing.assert_array_equal(np.asarray(LABELS)[proba.argmax(axis=1)], labels)


def test_predict_writes_csv_and_npy(finished, tmp_path):
    root, _ = finished
    X, _ = _blobs(np.random.default_rng(3), 3)
    np.save(tmp_path / "x.npy", X)
    labels = predict_file(root / "run", tmp_path / "x.npy", output=tmp_path / "p.csv")
    assert (tmp_path / "p.csv").read_text().splitlines()[0] == "prediction"  # a header row
    np.testing.assert_array_equal(np.loadtxt(tmp_path / "p.csv", delimiter=",", skiprows=1),
                                  labels)
    predict_file(root / "run", tmp_path / "x.npy", output=tmp_path / "p.npy")
    np.testing.assert_array_equal(np.load(tmp_path / "p.npy", allow_pickle=False), labels)


@pytest.mark.parametrize("name, content, message", [
    ("absent.npy", None, "absent.npy: file not found"),
    ("x.txt", "1,2,3\n", "unsupported input format '.txt'"),
    ("words.csv", "a,b,c\n1,two,3\n", "every value must be numeric"),
    ("ragged.csv", "1,2,3\n4,5\n", "different numbers of values"),
    ("header_only.csv", "a,b,c\n", "no rows"),
    ("narrow.csv", "1,2\n3,4\n", "has 2 features, expected 3"),
    ("garbage.npy", b"not an array", "not a readable .npy file"),
    ("objects.npy", "objects", "holds Python objects"),
    ("empty.npz", "empty", "holds no arrays"),
    ("nan.csv", "1,2,3\nnan,1,1\n", "NaN or inf"),
])
def test_bad_input_files(finished, tmp_path, name, content, message):
    root, _ = finished
    path = tmp_path / name
    if content == "objects":
        np.save(path, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    elif content == "empty":
        np.savez(path)
    elif isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(DataError, match=message.replace("(", r"\(").replace(".", r"\.")):
        predict_file(root / "run", path)


def test_bad_output_file_fails_before_predicting(finished, tmp_path):
    root, _ = finished
    np.save(tmp_path / "x.npy", np.zeros((2, 3)))
    with pytest.raises(DataError, match="unsupported output format '.npz'"):
        predict_file(root / "run", tmp_path / "x.npy", output=tmp_path / "p.npz")
    assert not (tmp_path / "p.npz").exists()


def test_not_a_run_directory(tmp_path):
    with pytest.raises(DeepRecipeError, match="not a run directory"):
        evaluate_run(tmp_path)
    with pytest.raises(DeepRecipeError, match="neither a run directory nor a saved model"):
        load_run_model(tmp_path / "nowhere")
    (tmp_path / "checkpoints").mkdir()
    with pytest.raises(DeepRecipeError, match="no final model yet.*deeprecipe resume"):
        load_run_model(tmp_path)


def test_csv_with_text_labels_predicts_the_names(tmp_path):
    X, y = _blobs(np.random.default_rng(3), 40)
    names = np.array(["cat", "dog", "fish"])[np.searchsorted(LABELS, y)]
    rows = [f'{a:.4f},{b:.4f},{c:.4f},"{n}"' for (a, b, c), n in zip(X, names, strict=True)]
    (tmp_path / "pets.csv").write_text("x1,x2,x3,species\n" + "\n".join(rows) + "\n")
    config = config_from_dict({
        "name": "pets", "seed": 0, "data": {"dataset": str(tmp_path / "pets.csv"),
                                            "label": "species"},
        "model": {"hidden_layer_sizes": [8]}, "optimizer": {"learning_rate": 0.05},
        "training": {"epochs": 20}})
    result = run(config, tmp_path / "run", report=False)
    assert load_run_model(tmp_path / "run")[2]["classes"] == ["cat", "dog", "fish"]
    assert evaluate_run(tmp_path / "run") == pytest.approx(result.metrics)
    (tmp_path / "new.csv").write_text("x1,x2,x3\n-4,0,1\n4,0,-1\n0,5,0\n")
    preds = predict_file(tmp_path / "run", tmp_path / "new.csv", output=tmp_path / "out.csv")
    assert preds.tolist() == ["cat", "dog", "fish"]
    assert (tmp_path / "out.csv").read_text().split() == ["species", "cat", "dog", "fish"]
