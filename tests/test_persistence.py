"""save/load: round trips with identical predictions, pickle-free files, clear CheckpointErrors."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

from deeprecipe.engine.builders import build_mlp
from deeprecipe.errors import CheckpointError, DeepRecipeError, NotFittedError
from deeprecipe.estimator import DeepClassifier, DeepRegressor
from deeprecipe.optimize.trainer import train
from deeprecipe.persistence import (
    FORMAT_VERSION,
    load,
    load_info,
    load_preprocessing,
    model_paths,
    save,
)


@pytest.fixture
def data():
    rng = np.random.default_rng(12345)
    X = rng.normal(size=(60, 4)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > 0).astype(int) + (X[:, 2] > 1)
    return X, y


@pytest.fixture
def trained_bn_net(data):
    X, y = data
    net = build_mlp(4, (8, 6), 3, batch_norm=True, keep_prob=0.9, random_state=0)
    train(net, X, y, epochs=5, batch_size=16, random_state=0)
    return net


def test_sequential_round_trip_with_batchnorm_stats(tmp_path, data, trained_bn_net):
    X, _ = data
    net = trained_bn_net
    assert not np.allclose(net.state["1.running_mean"], 0)  # training moved the running stats
    json_path = save(net, tmp_path / "model")
    assert json_path == tmp_path / "model.json" and (tmp_path / "model.npz").exists()
    again = load(tmp_path / "model")
    assert type(again).__name__ == "Sequential" and again.dtype == net.dtype
    for k in net.params:
        np.testing.assert_array_equal(again.params[k], net.params[k])
    for k in net.state:
        np.testing.assert_array_equal(again.state[k], net.state[k])
    np.testing.assert_array_equal(again.predict_proba(X), net.predict_proba(X))


def test_directory_and_file_paths(tmp_path, trained_bn_net):
    save(trained_bn_net, tmp_path)  # an existing directory: model.npz + model.json inside
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.json", "model.npz"]
    for spelling in (tmp_path, tmp_path / "model.json", tmp_path / "model.npz"):
        load(spelling)
    new_dir = str(tmp_path / "run") + "/"  # a trailing slash names a (new) directory
    assert model_paths(new_dir)[0].name == "model.npz"
    save(trained_bn_net, new_dir)
    assert (tmp_path / "run" / "model.json").exists()


def test_files_contain_no_pickle(tmp_path, trained_bn_net):
    save(trained_bn_net, tmp_path, metadata={"dataset": "toy"})
    with np.load(tmp_path / "model.npz", allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files}
    assert all(a.dtype != object for a in arrays.values())
    assert "param/0.W" in arrays and "state/1.running_var" in arrays
    doc = json.loads((tmp_path / "model.json").read_text())
    assert doc["format_version"] == FORMAT_VERSION and doc["kind"] == "Sequential"
    assert doc["dtype"] == "float32" and doc["metadata"]["dataset"] == "toy"
    assert doc["network"]["layers"][0]["type"] == "Dense"


@pytest.mark.parametrize("cls, y_kind", [(DeepClassifier, "labels"), (DeepRegressor, "1d"),
                                         (DeepRegressor, "2d")])
def test_fitted_estimator_round_trip(tmp_path, data, cls, y_kind):
    X, y = data
    if y_kind == "labels":
        y = np.array(["cat", "dog", "emu"])[y]
    elif y_kind == "1d":
        y = X[:, 0] * 2.0 - X[:, 1]
    else:
        y = np.column_stack([X[:, 0], X[:, 1] - X[:, 2]])
    model = cls((8,), batch_norm=True, learning_rate=0.01, epochs=8, batch_size=16,
                early_stopping=True, random_state=3).fit(X, y)
    save(model, tmp_path / "est")
    again = load(tmp_path / "est")
    assert type(again) is cls and again.get_params() == model.get_params()
    np.testing.assert_array_equal(again.predict(X), model.predict(X))
    if cls is DeepClassifier:
        np.testing.assert_array_equal(again.classes_, model.classes_)
        np.testing.assert_array_equal(again.predict_proba(X), model.predict_proba(X))
    for attr in ("n_features_in_", "n_iter_", "loss_curve_", "validation_scores_",
                 "best_validation_score_"):
        assert getattr(again, attr) == getattr(model, attr)
    assert again.history_.epochs == model.history_.epochs
    # the optimizer state and shuffling stream are saved too: partial_fit continues exactly
    model.partial_fit(X, y)
    again.partial_fit(X, y)
    np.testing.assert_array_equal(again.predict(X), model.predict(X))


def test_preprocessing_round_trip(tmp_path, data, trained_bn_net):
    data_mod = pytest.importorskip("deeprecipe.data")
    X, _ = data
    scaler = data_mod.Standardizer().fit(X)
    save(trained_bn_net, tmp_path, preprocessing=scaler)
    back = load_preprocessing(tmp_path)
    np.testing.assert_allclose(back.transform(X), scaler.transform(X))
    save(trained_bn_net, tmp_path, preprocessing={"type": "custom", "clip": 3.0})
    assert load_preprocessing(tmp_path) == {"type": "custom", "clip": 3.0}
    save(trained_bn_net, tmp_path)
    assert load_preprocessing(tmp_path) is None


def test_save_rejects_unsaveable_models(tmp_path):
    with pytest.raises(NotFittedError, match="not fitted"):
        save(DeepClassifier(), tmp_path)
    with pytest.raises(DeepRecipeError, match="Sequential"):
        save({"W": np.ones(2)}, tmp_path)
    with pytest.raises(DeepRecipeError, match="JSON"):
        save(build_mlp(2, (), 2), tmp_path, metadata={"x": object()})


def test_missing_files(tmp_path, trained_bn_net):
    with pytest.raises(CheckpointError, match="not found"):
        load(tmp_path / "nothing")
    save(trained_bn_net, tmp_path)
    (tmp_path / "model.npz").unlink()
    with pytest.raises(CheckpointError, match="model.npz: file not found"):
        load(tmp_path)


def test_corrupt_npz(tmp_path, trained_bn_net):
    save(trained_bn_net, tmp_path)
    (tmp_path / "model.npz").write_bytes(b"PK\x03\x04 definitely not a zip")
    with pytest.raises(CheckpointError, match="model.npz"):
        load(tmp_path)


def test_npz_with_object_array_is_never_unpickled(tmp_path, trained_bn_net):
    save(trained_bn_net, tmp_path)
    doc = json.loads((tmp_path / "model.json").read_text())
    arrays = dict(np.load(tmp_path / "model.npz"))
    arrays["param/0.W"] = np.array([{"evil": 1}], dtype=object)
    np.savez(tmp_path / "model.npz", **arrays)
    doc.pop("npz_sha256")
    (tmp_path / "model.json").write_text(json.dumps(doc))
    with pytest.raises(CheckpointError, match="not a readable .npz"):
        load(tmp_path)


@pytest.mark.parametrize("edit, match", [
    (lambda d: "{not json", "not valid JSON"),
    (lambda d: json.dumps([1, 2]), "not a deeprecipe model"),
    (lambda d: json.dumps({**d, "format": "other"}), "not a deeprecipe model"),
    (lambda d: json.dumps({**d, "format_version": FORMAT_VERSION + 1}), "newer deeprecipe"),
    (lambda d: json.dumps({**d, "format_version": "1"}), "format_version"),
    (lambda d: json.dumps({**d, "kind": "Pickle"}), "'kind'"),
    (lambda d: json.dumps({**d, "dtype": "int8"}), "'dtype'"),
    (lambda d: json.dumps({**d, "network": {"layers": [{"type": "Conv"}], "input_dim": 4}}),
     "bad network configuration"),
])
def test_corrupt_json(tmp_path, trained_bn_net, edit, match):
    save(trained_bn_net, tmp_path)
    doc = json.loads((tmp_path / "model.json").read_text())
    (tmp_path / "model.json").write_text(edit(doc))
    with pytest.raises(CheckpointError, match=match):
        load(tmp_path)


def test_npz_from_another_save_is_detected(tmp_path, trained_bn_net):
    save(trained_bn_net, tmp_path / "a")
    save(build_mlp(4, (5,), 3, random_state=1), tmp_path / "b")
    (tmp_path / "b.npz").replace(tmp_path / "a.npz")
    with pytest.raises(CheckpointError, match="not written together"):
        load(tmp_path / "a")


def test_mismatched_arrays(tmp_path, trained_bn_net):
    """Without the checksum, names, shapes, dtypes and values are still checked."""
    # same layer types (so the same array names), other widths (so other shapes)
    other = build_mlp(4, (5, 6), 3, batch_norm=True, keep_prob=0.9, random_state=1)
    save(trained_bn_net, tmp_path / "a")
    save(other, tmp_path / "b")
    doc = json.loads((tmp_path / "a.json").read_text())
    doc.pop("npz_sha256")
    (tmp_path / "a.json").write_text(json.dumps(doc))
    good = dict(np.load(tmp_path / "a.npz"))
    cases = {
        "has shape": dict(np.load(tmp_path / "b.npz")),
        "do not match those listed": {k: v for k, v in good.items() if k != "param/0.W"},
        "must be finite float32": {**good, "param/0.W": good["param/0.W"].astype(np.float64)},
        "NaN/inf": {**good, "param/0.W": np.full_like(good["param/0.W"], np.nan)},
    }
    for match, arrays in cases.items():
        np.savez(tmp_path / "a.npz", **arrays)
        with pytest.raises(CheckpointError, match=match):
            load(tmp_path / "a")


def test_load_info_reads_json_only(tmp_path, trained_bn_net):
    save(trained_bn_net, tmp_path, metadata={"dev_error": 0.1})
    (tmp_path / "model.npz").unlink()
    info = load_info(tmp_path)
    assert info["metadata"]["dev_error"] == 0.1 and info["kind"] == "Sequential"


def test_checkpoint_error_is_a_value_error(tmp_path):
    with pytest.raises(ValueError):
        load(tmp_path / "missing")


def test_npz_is_a_plain_zip_of_npy_files(tmp_path, trained_bn_net):
    save(trained_bn_net, tmp_path)
    with zipfile.ZipFile(tmp_path / "model.npz") as z:
        assert all(name.endswith(".npy") for name in z.namelist())


@pytest.mark.parametrize("path", [None, 3, b"model", ""])
def test_save_and_load_refuse_a_path_that_is_not_one(path):
    net = build_mlp(2, [3], 1, output="sigmoid", random_state=0)
    with pytest.raises(DeepRecipeError, match=r"path must (be a path|not be empty)"):
        save(net, path)
    with pytest.raises(DeepRecipeError, match=r"path must (be a path|not be empty)"):
        load(path)


@pytest.mark.parametrize("metadata", ["x", [("a", 1)], 3])
def test_metadata_must_be_a_dict(tmp_path, metadata):
    net = build_mlp(2, [3], 1, output="sigmoid", random_state=0)
    with pytest.raises(DeepRecipeError, match=r"metadata must be a dict .*, got"):
        save(net, tmp_path / "m", metadata=metadata)
    assert not list(tmp_path.iterdir())
