"""The layer protocol: configuration in dataclass fields, arrays in dicts.

build(n_in, rng, dtype) -> n_out creates ``params`` (trainable), ``grads`` (same keys, shapes,
dtypes) and ``state`` (non-trainable, e.g. BatchNorm running statistics).
forward(X, training=False) caches what backward needs only when training, in one slot.
backward(dY) -> dX overwrites ``grads`` and returns the gradient with respect to the input.

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
from deeprecipe.engine._workspace import Workspace
from deeprecipe.errors import NotFittedError

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
        """Create arrays for input width ``n_in``; parameter-free layers keep the width."""
        self.rng = rng
        self.n_in = n_in
        self.dtype = np.dtype(dtype)
        return n_in

    def footprint(self, n_in: int) -> tuple[str, tuple[int, ...]] | None:
        """(what, shape) of the scalars ``build(n_in)`` allocates, counted with the gradients
        and up to two optimizer moments per parameter, as build checks them; None: nothing.
        A Sequential sums these over its layers before building any."""
        return None

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
