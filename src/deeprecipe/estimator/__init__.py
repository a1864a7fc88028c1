"""The scikit-learn face: DeepClassifier and DeepRegressor over the NumPy engine.

``__init__`` only stores; ``fit`` validates every hyperparameter from one table (``runs.knobs``),
builds the network with ``engine.builders.build_mlp`` and trains it with ``optimize.Trainer``;
``fit`` and ``partial_fit`` share one ``_fit(X, y, incremental)``, as scikit-learn's MLP does.
Every public method after ``fit`` starts with ``check_is_fitted(self)``.

The class defaults (the knobs' ``estimator_default``) were chosen by
``benchmarks/bench_estimators.py`` (results in ``benchmarks/ESTIMATORS.md``): one hidden layer
of 100 ReLU units, Adam at 3e-3, l2=0.1, mini-batches of 200, at most 200 epochs with
scikit-learn's stop on a training-cost plateau.

A face: it may import everything below the workflows (engine, optimize, runs.knobs, persistence).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.metrics import r2_score
from sklearn.model_selection import train_test_split
from sklearn.utils.multiclass import check_classification_targets, unique_labels
from sklearn.utils.validation import check_is_fitted, validate_data

from deeprecipe.engine.builders import build_mlp
from deeprecipe.errors import DataError, InvalidValueError
from deeprecipe.estimator import _persist
from deeprecipe.estimator._callbacks import Converged, ValidationScore, shifted
from deeprecipe.estimator._params import (
    CHECKS,
    ESTIMATOR_SCHEDULES,
    PARAMETERS,
    seed_sequence,
    signature,
)
from deeprecipe.optimize.batches import clamp_batch_size
from deeprecipe.optimize.callbacks import EarlyStopping
from deeprecipe.optimize.history import History
from deeprecipe.optimize.optimizers import optimizer_with
from deeprecipe.optimize.schedules import make_schedule
from deeprecipe.optimize.trainer import Trainer
from deeprecipe.persistence import register_estimator

__all__ = ["DeepClassifier", "DeepRegressor", "ESTIMATOR_SCHEDULES"]

#: The class default of ``batch_size``: scikit-learn's 200, clipped to n_samples silently.
DEFAULT_BATCH_SIZE = PARAMETERS["batch_size"]


class _DeepEstimator(BaseEstimator):
    """Shared hyperparameters, validation and training loop of the two estimators."""

    _loss: str
    _output: str
    _monitor: str
    _stratified = False
    _y_kwargs: dict = {}

    def __init__(self, hidden_layer_sizes=PARAMETERS["hidden_layer_sizes"], **params) -> None:
        # stored as given; validated in fit() (sklearn's rule). The parameters are the knobs'
        # (runs.knobs) and the estimator's own: see PARAMETERS and the generated signature.
        unknown = sorted(set(params) - set(PARAMETERS))
        if unknown:
            raise TypeError(f"{type(self).__name__}() got an unexpected keyword argument "
                            f"{unknown[0]!r}")
        self.hidden_layer_sizes = hidden_layer_sizes
        for name, default in PARAMETERS.items():
            if name != "hidden_layer_sizes":
                setattr(self, name, params.get(name, default))

    __init__.__signature__ = signature(PARAMETERS)

    # -- files (persistence calls these; the estimator owns its fitted state) ---------------
    def _model_doc(self) -> tuple[dict, dict]:
        return _persist.model_doc(self)

    @classmethod
    def _from_model_doc(cls, doc: dict, network, arrays: dict) -> _DeepEstimator:
        return _persist.restore(cls, doc, network, arrays)

    # -- hyperparameters --------------------------------------------------------------------
    def _checked_params(self) -> dict:
        """Every hyperparameter through ``CHECKS``; InvalidValueError/InvalidTypeError."""
        p = {name: check(name, getattr(self, name)) for name, check in CHECKS.items()}
        p["lr_schedule"] = None
        if p["schedule"] is not None:
            registry, field = ESTIMATOR_SCHEDULES[p["schedule"]]
            try:
                p["lr_schedule"] = make_schedule(registry, lr0=p["learning_rate"],
                                                 **{field: p["decay_rate"]})
            except InvalidValueError as exc:
                raise InvalidValueError(f"decay_rate={p['decay_rate']!r} is not valid for "
                                        f"schedule={p['schedule']!r}: {exc}") from None
        return p

    def _make_optimizer(self, p: dict):
        return optimizer_with(p["optimizer"], p["learning_rate"], beta=p["beta"],
                              beta1=p["beta1"], beta2=p["beta2"], epsilon=p["epsilon"])

    @staticmethod
    def _resolve_batch_size(batch_size, m: int):
        clamped = clamp_batch_size(batch_size, m)
        if clamped != batch_size and batch_size != DEFAULT_BATCH_SIZE:
            warnings.warn(f"batch_size={batch_size} is larger than the {m} training samples; "
                          f"using batch_size={m}", UserWarning, stacklevel=4)
        return clamped

    # -- training ---------------------------------------------------------------------------
    def fit(self, X, y) -> _DeepEstimator:
        """Train a new network on (X, y) for at most ``epochs`` epochs.

        Training stops earlier when the training cost has not improved by 1e-4 for more than
        ``patience`` epochs, or with ``early_stopping`` when the validation cost has not.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) (or (n_samples, n_outputs) for the regressor)

        Returns
        -------
        self
        """
        return self._fit(X, y, incremental=False)

    def _fit(self, X, y, incremental: bool, classes=None) -> _DeepEstimator:
        """``fit`` (a new network, up to ``epochs`` epochs) or one more epoch (partial_fit)."""
        p = self._checked_params()
        first = not (incremental and hasattr(self, "network_"))
        X, y = validate_data(self, X, y, dtype=np.float32, reset=first, **self._y_kwargs)
        Y = self._encode_targets(y, first=first, classes=classes, partial=incremental)
        state = None
        if first:
            self._initialize(X.shape[1], p)
        else:  # the Trainer re-initializes the optimizer: carry Adam's moments and t over
            state = self._optimizer.state_dict()
        callbacks, dev, scorer = [], None, None
        if incremental:
            epochs, schedule = 1, shifted(p["lr_schedule"], self.n_iter_)
        else:
            epochs, schedule = p["epochs"], p["lr_schedule"]
            if p["early_stopping"]:
                X, Y, X_dev, Y_dev = self._split(X, Y, p)
                dev = (X_dev, Y_dev)
                scorer = ValidationScore(self._dev_score, X_dev, Y_dev)
                callbacks = [scorer, EarlyStopping(self._monitor, p["patience"])]
            else:
                callbacks = [Converged(p["patience"])]
        trainer = Trainer(self.network_, X, Y, loss=self._loss, optimizer=self._optimizer,
                          l2=p["l2"], l1=p["l1"], schedule=schedule,
                          batch_size=self._resolve_batch_size(p["batch_size"], len(X)),
                          validation_data=dev, callbacks=callbacks, random_state=self._rng,
                          verbose=bool(p["verbose"]))
        if state is not None:
            self._optimizer.load_state_dict(state)
        trainer.fit(epochs)
        self._record(trainer.history)
        if scorer is not None:
            self.validation_scores_ = scorer.scores
            best = callbacks[1].best_epoch or int(np.argmax(scorer.scores)) + 1
            self.best_validation_score_ = scorer.scores[best - 1]
        return self

    def _initialize(self, n_features: int, p: dict) -> None:
        net_seed, self._split_seed, train_seed = seed_sequence(p["random_state"]).spawn(3)
        self.network_ = build_mlp(n_features, p["hidden_layer_sizes"], self._n_outputs(),
                                  activation=p["activation"], init=p["init"],
                                  keep_prob=p["keep_prob"], batch_norm=p["batch_norm"],
                                  output=self._output, random_state=net_seed)
        self._optimizer = self._make_optimizer(p)
        self._rng = np.random.default_rng(train_seed)  # shuffles every fit/partial_fit call
        self.history_, self.loss_curve_, self.n_iter_ = History(), [], 0
        self.validation_scores_ = self.best_validation_score_ = None

    def _record(self, history: History) -> None:
        """Append one Trainer's history to ``history_``, epochs numbered from ``n_iter_``."""
        offset = self.n_iter_
        self.history_.epochs.extend({**r, "epoch": r["epoch"] + offset} for r in history.epochs)
        self.history_.steps.extend(history.steps, epoch_offset=offset)
        self.history_.events.extend({**e, "epoch": e["epoch"] + offset} for e in history.events)
        self.loss_curve_.extend(float(c) for c in history["cost"])
        self.n_iter_ = offset + len(history)

    def _network_output(self, X) -> np.ndarray:
        """The network's output for X, computed by a float64 copy of ``network_``: float32
        products round differently with the batch's size, and a sample's prediction must
        not depend on the other samples predicted with it (scikit-learn checks this)."""
        X = validate_data(self, X, reset=False, dtype=np.float64)
        return self.network_.astype(np.float64).predict_proba(X)

    def _split(self, X, Y, p: dict):
        m = len(X)
        n_dev = math.ceil(p["validation_fraction"] * m)
        if n_dev < 1 or m - n_dev < 1:
            raise DataError(f"early_stopping with validation_fraction={p['validation_fraction']}"
                            f" leaves no training or validation samples out of {m}")
        seed = int(self._split_seed.generate_state(1)[0])
        try:
            X, X_dev, Y, Y_dev = train_test_split(X, Y, test_size=n_dev, random_state=seed,
                                                  stratify=Y if self._stratified else None)
        except ValueError:  # a class too rare to stratify: plain random split
            X, X_dev, Y, Y_dev = train_test_split(X, Y, test_size=n_dev, random_state=seed)
        return X, Y, X_dev, Y_dev


