"""Gradient checking: backprop's dJ/dtheta against two-sided differences, per parameter."""

from __future__ import annotations

import numbers
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace

import numpy as np

from deeprecipe._random import as_seed_sequence
from deeprecipe._typing import Params, RandomState
from deeprecipe._validation import check_bool, check_dict, check_in_range, check_int
from deeprecipe.engine.layers import Dropout
from deeprecipe.engine.losses import Loss
from deeprecipe.engine.network import Sequential
from deeprecipe.errors import InvalidTypeError, InvalidValueError

__all__ = ["gradient_check", "check_gradients", "GradientCheckReport", "verdict", "FAILED"]

GREAT, BUG = 1e-7, 1e-3
NOT_FINITE = "not finite"  # NaN or inf in J, in backprop's gradient or in the differences
FAILED = ("bug", NOT_FINITE)  # the verdicts a check fails on


def verdict(error: float) -> str:
    """The notes' reading: < 1e-7 great; ~1e-5 check it; >= 1e-3 almost surely a bug; NaN or
    inf is its own verdict, "not finite" (never great).

    >>> verdict(3e-9), verdict(2e-6), verdict(1e-2), verdict(float("nan"))
    ('great', 'check', 'bug', 'not finite')
    """
    if isinstance(error, bool) or not isinstance(error, numbers.Real):
        raise InvalidTypeError(f"error must be a real number, got {error!r:.80}")
    if not np.isfinite(error):
        return NOT_FINITE
    if error < GREAT:
        return "great"
    if error < BUG:
        return "check"
    return "bug"


@dataclass(frozen=True)
class GradientCheckReport(Mapping):
    """Relative errors ||d_approx - d|| / (||d_approx|| + ||d||), overall and per parameter.

    Behaves as a read-only dict {parameter name: error}; ``overall`` is the error of the
    concatenated theta, ``checked``/``total`` count the components compared and ``examples``
    the rows of X the cost was computed on (None when not known: ``check_gradients``).
    """

    errors: dict[str, float]
    overall: float
    checked: dict[str, int] = field(default_factory=dict)
    total: dict[str, int] = field(default_factory=dict)
    epsilon: float = 1e-7
    examples: int | None = None

    def __getitem__(self, key: str) -> float:
        return self.errors[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.errors)

    def __len__(self) -> int:
        return len(self.errors)

    @property
    def verdict(self) -> str:
        return verdict(self.overall)

    @property
    def n_checked(self) -> int:
        return sum(self.checked.values())

    @property
    def n_total(self) -> int:
        return sum(self.total.values())

    def worst(self) -> str:
        """The parameter with the largest error: where to look for the bug."""
        return max(self.errors, key=self.errors.get)

    def to_dict(self) -> dict:
        return {"overall": self.overall, "verdict": self.verdict, "epsilon": self.epsilon,
                "parameters": {k: {"error": e, "verdict": verdict(e),
                                   "checked": self.checked.get(k), "total": self.total.get(k)}
                               for k, e in self.errors.items()}}

    def __str__(self) -> str:
        rows = [f"{'parameter':<12}{'checked':>14}{'rel. error':>12}  verdict"]
        for k, e in self.errors.items():
            rows.append(f"{k:<12}{f'{self.checked[k]}/{self.total[k]}':>14}{e:>12.2e}  "
                        f"{verdict(e)}")
        rows.append(f"{'overall':<12}{f'{self.n_checked}/{self.n_total}':>14}"
                    f"{self.overall:>12.2e}  {self.verdict}")
        return "\n".join(rows)


def _relative(approx: np.ndarray, exact: np.ndarray) -> float:
    """||approx - exact|| / (||approx|| + ||exact||); NaN if either holds NaN or inf."""
    if not (np.isfinite(approx).all() and np.isfinite(exact).all()):
        return float("nan")
    denom = np.linalg.norm(approx) + np.linalg.norm(exact)
    return float(np.linalg.norm(approx - exact) / denom) if denom > 0 else 0.0


def _describe(a) -> str:
    return f"a {a.dtype} array of shape {a.shape}" if isinstance(a, np.ndarray) else repr(a)[:80]


