"""TOML configuration: read, validate into dataclasses, write back complete.

An unknown key, a wrong type or an out-of-range value is a one-line ConfigError naming the key,
the value and what is allowed (with the closest key for a typo). ``dump_config`` writes the
complete, effective configuration (defaults filled in) that reruns identically.
"""

from __future__ import annotations

import dataclasses
import difflib
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path

import tomli_w

from deeprecipe._validation import check_choice, check_in_range, check_int
from deeprecipe.errors import ConfigError, DeepRecipeError

__all__ = ["Config", "load_config", "config_from_dict", "config_to_dict", "dump_config",
           "EXAMPLE_CONFIG"]


@dataclass
class DataConfig:
    """dataset: an embedded name (digits, moons, circles, blobs, flower) or a file path
    (.npz, .npy, .csv; relative to the config file); label: the label column of a .csv;
    n_samples: generate that many (embedded) or take a seeded random subset (files)."""

    dataset: str = "digits"
    label: str | None = None
    n_samples: int | None = None
    human_error: float = 0.0

    def __post_init__(self) -> None:
        if self.n_samples is not None:
            check_int("n_samples", self.n_samples, low=10)
        check_in_range("human_error", self.human_error, low=0.0, high=1.0)


@dataclass
class SplitConfig:
    """dev/test: a fraction in (0, 1) or a count; None sizes them to the data set."""

    dev: float | int | None = None
    test: float | int | None = None
    dev_only: bool = False
    stratify: bool = True
    standardize: bool = True


@dataclass
class ModelConfig:
    """Hidden layers of a fully connected network and their options."""

    hidden_layer_sizes: list[int] = field(default_factory=lambda: [64, 32])
    activation: str = "relu"
    init: str = "he"
    batch_norm: bool = False
    keep_prob: float = 1.0

    def __post_init__(self) -> None:
        for i, h in enumerate(self.hidden_layer_sizes):
            check_int(f"hidden_layer_sizes[{i}]", h, low=1)
        check_choice("activation", self.activation, ("relu", "leaky_relu", "tanh", "sigmoid"))
        check_choice("init", self.init, ("zeros", "random", "he", "xavier", "glorot"))
        check_in_range("keep_prob", self.keep_prob, low=0.0, high=1.0, closed="right")


AUGMENTATION_DEFAULTS = {"flip": False, "crop": 1, "noise": 0.05}


@dataclass
class RegularizationConfig:
    """l2: (l2/2m) sum ||W||^2; l1: (l1/m) sum |W|; augment: random image transformations of
    the training batches, with ``augmentation`` options for dr.data.Augmenter (flip, crop,
    translate, rotate, zoom, noise) over AUGMENTATION_DEFAULTS (no flips: wrong for digits)."""

    l2: float = 0.0
    l1: float = 0.0
    augment: bool = False
    augmentation: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_in_range("l2", self.l2, low=0.0)
        check_in_range("l1", self.l1, low=0.0)
        allowed = ("flip", "crop", "translate", "rotate", "zoom", "noise")
        for key in self.augmentation:
            if key not in allowed:
                raise ConfigError(f"augmentation has an unknown key {key!r}; allowed: "
                                  f"{', '.join(allowed)}")
        from deeprecipe.data import Augmenter

        try:
            Augmenter((4, 4), **self.augmentation_options())  # validates the values now
        except DeepRecipeError as exc:
            raise ConfigError(f"augmentation.{exc}") from None

    def augmentation_options(self) -> dict:
        """The Augmenter keyword arguments: the defaults updated with ``augmentation``."""
        return {**AUGMENTATION_DEFAULTS, **self.augmentation}


@dataclass
class OptimizerConfig:
    """name: gd, momentum, rmsprop or adam."""

    name: str = "adam"
    learning_rate: float = 1e-3
    beta: float = 0.9
    beta1: float = 0.9
    beta2: float = 0.999
    epsilon: float = 1e-8

    def __post_init__(self) -> None:
        check_choice("name", self.name, ("gd", "momentum", "rmsprop", "adam"))
        check_in_range("learning_rate", self.learning_rate, low=0.0, closed="neither")
        for name in ("beta", "beta1", "beta2"):
            check_in_range(name, getattr(self, name), low=0.0, high=1.0, closed="left")
        check_in_range("epsilon", self.epsilon, low=0.0, closed="neither")


@dataclass
class ScheduleConfig:
    """name: none, inverse_time, exponential, sqrt or staircase (lr0 = the learning_rate)."""

    name: str = "none"
    decay_rate: float = 1.0
    base: float = 0.95
    k: float = 1.0
    interval: int = 10

    def __post_init__(self) -> None:
        check_choice("name", self.name, ("none", "inverse_time", "exponential", "sqrt",
                                         "staircase"))
        check_in_range("decay_rate", self.decay_rate, low=0.0)
        check_in_range("base", self.base, low=0.0, high=1.0, closed="right")
        check_in_range("k", self.k, low=0.0, closed="neither")
        check_int("interval", self.interval, low=1)


@dataclass
class TrainingConfig:
    """batch_size: an int, "auto" (the notes' rule) or "full" (batch gradient descent).

    keep_checkpoints: how many of the latest checkpoints a run keeps (0: all of them).
    """

    epochs: int = 50
    batch_size: int | str = "auto"
    early_stopping: bool = True
    patience: int = 10
    checkpoint_every: int = 1
    keep_checkpoints: int = 5

    def __post_init__(self) -> None:
        check_int("epochs", self.epochs, low=1)
        if isinstance(self.batch_size, str):
            check_choice("batch_size", self.batch_size, ("auto", "full"))
        else:
            check_int("batch_size", self.batch_size, low=1)
        check_int("patience", self.patience, low=0)
        check_int("checkpoint_every", self.checkpoint_every, low=1)
        check_int("keep_checkpoints", self.keep_checkpoints, low=0)


@dataclass
class TuningConfig:
    """Random (or grid) search: n_trials per round, rounds of coarse to fine, workers in parallel.

    space: {hyperparameter: {dist = "log_uniform" | "one_minus_log_uniform" | "uniform" |
    "int_uniform" | "choice", low, high, choices}}; empty: the default space.
    """

    n_trials: int = 0
    method: str = "random"
    rounds: int = 1
    workers: int = 1
    scheduler: str | None = None
    epochs: int | None = None
    space: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_int("n_trials", self.n_trials, low=0)
        check_choice("method", self.method, ("random", "grid"))
        check_int("rounds", self.rounds, low=1)
        check_int("workers", self.workers, low=1)
        if self.epochs is not None:
            check_int("epochs", self.epochs, low=1)


@dataclass
class Config:
    """The complete description of a run."""

    name: str = "run"
    seed: int = 0
    data: DataConfig = field(default_factory=DataConfig)
    split: SplitConfig = field(default_factory=SplitConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    regularization: RegularizationConfig = field(default_factory=RegularizationConfig)
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    tuning: TuningConfig = field(default_factory=TuningConfig)


def _type_name(tp) -> str:
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(tp))
    if tp is type(None):
        return "absent"
    return getattr(tp, "__name__", str(tp)).replace("list", "a list")


def _coerce(tp, value, key: str):
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        for option in typing.get_args(tp):
            if option is type(None):
                continue
            try:
                return _coerce(option, value, key)
            except ConfigError:
                continue
        raise ConfigError(f"{key} = {value!r} has the wrong type; expected {_type_name(tp)}")
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(f"{key} = {value!r} must be a list")
        (inner,) = typing.get_args(tp)
        return [_coerce(inner, v, f"{key}[{i}]") for i, v in enumerate(value)]
    ok = {bool: isinstance(value, bool),
          int: isinstance(value, int) and not isinstance(value, bool),
          float: isinstance(value, (int, float)) and not isinstance(value, bool),
          str: isinstance(value, str), dict: isinstance(value, dict)}.get(tp)
    if not ok:
        raise ConfigError(f"{key} = {value!r} has the wrong type; expected {_type_name(tp)}")
    return float(value) if tp is float else value


