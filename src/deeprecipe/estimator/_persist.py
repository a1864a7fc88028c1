"""How a fitted estimator goes into model.json + model.npz and comes back (for persistence).

The JSON part: the JSON-able ``get_params()`` (others, e.g. a Generator as random_state, are
listed as unsaved), the fitted attributes (``classes_`` with its dtype, ``history_``,
``target_mean_``...) and the shuffling stream's state; the arrays: the optimizer's state, so
``partial_fit`` continues exactly.
"""

from __future__ import annotations

import numpy as np

from deeprecipe.engine.network import Sequential
from deeprecipe.errors import InvalidTypeError, NotFittedError
from deeprecipe.optimize.history import History
from deeprecipe.optimize.optimizers import optimizer_from_config
from deeprecipe.persistence import jsonable

__all__ = ["model_doc", "restore"]

#: Fitted attributes stored as plain JSON values (float64 arrays as lists).
_FITTED = ("n_features_in_", "n_iter_", "loss_curve_", "validation_scores_",
           "best_validation_score_", "n_outputs_", "_y_ndim", "target_mean_", "target_scale_")
_FITTED_ARRAYS = ("target_mean_", "target_scale_")


def model_doc(model) -> tuple[dict, dict[str, np.ndarray]]:
    """(JSON-able parameters and fitted attributes, optimizer arrays) of a fitted estimator."""
    params, unsaved = {}, []
    for name, value in model.get_params(deep=False).items():
        value = list(value) if isinstance(value, tuple) else value
        if jsonable(value):
            params[name] = value
        else:
            unsaved.append(name)  # e.g. a Generator as random_state
    fitted = {k: getattr(model, k) for k in _FITTED if hasattr(model, k)}
    fitted.update({k: np.asarray(fitted[k]).tolist() for k in _FITTED_ARRAYS if k in fitted})
    if hasattr(model, "classes_"):
        classes = np.asarray(model.classes_)
        fitted["classes_"] = {"values": classes.tolist(), "dtype": classes.dtype.str}
    if hasattr(model, "feature_names_in_"):
        fitted["feature_names_in_"] = np.asarray(model.feature_names_in_).tolist()
    if getattr(model, "history_", None) is not None:
        fitted["history_"] = model.history_.to_dict()
    rng = getattr(model, "_rng", None)  # the shuffling stream partial_fit continues
    fitted["rng_state"] = None if rng is None else rng.bit_generator.state
    if not jsonable(fitted):
        raise InvalidTypeError("the fitted attributes (e.g. classes_) of this "
                               f"{type(model).__name__} cannot be stored as JSON")
    doc = {"params": params, "unsaved_params": unsaved, "fitted": fitted, "optimizer": None}
    arrays = {}
    opt = getattr(model, "_optimizer", None)
    if opt is not None:
        try:
            arrays = {f"optimizer/{k}": a for k, a in opt.state_dict().items()}
            doc["optimizer"] = opt.get_config()
        except NotFittedError:  # never stepped: a fresh one is made when needed
            arrays = {}
    return doc, arrays


def restore(cls: type, info: dict, net: Sequential, opt_arrays: dict):
    """A fitted ``cls`` from :func:`model_doc`'s output and the saved network."""
    params = {k: tuple(v) if isinstance(v, list) else v for k, v in info["params"].items()}
    model = cls(**params)
    fitted = info["fitted"]
    for key in _FITTED:
        if key in fitted:
            value = fitted[key]
            setattr(model, key, np.asarray(value, dtype=np.float64)
                    if key in _FITTED_ARRAYS else value)
    if cls.__name__ == "DeepRegressor" and "target_mean_" not in fitted:  # saved before
        model.target_mean_ = np.zeros(model.n_outputs_)  # the target was standardized
        model.target_scale_ = np.ones(model.n_outputs_)
    if "classes_" in fitted:
        c = fitted["classes_"]
        model.classes_ = np.asarray(c["values"], dtype=np.dtype(c["dtype"]))
    if "feature_names_in_" in fitted:
        model.feature_names_in_ = np.asarray(fitted["feature_names_in_"], dtype=object)
    if "history_" in fitted:
        model.history_ = History.from_dict(fitted["history_"])
    if fitted.get("rng_state") is not None:
        model._rng = np.random.default_rng()
        model._rng.bit_generator.state = fitted["rng_state"]
    if info.get("optimizer") is not None:
        model._optimizer = optimizer_from_config(info["optimizer"])
        model._optimizer.init(net.params)
        model._optimizer.load_state_dict(opt_arrays)
    model.network_ = net
    return model