@register_estimator
class DeepClassifier(ClassifierMixin, _DeepEstimator):
    """A fully connected network classifier (softmax output) with the scikit-learn API.

    Per hidden layer: Dense(h, init) [+ BatchNorm] + activation [+ Dropout(keep_prob)]; then
    Dense(n_classes) + Softmax (binary problems use a softmax over 2 units), trained on the
    categorical cross-entropy J + (l2/2m) sum ||W||^2 + (l1/m) sum |W|.

    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default=(100,)
    activation : {"relu", "leaky_relu", "tanh", "sigmoid"}, default="relu"
    init : {"he", "xavier", "glorot", "random", "zeros"}, default="he"
    l2 : float >= 0, default=0.1
    l1 : float >= 0, default=0.0
    keep_prob : float in (0, 1], default=1.0 (no dropout)
    batch_norm : bool, default=False
    optimizer : {"gd", "momentum", "rmsprop", "adam"}, default="adam"
    learning_rate : float > 0, default=3e-3
    beta : float, momentum's beta; beta1, beta2, epsilon : Adam's (beta2, epsilon: RMSprop's)
    batch_size : int, "auto" or None (full batch), default=200
        An int above n_samples is clipped to n_samples (with a warning, except the default).
        "auto" is the lecture's rule (full batch up to 2000 samples).
    epochs : int, default=200
        The most epochs ``fit`` runs.
    schedule : None or {"inverse_time", "exponential", "sqrt", "staircase"}, default=None
        Learning-rate decay per epoch; ``decay_rate`` is its decay rate (the base of
        "exponential", k of "sqrt").
    decay_rate : float, default=1.0
    early_stopping : bool, default=False
        False: stop when the epoch's training cost has not fallen below its lowest value so far
        minus 1e-4 for more than ``patience`` epochs (scikit-learn's rule), and keep the
        weights of the epoch with the lowest training cost. True: hold out
        ``validation_fraction`` of the data, stop when the validation cost has not improved
        for more than ``patience`` epochs, and keep the best epoch's weights.
    validation_fraction : float in (0, 1), default=0.1
    patience : int, default=10
    random_state : None, int, SeedSequence, Generator or RandomState, default=None
    verbose : bool, default=False

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,), the sorted labels (any type scikit-learn takes)
    network_ : Sequential (float32; predictions use a float64 copy)
    loss_curve_ : list of float, the training cost of each epoch
    validation_scores_ : list of float (validation accuracy per epoch) or None
    best_validation_score_ : float or None, the accuracy of the kept epoch
    n_iter_ : int, epochs run
    n_features_in_ : int
    history_ : History, per-epoch costs and errors, per-step costs and events

    Examples
    --------
    >>> from sklearn.datasets import make_blobs
    >>> X, y = make_blobs(n_samples=60, centers=2, random_state=0)
    >>> clf = DeepClassifier(random_state=0).fit(X, y)
    >>> clf.score(X, y) > 0.9, clf.predict_proba(X[:2]).shape
    (True, (2, 2))
    """

    _loss, _output, _monitor = "categorical_crossentropy", "softmax", "dev_cost"
    _stratified = True

    def partial_fit(self, X, y, classes=None) -> DeepClassifier:
        """One epoch over (X, y), keeping the network and optimizer state between calls.

        ``classes`` (every label) is required on the first call, as in scikit-learn; the
        first call without a previous ``fit`` builds the network. ``early_stopping`` is not
        used (there is no fixed validation set). Returns self.
        """
        return self._fit(X, y, incremental=True, classes=classes)

    def _encode_targets(self, y, *, first: bool, classes, partial: bool) -> np.ndarray:
        check_classification_targets(y)
        if first:
            if classes is None and partial:
                raise InvalidValueError("classes must be passed on the first call to "
                                        "partial_fit")
            self.classes_ = unique_labels(y) if classes is None else unique_labels(classes)
            if len(self.classes_) < 2:
                raise InvalidValueError(f"{type(self).__name__} needs at least 2 classes to "
                                        f"train; got 1 class: {self.classes_.tolist()!r}")
        elif classes is not None and not np.array_equal(unique_labels(classes), self.classes_):
            raise InvalidValueError(f"classes={classes!r} differs from the classes of the first "
                                    f"call, {self.classes_.tolist()!r}")
        unknown = ~np.isin(y, self.classes_)
        if np.any(unknown):
            raise InvalidValueError(f"y holds labels {np.unique(y[unknown]).tolist()!r} that "
                                    f"are not in classes_ {self.classes_.tolist()!r}")
        return np.searchsorted(self.classes_, y)

    def _n_outputs(self) -> int:
        return len(self.classes_)

    @staticmethod
    def _dev_score(net, X, Y) -> float:
        return float(np.mean(net.predict_proba(X).argmax(axis=1) == Y))

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities: the softmax output, rows summing to 1.

        Returns
        -------
        ndarray of shape (n_samples, n_classes), float64, columns ordered as ``classes_``
        """
        check_is_fitted(self)
        proba = self._network_output(X)
        proba /= proba.sum(axis=1, keepdims=True)
        return proba

    def predict(self, X) -> np.ndarray:
        """The most probable class of each sample, shape (n_samples,)."""
        check_is_fitted(self)
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


@register_estimator
class DeepRegressor(RegressorMixin, _DeepEstimator):
    """A fully connected network regressor (linear output, mean squared error).

    The same hyperparameters as :class:`DeepClassifier`; y may be of shape (n_samples,) or
    (n_samples, n_outputs) and ``predict`` returns that shape. The network learns the
    standardized target (y - target_mean_) / target_scale_ and ``predict`` answers in y's
    units, so ``loss_curve_`` is in standardized units. ``validation_scores_`` holds the
    validation R^2 per epoch when ``early_stopping`` (which monitors the validation cost).

    Attributes
    ----------
    target_mean_, target_scale_ : ndarray of shape (n_outputs,), float64
        The mean and standard deviation (1 where it is 0) of each output in ``fit`` (or the
        first ``partial_fit``).
    n_outputs_ : int
    network_, loss_curve_, validation_scores_, best_validation_score_, n_iter_,
    n_features_in_, history_ : as in :class:`DeepClassifier`

    Examples
    --------
    >>> X = np.linspace(-1, 1, 40).reshape(-1, 1); y = 2 * X.ravel() + 1
    >>> reg = DeepRegressor(random_state=0).fit(X, 100 * y + 5000)  # y in any units
    >>> reg.predict(X).shape, reg.score(X, 100 * y + 5000) > 0.9
    ((40,), True)
    """

    _loss, _output, _monitor = "mean_squared_error", "linear", "dev_cost"
    _y_kwargs = {"multi_output": True, "y_numeric": True}

    def _encode_targets(self, y, *, first: bool, classes, partial: bool) -> np.ndarray:
        """(y - target_mean_) / target_scale_ as float32 (n_samples, n_outputs); the first
        call (fit, or the first partial_fit) sets both from this y."""
        Y = np.asarray(y, dtype=np.float64)
        Y = Y.reshape(-1, 1) if Y.ndim == 1 else Y
        if first:
            self.n_outputs_, self._y_ndim = Y.shape[1], np.ndim(y)
            scale = Y.std(axis=0)
            self.target_mean_, self.target_scale_ = Y.mean(axis=0), np.where(scale > 0,
                                                                               scale, 1.0)
        elif Y.shape[1] != self.n_outputs_:
            raise DataError(f"y has {Y.shape[1]} outputs, but the network was fitted with "
                            f"{self.n_outputs_}")
        return ((Y - self.target_mean_) / self.target_scale_).astype(np.float32)

    def _n_outputs(self) -> int:
        return self.n_outputs_

    def partial_fit(self, X, y) -> DeepRegressor:
        """One epoch over (X, y), keeping the network and optimizer state between calls.

        The first call without a previous ``fit`` builds the network and sets
        ``target_mean_`` and ``target_scale_`` from its y. Returns self.
        """
        return self._fit(X, y, incremental=True)

    @staticmethod
    def _dev_score(net, X, Y) -> float:
        return float(r2_score(Y, net.predict_proba(X)))

    def predict(self, X) -> np.ndarray:
        """Predicted targets, shape (n_samples,) or (n_samples, n_outputs) as y in fit."""
        check_is_fitted(self)
        out = self._network_output(X) * self.target_scale_ + self.target_mean_
        return out.ravel() if self._y_ndim == 1 else out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags
