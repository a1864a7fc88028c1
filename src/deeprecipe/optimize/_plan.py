"""How an optimizer's fused kernel reaches the arrays: flat views made once, then reused.

``kernel(p, g, *slots, *scalars)`` (``engine/_kernels``) updates one parameter in place from
1-D C-contiguous arrays of one float dtype. A :class:`StepPlan` holds the flat views of every
parameter, its gradient and its state, and their split over two threads
(``engine/_parallel``: element-wise, so no bit changes), as long as the same arrays come back.
A strided parameter or a gradient of another dtype or layout has no plan; ``run_copied``
updates it through a contiguous copy (correct, not allocation-free; the networks' own
parameters never need it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from deeprecipe._typing import Params
from deeprecipe.engine import _parallel

__all__ = ["StepPlan", "run_copied"]


class StepPlan:
    """The kernel's arguments for one set of (params, grads) arrays and the state ``slots``."""

    def __init__(self, kernel: Callable, params: Params, grads: Params,
                 slots: Sequence[Params]) -> None:
        self.kernel = kernel
        self.pairs = [(p, grads[k]) for k, p in params.items()]
        dtypes = {a.dtype for pair in self.pairs for a in pair}
        self.dtype = dtypes.pop() if len(dtypes) == 1 else None
        self.parts = None  # None: the arrays need run_copied
        if self.dtype is not None and all(a.flags.c_contiguous for pair in self.pairs
                                          for a in pair):
            views = [tuple(a.reshape(-1) for a in (p, grads[k], *(s[k] for s in slots)))
                     for k, p in params.items()]
            self.parts = _parallel.split_work(views, _parallel.split_threads())

    def holds(self, params: Params, grads: Params) -> bool:
        """True if ``params`` and ``grads`` hold exactly this plan's arrays, in order."""
        if len(self.pairs) != len(params):
            return False
        for (p0, g0), (k, p) in zip(self.pairs, params.items(), strict=True):
            if p is not p0 or grads.get(k) is not g0:
                return False
        return True

    def run(self, scalars: Sequence[float]) -> None:
        """The kernel on every planned array, the scalars in the arrays' dtype."""
        _parallel.run_split(self.kernel, self.parts, [self.dtype.type(x) for x in scalars])


def run_copied(kernel: Callable, params: Params, grads: Params, slots: Sequence[Params],
               scalars: Sequence[float]) -> None:
    """The kernel on contiguous copies of p and g (the scalars in each p's dtype), written
    back into p; the state arrays are the optimizer's own C-ordered ones."""
    for k, p in params.items():
        args = [p.dtype.type(x) for x in scalars]
        p_c, g_c = np.ascontiguousarray(p), np.ascontiguousarray(grads[k], dtype=p.dtype)
        kernel(p_c.reshape(-1), g_c.reshape(-1), *(s[k].reshape(-1) for s in slots), *args)
        if p_c is not p:
            np.copyto(p, p_c)
