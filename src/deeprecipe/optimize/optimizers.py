"""Optimizers: small stateful objects that update parameters in place.

Protocol (STYLE.md 2.4): ``__init__`` validates the hyperparameters; ``init(params)`` allocates
the state once (t = 0, one zeros_like array per slot and parameter, one scratch array);
``step(params, grads)`` increments t *first* (the first bias correction uses t = 1), then updates
every parameter in place with one fused loop (``_kernels``: numba, one pass over the parameter,
its gradient and its state; with DEEPRECIPE_NUM_THREADS=2, ``engine/_parallel`` gives half of
the elements to a helper thread), allocating no arrays. ``learning_rate`` is a plain float
attribute that schedules and "panda" nudges set between steps. The state is plain named arrays
(``state_dict``), the configuration plain JSON (``get_config``).
"""

from __future__ import annotations

import inspect
import math

import numpy as np

from deeprecipe._typing import Params
from deeprecipe._validation import check_choice, check_dict, check_in_range, registered_class
from deeprecipe.engine import _kernels
from deeprecipe.errors import (
    CheckpointError,
    ConfigError,
    InvalidTypeError,
    InvalidValueError,
    NotFittedError,
)
from deeprecipe.optimize._plan import StepPlan, run_copied

__all__ = ["Optimizer", "GradientDescent", "Momentum", "RMSprop", "Adam", "OPTIMIZERS",
           "make_optimizer", "optimizer_with", "optimizer_from_config"]


_FLUSH_EVERY = 64
_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
_KEYED = "of arrays keyed like net.params"


def _beta(name: str, value: float) -> float:
    return float(check_in_range(name, value, low=0.0, high=1.0, closed="left"))


def _positive(name: str, value: float) -> float:
    return float(check_in_range(name, value, low=0.0, closed="neither"))


def _check_params(params: Params) -> None:
    """Every parameter a writeable float32/float64 ndarray (the update is in place)."""
    for k, p in check_dict("params", params, _KEYED).items():
        if not (isinstance(p, np.ndarray) and p.dtype in _FLOAT_DTYPES):
            got = p.dtype if isinstance(p, np.ndarray) else type(p).__name__
            raise InvalidTypeError(f"params[{k!r}] must be a float32 or float64 ndarray "
                                   f"(updated in place), got {got}")
        if not p.flags.writeable:
            raise InvalidValueError(f"params[{k!r}] is read-only; the optimizer updates it "
                                    "in place")


