"""ONNX export, checked against the real runtime: ONNX Runtime gives deeprecipe's answers.

Every layer type, the README's models, both estimators, a run directory made by
``workflows.run`` and by the CLI, and a BatchNorm + Dropout network trained on MNIST (identical
classes on the 10,000 test images). Probabilities agree to 1e-5 in float32.
"""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
from _data import DATA
from _cli import assert_one_line_error, cli, cli_many

import deeprecipe as dr
from deeprecipe.engine.builders import build_mlp
from deeprecipe.errors import DeepRecipeError, InvalidValueError, NotFittedError

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
L = dr.layers
MNIST = DATA / "mnist.npz"


def run_onnx(path) -> tuple[dict[str, np.ndarray], dict]:
    """A function X -> {output name: array} of the file in ONNX Runtime, and its metadata."""
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    meta = {k: json.loads(v) for k, v in session.get_modelmeta().custom_metadata_map.items()}

    def predict(X):
        return dict(zip(names, session.run(None, {"X": np.asarray(X, np.float32)}),
                        strict=True))

    return predict, meta


def _randomize_batchnorm(net: dr.Sequential, rng: np.random.Generator) -> None:
    """Running statistics, gamma and beta away from their initial 0/1 (as after training)."""
    for layer in net.layers:
        if isinstance(layer, L.BatchNorm):
            n = layer.n_in
            layer.state["running_mean"][...] = rng.normal(size=n)
            layer.state["running_var"][...] = rng.uniform(0.2, 3.0, size=n)
            layer.params["gamma"][...] = rng.uniform(0.5, 2.0, size=n)
            layer.params["beta"][...] = rng.normal(size=n)


STACKS = {  # name -> (layers, ONNX ops that must appear, ops that must not)
    "dense_relu_softmax": ([L.Dense(7), L.ReLU(), L.Dense(3), L.Softmax()],
                           {"Gemm", "Relu", "Softmax"}, set()),
    "leaky_relu_sigmoid": ([L.Dense(7), L.LeakyReLU(slope=0.2), L.Dense(1), L.Sigmoid()],
                           {"LeakyRelu", "Sigmoid", "Concat"}, set()),
    "tanh_linear": ([L.Dense(7), L.Tanh(), L.Dense(2), L.Linear()], {"Tanh"}, {"ArgMax"}),
    "sigmoid_multilabel": ([L.Dense(7), L.Sigmoid(), L.Dense(3), L.Sigmoid()], {"Sigmoid"},
                           {"ArgMax"}),
    "batchnorm": ([L.Dense(7), L.BatchNorm(epsilon=1e-3), L.ReLU(), L.Dense(3), L.Softmax()],
                  {"Sub", "Mul", "Add"}, set()),
    "dropout": ([L.Dense(7), L.ReLU(), L.Dropout(keep_prob=0.5), L.Dense(4), L.Softmax()],
                set(), {"Dropout", "RandomUniformLike"}),
    "dense_only": ([L.Dense(2, use_bias=False)], {"Gemm"}, set()),
}


