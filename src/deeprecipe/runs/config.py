"""TOML configuration: read, validate into dataclasses, write back complete.

An unknown key, a wrong type or an out-of-range value is a one-line ConfigError naming the key,
the value and what is allowed (with the closest key for a typo). ``dump_config`` writes the
complete, effective configuration (defaults filled in) that reruns identically.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path

import tomli_w

from deeprecipe._io import check_regular_file
from deeprecipe._validation import (check_choice, check_in_range, check_int, check_name,
                                    check_path, check_workers)
from deeprecipe.data import Augmenter
from deeprecipe.errors import ConfigError, DeepRecipeError
from deeprecipe.runs.knobs import section_knobs

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
        for key in ("dataset", "label"):
            text = getattr(self, key)
            if text is not None and ("\0" in text or not text.strip()):
                raise ConfigError(f"{key} must be a data set name or a file path without "
                                  f"NUL characters, got {text!r}")
        if self.n_samples is not None:
            check_int("n_samples", self.n_samples, low=10)
        check_in_range("human_error", self.human_error, low=0.0, high=1.0)


@dataclass
class SplitConfig:
    """dev/test: a fraction in (0, 1) or a count; None sizes them to the data set.

    folds: k >= 2 for k-fold cross-validation of tuning trials on small data (runs.folds)."""

    dev: float | int | None = None
    test: float | int | None = None
    dev_only: bool = False
    stratify: bool = True
    standardize: bool = True
    folds: int | None = None

    def __post_init__(self) -> None:
        if self.folds is not None:
            check_int("folds", self.folds, low=2)


def _knob_section(cls_name: str, section: str, doc: str, extra: tuple = (),
                  extra_check=None, namespace: dict | None = None) -> type:
    """A section dataclass whose fields are the knobs of ``[section]`` (defaults and checks from
    ``run.knobs.KNOBS``) followed by the section's own non-hyperparameter settings."""
    knobs = section_knobs(section)
    fields = [(k.key, k.type, field(default_factory=lambda d=k.default: copy.deepcopy(d)))
              for k in knobs]

    def __post_init__(self) -> None:
        for k in knobs:
            setattr(self, k.key, k.check(k.key, getattr(self, k.key)))
        if extra_check is not None:
            extra_check(self)

    cls = dataclasses.make_dataclass(cls_name, [*fields, *extra], namespace={
        "__post_init__": __post_init__, "__doc__": doc, **(namespace or {})})
    cls.__module__ = __name__
    return cls


ModelConfig = _knob_section("ModelConfig", "model",
                            "Hidden layers of a fully connected network and their options.")

MAX_TRIALS = 100_000  # trials per round of a search: a folder each
AUGMENTATION_DEFAULTS = {"flip": False, "crop": 1, "noise": 0.05}
_AUGMENTATION_KEYS = ("flip", "crop", "translate", "rotate", "zoom", "noise")


def _augmentation_options(self) -> dict:
    """The Augmenter keyword arguments: the defaults updated with ``augmentation``."""
    return {**AUGMENTATION_DEFAULTS, **self.augmentation}


def _check_augmentation(self) -> None:
    for key in self.augmentation:
        if key not in _AUGMENTATION_KEYS:
            raise ConfigError(f"augmentation has an unknown key {key!r}; allowed: "
                              f"{', '.join(_AUGMENTATION_KEYS)}")
    try:
        # validates the values now; the crop against the real images when the data is read
        Augmenter((4096, 4096), **self.augmentation_options())
    except DeepRecipeError as exc:
        raise ConfigError(f"augmentation.{exc}") from None


RegularizationConfig = _knob_section(
    "RegularizationConfig", "regularization",
    "l2: (l2/2m) sum ||W||^2; l1: (l1/m) sum |W|; augment: random image transformations of "
    "the training batches, with ``augmentation`` options for dr.data.Augmenter (flip, crop, "
    "translate, rotate, zoom, noise) over AUGMENTATION_DEFAULTS (no flips: wrong for digits).",
    extra=(("augmentation", dict, field(default_factory=dict)),),
    extra_check=_check_augmentation,
    namespace={"augmentation_options": _augmentation_options})

OptimizerConfig = _knob_section("OptimizerConfig", "optimizer",
                                "name: gd, momentum, rmsprop or adam.")

ScheduleConfig = _knob_section(
    "ScheduleConfig", "schedule",
    "name: none, inverse_time, exponential, sqrt or staircase (lr0 = the learning_rate).")


def _check_training(self) -> None:
    check_int("checkpoint_every", self.checkpoint_every, low=1)
    check_int("keep_checkpoints", self.keep_checkpoints, low=0)


TrainingConfig = _knob_section(
    "TrainingConfig", "training",
    "batch_size: an int, \"auto\" (the notes' rule) or \"full\" (batch gradient descent); "
    "keep_checkpoints: how many of the latest checkpoints a run keeps (0: all of them).",
    extra=(("checkpoint_every", int, field(default=1)),
           ("keep_checkpoints", int, field(default=5))),
    extra_check=_check_training)


