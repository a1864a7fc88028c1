"""Deployment: one ONNX file holding the whole predictor, from raw features to the answer.

For an input ``X`` of shape (batch, n_features), float32, the graph computes:

========================================================  =======================================
deeprecipe                                                ONNX nodes
========================================================  =======================================
Standardizer: x := (x - mu) / sigma                       Sub, Div
Dense: Z = A @ W + b, W (n_in, n_out)                     Gemm (no transpose; no C without bias)
BatchNorm (inference):                                    Sub, Mul, Add
  (Z - running_mean) * (gamma / sqrt(running_var + eps)) + beta
ReLU, LeakyReLU(slope), Tanh, Sigmoid, Softmax            Relu, LeakyRelu(alpha=slope), Tanh,
                                                          Sigmoid, Softmax(axis=1)
Linear, Dropout (identity at inference)                   nothing
regression target: y = z * target_scale + target_mean     Mul, Add (see ``TARGET_STATS``)
========================================================  =======================================

Outputs: a classifier (a Softmax output, or one Sigmoid unit) gives ``probabilities``
(batch, n_classes), one column per class (a single sigmoid unit p becomes [1 - p, p]), and
``label`` (batch,), the most probable class itself (its name for text classes). Several sigmoid
units give ``probabilities`` only; any other output gives ``prediction`` (batch, n_outputs).
``metadata_props`` hold JSON: ``classes``, ``feature_names``, ``label``, ``task``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deeprecipe import estimator  # noqa: F401  (registers the estimators with persistence)
from deeprecipe._io import write_bytes_atomic
from deeprecipe._version import __version__
from deeprecipe.errors import DeepRecipeError, InvalidTypeError, InvalidValueError, NotFittedError
from deeprecipe.engine.layers import (
    BatchNorm,
    Dense,
    Dropout,
    LeakyReLU,
    Linear,
    ReLU,
    Sigmoid,
    Softmax,
    Tanh,
)
from deeprecipe.engine.network import Sequential
from deeprecipe.persistence import load, load_info, load_preprocessing, model_paths
from deeprecipe.runs.rundir import load_run_model

__all__ = ["OPSET", "TARGET_STATS", "export_onnx"]

#: The ONNX opset of exported files, with IR version 8: the pair the ONNX 1.12 release introduced.
OPSET = 17
#: A DeepRegressor's standardized target: y = z * target_scale_ + target_mean_.
TARGET_STATS = ("target_mean_", "target_scale_")
_ELEMENTWISE = {ReLU: "Relu", Tanh: "Tanh", Sigmoid: "Sigmoid"}


@dataclass
class _Predictor:
    """What the graph is made of: the network and everything around it."""

    network: Sequential
    shift: np.ndarray | None = None  # x := (x - shift) / scale before the network
    scale: np.ndarray | None = None
    classes: list | None = None
    feature_names: list[str] | None = None
    label: str | None = None
    target: tuple[np.ndarray, np.ndarray] | None = None  # (mean, scale) of the target


def _onnx():
    try:
        import onnx  # an optional extra: `import deeprecipe` must work without it
    except ImportError:
        raise DeepRecipeError('ONNX export needs the onnx package: pip install '
                              '"deeprecipe[onnx]"') from None
    return onnx


def _target_stats(model) -> tuple[np.ndarray, np.ndarray] | None:
    """(mean, scale) of a regressor's standardized target (``TARGET_STATS``), else None."""
    mean, scale = (getattr(model, name, None) for name in TARGET_STATS)
    if mean is None or scale is None:
        return None
    return np.asarray(mean, np.float64).reshape(-1), np.asarray(scale, np.float64).reshape(-1)