@pytest.mark.parametrize("name", STACKS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_every_layer_type_matches_onnxruntime(tmp_path, name, dtype):
    layers, present, absent = STACKS[name]
    rng = np.random.default_rng(0)
    net = dr.Sequential([L.layer_from_config(layer.get_config()) for layer in layers],
                        input_dim=5, dtype=dtype, random_state=1)
    _randomize_batchnorm(net, rng)
    X = (rng.normal(size=(64, 5)) * [1, 10, 0.1, 5, 2] + [0, 100, -3, 0, 7]).astype(np.float32)
    scaler = dr.data.Standardizer().fit(X)
    path = dr.export_onnx(net, tmp_path / "net.onnx", standardizer=scaler)

    model = onnx.load(path)
    onnx.checker.check_model(model, full_check=True)
    ops = {node.op_type for node in model.graph.node}
    assert present <= ops and not (absent & ops), ops
    assert {"Sub", "Div"} <= ops  # the standardizer is in the file
    X_in = model.graph.input[0]
    assert X_in.name == "X" and X_in.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert [d.dim_param or d.dim_value for d in X_in.type.tensor_type.shape.dim] == ["batch", 5]

    predict, meta = run_onnx(path)
    expected = net.predict_proba(scaler.transform(X.astype(dtype)))
    for rows in (slice(0, 1), slice(0, 64)):  # the batch dimension is dynamic
        out = predict(X[rows])
        first = out.get("probabilities", out.get("prediction"))
        if "label" in out and expected.shape[1] == 1:  # one sigmoid unit: [1 - p, p]
            np.testing.assert_allclose(first[:, 1], expected[rows, 0], atol=1e-5)
            np.testing.assert_allclose(first.sum(axis=1), 1.0, atol=1e-6)
        else:
            np.testing.assert_allclose(first, expected[rows], atol=1e-5, rtol=1e-5)
        if "label" in out:
            np.testing.assert_array_equal(out["label"], net.predict(scaler.transform(X[rows])))
    assert meta["task"] == {"tanh_linear": "regression", "dense_only": "regression",
                            "sigmoid_multilabel": "multilabel"}.get(name, "classification")


def test_readme_sequential_on_moons(tmp_path):
    ds = dr.data.load_dataset("moons", n_samples=1000)
    parts = dr.data.split(ds.X, ds.y, random_state=0)
    scaler = dr.data.Standardizer().fit(parts.X_train)
    net = dr.Sequential([
        L.Dense(20, init="he"), L.ReLU(), L.Dropout(keep_prob=0.86),
        L.Dense(3, init="he"), L.BatchNorm(), L.ReLU(),
        L.Dense(1, init="xavier"), L.Sigmoid(),
    ], input_dim=2, random_state=0)
    dr.train(net, scaler.transform(parts.X_train), parts.y_train, loss="binary_crossentropy",
             optimizer=dr.optimizers.Adam(learning_rate=1e-2), l2=0.7, batch_size=64,
             epochs=20, random_state=0, verbose=False)
    path = dr.export_onnx(net, tmp_path / "moons.onnx", standardizer=scaler,
                          classes=["blue", "red"])
    predict, meta = run_onnx(path)
    out = predict(parts.X_dev)
    p = net.predict_proba(scaler.transform(parts.X_dev))[:, 0]
    np.testing.assert_allclose(out["probabilities"], np.c_[1 - p, p], atol=1e-5)
    names = np.array(["blue", "red"])[net.predict(scaler.transform(parts.X_dev))]
    np.testing.assert_array_equal(out["label"], names)
    assert meta["classes"] == ["blue", "red"] and np.mean(names == np.array(
        ["blue", "red"])[parts.y_dev]) > 0.8


def test_readme_estimator_pipeline_on_digits(tmp_path):
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    digits = dr.data.load_dataset("digits")
    clf = make_pipeline(StandardScaler(), dr.DeepClassifier(
        hidden_layer_sizes=(64, 32), l2=0.5, learning_rate=1e-2, batch_size=64, epochs=5,
        batch_norm=True, keep_prob=0.9, random_state=0)).fit(digits.X, digits.y)
    predict, meta = run_onnx(dr.export_onnx(clf, tmp_path / "digits.onnx"))
    out = predict(digits.X)
    np.testing.assert_allclose(out["probabilities"], clf.predict_proba(digits.X), atol=1e-5)
    np.testing.assert_array_equal(out["label"], clf.predict(digits.X))
    assert out["label"].dtype == np.int64 and meta["classes"] == list(range(10))


def test_pipeline_scaler_options_and_other_pipelines(tmp_path):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 3)) * [1, 50, 3] + [5, -40, 0]
    y = X @ [1.0, 0.02, -0.5]
    for scaler in (StandardScaler(with_mean=False), StandardScaler(with_std=False)):
        pipe = make_pipeline(scaler, dr.DeepRegressor((6,), epochs=3, random_state=0)).fit(X, y)
        predict, _ = run_onnx(dr.export_onnx(pipe, tmp_path / "pipe.onnx"))
        np.testing.assert_allclose(predict(X)["prediction"][:, 0], pipe.predict(X), rtol=1e-5,
                                   atol=1e-5)
    with pytest.raises(DeepRecipeError, match=r"got steps \['StandardScaler', 'Logistic"):
        dr.export_onnx(make_pipeline(StandardScaler(), LogisticRegression()), tmp_path / "x")


