"""Sequential: a stack of layers with flat ``params``/``grads`` views keyed like "0.W"."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from deeprecipe._random import as_seed_sequence
from deeprecipe._typing import Params, RandomState
from deeprecipe._validation import (as_real_array, check_dict, check_features,
                                    check_float_dtype, check_int)
from deeprecipe.engine._memory import check_network_memory
from deeprecipe.engine._summary import summary_table
from deeprecipe.engine._workspace import Workspace
from deeprecipe.engine.layers import BatchNorm, Dense, Dropout, Layer, layer_from_config
from deeprecipe.engine.losses import _INTO, Loss, get_loss
from deeprecipe.engine.regularizers import _penalty_and_gradients_ws, check_penalties, penalty
from deeprecipe.errors import (
    CheckpointError,
    ConfigError,
    DataError,
    InvalidTypeError,
    InvalidValueError,
    NotFittedError,
)

__all__ = ["Sequential", "Cost"]

#: Inference runs in chunks of rows whose widest activation takes about this many bytes (the
#: L2 cache): 1,024 rows at width 512 in float32. Measured on 60,000 MNIST rows through
#: 784-512-512-10: 0.34 s in chunks, 0.42 s in one pass (and 1/60 of the memory).
_INFERENCE_CHUNK_BYTES = 1 << 21


@dataclass(frozen=True)
class Cost:
    """J = data + penalty: the cost with and without the regularization term."""

    total: float
    data: float
    penalty: float


class Sequential:
    """A feed-forward network: A_l = layer_l(A_{l-1}), A_0 = X of shape (m, input_dim).

    Each layer gets its own Generator spawned from one SeedSequence (``random_state``), so the
    same seed gives the same weights. float32 by default; ``dtype=np.float64`` on request.

    Examples
    --------
    >>> import deeprecipe as dr
    >>> net = dr.Sequential([dr.layers.Dense(4), dr.layers.ReLU(), dr.layers.Dense(1),
    ...                      dr.layers.Sigmoid()], input_dim=2, random_state=0)
    >>> net.n_params, sorted(net.params)
    (17, ['0.W', '0.b', '2.W', '2.b'])
    """

    def __init__(self, layers: Sequence[Layer], *, input_dim: int | None = None,
                 dtype=np.float32, random_state: RandomState = None) -> None:
        if isinstance(layers, Layer) or not isinstance(layers, Sequence):
            raise InvalidTypeError("layers must be a list of deeprecipe layers (e.g. "
                                   f"[dr.layers.Dense(10), dr.layers.ReLU()]), got {layers!r}")
        layers = list(layers)
        if not layers:
            raise InvalidValueError("a Sequential network needs at least one layer")
        for i, layer in enumerate(layers):
            if not isinstance(layer, Layer):
                raise InvalidTypeError(f"layer {i} must be a deeprecipe layer (e.g. "
                                       f"dr.layers.Dense(10)), got {type(layer).__name__}")
        self.layers = layers
        self._ws: Workspace | None = None  # the hot path's scratch arrays (cost_and_gradients)
        self.dtype = check_float_dtype("dtype", dtype)
        self.random_state = random_state
        self.input_dim: int | None = None
        self._rows: int | None = None  # rows of the last training forward
        if input_dim is not None:
            self.build(input_dim)

    # -- building ---------------------------------------------------------------------------
    def build(self, input_dim: int) -> Sequential:
        """Create every layer's arrays for inputs of width ``input_dim``."""
        input_dim = check_int("input_dim", input_dim, low=1)
        check_network_memory(self.layers, input_dim, self.dtype)  # all layers, before any
        self.input_dim = input_dim
        seeds = as_seed_sequence(self.random_state).spawn(len(self.layers))
        n = self.input_dim
        for i, layer in enumerate(self.layers):
            nxt = self.layers[i + 1] if i + 1 < len(self.layers) else None
            if isinstance(layer, Dense) and isinstance(nxt, BatchNorm):
                layer.use_bias = False  # beta of the BatchNorm takes b's role
            n = layer.build(n, np.random.default_rng(seeds[i]), self.dtype)
            layer.needs_input_grad = i > 0
        self.output_dim = n
        self.params: Params = {f"{i}.{k}": p for i, layer in enumerate(self.layers)
                               for k, p in layer.params.items()}
        self.grads: Params = {f"{i}.{k}": g for i, layer in enumerate(self.layers)
                              for k, g in layer.grads.items()}
        self.state: Params = {f"{i}.{k}": s for i, layer in enumerate(self.layers)
                              for k, s in layer.state.items()}
        return self

    @property
    def built(self) -> bool:
        return self.input_dim is not None

    def _check_built(self) -> None:
        if not self.built:
            raise NotFittedError("the network is not built: pass input_dim= to Sequential or "
                                 "call net.build(n_features) first")

    @property
    def n_params(self) -> int:
        """Number of trainable scalars."""
        self._check_built()
        return int(sum(p.size for p in self.params.values()))

    # -- forward / backward -----------------------------------------------------------------
    def forward(self, X: np.ndarray, *, training: bool = False, stop: int | None = None
                ) -> np.ndarray:
        """A_L = layers[:stop](X) for a real (m, input_dim) X (not converted, not checked for
        NaN: ``check_input`` does that); caches for backward only when ``training``."""
        self._check_built()
        X = as_real_array(X, "X")
        if X.ndim != 2 or X.shape[1] != self.input_dim:
            width = f"X has {X.shape[1]} features" if X.ndim == 2 else f"X has shape {X.shape}"
            raise DataError(f"{width}, expected {self.input_dim} (samples as rows)")
        return self._forward(X, training=training, stop=stop)

    def _forward(self, X: np.ndarray, *, training: bool = False, stop: int | None = None
                 ) -> np.ndarray:
        """``forward`` on a checked input (the hot path and inference)."""
        if training:
            self._rows = len(X)  # for backward's shape check
        A = X
        for layer in self.layers[:stop]:
            A = layer.forward(A, training=training)
        return A

    def backward(self, dA: np.ndarray, *, start: int | None = None) -> None:
        """Backpropagate dJ/dA_L (holding the 1/m) through layers[:start], filling ``grads``;
        dA has the shape of the output of layers[:start] in the last training forward."""
        dA, last = as_real_array(dA, "dA"), (self.layers[:start] or [None])[-1]
        shape = (self._rows, last.n_out or last.n_in) if last and self._rows else None
        if shape is not None and dA.shape != shape:
            raise DataError(f"dA must have shape {shape} (the output of the last training "
                            f"forward), got {dA.shape}")
        self._backward(dA, start=start)

    def _backward(self, dA: np.ndarray, *, start: int | None = None) -> None:
        """``backward`` on a checked gradient (the hot path)."""
        layers = self.layers[:start]
        for i in range(len(layers) - 1, -1, -1):
            dA = layers[i].backward(dA)

    def _fused_stop(self, loss: Loss) -> int | None:
        """Index where the loss takes over: -1 for a fused output activation, else None."""
        last = type(self.layers[-1]).__name__
        if loss.fused_activation is None:
            return None
        if last != loss.fused_activation:
            raise InvalidValueError(f"{loss.name} needs a final {loss.fused_activation} layer, "
                                    f"got {last}")
        return -1

    def cost_and_gradients(self, X: np.ndarray, Y: np.ndarray, loss: Loss, *, l2: float = 0.0,
                           l1: float = 0.0) -> Cost:
        """One training forward and backward on prepared inputs; fills ``self.grads``.

        The hot path of training: no input checks (``loss_and_gradients`` does them). For this
        one step the layers run in hot mode (``layers/base.py``): outputs, dX and temporaries
        go into preallocated arrays, so a step allocates no arrays once the first step with
        this batch size has created them. The caches then hold those arrays until the next step.
        """
        stop = self._fused_stop(loss)
        ws = self._ws
        if ws is None:
            ws = self._ws = Workspace()
        layers = self.layers
        for layer in layers:
            layer._hot = True
        try:
            out = self._forward(X, training=True, stop=stop)
            into = _INTO.get(loss.fn)
            if into is not None:
                J, d_out = into(out, Y, ws)
            else:  # a custom loss: copy its gradient, since hot layers overwrite dY
                J, d_user = loss.prepared(out, Y)
                d_out = ws.get("loss.dZ", d_user.shape, d_user.dtype)
                np.copyto(d_out, d_user)
            self._backward(d_out, start=stop)
        finally:
            for layer in layers:
                layer._hot = False
        pen = 0.0
        if l2 or l1:
            pen = _penalty_and_gradients_ws(self.params, self.grads, X.shape[0], l2, l1, ws)
        return Cost(J + pen, J, pen)

    def loss_and_gradients(self, X, y, *, loss: str | Loss, l2: float = 0.0, l1: float = 0.0
                           ) -> tuple[float, Params]:
        """J (with the penalty) and dJ/dparams, keyed like ``params``; a training forward."""
        l2, l1 = check_penalties(l2, l1)
        X, Y, loss = self.prepare(X, y, loss)
        return self.cost_and_gradients(X, Y, loss, l2=l2, l1=l1).total, self.grads

    def cost(self, X, y, *, loss: str | Loss, l2: float = 0.0, l1: float = 0.0,
             training: bool = False) -> Cost:
        """J with and without the penalty, in inference mode unless ``training``."""
        l2, l1 = check_penalties(l2, l1)
        X, Y, loss = self.prepare(X, y, loss)
        return self.prepared_cost(X, Y, loss, l2=l2, l1=l1, training=training)

    def prepared_cost(self, X: np.ndarray, Y: np.ndarray, loss: Loss, *, l2: float = 0.0,
                      l1: float = 0.0, training: bool = False) -> Cost:
        """``cost`` on inputs already checked by ``prepare``."""
        out = self._forward(X, training=training, stop=self._fused_stop(loss))
        J = loss.prepared(out, Y)[0]
        pen = penalty(self.params, X.shape[0], l2=l2, l1=l1) if (l2 or l1) else 0.0
        return Cost(J + pen, J, pen)

    def prepare(self, X, y, loss: str | Loss) -> tuple[np.ndarray, np.ndarray, Loss]:
        """Check X and y once (shapes, finiteness, labels for the loss) and convert dtypes."""
        self._check_built()
        loss = get_loss(loss)
        self._fused_stop(loss)  # loss vs output layer first: label errors would mislead
        X = self.check_input(X)
        Y = loss.prepare_targets(y, self.output_dim, self.dtype)
        if len(Y) != len(X):
            raise DataError(f"X has {len(X)} samples but y has {len(Y)}")
        return X, Y, loss

    def check_input(self, X) -> np.ndarray:
        """X as a finite (m, input_dim) array in the network's dtype, else DataError."""
        self._check_built()
        return check_features(X, dtype=self.dtype, n_features=self.input_dim)

    # -- prediction -------------------------------------------------------------------------
    def predict_proba(self, X) -> np.ndarray:
        """The output layer's activations A_L (inference mode: no dropout, running BN stats).

        X (m, input_dim) -> (m, output_dim), computed in chunks of rows (rows are independent
        at inference) so activations stay cache-sized however large m is. DataError if an
        output overflows (inputs far outside the training data), never NaN or inf.
        """
        X = self.check_input(X)
        widest = max(self.input_dim, *(layer.n_out or 0 for layer in self.layers))
        rows = max(64, _INFERENCE_CHUNK_BYTES // (X.itemsize * widest))
        with np.errstate(over="ignore", invalid="ignore"):  # an overflow is reported below
            if len(X) <= rows:
                out = self._forward(X, training=False)
            else:
                out = np.empty((len(X), self.output_dim), self.dtype)
                for start in range(0, len(X), rows):
                    out[start:start + rows] = self._forward(X[start:start + rows])
            finite = bool(np.isfinite(out.sum()))  # cheap; an overflowing sum is rechecked
        if not finite and not np.isfinite(out).all():
            bad = int((~np.isfinite(out)).any(axis=1).sum())
            raise DataError(f"the network's output is NaN or inf for {bad} sample(s) (largest "
                            f"|x| {np.abs(X).max():g}): inputs far outside the training data "
                            f"overflow {self.dtype}; standardize X as the training data was")
        return out

    def predict(self, X) -> np.ndarray:
        """Class indices: argmax of a softmax, A > 0.5 for a sigmoid; A_L itself otherwise."""
        A = self.predict_proba(X)
        last = type(self.layers[-1]).__name__
        if last == "Softmax":
            return A.argmax(axis=1)
        if last == "Sigmoid":
            return (A > 0.5).astype(np.intp).reshape(len(A), -1).squeeze(axis=1) \
                if A.shape[1] == 1 else (A > 0.5).astype(np.intp)
        return A

    # -- utilities --------------------------------------------------------------------------
    @contextlib.contextmanager
    def frozen_dropout(self) -> Iterator[Sequential]:
        """Within the block every Dropout layer reuses one mask, so J is a fixed function."""
        drops = [layer for layer in self.layers if isinstance(layer, Dropout)]
        for layer in drops:
            layer.frozen = True
        try:
            yield self
        finally:
            for layer in drops:
                layer.frozen = False

    def clear_caches(self) -> None:
        """Forget every layer's cache and the hot path's scratch arrays (frees their memory)."""
        for layer in self.layers:
            layer.clear_cache()
        self._ws = None

    def get_config(self) -> dict:
        """JSON-serializable architecture: enough to rebuild the network without pickle."""
        seed = self.random_state if isinstance(self.random_state, int) else None
        return {"layers": [layer.get_config() for layer in self.layers],
                "input_dim": self.input_dim, "dtype": self.dtype.name, "random_state": seed}

    @classmethod
    def from_config(cls, config: dict) -> Sequential:
        """Rebuild (and build, if input_dim is known) from ``get_config()`` output."""
        try:
            layers = [layer_from_config(c) for c in config["layers"]]
            return cls(layers, input_dim=config.get("input_dim"),
                       dtype=np.dtype(config.get("dtype", "float32")),
                       random_state=config.get("random_state"))
        except (KeyError, TypeError) as exc:
            raise ConfigError(f"not a network configuration: {exc}") from None

    def load_hyperparameters(self, config: dict) -> None:
        """Take the changeable values (e.g. keep_prob) of ``get_config()`` output of a network
        with the same structure; CheckpointError for another structure."""
        if not (isinstance(config, dict) and isinstance(config.get("layers"), list)):
            raise CheckpointError(f"not a network configuration: {config!r:.80}")
        saved = config["layers"]
        ours = [layer.get_config() for layer in self.layers]

        def structure(cfgs: list[dict]) -> list[dict]:
            return [{k: v for k, v in c.items() if k not in layer.hyperparameters}
                    for c, layer in zip(cfgs, self.layers, strict=False)]

        if (len(saved) != len(ours) or structure(saved) != structure(ours)
                or config["input_dim"] != self.input_dim):
            raise CheckpointError(
                "the checkpoint was written for a different network: saved "
                f"{[c['type'] for c in saved]} with input_dim {config['input_dim']}, this run "
                f"has {[c['type'] for c in ours]} with input_dim {self.input_dim}")
        for layer, cfg in zip(self.layers, saved, strict=True):
            for name in layer.hyperparameters:
                setattr(layer, name, cfg[name])

    def arrays(self, *, copy: bool = False) -> dict[str, np.ndarray]:
        """Parameters and state under one flat naming, for files: {"param/0.W": W, ...,
        "state/1.running_mean": mu, ...}; ``copy`` for a snapshot."""
        return {**{f"param/{k}": p.copy() if copy else p for k, p in self.params.items()},
                **{f"state/{k}": s.copy() if copy else s for k, s in self.state.items()}}

    def load_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        """Copy :meth:`arrays` output back in (other keys are ignored); CheckpointError."""
        check_dict("arrays", arrays, error=CheckpointError)
        self.set_arrays({k[6:]: a for k, a in arrays.items() if k.startswith("param/")},
                        {k[6:]: a for k, a in arrays.items() if k.startswith("state/")})

    def set_arrays(self, params: Params, state: Params | None = None) -> None:
        """Copy arrays into ``params`` (and ``state``) in place, checking keys and shapes."""
        for mine, theirs, what in ((self.params, params, "parameter"),
                                   (self.state, state or {}, "state")):
            if what == "state" and state is None:
                continue
            check_dict("params" if what == "parameter" else what, theirs, error=CheckpointError)
            if set(mine) != set(theirs):
                raise CheckpointError(f"{what} names do not match the network: expected "
                                      f"{sorted(mine)}, got {sorted(theirs)}")
            for k, a in theirs.items():
                if mine[k].shape != np.shape(a):
                    raise CheckpointError(f"{what} {k!r} has shape {np.shape(a)}, the network "
                                          f"expects {mine[k].shape}")
                mine[k][...] = a

    def astype(self, dtype) -> Sequential:
        """A copy of this (built) network in ``dtype``, same weights and running statistics."""
        self._check_built()
        dtype = check_float_dtype("dtype", dtype)
        net = Sequential.from_config({**self.get_config(), "dtype": dtype.name})
        net.set_arrays(self.params, self.state)
        return net

    def summary(self) -> str:
        """A table: layer (with its non-default settings), output shape, parameter count.

        >>> import deeprecipe as dr
        >>> print(dr.Sequential([dr.layers.Dense(4), dr.layers.BatchNorm(), dr.layers.ReLU(),
        ...                      dr.layers.Dense(1, init="xavier"), dr.layers.Sigmoid()],
        ...                     input_dim=3).summary())
          #  layer                                 output    params
          0  Dense(4, use_bias=False)              (m, 4)        12
          1  BatchNorm(momentum=0.9)               (m, 4)         8
          2  ReLU                                  (m, 4)         0
          3  Dense(1, init='xavier')               (m, 1)         5
          4  Sigmoid                               (m, 1)         0
        input (m, 3), 25 trainable parameters, float32
        """
        self._check_built()
        return summary_table(self)

    def __repr__(self) -> str:
        return f"Sequential({self.layers!r}, input_dim={self.input_dim})"