class Optimizer:
    """Base class: updates parameters in place from their gradients; owns per-parameter state.

    Subclasses name their state arrays in ``slots`` and implement ``step``.
    """

    slots: tuple[str, ...] = ()

    def __init__(self, learning_rate: float) -> None:
        self.learning_rate = learning_rate
        self.t = 0
        self._tmp: Params | None = None
        self._plan: StepPlan | None = None  # see _update

    @property
    def learning_rate(self) -> float:
        """The step size alpha; a plain float that schedules and nudges set (validated > 0)."""
        return self._learning_rate

    @learning_rate.setter
    def learning_rate(self, value: float) -> None:
        self._learning_rate = _positive("learning_rate", value)

    def init(self, params: Params) -> None:
        """Allocate the state once: t = 0, C-ordered zeros per slot and parameter, scratch."""
        _check_params(params)
        self.t = 0
        for slot in (*self.slots, "_tmp"):
            setattr(self, slot, {k: np.zeros(p.shape, p.dtype) for k, p in params.items()})
        self._plan = None

    def _flush_tiny_state(self) -> None:
        """Every _FLUSH_EVERY steps set state entries with |x| < tiny * 1e8 to exactly 0.

        A moment whose gradient stays 0 (an input pixel that is never lit) decays
        geometrically into the subnormal range, where every CPU operation on it is many times
        slower (measured: Adam 45% slower by epoch 3 on MNIST). Such values cannot move a
        parameter (their update is < 1e-22 * learning_rate), so flushing them changes nothing
        visible; decay by beta >= 0.9 takes > 170 steps from the threshold to subnormals.
        """
        if self.t % _FLUSH_EVERY:
            return
        for slot in self.slots:
            for k, a in getattr(self, slot).items():
                tmp = self._tmp[k]
                threshold = np.finfo(a.dtype).tiny * 1e8
                np.abs(a, out=tmp)
                np.greater_equal(tmp, threshold, out=tmp, casting="unsafe")
                a *= tmp

    def _update(self, kernel, params: Params, grads: Params, *scalars: float) -> None:
        """``kernel(p, g, *slots, *scalars)`` on flat views of every parameter, in place
        (``_plan``: the views are made once while the same arrays come back)."""
        plan = self._plan
        if plan is None or plan.kernel is not kernel or not plan.holds(params, grads):
            plan = self._plan = StepPlan(kernel, params, grads, self._slot_dicts())
        if plan.parts is not None:
            plan.run(scalars)
        else:
            run_copied(kernel, params, grads, self._slot_dicts(), scalars)

    def _slot_dicts(self) -> list[Params]:
        return [getattr(self, slot) for slot in self.slots]

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()  # copies and pickles must not keep views of the original
        state["_plan"] = None
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._plan = None

    def _check(self, params: Params, grads: Params) -> None:
        """Cheap per-step checks (no array allocation): initialised, same keys and shapes
        (nothing to check for the very arrays that the last step's plan was made for)."""
        if self._plan is not None and self._plan.holds(params, grads):
            return
        if self._tmp is None:
            raise NotFittedError(f"{type(self).__name__}.step() needs init(params) first")
        _check_params(params)
        check_dict("grads", grads, _KEYED)
        if params.keys() != self._tmp.keys():
            raise InvalidValueError(f"params keys {sorted(params)} differ from the keys given "
                                    f"to init(): {sorted(self._tmp)}")
        for k, p in params.items():
            g = grads.get(k)
            if g is not None and not (isinstance(g, np.ndarray) and g.dtype.kind in "fiub"):
                got = g.dtype if isinstance(g, np.ndarray) else type(g).__name__
                raise InvalidTypeError(f"grads[{k!r}] must be a real ndarray, got {got}")
            if g is None or g.shape != p.shape:
                got = "missing" if g is None else f"shape {g.shape}"
                raise InvalidValueError(f"grads[{k!r}] must have shape {p.shape}, got {got}")

    def step(self, params: Params, grads: Params) -> None:
        """Update ``params`` in place from ``grads`` (same keys and shapes)."""
        raise NotImplementedError  # abstractmethod: every optimizer defines it

    def get_config(self) -> dict:
        """JSON configuration: {"type": ClassName, "learning_rate": ..., hyperparameters}."""
        return {"type": type(self).__name__, "learning_rate": self.learning_rate}

    def load_config(self, config: dict) -> None:
        """Take the hyperparameters of :meth:`get_config` output of the same optimizer type."""
        check_dict("config", config, "from get_config()", CheckpointError)
        if config.get("type") != type(self).__name__:
            raise CheckpointError(f"the saved optimizer is {config.get('type')!r}, this one is "
                                  f"{type(self).__name__!r}; resume with the same optimizer")
        settings = {k: v for k, v in config.items() if k != "type"}
        if settings.keys() != self.get_config().keys() - {"type"}:
            raise CheckpointError(f"the saved {type(self).__name__} has the settings "
                                  f"{sorted(settings)}, expected {sorted(self.get_config())}")
        checked = type(self)(**settings)  # each value through the constructor's checks
        for key in settings:
            setattr(self, key, getattr(checked, key))

    def state_dict(self) -> dict[str, np.ndarray]:
        """Flat arrays (copies) for np.savez: {"t": array(t), "v/0.W": ..., ...}."""
        if self._tmp is None:
            raise NotFittedError(f"{type(self).__name__}.state_dict() needs init(params) first")
        state = {"t": np.asarray(self.t, dtype=np.int64)}
        for slot in self.slots:
            state.update({f"{slot}/{k}": a.copy() for k, a in getattr(self, slot).items()})
        return state

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Copy a :meth:`state_dict` into the state allocated by ``init`` (CheckpointError)."""
        name = type(self).__name__
        if self._tmp is None:
            raise NotFittedError(f"{name}.load_state_dict() needs init(params) first")
        check_dict("state", state, "from state_dict()", CheckpointError)
        expected = {"t"} | {f"{s}/{k}" for s in self.slots for k in self._tmp}
        missing, extra = sorted(expected - set(state)), sorted(set(state) - expected)
        if missing or extra:
            raise CheckpointError(f"{name} state does not match the parameters: missing "
                                  f"{missing}, unexpected {extra}")
        t = np.asarray(state["t"])
        if t.shape != () or t.dtype.kind not in "iu" or int(t) < 0:
            raise CheckpointError(f"{name} state 't' must be an integer >= 0, got {t!r}")
        for slot in self.slots:
            for k, a in getattr(self, slot).items():
                new = np.asarray(state[f"{slot}/{k}"])
                if new.shape != a.shape or new.dtype != a.dtype:
                    raise CheckpointError(
                        f"{name} state '{slot}/{k}' must have shape {a.shape} and dtype "
                        f"{a.dtype}, got shape {new.shape} and dtype {new.dtype}")
        for slot in self.slots:
            for k, a in getattr(self, slot).items():
                np.copyto(a, state[f"{slot}/{k}"])
        self.t = int(t)

    def __repr__(self) -> str:
        cfg = self.get_config()
        args = ", ".join(f"{k}={v!r}" for k, v in cfg.items() if k != "type")
        return f"{cfg['type']}({args})"


class GradientDescent(Optimizer):
    """W -= learning_rate * dW (plain, mini-batch or stochastic gradient descent).

    Examples
    --------
    >>> params, grads = {"W": np.array([1.0, -2.0])}, {"W": np.array([0.5, -1.0])}
    >>> opt = GradientDescent(learning_rate=0.1); opt.init(params); opt.step(params, grads)
    >>> params["W"].tolist()
    [0.95, -1.9]
    """

    def __init__(self, learning_rate: float = 0.01) -> None:
        super().__init__(learning_rate)

    def step(self, params: Params, grads: Params) -> None:
        self._check(params, grads)
        self.t += 1
        self._update(_kernels.sgd_, params, grads, self.learning_rate)


class Momentum(Optimizer):
    """v = beta * v + (1 - beta) * dW;  W -= learning_rate * v   (form="ema", the lecture's).

    With ``form="sum"``: v = beta * v + dW; W -= learning_rate * v, which is PyTorch's
    ``SGD(momentum=beta)`` (dampening 0); its steady-state step is 1 / (1 - beta) times larger,
    so use a learning rate (1 - beta) times smaller for the same behaviour. v = 0 at t = 0; no
    bias correction (the lecture: after ~10 steps with beta = 0.9 it makes no difference).
    """

    slots = ("v",)
    FORMS = ("ema", "sum")

    def __init__(self, learning_rate: float = 0.01, beta: float = 0.9,
                 form: str = "ema") -> None:
        super().__init__(learning_rate)
        self.beta = _beta("beta", beta)
        self.form = check_choice("form", form, self.FORMS)

    def step(self, params: Params, grads: Params) -> None:
        self._check(params, grads)
        self.t += 1
        c = 1.0 - self.beta if self.form == "ema" else 1.0
        self._update(_kernels.momentum_, params, grads, self.beta, c, self.learning_rate)
        self._flush_tiny_state()

    def get_config(self) -> dict:
        return {**super().get_config(), "beta": self.beta, "form": self.form}


class RMSprop(Optimizer):
    """s = beta2 * s + (1 - beta2) * dW**2;  W -= learning_rate * dW / (sqrt(s) + epsilon).

    s = 0 at t = 0 and there is no bias correction (Hinton's lecture 6e; PyTorch's
    ``RMSprop(alpha=beta2, eps=epsilon)``). epsilon is added *outside* the square root.
    The default beta2 = 0.999 is the lecture's beta2 (Keras uses 0.9, PyTorch 0.99); with
    s starting at 0 the first steps are larger by up to 1 / sqrt(1 - beta2) (~32 at 0.999).
    """

    slots = ("s",)

    def __init__(self, learning_rate: float = 1e-3, beta2: float = 0.999,
                 epsilon: float = 1e-8) -> None:
        super().__init__(learning_rate)
        self.beta2 = _beta("beta2", beta2)
        self.epsilon = _positive("epsilon", epsilon)

    def step(self, params: Params, grads: Params) -> None:
        self._check(params, grads)
        self.t += 1
        self._update(_kernels.rmsprop_, params, grads, self.beta2, 1.0 - self.beta2,
                     self.learning_rate, self.epsilon)
        self._flush_tiny_state()

    def get_config(self) -> dict:
        return {**super().get_config(), "beta2": self.beta2, "epsilon": self.epsilon}


class Adam(Optimizer):
    """W -= learning_rate * v_hat / (sqrt(s_hat) + epsilon), bias-corrected moments.

    v = beta1 * v + (1 - beta1) * dW;  s = beta2 * s + (1 - beta2) * dW**2;  v = s = 0 at t = 0
    v_hat = v / (1 - beta1**t);  s_hat = s / (1 - beta2**t);  t = 1, 2, ... counts steps.

    epsilon is added *outside* the square root, as in Kingma & Ba (2014), Algorithm 1, PyTorch
    ``torch.optim.Adam`` and optax ``adam``. The lecture writes sqrt(s_hat + epsilon) (epsilon
    inside), and Keras/sklearn add epsilon to sqrt(s) before correcting (the paper's eps-hat);
    the three differ only when sqrt(s_hat) is comparable to epsilon. Defaults are the lecture's
    beta1 = 0.9, beta2 = 0.999, epsilon = 1e-8. The first step is learning_rate * sign(dW)
    (for |dW| >> epsilon).

    Examples
    --------
    >>> params, grads = {"W": np.array([1.0, 1.0])}, {"W": np.array([3.0, -0.2])}
    >>> opt = Adam(learning_rate=0.1); opt.init(params); opt.step(params, grads)
    >>> params["W"].round(6).tolist()
    [0.9, 1.1]
    """

    slots = ("v", "s")

    def __init__(self, learning_rate: float = 1e-3, beta1: float = 0.9, beta2: float = 0.999,
                 epsilon: float = 1e-8) -> None:
        super().__init__(learning_rate)
        self.beta1 = _beta("beta1", beta1)
        self.beta2 = _beta("beta2", beta2)
        self.epsilon = _positive("epsilon", epsilon)

    def step(self, params: Params, grads: Params) -> None:
        self._check(params, grads)
        self.t = t = self.t + 1
        step_size = self.learning_rate / (1.0 - self.beta1**t)  # learning_rate / (1 - beta1**t)
        sqrt_c2 = math.sqrt(1.0 - self.beta2**t)  # sqrt(s_hat) = sqrt(s) / sqrt(1 - beta2**t)
        # v_hat / (sqrt(s_hat) + epsilon) = sqrt_c2 * v_hat / (sqrt(s) + epsilon * sqrt_c2):
        # the same update without a per-element division by sqrt_c2 (equal up to rounding)
        self._update(_kernels.adam_, params, grads, self.beta1, 1.0 - self.beta1, self.beta2,
                     1.0 - self.beta2, step_size * sqrt_c2, self.epsilon * sqrt_c2)
        self._flush_tiny_state()

    def get_config(self) -> dict:
        return {**super().get_config(), "beta1": self.beta1, "beta2": self.beta2,
                "epsilon": self.epsilon}


OPTIMIZERS: dict[str, type[Optimizer]] = {
    "gd": GradientDescent, "momentum": Momentum, "rmsprop": RMSprop, "adam": Adam,
}


def make_optimizer(name: str, **kwargs) -> Optimizer:
    """The optimizer registered as ``name`` ("gd", "momentum", "rmsprop", "adam").

    >>> make_optimizer("adam", learning_rate=0.01)
    Adam(learning_rate=0.01, beta1=0.9, beta2=0.999, epsilon=1e-08)
    """
    cls = OPTIMIZERS[check_choice("optimizer", name, tuple(OPTIMIZERS))]
    return cls(**kwargs)


def optimizer_with(name: str, learning_rate: float, **hyperparameters) -> Optimizer:
    """The optimizer ``name`` with those of ``hyperparameters`` it takes: beta for momentum,
    beta2 and epsilon for RMSprop, beta1, beta2 and epsilon for Adam (from a config or an
    estimator that holds them all).

    >>> optimizer_with("rmsprop", 0.01, beta=0.5, beta1=0.8, beta2=0.99, epsilon=1e-7)
    RMSprop(learning_rate=0.01, beta2=0.99, epsilon=1e-07)
    """
    cls = OPTIMIZERS[check_choice("optimizer", name, tuple(OPTIMIZERS))]
    takes = inspect.signature(cls).parameters
    return cls(learning_rate=learning_rate,
               **{k: v for k, v in hyperparameters.items() if k in takes})


def optimizer_from_config(cfg: dict) -> Optimizer:
    """Rebuild an optimizer from :meth:`Optimizer.get_config` (type: class or registry name).

    >>> optimizer_from_config(Momentum(0.1, form="sum").get_config())
    Momentum(learning_rate=0.1, beta=0.9, form='sum')
    """
    cls, kwargs = registered_class("optimizer", cfg, OPTIMIZERS)
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise ConfigError(f"bad {cls.__name__} config {cfg!r}: {exc}") from None
