"""What a config builds: the network, the optimizer, the schedule and a wired Trainer."""

from __future__ import annotations

from pathlib import Path

from deeprecipe import data as dd
from deeprecipe._io import check_size
from deeprecipe.engine.builders import build_mlp
from deeprecipe.engine.network import Sequential
from deeprecipe.errors import ConfigError
from deeprecipe.optimize.batches import clamp_batch_size
from deeprecipe.optimize.callbacks import Callback, Checkpoint, EarlyStopping
from deeprecipe.optimize.optimizers import Optimizer, optimizer_with
from deeprecipe.optimize.schedules import make_schedule
from deeprecipe.optimize.trainer import Trainer
from deeprecipe.runs.config import Config
from deeprecipe.runs.prepare import PreparedData

__all__ = ["build_network", "optimizer_for", "schedule_for", "scaled_patience", "make_trainer",
           "fit"]


def build_network(config: Config, data: PreparedData, *, random_state=None) -> Sequential:
    """The fully connected network the config describes, sized to the data."""
    m = config.model
    # every hidden layer's Z, A and their gradients for all training rows (the evaluation
    # pass), checked before the first allocation
    check_size(f"the activations of hidden layers {m.hidden_layer_sizes} on "
               f"{len(data.X_train)} rows", (4, len(data.X_train), sum(m.hidden_layer_sizes)),
               4, error=ConfigError)
    return build_mlp(data.X_train.shape[1], tuple(m.hidden_layer_sizes), data.n_outputs,
                     activation=m.activation, init=m.init, keep_prob=m.keep_prob,
                     batch_norm=m.batch_norm, output=data.output,
                     random_state=config.seed if random_state is None else random_state)


def optimizer_for(config: Config) -> Optimizer:
    """The optimizer of ``[optimizer]``, with the hyperparameters it takes."""
    o = config.optimizer
    return optimizer_with(o.name, o.learning_rate, beta=o.beta, beta1=o.beta1, beta2=o.beta2,
                          epsilon=o.epsilon)


def schedule_for(config: Config):
    s, lr0 = config.schedule, config.optimizer.learning_rate
    if s.name == "none":
        return None
    kwargs = {"inverse_time": {"decay_rate": s.decay_rate}, "exponential": {"base": s.base},
              "sqrt": {"k": s.k},
              "staircase": {"decay_rate": s.decay_rate, "interval": s.interval}}[s.name]
    return make_schedule(s.name, lr0=lr0, **kwargs)


def scaled_patience(training) -> int:
    """Early stopping's patience scaled to the run: at least a tenth of its epochs.

    >>> from deeprecipe.runs.config import TrainingConfig
    >>> scaled_patience(TrainingConfig(epochs=400, patience=10))
    40
    """
    return max(training.patience, training.epochs // 10)


def make_trainer(config: Config, data: PreparedData, net: Sequential, *,
                 checkpoint_dir: str | Path | None = None, verbose: bool = False,
                 callbacks: tuple[Callback, ...] = ()) -> Trainer:
    """A Trainer wired as the config says (optimizer, schedule, penalties, early stopping)."""
    t = config.training
    cbs = list(callbacks)
    if t.early_stopping:  # before Checkpoint, so the epoch it stops at is checkpointed
        # dev *error*: dev cost rises from over-confidence while the error still falls
        cbs.append(EarlyStopping(monitor="dev_error", patience=scaled_patience(t)))
    if checkpoint_dir is not None and not any(isinstance(c, Checkpoint) for c in cbs):
        cbs.append(Checkpoint(checkpoint_dir, every=t.checkpoint_every,
                              keep=t.keep_checkpoints or None))
    augmenter = None
    if config.regularization.augment:
        if data.image_shape is None:
            raise ConfigError(f"regularization.augment = true needs image data; "
                              f"{data.name!r} has no image shape")
        augmenter = dd.Augmenter(data.image_shape,
                                 **config.regularization.augmentation_options())
    return Trainer(net, data.X_train, data.y_train, loss=data.loss,
                   optimizer=optimizer_for(config), l2=config.regularization.l2,
                   l1=config.regularization.l1,
                   batch_size=(None if t.batch_size == "full"  # larger than m: full batch
                               else clamp_batch_size(t.batch_size, len(data.X_train))),
                   schedule=schedule_for(config), validation_data=(data.X_dev, data.y_dev),
                   callbacks=cbs, augmenter=augmenter, random_state=config.seed + 1,
                   checkpoint_dir=checkpoint_dir, verbose=verbose)


def fit(config: Config, data: PreparedData, *, checkpoint_dir: str | Path | None = None,
        resume: bool = False, verbose: bool = False,
        callbacks: tuple[Callback, ...] = ()) -> tuple[Sequential, Trainer]:
    """Build the network and train it for config.training.epochs.

    ``resume`` continues from the latest checkpoint in ``checkpoint_dir`` (if any); a run that
    early stopping had ended is not trained further, it ends as it did (best weights back).
    ``callbacks`` run before early stopping (e.g. the recipe's time-budget Deadline).
    """
    net = build_network(config, data)
    trainer = make_trainer(config, data, net, checkpoint_dir=checkpoint_dir, verbose=verbose,
                           callbacks=callbacks)
    if resume and trainer.resume() and trainer.stop_training:
        trainer.finish()
    else:
        trainer.fit(config.training.epochs)
    return net, trainer