def _from_estimator(model, shift=None, scale=None) -> _Predictor:
    if not hasattr(model, "network_"):
        raise NotFittedError(f"this {type(model).__name__} is not fitted yet; call fit() "
                             "before exporting it")
    names = getattr(model, "feature_names_in_", None)
    classes = getattr(model, "classes_", None)
    return _Predictor(model.network_, shift, scale,
                      None if classes is None else np.asarray(classes).tolist(),
                      None if names is None else [str(n) for n in names],
                      target=_target_stats(model))


def _from_pipeline(pipe) -> _Predictor:
    """A scikit-learn Pipeline: an optional StandardScaler, then DeepClassifier/DeepRegressor."""
    steps = [step for _, step in pipe.steps if step not in (None, "passthrough")]
    kinds = [type(step).__name__ for step in steps]
    if kinds[-1:] not in (["DeepClassifier"], ["DeepRegressor"]) or kinds[:-1] not in (
            [], ["StandardScaler"]):
        raise InvalidTypeError("export_onnx takes a Pipeline of an optional StandardScaler and "
                               f"a DeepClassifier or DeepRegressor, got steps {kinds}")
    if len(steps) == 1:
        return _from_estimator(steps[0])
    scaler = steps[0]
    if not hasattr(scaler, "n_features_in_"):
        raise NotFittedError("this Pipeline is not fitted yet; call fit() before exporting it")
    return _from_estimator(steps[1], scaler.mean_ if scaler.with_mean else None,
                           scaler.scale_ if scaler.with_std else None)


def _from_saved(path: Path) -> _Predictor:
    """A run directory or saved model (model.npz + model.json and its preprocessing)."""
    base = path / "model" if (path / "model.json").exists() else path
    if model_paths(base)[1].exists() and load_info(base)["kind"] != "Sequential":
        pre = load_preprocessing(base)  # a Standardizer saved with the estimator, if any
        if getattr(pre, "mean_", None) is None:
            return _from_estimator(load(base))
        return _from_estimator(load(base), pre.mean_, pre.std_)
    net, standardizer, meta = load_run_model(path)
    shift = scale = None
    if standardizer is not None:
        shift, scale = standardizer.mean_, standardizer.std_
    return _Predictor(net, shift, scale, meta.get("classes"), meta.get("feature_names"),
                      meta.get("label"))


def _predictor(model, standardizer, classes) -> _Predictor:
    if isinstance(model, (str, os.PathLike)):
        spec = _from_saved(Path(model))
    elif isinstance(model, Sequential):
        if not model.built:
            raise NotFittedError("cannot export a network that is not built; call "
                                 "net.build(n_features) or train it first")
        spec = _Predictor(model)
    elif type(model).__name__ in ("DeepClassifier", "DeepRegressor"):
        spec = _from_estimator(model)
    elif type(model).__name__ == "Pipeline":
        spec = _from_pipeline(model)
    else:
        raise InvalidTypeError("export_onnx takes a Sequential, a DeepClassifier, a "
                               "DeepRegressor, a Pipeline of them or a run directory, got "
                               f"{type(model).__name__}")
    if standardizer is not None:
        if spec.shift is not None:
            raise InvalidValueError("this model carries its own standardization; do not pass "
                                    "standardizer=")
        if getattr(standardizer, "mean_", None) is None:
            raise NotFittedError("the standardizer is not fitted yet; call fit(X_train) first")
        spec.shift, spec.scale = standardizer.mean_, standardizer.std_
    if classes is not None:
        spec.classes = np.asarray(classes).tolist()
    return spec