def _check_arguments(cost, params, grads, indices) -> dict[str, np.ndarray]:
    """The flat component indices to check per parameter, once the arguments of
    ``check_gradients`` are found valid; InvalidTypeError / InvalidValueError otherwise."""
    if not callable(cost):
        raise InvalidTypeError(f"cost must be a function cost() -> J, got {cost!r:.80}")
    check_dict("params", params)
    check_dict("grads", grads)
    if indices is not None:
        check_dict("indices", indices, "of flat index arrays")
    if not params:
        raise InvalidValueError("params is empty: there is nothing to check")
    chosen = {}
    for name, p in params.items():
        if not (isinstance(p, np.ndarray) and p.dtype == np.float64 and p.flags.writeable):
            what = (f"a {type(p).__name__}" if not isinstance(p, np.ndarray) else
                    p.dtype.name if p.dtype != np.float64 else "read-only")
            raise InvalidTypeError("gradient checking needs float64 parameters; "
                                   f"{name!r} is {what}")
        g = grads.get(name)
        if not (isinstance(g, np.ndarray) and g.dtype.kind == "f" and g.shape == p.shape):
            raise InvalidTypeError(f"grads[{name!r}] must be a float array of shape {p.shape}, "
                                   f"got {_describe(g)}")
        if indices is None:
            chosen[name] = np.arange(p.size)
            continue
        flat = np.asarray(indices.get(name, ()))
        if not (flat.ndim == 1 and flat.size and flat.dtype.kind in "iu"
                and 0 <= flat.min() and flat.max() < p.size):
            raise InvalidValueError(f"indices[{name!r}] must be a non-empty 1-D array of flat "
                                    f"indices in [0, {p.size}), got {flat!r:.80}")
        chosen[name] = flat.astype(np.intp)
    return chosen


def _evaluate(cost: Callable[[], float]) -> float:
    J = cost()
    if isinstance(J, bool) or not isinstance(J, numbers.Real):
        raise InvalidTypeError(f"cost() must return a real number, got {J!r:.80}")
    return float(J)


def check_gradients(cost: Callable[[], float], params: Params, grads: Params, *,
                    epsilon: float = 1e-7, indices: dict[str, np.ndarray] | None = None
                    ) -> GradientCheckReport:
    """d_approx[i] = (J(theta + eps e_i) - J(theta - eps e_i)) / (2 eps), error O(eps^2).

    ``cost()`` re-evaluates J with the current params; params must be float64 and are restored.
    ``indices`` optionally limits each parameter to some flat component indices.
    """
    chosen = _check_arguments(cost, params, grads, indices)
    epsilon = check_in_range("epsilon", epsilon, low=0.0, high=1.0, closed="right")
    errors, checked, total, all_approx, all_exact = {}, {}, {}, [], []
    for name, p in params.items():
        flat_idx = chosen[name]
        approx = np.empty(len(flat_idx))
        for j, flat in enumerate(flat_idx):
            i = np.unravel_index(flat, p.shape)
            old = p[i]
            p[i] = old + epsilon
            j_plus = _evaluate(cost)
            p[i] = old - epsilon
            j_minus = _evaluate(cost)
            p[i] = old
            approx[j] = (j_plus - j_minus) / (2 * epsilon)
        exact = grads[name].reshape(-1)[flat_idx]
        if not np.isfinite(p).all():  # theta itself is NaN/inf: nothing here can be verified
            approx = np.full_like(approx, np.nan)
        errors[name] = _relative(approx, exact)
        checked[name], total[name] = len(flat_idx), p.size
        all_approx.append(approx)
        all_exact.append(exact)
    overall = _relative(np.concatenate(all_approx), np.concatenate(all_exact))
    return GradientCheckReport(errors, overall, checked, total, epsilon)