def test_deep_classifier_with_text_classes_and_feature_names(tmp_path):
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(120, 3)), columns=["alcohol", "ash", "hue"])
    y = np.array(["red", "white", "rose"])[np.argmax(X.to_numpy() @ rng.normal(size=(3, 3)), 1)]
    clf = dr.DeepClassifier((8,), batch_norm=True, keep_prob=0.8, learning_rate=0.05,
                            epochs=10, random_state=0).fit(X, y)
    predict, meta = run_onnx(dr.export_onnx(clf, tmp_path / "wine.onnx"))
    out = predict(X.to_numpy())
    np.testing.assert_allclose(out["probabilities"], clf.predict_proba(X), atol=1e-5)
    np.testing.assert_array_equal(out["label"].astype(str), clf.predict(X))
    assert meta["classes"] == ["red", "rose", "white"]
    assert meta["feature_names"] == ["alcohol", "ash", "hue"]


@pytest.mark.parametrize("n_outputs", [1, 2])
def test_deep_regressor(tmp_path, n_outputs):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(100, 4))
    y = X @ rng.normal(size=(4, n_outputs)) + 3.0
    reg = dr.DeepRegressor((8,), batch_norm=True, learning_rate=0.05, epochs=10,
                           random_state=0).fit(X, y.ravel() if n_outputs == 1 else y)
    predict, meta = run_onnx(dr.export_onnx(reg, tmp_path / "reg.onnx"))
    out = predict(X)["prediction"]
    assert out.shape == (100, n_outputs) and meta["task"] == "regression"
    np.testing.assert_allclose(out, reg.predict(X).reshape(100, -1), atol=1e-5, rtol=1e-5)


def test_a_standardized_target_is_destandardized(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 3))
    reg = dr.DeepRegressor((4,), epochs=2, random_state=0).fit(X, X[:, :2])
    z = reg.network_.predict_proba(X.astype(np.float32))
    reg.target_mean_, reg.target_scale_ = np.array([100.0, -5.0]), np.array([20.0, 0.5])
    predict, _ = run_onnx(dr.export_onnx(reg, tmp_path / "reg.onnx"))
    np.testing.assert_allclose(predict(X)["prediction"], z * [20.0, 0.5] + [100.0, -5.0],
                               rtol=1e-5, atol=1e-4)


@pytest.fixture(scope="module")
def pets_run(tmp_path_factory):
    """A run made by pipeline.run on a CSV with text labels in the column 'species'."""
    from deeprecipe.runs.config import config_from_dict
    from deeprecipe.workflows import run

    root = tmp_path_factory.mktemp("export")
    rng = np.random.default_rng(0)
    centers = np.array([[-4.0, 0.0, 10.0], [4.0, 0.0, 12.0], [0.0, 5.0, 11.0]])
    X = np.concatenate([c + rng.normal(size=(40, 3)) for c in centers])
    names = np.repeat(["cat", "dog", "fish"], 40)
    rows = [f"{a:.4f},{b:.4f},{c:.4f},{n}" for (a, b, c), n in zip(X, names, strict=True)]
    (root / "pets.csv").write_text("x1,x2,x3,species\n" + "\n".join(rows) + "\n")
    config = config_from_dict({
        "name": "pets", "seed": 0, "data": {"dataset": str(root / "pets.csv"),
                                            "label": "species"},
        "model": {"hidden_layer_sizes": [8], "batch_norm": True, "keep_prob": 0.9},
        "optimizer": {"learning_rate": 0.05}, "training": {"epochs": 10}})
    run(config, root / "run", report=False)
    np.save(root / "x.npy", X.astype(np.float32))
    return root