class _Graph:
    """Nodes and constants of one graph, each output named after its node."""

    def __init__(self, onnx, dtype) -> None:
        self.onnx, self.dtype = onnx, dtype
        self.nodes: list = []
        self.constants: list = []

    def const(self, name: str, value) -> str:
        self.constants.append(self.onnx.numpy_helper.from_array(np.asarray(value), name))
        return name

    def node(self, op: str, inputs: list[str], name: str, output: str | None = None,
             **attrs) -> str:
        output = output or name
        self.nodes.append(self.onnx.helper.make_node(op, inputs, [output], name=name, **attrs))
        return output

    def affine(self, A: str, name: str, shift, scale, *, divide: bool = False) -> str:
        """(A - shift) / scale (``divide``) or (A - shift) * scale; a None part is skipped."""
        if shift is not None:
            A = self.node("Sub", [A, self.const(f"{name}.shift", self.cast(shift))],
                          f"{name}.sub")
        if scale is not None:
            op = "Div" if divide else "Mul"
            A = self.node(op, [A, self.const(f"{name}.scale", self.cast(scale))],
                          f"{name}.{op.lower()}")
        return A

    def cast(self, value) -> np.ndarray:
        return np.asarray(value, dtype=self.dtype)


def _layer(g: _Graph, layer, i: int, A: str) -> str:
    """The nodes of layer ``i`` applied to the tensor named ``A``; returns the output name."""
    name = f"{i}.{type(layer).__name__}"
    if isinstance(layer, Dense):
        inputs = [A, g.const(f"{i}.W", g.cast(layer.params["W"]))]
        if layer.use_bias:
            inputs.append(g.const(f"{i}.b", g.cast(layer.params["b"])))
        return g.node("Gemm", inputs, name)
    if isinstance(layer, BatchNorm):  # float32 constants computed as the layer computes them
        var = g.cast(layer.state["running_var"])
        inv_std = 1 / np.sqrt(var + var.dtype.type(layer.epsilon))
        A = g.affine(A, name, layer.state["running_mean"], g.cast(layer.params["gamma"]) * inv_std)
        return g.node("Add", [A, g.const(f"{i}.beta", g.cast(layer.params["beta"]))],
                      f"{name}.add")
    if isinstance(layer, LeakyReLU):
        return g.node("LeakyRelu", [A], name, alpha=float(layer.slope))
    if isinstance(layer, Softmax):
        return g.node("Softmax", [A], name, axis=1)
    if isinstance(layer, (Linear, Dropout)):
        return A
    if type(layer) in _ELEMENTWISE:
        return g.node(_ELEMENTWISE[type(layer)], [A], name)
    raise InvalidTypeError(f"layer {i} ({type(layer).__name__}) has no ONNX export")


def _outputs(g: _Graph, spec: _Predictor, A: str) -> tuple[list, str]:
    """Name the network's output (probabilities and label, or the prediction); (outputs, task).

    A classifier's ``spec.classes`` default to 0, 1, ... (the probability columns).
    """
    onnx, net = g.onnx, spec.network
    TensorProto, info = onnx.TensorProto, onnx.helper.make_tensor_value_info
    last, width = net.layers[-1], net.output_dim
    if not (isinstance(last, Softmax) or isinstance(last, Sigmoid) and width == 1):
        if spec.classes is not None:
            raise InvalidValueError("classes= needs a classifier output (Softmax or one Sigmoid "
                                    f"unit); this network ends in {type(last).__name__}"
                                    f"({width})")
        if isinstance(last, Sigmoid):  # several sigmoid units: independent probabilities
            g.node("Identity", [A], "probabilities.identity", "probabilities")
            return [info("probabilities", TensorProto.FLOAT, ["batch", width])], "multilabel"
        if spec.target is not None:
            A = g.affine(A, "target", None, spec.target[1])
            A = g.node("Add", [A, g.const("target.mean", g.cast(spec.target[0]))], "target.add")
        g.node("Identity", [A], "prediction.identity", "prediction")
        return [info("prediction", TensorProto.FLOAT, ["batch", width])], "regression"
    if width == 1:  # one sigmoid unit p = P(class 1): [1 - p, p]
        q = g.node("Sub", [g.const("one", g.cast(1.0)), A], "sigmoid.complement")
        A = g.node("Concat", [q, A], "sigmoid.concat", axis=1)
        width = 2
    if spec.classes is None:
        spec.classes = list(range(width))
    if len(spec.classes) != width:
        raise InvalidValueError(f"the network has {width} output classes, but "
                                f"{len(spec.classes)} class names were given: {spec.classes}")
    g.node("Identity", [A], "probabilities.identity", "probabilities")
    index = g.node("ArgMax", [A], "argmax", axis=1, keepdims=0)
    values = np.asarray(spec.classes)
    if values.dtype.kind in "US":
        values, kind = values.astype(object), TensorProto.STRING
    elif values.dtype.kind == "f":
        values, kind = values.astype(np.float64), TensorProto.DOUBLE
    else:
        values, kind = values.astype(np.int64), TensorProto.INT64
    g.node("Gather", [g.const("classes", values), index], "label.gather", "label", axis=0)
    return [info("probabilities", TensorProto.FLOAT, ["batch", width]),
            info("label", kind, ["batch"])], "classification"


