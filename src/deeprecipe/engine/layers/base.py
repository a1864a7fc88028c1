"""The layer protocol: configuration in dataclass fields, arrays in dicts.

build(n_in, rng, dtype) -> n_out creates ``params`` (trainable), ``grads`` (same keys, shapes,
dtypes) and ``state`` (non-trainable, e.g. BatchNorm running statistics).
forward(X, training=False) caches what backward needs only when training, in one slot.
backward(dY) -> dX overwrites ``grads`` and returns the gradient with respect to the input.
_footprint(n_in) tells the memory build(n_in) will take, so a Sequential can check all its layers'
total before it builds any. Public forward and backward calls check X and dY (``_input``,
``_gradient``: a DataError naming the argument, never a NumPy error); hot calls skip the checks.

Hot mode: ``Sequential.cost_and_gradients`` sets ``_hot = True`` on its layers for the length of
one training step. A hot layer writes its training output, dX and temporaries into its own
preallocated arrays (``_buffer``; valid until its next hot call) and may overwrite the incoming
dY, which in that step is always a scratch array of the network. Outside that step (the public
``forward``/``backward``, inference, custom code) every call returns fresh arrays, as before.
"""

from __future__ import annotations

import abc
import dataclasses
from typing import ClassVar

import numpy as np

from deeprecipe._typing import Params
from deeprecipe._validation import as_float_array, check_float_dtype, check_int
from deeprecipe.engine._workspace import Workspace
from deeprecipe.errors import DataError, InvalidTypeError, NotFittedError

__all__ = ["Layer"]


@dataclasses.dataclass(eq=False)
class Layer(abc.ABC):
    """Base for all layers: config in dataclass fields, arrays in dicts."""

    _hot = False  # True only inside Sequential.cost_and_gradients (see the module docstring)
    #: Config fields that may change on a built layer (a nudge); the rest fix its structure.
    hyperparameters: ClassVar[tuple[str, ...]] = ()
    _ws = None  # the Workspace of hot-mode arrays, created on first use

    def __post_init__(self) -> None:
        self.params: Params = {}
        self.grads: Params = {}
        self.state: Params = {}
        self._cache: dict[str, np.ndarray | None] = {}
        self.rng: np.random.Generator | None = None
        self.n_in: int | None = None
        self.n_out: int | None = getattr(self, "n_out", None)
        self.needs_input_grad = True

    def build(self, n_in: int, rng: np.random.Generator, dtype=np.float32) -> int:
        """Create arrays for input width ``n_in`` (an int >= 1) drawn from ``rng`` (a
        Generator) in ``dtype`` (float32 or float64); parameter-free layers keep the width."""
        n_in = check_int("n_in", n_in, low=1)
        if not isinstance(rng, np.random.Generator):
            raise InvalidTypeError("rng must be a numpy Generator (np.random.default_rng(seed)), "
                                   f"got {rng!r:.80}")
        self.dtype = check_float_dtype("dtype", dtype)
        self.rng = rng
        self.n_in = n_in
        return n_in

    def _footprint(self, n_in: int) -> tuple[str, tuple[int, ...]] | None:
        """(what, shape) of the scalars ``build(n_in)`` allocates, counted with the gradients
        and up to two optimizer moments per parameter, as build checks them; None: nothing.
        A Sequential sums these over its layers before building any."""
        return None

    def _input(self, X, name: str) -> np.ndarray:
        """``X`` of a public forward: a real (m, n) array, m and n >= 1, n the built input
        width; ints and bools become the layer's dtype (float64 before build); else DataError."""
        X = as_float_array(X, name, dtype=getattr(self, "dtype", np.float64), ndim=2)
        if X.size == 0 or self.n_in not in (None, X.shape[1]):
            want = f"(m, {self.n_in})" if self.n_in else "(m, n)"
            raise DataError(f"{type(self).__name__}.forward: {name} must have shape {want} with "
                            f"at least one row and column, got {X.shape}")
        return X

    def _gradient(self, dY, shape: tuple[int, ...], dtype, name: str) -> np.ndarray:
        """``dY`` of a public backward: a real array of ``shape`` (the last training forward's
        output); ints and bools become ``dtype``; else DataError."""
        dY = as_float_array(dY, name, dtype=dtype)
        if dY.shape != shape:
            raise DataError(f"{type(self).__name__}.backward: {name} must have shape {shape} (the "
                            f"output of the last training forward), got {dY.shape}")
        return dY

    @abc.abstractmethod
    def forward(self, X: np.ndarray, *, training: bool = False) -> np.ndarray:
        """Y = f(X); caches what backward needs only when ``training``."""

    @abc.abstractmethod
    def backward(self, dY: np.ndarray) -> np.ndarray:
        """dX from dY (holding the cost's 1/m); overwrites ``grads``."""

    def _unbuilt(self) -> NotFittedError:
        return NotFittedError(f"{type(self).__name__}.forward() needs build(n_in, rng) first "
                              "(a Sequential builds its layers)")

    def cached(self, name: str) -> np.ndarray | None:
        """The array the last training forward kept for backward."""
        if name not in self._cache:
            raise NotFittedError(f"{type(self).__name__}.backward() needs a preceding "
                                 "forward(X, training=True)")
        return self._cache[name]

    def clear_cache(self) -> None:
        self._cache = {}
        self._ws = None

    def _buffer(self, name: str, shape: tuple[int, ...], dtype) -> np.ndarray:
        """This layer's reusable scratch array ``name`` (hot mode only; see module docstring)."""
        ws = self._ws
        if ws is None:
            ws = self._ws = Workspace()
        return ws.get(name, shape, dtype)

    def get_config(self) -> dict:
        """JSON-serializable configuration: {"type": ClassName, **fields}."""
        return {"type": type(self).__name__, **dataclasses.asdict(self)}

    def __repr__(self) -> str:
        fields = ", ".join(f"{f.name}={getattr(self, f.name)!r}"
                           for f in dataclasses.fields(self))
        return f"{type(self).__name__}({fields})"
