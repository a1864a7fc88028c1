"""The mini-batch training loop: shuffle, partition, forward, cost, backward, step.

Each epoch: lr = schedule(epoch_num) (epoch_num from 1); one seeded permutation of the rows;
partitions of ``batch_size`` (the last partial batch kept); per batch forward -> cost (+ L2/L1)
-> backward -> optimizer step. The loop records a History, guards against divergence, calls the
callbacks, writes checkpoints and, on Ctrl-C, a checkpoint of the exact position before
re-raising. Resuming from a checkpoint continues bit for bit.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from deeprecipe._random import as_seed_sequence, generator_state, permutation
from deeprecipe._typing import RandomState, Schedule
from deeprecipe._validation import check_in_range, check_int, check_path
from deeprecipe.engine.losses import Loss
from deeprecipe.engine.metrics import cost_and_error
from deeprecipe.engine.network import Sequential
from deeprecipe.errors import CheckpointError, DataError, DivergenceError
from deeprecipe.errors import InvalidTypeError, InvalidValueError
from deeprecipe.optimize import _restore, checkpoints
from deeprecipe.optimize._interrupt import InterruptFlag
from deeprecipe.optimize.averages import ExponentialAverage
from deeprecipe.optimize.batches import check_batch_memory, resolve_batch_size
from deeprecipe.optimize.callbacks import Callback, Checkpoint, with_defaults
from deeprecipe.optimize.history import History
from deeprecipe.optimize.optimizers import Adam, Optimizer
from deeprecipe.optimize.rows import Rows, prepare_rows
from deeprecipe.optimize.schedules import Constant

__all__ = ["train", "Trainer"]


class Trainer:
    """Holds everything a training run needs to continue: network, optimizer, RNGs, position.

    ``fit(epochs)`` trains until ``epochs`` epochs are complete in all (so it can be called
    again to train longer, as the "panda" babysitter does between chunks).
    """

    def __init__(self, net: Sequential, X, y, *, loss: str | Loss,
                 optimizer: Optimizer | None = None, l2: float = 0.0, l1: float = 0.0,
                 batch_size: int | str | None = "auto", schedule: Schedule | None = None,
                 validation_data: tuple | None = None, callbacks: Sequence[Callback] = (),
                 augmenter=None, random_state: RandomState = None,
                 checkpoint_dir: str | Path | None = None, verbose: bool = False,
                 divergence_factor: float = 100.0, eval_samples: int | None = 10_000,
                 ewa_beta: float = 0.98) -> None:
        if not isinstance(net, Sequential):
            raise InvalidTypeError("net must be a deeprecipe Sequential, got "
                                   f"{type(net).__name__}")
        shape = np.shape(X) if isinstance(X, Rows) else np.asarray(X).shape
        if not net.built:
            if len(shape) != 2:
                raise DataError(f"X must be 2-D (samples as rows), got shape {shape}")
            net.build(shape[1])
        self.net = net
        self.X, self.Y, self.loss = prepare_rows(net, X, y, loss)  # Rows: read batch by batch
        self.m = len(self.X)
        self.l2 = check_in_range("l2", l2, low=0.0)
        self.l1 = check_in_range("l1", l1, low=0.0)
        self.batch_size = resolve_batch_size(batch_size, self.m, self.X.shape[1],
                                             self.X.itemsize)
        check_batch_memory(net, min(self.batch_size, self.m))
        self.dev = None
        if validation_data is not None:
            if len(validation_data) != 2:
                raise InvalidValueError("validation_data must be a pair (X_dev, y_dev)")
            X_dev, Y_dev, _ = prepare_rows(net, *validation_data, self.loss)
            self.dev = (X_dev, Y_dev)
        self.optimizer = optimizer if optimizer is not None else Adam(learning_rate=1e-3)
        if not isinstance(self.optimizer, Optimizer):
            raise InvalidTypeError("optimizer must be a deeprecipe optimizer (e.g. "
                                   f"dr.optimizers.Adam()), got {type(optimizer).__name__}")
        self.optimizer.init(net.params)
        if augmenter is not None and not callable(augmenter):
            raise InvalidTypeError("augmenter must be callable as augmenter(X_batch, rng) (e.g. "
                                   f"dr.data.Augmenter(image_shape)), got {augmenter!r:.80}")
        self.augmenter = augmenter
        shuffle_seed, aug_seed, eval_seed = as_seed_sequence(random_state).spawn(3)
        self.shuffle_rng = np.random.default_rng(shuffle_seed)
        self.augment_rng = np.random.default_rng(aug_seed)
        self.train_eval = self._train_eval_rows(
            None if eval_samples is None else check_int("eval_samples", eval_samples, low=1),
            eval_seed)
        self.checkpoint_dir = (None if checkpoint_dir is None
                               else check_path("checkpoint_dir", checkpoint_dir))
        self.callbacks = with_defaults(callbacks, self.checkpoint_dir, verbose)
        self.divergence_factor = check_in_range("divergence_factor", divergence_factor,
                                                low=1.0, closed="neither")
        self.history = History()
        self.ewa = ExponentialAverage(beta=ewa_beta, bias_correction=True)
        self.epoch = 0           # completed epochs
        self.step_in_epoch = 0   # completed mini-batches of the current epoch
        self.perm: np.ndarray | None = None
        self.epoch_sums = [0.0, 0.0]  # running sums of total and data cost in this epoch
        self.stop_training = False
        self.pending_checkpoints: list[Checkpoint] = []  # to write once the epoch's callbacks ran
        self.target_epochs = 0
        self._xbuf = np.empty((min(self.batch_size, self.m), self.X.shape[1]), self.X.dtype)
        self._ybuf = np.empty((min(self.batch_size, self.m), *self.Y.shape[1:]), self.Y.dtype)
        # the one owner of the learning rate: the schedule gives it for every epoch and the
        # optimizer reads it (no schedule: a constant one at the optimizer's rate)
        self.schedule: Schedule = Constant(self.optimizer.learning_rate)
        if schedule is not None:
            self.set_schedule(schedule)

    def _train_eval_rows(self, eval_samples: int | None, seed) -> tuple:
        """(X, Y) on which train cost and error are measured each epoch: a fixed random
        subset of ``eval_samples`` rows of a large training set (all rows otherwise)."""
        if eval_samples is None or self.m <= eval_samples:
            return self.X, self.Y
        rows = np.sort(np.random.default_rng(seed).choice(self.m, eval_samples, replace=False))
        return self.X[rows], self.Y[rows]

    # -- the loop ---------------------------------------------------------------------------
    def fit(self, epochs: int) -> History:
        """Train until ``epochs`` epochs are complete in all; returns the History."""
        self.target_epochs = check_int("epochs", epochs, low=1)
        self.stop_training = False
        for cb in self.callbacks:
            cb.on_train_begin(self)
        try:
            # overflow on the way to a NaN/inf cost is the divergence guard's to report, with
            # advice, not NumPy's as a stream of RuntimeWarnings
            with InterruptFlag() as interrupt, np.errstate(over="ignore", invalid="ignore"):
                while self.epoch < self.target_epochs and not self.stop_training:
                    self._run_epoch(interrupt)
        finally:
            self.finish()
        return self.history

    def finish(self) -> History:
        """End training as ``fit`` does, without a step: the callbacks' on_train_end (e.g.
        EarlyStopping puts the best weights back). For a trainer resumed from a checkpoint
        written when a callback had stopped it (``stop_training`` is True after ``resume``)."""
        for cb in self.callbacks:
            cb.on_train_end(self)
        return self.history

    def _run_epoch(self, interrupt: InterruptFlag) -> None:
        epoch_num = self.epoch + 1
        start_time = time.perf_counter()
        if self.step_in_epoch == 0:
            self._apply_schedule(epoch_num)
            if self.perm is None and self.batch_size < self.m:  # a step-0 checkpoint keeps it
                self.perm = permutation(self.shuffle_rng, self.m)  # int32 below 2**31 rows
            self.epoch_sums = [0.0, 0.0]
        for cb in self.callbacks:
            cb.on_epoch_begin(self, epoch_num)
        bs, n_batches = self.batch_size, -(-self.m // self.batch_size)
        while self.step_in_epoch < n_batches:
            if interrupt.raised:
                self._interrupted()
            s = self.step_in_epoch
            idx = None if self.perm is None else self.perm[s * bs:(s + 1) * bs]
            if isinstance(self.X, Rows):  # rows sorted inside the batch, standardized in place
                Xb, Yb = self.X.take_batch(idx, self.Y, self._xbuf, self._ybuf)
            elif idx is None:
                Xb, Yb = self.X, self.Y
            else:
                Xb = np.take(self.X, idx, axis=0, out=self._xbuf[:len(idx)])
                Yb = np.take(self.Y, idx, axis=0, out=self._ybuf[:len(idx)])
            if self.augmenter is not None:
                Xb = self._augmented(Xb)
            cost = self.net.cost_and_gradients(Xb, Yb, self.loss, l2=self.l2, l1=self.l1)
            if not math.isfinite(cost.total):
                self._diverged(f"cost became {cost.total} at epoch {epoch_num}, step {s + 1}")
            self.optimizer.step(self.net.params, self.net.grads)
            w = len(Xb) / self.m
            self.epoch_sums[0] += cost.total * w
            self.epoch_sums[1] += cost.data * w
            self.history.steps.append(epoch_num, s + 1, cost.total, self.ewa.update(cost.total))
            self.step_in_epoch = s + 1
            for cb in self.callbacks:
                cb.on_step_end(self, s + 1, cost.total)
        self._end_epoch(epoch_num, time.perf_counter() - start_time)

    def _augmented(self, Xb: np.ndarray) -> np.ndarray:
        """The augmenter's copy of the batch, checked: a finite real array of its shape."""
        out = self.augmenter(Xb, self.augment_rng)
        if not (isinstance(out, np.ndarray) and out.shape == Xb.shape
                and out.dtype.kind in "fiub"):
            got = (f"an array of shape {out.shape} and dtype {out.dtype}"
                   if isinstance(out, np.ndarray) else repr(out)[:80])
            raise DataError(f"augmenter must return an array of the batch's shape {Xb.shape}, "
                            f"got {got}")
        with np.errstate(over="ignore", invalid="ignore"):
            if not np.isfinite(out.sum()) and not np.isfinite(out).all():
                raise DataError("augmenter returned NaN or inf values for a batch of finite "
                                "inputs; check its settings")
        return out

    def _end_epoch(self, epoch_num: int, seconds: float) -> None:
        record = {"epoch": epoch_num, "learning_rate": self.optimizer.learning_rate,
                  "cost": self.epoch_sums[0], "data_cost": self.epoch_sums[1]}
        record["train_cost"], record["train_error"] = cost_and_error(self.net, *self.train_eval,
                                                                    self.loss)
        if self.dev is not None:
            record["dev_cost"], record["dev_error"] = cost_and_error(self.net, *self.dev,
                                                                    self.loss)
        record["time"] = seconds
        self.epoch, self.step_in_epoch, self.perm = epoch_num, 0, None
        self.history.epochs.append(record)
        first = self.history.epochs[0]["cost"]
        if not math.isfinite(record["cost"]) or record["cost"] > self.divergence_factor * first:
            self._diverged(f"cost exploded to {record['cost']:.4g} at epoch {epoch_num} "
                           f"(first epoch: {first:.4g})")
        for cb in self.callbacks:
            cb.on_epoch_end(self, record)
        self._write_pending_checkpoints()

    def _write_pending_checkpoints(self) -> None:
        for callback in dict.fromkeys(self.pending_checkpoints):
            checkpoints.save_checkpoint(callback.directory, *self.state_dict())
            callback.written()
        self.pending_checkpoints.clear()

    def _diverged(self, what: str) -> None:
        lr = self.optimizer.learning_rate
        self.event("divergence", what)
        last = (checkpoints.latest_checkpoint(self.checkpoint_dir)
                if self.checkpoint_dir is not None else None)
        kept = f"; the last good checkpoint is {last}" if last else ""
        raise DivergenceError(f"training diverged: {what} with learning_rate={lr:g}; try a "
                              f"smaller learning_rate such as {lr / 10:g}{kept}")

    def _interrupted(self) -> None:
        if self.checkpoint_dir is not None:
            path = checkpoints.save_checkpoint(self.checkpoint_dir, *self.state_dict())
            raise KeyboardInterrupt(f"interrupted; state saved to {path} (train again with "
                                    "resume=True to continue)")
        raise KeyboardInterrupt("interrupted (no checkpoint_dir, nothing saved)")

    def event(self, kind: str, message: str, **extra) -> None:
        """Record an event (nudge, roll-back, early stop...) at the current position."""
        self.history.events.append({"epoch": self.epoch, "step": self.step_in_epoch,
                                    "kind": kind, "message": message, **extra})

    # -- the learning rate: one owner -------------------------------------------------------
    def set_schedule(self, schedule: Schedule) -> None:
        """Make ``schedule`` the learning rate's owner, effective for the epoch in progress."""
        if not callable(schedule):
            raise InvalidTypeError("schedule must be a deeprecipe schedule (e.g. "
                                   f"dr.schedules.InverseTimeDecay(0.2, 1.0)), got {schedule!r}")
        self.schedule = schedule
        self._apply_schedule(self.epoch + 1)

    def set_learning_rate(self, learning_rate: float) -> None:
        """alpha := learning_rate now, by rescaling the schedule (its decay goes on from there)."""
        learning_rate = check_in_range("learning_rate", learning_rate, low=0.0, closed="neither")
        if not hasattr(self.schedule, "scaled"):
            raise InvalidTypeError("changing α during training needs a deeprecipe schedule "
                                   f"(dr.schedules), not {self.schedule!r}")
        self.set_schedule(self.schedule.scaled(learning_rate / self.optimizer.learning_rate))

    def _apply_schedule(self, epoch_num: int) -> None:
        lr = self.schedule(epoch_num)
        if not (isinstance(lr, (int, float, np.floating, np.integer)) and lr > 0
                and math.isfinite(lr)):
            raise InvalidValueError(f"the schedule gave learning_rate={lr!r} at epoch "
                                    f"{epoch_num}; it must stay a positive finite number")
        self.optimizer.learning_rate = lr

    # -- checkpoints: the trainer owns its state --------------------------------------------
    def state_dict(self) -> tuple[dict, dict[str, np.ndarray]]:
        """(JSON metadata, arrays): everything needed to continue bit for bit."""
        net = self.net
        arrays = net.arrays()
        arrays.update({f"opt/{k}": a for k, a in self.optimizer.state_dict().items()})
        if self.perm is not None:
            arrays["perm"] = self.perm
        callbacks = []
        for i, cb in enumerate(self.callbacks):
            meta, cb_arrays = cb.state_dict()
            callbacks.append({"type": type(cb).__name__, **meta})
            arrays.update({f"cb{i}/{k}": a for k, a in cb_arrays.items()})
        schedule = getattr(self.schedule, "get_config", None)  # None: a plain callable
        meta = {
            "epoch": self.epoch, "step_in_epoch": self.step_in_epoch,
            "epoch_sums": list(self.epoch_sums), "network": net.get_config(),
            "optimizer": self.optimizer.get_config(),
            "schedule": schedule() if schedule is not None else None,
            "loss": self.loss.name, "l2": self.l2, "l1": self.l1,
            "batch_size": self.batch_size, "m": self.m,
            "rng": {"shuffle": generator_state(self.shuffle_rng),
                    "augment": generator_state(self.augment_rng),
                    "layers": {str(i): generator_state(layer.rng)
                               for i, layer in enumerate(net.layers) if layer.rng is not None}},
            "ewa": self.ewa.state_dict(), "history": self.history.to_dict(),
            "callbacks": callbacks,
            "stopped": bool(self.stop_training),  # a callback (early stopping) ended training
        }
        return meta, arrays

    def load_state_dict(self, meta: dict, arrays: dict[str, np.ndarray]) -> None:
        """Put the trainer back at the saved position; CheckpointError naming the first field
        that does not match or is corrupt (every field is checked before any is taken)."""
        if not isinstance(meta, dict):
            raise CheckpointError(f"not a deeprecipe checkpoint ({type(meta).__name__})")
        try:
            _restore.restore(self, meta, arrays)  # every field checked before it is taken
        except CheckpointError:
            raise
        except (KeyError, IndexError, TypeError, AttributeError, ValueError,
                OverflowError) as exc:
            raise CheckpointError(f"the checkpoint is incomplete or corrupt "
                                  f"({type(exc).__name__}: {exc}); resume from an earlier "
                                  "one") from None

    def resume(self, path: str | Path | None = None) -> bool:
        """Load ``path`` (or the latest checkpoint in checkpoint_dir); False if there is none."""
        if path is None:
            if self.checkpoint_dir is None:
                raise InvalidValueError("resume needs a checkpoint path or checkpoint_dir")
            path = checkpoints.latest_checkpoint(self.checkpoint_dir)
            if path is None:
                return False
        path = check_path("path", path)
        meta, arrays = checkpoints.load_checkpoint(path, self.net, self.m)
        try:
            self.load_state_dict(meta, arrays)
        except CheckpointError as exc:  # name the file
            raise CheckpointError(f"{path}: {exc}") from None
        return True