def export_onnx(model, path: str | os.PathLike, *, standardizer=None,
                classes=None) -> Path:
    """Write ``model`` as one ONNX file: raw features X (batch, n_features) -> its answer.

    Parameters
    ----------
    model : Sequential (built), DeepClassifier or DeepRegressor (fitted), a scikit-learn
        Pipeline of an optional StandardScaler and one of these, or the path of a run
        directory (or saved model) whose standardization comes along.
    path : str or PathLike
        The .onnx file to write (parent folders are created).
    standardizer : fitted Standardizer, optional
        The x := (x - mu) / sigma the network was trained behind (a Sequential's).
    classes : sequence, optional
        Class names of the output columns (a Sequential's; default 0, 1, ...).

    Returns
    -------
    Path of the written file. Input ``X``: float32 (batch, n_features); outputs
    ``probabilities`` (batch, n_classes) and ``label`` (batch,) for a classifier, else
    ``prediction`` (batch, n_outputs); see the module docstring for the graph.

    Raises
    ------
    DeepRecipeError
        The onnx package is missing, the model is not fitted, or a layer cannot be exported.

    Examples
    --------
    >>> import tempfile, deeprecipe as dr
    >>> net = dr.Sequential([dr.layers.Dense(3), dr.layers.Softmax()], input_dim=2,
    ...                     random_state=0)
    >>> with tempfile.TemporaryDirectory() as d:
    ...     out = export_onnx(net, f"{d}/net.onnx", classes=["a", "b", "c"])
    ...     import onnx; m = onnx.load(out)
    >>> [o.name for o in m.graph.output], {p.key: p.value for p in m.metadata_props}["classes"]
    (['probabilities', 'label'], '["a", "b", "c"]')
    """
    onnx = _onnx()
    spec = _predictor(model, standardizer, classes)
    net = spec.network
    g = _Graph(onnx, np.float32)
    A = g.affine("X", "standardize", spec.shift, spec.scale, divide=True)
    for i, layer in enumerate(net.layers):
        A = _layer(g, layer, i, A)
    outputs, task = _outputs(g, spec, A)
    inputs = [onnx.helper.make_tensor_value_info("X", onnx.TensorProto.FLOAT,
                                                 ["batch", net.input_dim])]
    graph = onnx.helper.make_graph(g.nodes, "deeprecipe", inputs, outputs,
                                   initializer=g.constants)
    # IR version 8 is opset 17's: runtimes as old as the opset load the file
    onnx_model = onnx.helper.make_model(graph, ir_version=8, producer_name="deeprecipe",
                                        producer_version=__version__,
                                        opset_imports=[onnx.helper.make_opsetid("", OPSET)])
    meta = {"classes": spec.classes, "feature_names": spec.feature_names, "label": spec.label,
            "task": task}
    onnx.helper.set_model_props(onnx_model, {k: json.dumps(v) for k, v in meta.items()})
    onnx.checker.check_model(onnx_model, full_check=True)
    path = Path(path)
    write_bytes_atomic(path, onnx_model.SerializeToString())
    return path