def test_run_directory_from_pipeline(pets_run, tmp_path):
    from deeprecipe.prediction import predict_table
    from deeprecipe.runs.rundir import load_run_model

    path = dr.export_onnx(pets_run / "run", tmp_path / "pets.onnx")
    predict, meta = run_onnx(path)
    assert meta == {"classes": ["cat", "dog", "fish"], "feature_names": ["x1", "x2", "x3"],
                    "label": "species", "task": "classification"}
    X = np.load(pets_run / "x.npy")
    out = predict(X)  # raw features: the standardization is inside the file
    proba = predict_table(pets_run / "run", pets_run / "x.npy", proba=True).values
    np.testing.assert_allclose(out["probabilities"], proba, atol=1e-5)
    labels = predict_table(pets_run / "run", pets_run / "x.npy").values
    np.testing.assert_array_equal(out["label"].astype(str), labels)
    net, scaler, _ = load_run_model(pets_run / "run")
    np.testing.assert_allclose(out["probabilities"], net.predict_proba(scaler.transform(X)),
                               atol=1e-5)


def test_cli_export(pets_run):
    ok, to_file, bad_format, nowhere = cli_many(
        [["export", "run"], ["export", "run", "--format", "onnx", "--out", "deploy/pets.onnx"],
         ["export", "run", "--format", "tflite"], ["export", "nowhere"]], cwd=pets_run)
    assert ok.returncode == 0, ok.stderr
    assert "wrote run/model.onnx" in ok.stdout
    assert to_file.returncode == 0, to_file.stderr
    X = np.load(pets_run / "x.npy")
    for path in (pets_run / "run" / "model.onnx", pets_run / "deploy" / "pets.onnx"):
        predict, meta = run_onnx(path)
        assert set(predict(X)["label"]) <= {"cat", "dog", "fish"}
    assert "--format must be 'onnx'" in assert_one_line_error(bad_format)
    assert "nowhere" in assert_one_line_error(nowhere)


def test_a_new_model_in_the_run_directory_removes_the_stale_export(pets_run, tmp_path):
    from deeprecipe.runs.config import load_config
    from deeprecipe.workflows import run

    dr.export_onnx(pets_run / "run", pets_run / "run" / "model.onnx")
    run(load_config(pets_run / "run" / "config.toml"), pets_run / "run", force=True,
        report=False)
    assert (pets_run / "run" / "model.json").exists()
    assert not (pets_run / "run" / "model.onnx").exists()


def test_cli_run_directory_predicts_as_the_cli(tmp_path):
    (tmp_path / "tiny.toml").write_text(
        'name = "tiny"\nseed = 0\n[data]\ndataset = "blobs"\nn_samples = 150\n'
        '[model]\nhidden_layer_sizes = [6]\nbatch_norm = true\n[training]\nepochs = 3\n',
        encoding="utf-8")
    assert cli("run", "tiny.toml", "--out", "runs/tiny", "-q", cwd=tmp_path).returncode == 0
    X = np.random.default_rng(0).normal(size=(20, 2)) * 5
    np.save(tmp_path / "x.npy", X)
    exported, proba = cli_many([["export", "runs/tiny"],
                                ["predict", "runs/tiny", "--input", "x.npy", "--proba"]],
                               cwd=tmp_path)
    assert exported.returncode == 0 and proba.returncode == 0, exported.stderr + proba.stderr
    expected = np.loadtxt(proba.stdout.splitlines(), delimiter=",", skiprows=1)
    predict, _ = run_onnx(tmp_path / "runs" / "tiny" / "model.onnx")
    np.testing.assert_allclose(predict(X)["probabilities"], expected, atol=1e-5)