def gradient_check(net: Sequential, X, y, *, loss: str | Loss, l2: float = 0.0,
                   l1: float = 0.0, epsilon: float = 1e-7, max_components: int | None = 2000,
                   freeze_dropout: bool = False, random_state: RandomState = 0
                   ) -> GradientCheckReport:
    """Check a network's backprop (including the L2/L1 term) against two-sided differences.

    All parameters are flattened into one theta; each checked component i gets
    d_approx[i] = (J(theta + eps e_i) - J(theta - eps e_i)) / (2 eps), compared with backprop's
    d theta by ||d_approx - d|| / (||d_approx|| + ||d||), overall and per parameter, so a bug can
    be located. It runs on a float64 copy of ``net`` (the network is left untouched).

    Parameters
    ----------
    net : a built Sequential.
    X, y : a few examples (e.g. 8); BatchNorm uses their batch statistics.
    loss, l2, l1 : the cost J checked, penalty included.
    epsilon : the perturbation (1e-7 in float64).
    max_components : check about this many components in all, drawn at random in proportion
        to each parameter's size but at least 8 from each (None: all). The report says how
        many were checked.
    freeze_dropout : dropout makes J random; with keep_prob < 1 the check is refused unless the
        mask is frozen (one mask drawn and reused for every evaluation).

    Returns
    -------
    GradientCheckReport: a dict {parameter: relative error} plus ``overall`` and ``verdict``
    (< 1e-7 great, < 1e-3 check, else a bug; NaN/inf anywhere: "not finite").

    Examples
    --------
    >>> import deeprecipe as dr
    >>> rng = np.random.default_rng(0)
    >>> X, y = rng.normal(size=(8, 3)), rng.integers(0, 2, 8)
    >>> net = dr.Sequential([dr.layers.Dense(5), dr.layers.Tanh(), dr.layers.Dense(1),
    ...                      dr.layers.Sigmoid()], input_dim=3, random_state=0)
    >>> report = dr.gradient_check(net, X, y, loss="binary_crossentropy", l2=0.7)
    >>> report.verdict, report.overall < 1e-7
    ('great', True)
    """
    if not isinstance(net, Sequential):
        raise InvalidTypeError(f"net must be a deeprecipe Sequential, got {type(net).__name__}")
    epsilon = check_in_range("epsilon", epsilon, low=0.0, high=1.0, closed="right")
    l2 = check_in_range("l2", l2, low=0.0)
    l1 = check_in_range("l1", l1, low=0.0)
    freeze_dropout = check_bool("freeze_dropout", freeze_dropout)
    if max_components is not None:
        max_components = check_int("max_components", max_components, low=1)
    dropped = [layer for layer in net.layers
               if isinstance(layer, Dropout) and layer.keep_prob < 1.0]
    if dropped and not freeze_dropout:
        raise InvalidValueError(
            "gradient checking does not work with dropout (keep_prob < 1 makes J random): set "
            "keep_prob=1.0 or pass freeze_dropout=True to reuse one fixed mask")
    net64 = net.astype(np.float64)
    X64, Y, loss_obj = net64.prepare(X, y, loss)
    state0 = {k: s.copy() for k, s in net64.state.items()}
    for layer64, layer in zip(net64.layers, net.layers, strict=True):
        if layer.rng is not None:  # same dropout masks as the original network would draw
            layer64.rng = np.random.default_rng(as_seed_sequence(random_state).spawn(1)[0])

    indices = None
    n_total = sum(p.size for p in net64.params.values())
    if max_components is not None and n_total > max_components:
        rng = np.random.default_rng(as_seed_sequence(random_state))
        indices = {}
        for name, p in net64.params.items():
            k = min(p.size, max(8, round(max_components * p.size / n_total)))
            indices[name] = np.sort(rng.choice(p.size, size=k, replace=False))

    def cost() -> float:
        J = net64.prepared_cost(X64, Y, loss_obj, l2=l2, l1=l1, training=True).total
        return J

    with net64.frozen_dropout():
        net64.cost_and_gradients(X64, Y, loss_obj, l2=l2, l1=l1)
        grads = {k: g.copy() for k, g in net64.grads.items()}
        report = check_gradients(cost, net64.params, grads, epsilon=epsilon, indices=indices)
    net64.set_arrays(net64.params, state0)
    return replace(report, examples=len(X64))