@dataclass
class TuningConfig:
    """Search: n_trials per round, rounds of coarse to fine, workers in parallel.

    method: random | grid | tpe | cmaes; prune: none | median | successive_halving | hyperband
    (on dev error per epoch); metric: dev_error | dev_cost | dev_rmse | dev_mae (regression).
    space: {hyperparameter: {dist = "log_uniform" | "one_minus_log_uniform" | "uniform" |
    "int_uniform" | "choice", low, high, choices}}; empty: the default space.
    """

    n_trials: int = 0
    method: str = "random"
    rounds: int = 1
    workers: int = 1
    scheduler: str | None = None
    epochs: int | None = None
    prune: str = "none"
    metric: str = "dev_error"
    space: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_int("n_trials", self.n_trials, low=0, high=MAX_TRIALS)
        check_choice("method", self.method, ("random", "grid", "tpe", "cmaes"))
        check_choice("prune", self.prune, ("none", "median", "successive_halving", "hyperband"))
        check_choice("metric", self.metric, ("dev_error", "dev_cost", "dev_rmse", "dev_mae"))
        check_int("rounds", self.rounds, low=1)
        check_workers("workers", self.workers)
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

    def __post_init__(self) -> None:
        check_name("name", self.name)  # runs/<name>: one folder, never a path elsewhere
        check_int("seed", self.seed, low=0, high=2**63 - 1)


def _type_name(tp) -> str:
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(tp))
    if tp is type(None):
        return "absent"
    return getattr(tp, "__name__", str(tp)).replace("list", "a list")


def _coerce(tp, value, key: str):
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(tp)
        if int in options and isinstance(value, int) and not isinstance(value, bool):
            return _coerce(int, value, key)  # an integer stays one: [split] dev = 40 is a count
        for option in options:
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
    if tp is int and not -2**63 <= value < 2**63:
        raise ConfigError(f"{key} = {value!r} is too large; expected an integer of magnitude "
                          "below 2**63")
    return float(value) if tp is float else value


def _build(cls, data, path: str):
    where = f"[{path}]" if path else "the top level"
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


MAX_CONFIG_BYTES = 1 << 20  # a config is a page of text; a larger file is not one


def load_config(path: str | Path) -> Config:
    """Read and validate a TOML file (never a FIFO, a device or over MAX_CONFIG_BYTES)."""
    path = check_path("path", path)
    check_regular_file(path, ConfigError, expected="a TOML config file")
    try:
        if (size := path.stat().st_size) > MAX_CONFIG_BYTES:
            raise ConfigError(f"{path}: {size} bytes is too large for a config file (at most "
                              f"{MAX_CONFIG_BYTES})")
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except IsADirectoryError:
        raise ConfigError(f"{path} is a directory; expected a TOML config file") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path} is not UTF-8 text ({exc.reason} at byte {exc.start}); "
                          "save the config as UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    except RecursionError:
        raise ConfigError(f"{path}: TOML nested too deeply for a config") from None
    config = config_from_dict(data)
    dataset = Path(config.data.dataset)
    if ((dataset.suffix or (path.parent / dataset).is_dir()) and not dataset.is_absolute()
            and (path.parent / dataset).exists()):
        # a data file (or a folder of .npy files) is named relative to the config file
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

[schedule]                # learning-rate decay: converge in a tighter region at the end
name = "exponential"      # none | inverse_time | exponential | sqrt | staircase
base = 0.95               # exponential: α = α0 · base^epoch (the notes' 0.95^epoch)
# decay_rate = 1.0        # inverse_time, staircase: α = α0 / (1 + decay_rate · epoch)

[training]
epochs = 50
batch_size = 128          # an int, "auto" (full batch if m <= 2000, else 64..512) or "full"
early_stopping = true     # on dev error, keeping the best weights
patience = 10             # at least a tenth of the epochs
# checkpoint_every = 1     # epochs between checkpoints (Ctrl-C always saves one)
# keep_checkpoints = 5     # the latest ones kept (0: all)

[tuning]                  # `deeprecipe tune this.toml`: search, then train the best; 0 = no search
n_trials = 0
method = "random"         # random (the notes' advice) | grid | tpe | cmaes (Optuna's samplers)
rounds = 1                # > 1: coarse to fine (random, grid): round r + 1 zooms on round r's best
workers = 1               # parallel processes ("caviar"); scheduler = "tcp://host:8786" for Dask
# epochs = 20             # epochs per trial (default: training.epochs); the best is retrained
prune = "none"            # none | median | successive_halving | hyperband, on dev error per epoch
metric = "dev_error"      # dev_error | dev_cost | dev_rmse | dev_mae (the last two: regression)
                          # ties within the dev set's noise: lower dev cost, then fewer weights
# (`[split] folds = 5` scores each trial by 5-fold cross-validation: for small data sets)

[tuning.space]            # one line per hyperparameter; empty: the default space
# dist = "log_uniform"            alpha ~ 10^U(-4, -1): each decade gets the same share of trials
learning_rate = { dist = "log_uniform", low = 1e-4, high = 1e-1 }
# dist = "one_minus_log_uniform"  1 - beta ~ 10^U(-3, -1): for averaging betas (momentum, Adam)
# beta = { dist = "one_minus_log_uniform", low = 0.9, high = 0.999 }
# dist = "uniform"                on a linear scale
# keep_prob = { dist = "uniform", low = 0.5, high = 1.0 }
# dist = "int_uniform"            integers low..high inclusive (log = true: each decade alike)
# hidden_units = { dist = "int_uniform", low = 16, high = 256, log = true }  # every layer's width
# n_layers = { dist = "int_uniform", low = 1, high = 3 }                     # hidden_units wide
# dist = "choice"                 one of the listed `choices` (categorical)
# batch_size = { dist = "choice", choices = [32, 64, 128, 256] }
# architecture as a category: whole layer lists (instead of n_layers x hidden_units)
# hidden_layer_sizes = { dist = "choice", choices = [[64], [128, 64], [256, 128, 64]] }
'''