def train(net: Sequential, X, y, *, loss: str | Loss = "categorical_crossentropy",
          optimizer: Optimizer | None = None, l2: float = 0.0, l1: float = 0.0,
          batch_size: int | str | None = "auto", epochs: int = 100,
          schedule: Schedule | None = None, validation_data: tuple | None = None,
          callbacks: Sequence[Callback] = (), augmenter=None, random_state: RandomState = None,
          checkpoint_dir: str | Path | None = None, resume: bool = False,
          verbose: bool = False) -> History:
    """Train ``net`` with mini-batch gradient descent and the given optimizer; return History.

    Parameters
    ----------
    net : Sequential (built on first use if it has no input_dim).
    X, y : training data, X of shape (m, n_features) (an array, a memory map or ``Rows``:
        read batch by batch); y labels for ``loss``.
    loss : "binary_crossentropy", "categorical_crossentropy" or "mean_squared_error".
    optimizer : GradientDescent, Momentum, RMSprop or Adam (default Adam(1e-3)).
    l2, l1 : penalties (l2/2m) sum ||W||^2 and (l1/m) sum |W|, m the mini-batch size.
    batch_size : int; "auto" (full batch for m <= 2000, else 64..512); None = batch GD;
        1 = stochastic GD.
    epochs : total epochs; schedule : sets learning_rate at the start of every epoch.
    validation_data : (X_dev, y_dev) for dev_cost / dev_error each epoch.
    callbacks : EarlyStopping, Checkpoint, ProgressBar, ...
    augmenter : callable (X_batch, rng) -> X_batch applied to training batches only.
    checkpoint_dir, resume : write checkpoints there every epoch (and on Ctrl-C); with
        ``resume=True`` continue from the latest one, bit for bit.

    Raises
    ------
    DivergenceError : the cost became NaN/inf or exploded (advice: a smaller learning_rate).

    Examples
    --------
    >>> import deeprecipe as dr
    >>> ds = dr.data.load_dataset("moons", n_samples=200)
    >>> net = dr.Sequential([dr.layers.Dense(8), dr.layers.ReLU(), dr.layers.Dense(2),
    ...                      dr.layers.Softmax()], random_state=0)
    >>> h = dr.train(net, ds.X, ds.y, optimizer=dr.optimizers.Adam(0.01), epochs=20,
    ...              random_state=0)
    >>> h["cost"][-1] < h["cost"][0]
    True
    """
    trainer = Trainer(net, X, y, loss=loss, optimizer=optimizer, l2=l2, l1=l1,
                      batch_size=batch_size, schedule=schedule, validation_data=validation_data,
                      callbacks=callbacks, augmenter=augmenter, random_state=random_state,
                      checkpoint_dir=checkpoint_dir, verbose=verbose)
    if resume:
        trainer.resume()
    return trainer.fit(epochs)
