"""Batch normalization of Z over the mini-batch, with running statistics for inference."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from deeprecipe._io import check_size
from deeprecipe._validation import check_in_range
from deeprecipe.engine.layers.base import Layer

__all__ = ["BatchNorm"]


@dataclass(eq=False)
class BatchNorm(Layer):
    """Z_tilde = gamma * (Z - mu) / sqrt(var + epsilon) + beta, mu/var over the batch (axis 0).

    Shapes: Z (m, n) -> (m, n); gamma, beta (n,). Training uses the batch mean and the biased
    batch variance var = mean((Z - mu)**2) and updates the running statistics as exponentially
    weighted averages: running = momentum * running + (1 - momentum) * batch. Inference
    normalizes with the running mean/var. (PyTorch's ``momentum`` is our 1 - momentum, and it
    keeps the unbiased variance in its running_var.)

    Backward, with x_hat = (Z - mu) * inv_std and dx_hat = dY * gamma:
    dgamma = sum(dY * x_hat, 0); dbeta = sum(dY, 0);
    dZ = inv_std / m * (m * dx_hat - sum(dx_hat, 0) - x_hat * sum(dx_hat * x_hat, 0)).
    A Dense layer right before BatchNorm needs no bias: beta takes its role.
    """

    momentum: float = 0.9
    epsilon: float = 1e-5

    def __post_init__(self) -> None:
        super().__post_init__()
        check_in_range("momentum", self.momentum, low=0.0, high=1.0, closed="left")
        check_in_range("epsilon", self.epsilon, low=0.0, closed="neither")

    def build(self, n_in: int, rng: np.random.Generator, dtype=np.float32) -> int:
        n_in = super().build(n_in, rng, dtype)
        dtype = self.dtype
        check_size(*self._footprint(n_in), dtype.itemsize)  # before any allocation
        self.params = {"gamma": np.ones(n_in, dtype), "beta": np.zeros(n_in, dtype)}
        self.grads = {k: np.zeros_like(p) for k, p in self.params.items()}
        self.state = {"running_mean": np.zeros(n_in, dtype), "running_var": np.ones(n_in, dtype)}
        return n_in

    def _footprint(self, n_in: int) -> tuple[str, tuple[int, ...]]:
        """gamma, beta, their gradients, the running mean and variance, 2 moments each for
        Adam: 10 n_in scalars."""
        return (f"BatchNorm on {n_in} inputs (parameters, gradients, statistics, optimizer "
                "state)", (10, n_in))

    def forward(self, Z: np.ndarray, *, training: bool = False) -> np.ndarray:
        if not self.params:
            raise self._unbuilt()
        if not self._hot:
            Z = self._input(Z, "Z")
        gamma, beta = self.params["gamma"], self.params["beta"]
        if not training:
            self._cache = {}
            inv_std = 1 / np.sqrt(self.state["running_var"] + Z.dtype.type(self.epsilon))
            return (Z - self.state["running_mean"]) * (gamma * inv_std) + beta
        if self._hot:
            return self._forward_hot(Z)
        mu = Z.mean(axis=0)
        x_hat = Z - mu
        var = np.einsum("ij,ij->j", x_hat, x_hat) / Z.dtype.type(Z.shape[0])
        inv_std = 1 / np.sqrt(var + Z.dtype.type(self.epsilon))
        x_hat *= inv_std
        keep = self.momentum
        self.state["running_mean"] *= keep
        self.state["running_mean"] += (1 - keep) * mu
        self.state["running_var"] *= keep
        self.state["running_var"] += (1 - keep) * var
        self._cache = {"x_hat": x_hat, "inv_std": inv_std}
        return x_hat * gamma + beta

    def _forward_hot(self, Z: np.ndarray) -> np.ndarray:
        """The training forward above, every array written into this layer's buffers."""
        dt, n = Z.dtype, Z.shape[1]
        mu = np.mean(Z, axis=0, out=self._buffer("mu", (n,), dt))
        x_hat = np.subtract(Z, mu, out=self._buffer("x_hat", Z.shape, dt))
        var = np.einsum("ij,ij->j", x_hat, x_hat, out=self._buffer("var", (n,), dt))
        var /= dt.type(Z.shape[0])
        inv_std = np.add(var, dt.type(self.epsilon), out=self._buffer("inv_std", (n,), dt))
        np.divide(1, np.sqrt(inv_std, out=inv_std), out=inv_std)
        x_hat *= inv_std
        keep, tmp = self.momentum, self._buffer("tmp", (n,), dt)
        self.state["running_mean"] *= keep
        self.state["running_mean"] += np.multiply(mu, 1 - keep, out=tmp)
        self.state["running_var"] *= keep
        self.state["running_var"] += np.multiply(var, 1 - keep, out=tmp)
        self._cache = {"x_hat": x_hat, "inv_std": inv_std}
        out = np.multiply(x_hat, self.params["gamma"], out=self._buffer("out", Z.shape, dt))
        out += self.params["beta"]
        return out

    def backward(self, dY: np.ndarray) -> np.ndarray:
        x_hat, inv_std = self.cached("x_hat"), self._cache["inv_std"]
        if not self._hot:
            dY = self._gradient(dY, x_hat.shape, x_hat.dtype, "dY").astype(x_hat.dtype,
                                                                            copy=False)
        m = dY.shape[0]
        np.einsum("ij,ij->j", dY, x_hat, out=self.grads["gamma"])
        np.sum(dY, axis=0, out=self.grads["beta"])
        # dx_hat = dY * gamma, folded into the per-column sums:
        if self._hot:
            dt, n = dY.dtype, dY.shape[1]
            g_inv = np.multiply(self.params["gamma"], inv_std, out=self._buffer("g_inv", (n,), dt))
            T = np.multiply(x_hat, np.divide(self.grads["gamma"], m,
                                             out=self._buffer("tmp", (n,), dt)),
                            out=self._buffer("T", dY.shape, dt))
            T += np.divide(self.grads["beta"], m, out=self._buffer("tmp", (n,), dt))
            dZ = np.subtract(dY, T, out=dY)
            dZ *= g_inv
            return dZ
        g_inv = self.params["gamma"] * inv_std
        dZ = dY - (self.grads["beta"] / m + x_hat * (self.grads["gamma"] / m))
        dZ *= g_inv
        return dZ