def _build(cls, data, path: str):
    where = path or "the top level"
    if not isinstance(data, dict):
        raise ConfigError(f"[{path}] must be a table, got {data!r}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    for key in data:
        if key not in names:
            close = difflib.get_close_matches(key, names, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; allowed: {', '.join(names)}"
            raise ConfigError(f"unknown key {(path + '.' if path else '') + key!r} in "
                              f"{where}{hint}")
    kwargs = {}
    for name in names:
        if name not in data:
            continue
        key = f"{path}.{name}" if path else name
        tp = hints[name]
        if dataclasses.is_dataclass(tp):
            kwargs[name] = _build(tp, data[name], key)
        else:
            kwargs[name] = _coerce(tp, data[name], key)
    try:
        return cls(**kwargs)
    except DeepRecipeError as exc:
        prefix = f"{path}." if path else ""
        raise ConfigError(f"{prefix}{exc}") from None


def config_from_dict(data: dict) -> Config:
    """Validate a plain dict (as read from TOML) into a Config."""
    return _build(Config, data, "")


def load_config(path: str | Path) -> Config:
    """Read and validate a TOML file."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    config = config_from_dict(data)
    dataset = Path(config.data.dataset)
    if dataset.suffix and not dataset.is_absolute() and (path.parent / dataset).exists():
        # a data file is named relative to the config file, wherever the command runs
        config.data.dataset = str((path.parent / dataset).resolve())
    return config


def _drop_none(obj):
    if isinstance(obj, dict):
        return {k: _drop_none(v) for k, v in obj.items() if v is not None}
    return obj


def config_to_dict(config: Config) -> dict:
    """The complete configuration as a plain dict (None values omitted, as TOML has no null)."""
    return _drop_none(dataclasses.asdict(config))


def dump_config(config: Config) -> str:
    """TOML text of the complete configuration; load_config of it gives an equal Config."""
    return tomli_w.dumps(config_to_dict(config))


EXAMPLE_CONFIG = '''\
# deeprecipe run configuration: `deeprecipe run this.toml`
name = "example"          # the run directory is runs/<name>
seed = 0                  # same seed, same result

[data]
dataset = "digits"        # digits | moons | circles | blobs | flower | path to .npz/.npy/.csv
# label = "target"        # the label column of a .csv file
human_error = 0.0         # human-level error, the proxy for Bayes error

[split]                   # sizes fit to the data set (60/20/20 small, ~98/1/1 at a million)
# dev = 0.2               # a fraction or a count
# test = 0.2
dev_only = false          # no test set (then dev is not an unbiased estimate)
standardize = true        # x := (x - mu) / sigma with mu, sigma from the training set only

[model]
hidden_layer_sizes = [64, 32]
activation = "relu"       # relu | leaky_relu | tanh | sigmoid
init = "he"               # zeros | random | he | xavier | glorot
batch_norm = false
keep_prob = 1.0           # inverted dropout after each hidden layer when < 1

[regularization]
l2 = 0.0                  # (l2 / 2m) sum ||W||_F^2
l1 = 0.0                  # (l1 / m) sum |W|
augment = false           # random crops/noise on image data sets (training batches only)
# augmentation = { flip = true, rotate = 10.0, zoom = 0.1 }   # options of dr.data.Augmenter

[optimizer]
name = "adam"             # gd | momentum | rmsprop | adam
learning_rate = 0.001
beta = 0.9                # momentum
beta1 = 0.9               # Adam
beta2 = 0.999             # Adam and RMSprop
epsilon = 1e-8

[schedule]
name = "none"             # none | inverse_time | exponential | sqrt | staircase
decay_rate = 1.0

[training]
epochs = 50
batch_size = "auto"       # an int, "auto" (full batch if m <= 2000, else 64..512) or "full"
early_stopping = true
patience = 10
# checkpoint_every = 1     # epochs between checkpoints (Ctrl-C always saves one)
# keep_checkpoints = 5     # the latest ones kept (0: all)

[tuning]                  # random search on the right scales; 0 trials = no search
n_trials = 0
method = "random"         # random (the notes' advice) or grid
rounds = 1                # > 1: coarse to fine
workers = 1               # parallel processes ("caviar"); scheduler = "tcp://host:8786" for Dask
[tuning.space]
learning_rate = { dist = "log_uniform", low = 1e-4, high = 1e-1 }
'''