def test_saved_estimator_path_with_its_standardizer(tmp_path):
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(60, 3)) * 10 + 3, rng.integers(0, 2, 60) * 5
    scaler = dr.data.Standardizer().fit(X)
    clf = dr.DeepClassifier((4,), epochs=3, random_state=0).fit(scaler.transform(X), y)
    dr.save(clf, tmp_path / "clf", preprocessing=scaler)
    predict, meta = run_onnx(dr.export_onnx(tmp_path / "clf", tmp_path / "clf.onnx"))
    out = predict(X)
    np.testing.assert_array_equal(out["label"], clf.predict(scaler.transform(X)))
    np.testing.assert_allclose(out["probabilities"], clf.predict_proba(scaler.transform(X)),
                               atol=1e-5)
    assert meta["classes"] == [0, 5]


@pytest.mark.skipif(not MNIST.exists(), reason=f"{MNIST} not found (the MNIST data set)")
def test_mnist_batchnorm_dropout_same_classes_on_all_test_images(tmp_path):
    with np.load(MNIST, allow_pickle=False) as d:
        X_train = d["X_train"][:20000].reshape(20000, -1).astype(np.float32)
        y_train = d["y_train"][:20000]
        X_test = d["X_test"].reshape(10000, -1).astype(np.float32)
    scaler = dr.data.Standardizer().fit(X_train)
    net = build_mlp(784, (64,), 10, batch_norm=True, keep_prob=0.8, random_state=0)
    dr.train(net, scaler.transform(X_train), y_train, loss="categorical_crossentropy",
             optimizer=dr.optimizers.Adam(learning_rate=1e-3), batch_size=128, epochs=1,
             random_state=0, verbose=False)
    predict, _ = run_onnx(dr.export_onnx(net, tmp_path / "mnist.onnx", standardizer=scaler))
    out = predict(X_test)  # raw pixels 0..255
    expected = net.predict(scaler.transform(X_test))
    np.testing.assert_array_equal(out["label"], expected)
    np.testing.assert_allclose(out["probabilities"],
                               net.predict_proba(scaler.transform(X_test)), atol=1e-5)
    with np.load(MNIST, allow_pickle=False) as d:
        assert np.mean(expected == d["y_test"]) > 0.9  # a real model, not a degenerate one


def test_errors(tmp_path, monkeypatch):
    net = dr.Sequential([L.Dense(3), L.Softmax()], input_dim=2, random_state=0)
    with pytest.raises(InvalidValueError, match="3 output classes, but 2 class names"):
        dr.export_onnx(net, tmp_path / "a.onnx", classes=["x", "y"])
    with pytest.raises(InvalidValueError, match="classes= needs a classifier output"):
        dr.export_onnx(dr.Sequential([L.Dense(2)], input_dim=2), tmp_path / "r.onnx",
                       classes=["x", "y"])
    with pytest.raises(NotFittedError, match="not built"):
        dr.export_onnx(dr.Sequential([L.Dense(3)]), tmp_path / "b.onnx")
    with pytest.raises(NotFittedError, match="not fitted"):
        dr.export_onnx(dr.DeepClassifier(), tmp_path / "c.onnx")
    with pytest.raises(DeepRecipeError, match="takes a Sequential"):
        dr.export_onnx(object(), tmp_path / "d.onnx")
    monkeypatch.setitem(sys.modules, "onnx", None)  # as if the extra were not installed
    with pytest.raises(DeepRecipeError, match=r'pip install "deeprecipe\[onnx\]"'):
        dr.export_onnx(net, tmp_path / "e.onnx")
    assert not list(tmp_path.glob("*.onnx"))
