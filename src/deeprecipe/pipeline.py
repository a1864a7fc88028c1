"""One run, end to end: data -> split -> standardize -> network -> training -> diagnosis.

``run(config, run_dir)`` is what ``deeprecipe run`` and ``deeprecipe demo`` call; the pieces
(``prepare_data``, ``build_network``, ``fit``, ``evaluate``) are reused by the tuner, the
babysitter and the automated recipe.
"""

from __future__ import annotations

import dataclasses
import functools
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from deeprecipe import data as dd
from deeprecipe._io import write_json_atomic, write_text_atomic
from deeprecipe.builders import build_mlp
from deeprecipe.callbacks import Callback, Checkpoint, EarlyStopping
from deeprecipe.config import Config, dump_config
from deeprecipe.diagnosis import Diagnosis, diagnose
from deeprecipe.errors import ConfigError
from deeprecipe.network import Sequential
from deeprecipe.optimizers import Optimizer, make_optimizer
from deeprecipe.schedules import make_schedule
from deeprecipe.training import Trainer, cost_and_error

__all__ = ["PreparedData", "RunResult", "RUN_FILES", "prepare_data", "build_network",
           "optimizer_for", "schedule_for", "make_trainer", "fit", "evaluate",
           "prepare_run_dir", "save_run_files", "save_run", "run", "demo_config",
           "gradcheck_for"]


@dataclass
class PreparedData:
    """Split, standardized, flattened float32 data plus what the network needs to know."""

    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_dev: np.ndarray
    y_dev: np.ndarray
    X_test: np.ndarray | None
    y_test: np.ndarray | None
    task: str
    classes: np.ndarray | None
    image_shape: tuple | None
    standardizer: dd.Standardizer | None
    split_summary: dict
    distribution: dict | None = None
    feature_names: tuple[str, ...] | None = None  # a CSV's header names of X's columns
    label_name: str | None = None  # and of its label column

    @property
    def n_outputs(self) -> int:
        if self.task == "classification":
            return 1 if len(self.classes) == 2 else len(self.classes)
        return 1 if self.y_train.ndim == 1 else self.y_train.shape[1]

    @property
    def loss(self) -> str:
        if self.task == "regression":
            return "mean_squared_error"
        return "binary_crossentropy" if len(self.classes) == 2 else "categorical_crossentropy"

    @property
    def output(self) -> str:
        return {"mean_squared_error": "linear", "binary_crossentropy": "sigmoid",
                "categorical_crossentropy": "softmax"}[self.loss]


def _load(config: Config) -> dd.Dataset:
    name = config.data.dataset
    if name in dd.DATASETS:
        return dd.load_dataset(name, random_state=config.seed, n_samples=config.data.n_samples)
    ds = dd.load_file(name, label=config.data.label)
    n = config.data.n_samples
    if n is not None and n < len(ds.X):  # a seeded random subset of a file's rows
        rows = np.sort(np.random.default_rng(config.seed).choice(len(ds.X), n, replace=False))
        ds = dataclasses.replace(ds, X=ds.X[rows], y=ds.y[rows])
    return ds


def prepare_data(config: Config, *, check_distribution: bool = True) -> PreparedData:
    """Load, split (sizes fit to m), check dev vs test, standardize with train statistics."""
    ds = _load(config)
    X = ds.X.reshape(len(ds.X), -1).astype(np.float32)
    y, y_test, classes = ds.y, ds.y_test, None
    if ds.task == "classification":  # classes over both parts: a label may be in one only
        labels = ds.y if ds.y_test is None else np.concatenate([ds.y, ds.y_test])
        classes, codes = np.unique(labels, return_inverse=True)
        y, y_test = codes[:len(ds.y)], codes[len(ds.y):]
    split = functools.partial(dd.split, X, y, dev=config.split.dev, test=config.split.test,
                              stratify=config.split.stratify and ds.task == "classification",
                              random_state=config.seed)
    if ds.X_test is None:
        parts = split(dev_only=config.split.dev_only)
        summary = parts.summary()
    elif config.split.dev_only:  # the file's test set serves as the dev set
        parts, summary = _given_dev(X, y, ds.X_test.astype(np.float32), y_test)
    else:  # train/dev from the file's training part, its own test set as the test set
        parts = dataclasses.replace(split(dev_only=True), X_test=ds.X_test.astype(np.float32),
                                    y_test=y_test)
        summary = _summary_with_given_test(parts.summary(), len(ds.X_test))
    distribution = None
    if check_distribution and parts.X_test is not None:
        distribution = dd.same_distribution(parts.X_dev, parts.X_test, cv=3,
                                            random_state=config.seed).to_dict()
    standardizer = None
    X_train, X_dev, X_test = parts.X_train, parts.X_dev, parts.X_test
    if config.split.standardize:
        standardizer = dd.Standardizer().fit(X_train)
        X_train, X_dev = standardizer.transform(X_train), standardizer.transform(X_dev)
        X_test = None if X_test is None else standardizer.transform(X_test)
    return PreparedData(ds.name, X_train, parts.y_train, X_dev, parts.y_dev, X_test,
                        parts.y_test, ds.task, classes, ds.image_shape, standardizer,
                        summary, distribution, ds.feature_names, ds.label_name)


def _given_dev(X, y, X_dev, y_dev) -> tuple[dd.Split, dict]:
    """Dev-only with a file's own test set as the dev set: train on all of its training part
    (the lecture's football setup: 211 points to train on, 200 to compare models)."""
    sizes = dd.SplitSizes(len(X), len(X_dev), 0)
    parts = dd.Split(X, y, X_dev, y_dev, None, None, sizes, True, np.arange(len(X)),
                     np.arange(len(X_dev)), None, False)
    summary = {**parts.summary(),
               "mode": "dev-only: train on the file's training part, the file's test set as "
                       "the dev set (no test set: the dev error is used for model choice and "
                       "is not an unbiased estimate)"}
    return parts, summary


def _summary_with_given_test(summary: dict, n_test: int) -> dict:
    """A dev-only split summary of the training part, completed by the file's test set."""
    sizes = {"train": summary["train"], "dev": summary["dev"], "test": n_test}
    m = sum(sizes.values())
    return {**summary, **sizes, "m": m, "dev_only": False,
            "mode": "train/dev split from the file's training part; test: the file's own "
                    "test set",
            "fractions": {k: round(v / m, 6) for k, v in sizes.items()}}


def build_network(config: Config, data: PreparedData, *, random_state=None) -> Sequential:
    """The fully connected network the config describes, sized to the data."""
    m = config.model
    return build_mlp(data.X_train.shape[1], tuple(m.hidden_layer_sizes), data.n_outputs,
                     activation=m.activation, init=m.init, keep_prob=m.keep_prob,
                     batch_norm=m.batch_norm, output=data.output,
                     random_state=config.seed if random_state is None else random_state)


def optimizer_for(config: Config) -> Optimizer:
    o = config.optimizer
    kwargs = {"gd": {}, "momentum": {"beta": o.beta}, "rmsprop": {"beta2": o.beta2,
                                                                  "epsilon": o.epsilon},
              "adam": {"beta1": o.beta1, "beta2": o.beta2, "epsilon": o.epsilon}}[o.name]
    return make_optimizer(o.name, learning_rate=o.learning_rate, **kwargs)


def schedule_for(config: Config):
    s, lr0 = config.schedule, config.optimizer.learning_rate
    if s.name == "none":
        return None
    kwargs = {"inverse_time": {"decay_rate": s.decay_rate}, "exponential": {"base": s.base},
              "sqrt": {"k": s.k},
              "staircase": {"decay_rate": s.decay_rate, "interval": s.interval}}[s.name]
    return make_schedule(s.name, lr0=lr0, **kwargs)


def make_trainer(config: Config, data: PreparedData, net: Sequential, *,
                 checkpoint_dir: str | Path | None = None, verbose: bool = False,
                 callbacks: tuple[Callback, ...] = ()) -> Trainer:
    """A Trainer wired as the config says (optimizer, schedule, penalties, early stopping)."""
    t = config.training
    cbs = list(callbacks)
    if t.early_stopping:  # before Checkpoint, so the epoch it stops at is checkpointed
        cbs.append(EarlyStopping(monitor="dev_cost", patience=t.patience))
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
                   batch_size=None if t.batch_size == "full" else t.batch_size,
                   schedule=schedule_for(config), validation_data=(data.X_dev, data.y_dev),
                   callbacks=cbs, augmenter=augmenter, random_state=config.seed + 1,
                   checkpoint_dir=checkpoint_dir, verbose=verbose)


def fit(config: Config, data: PreparedData, *, checkpoint_dir: str | Path | None = None,
        resume: bool = False, verbose: bool = False) -> tuple[Sequential, Trainer]:
    """Build the network and train it for config.training.epochs.

    ``resume`` continues from the latest checkpoint in ``checkpoint_dir`` (if any); a run that
    early stopping had ended is not trained further, it ends as it did (best weights back).
    """
    net = build_network(config, data)
    trainer = make_trainer(config, data, net, checkpoint_dir=checkpoint_dir, verbose=verbose)
    if resume and trainer.resume() and trainer.stop_training:
        trainer.finish()
    else:
        trainer.fit(config.training.epochs)
    return net, trainer


def evaluate(net: Sequential, data: PreparedData) -> dict[str, float | None]:
    """Data cost and error on train, dev and test.

    Classification: error = misclassification rate. Regression: error = min(1, MSE / var(y))
    over the training targets' variance (1 - R^2, clipped), so it reads on the same [0, 1]
    scale as human-level error in the diagnosis.
    """
    scale = 1.0
    if data.task == "regression":
        scale = float(np.var(data.y_train, axis=0).mean()) or 1.0
    out: dict[str, float | None] = {}
    for part, X, y in (("train", data.X_train, data.y_train), ("dev", data.X_dev, data.y_dev),
                       ("test", data.X_test, data.y_test)):
        if X is None:
            out[f"{part}_cost"] = out[f"{part}_error"] = None
            continue
        Xp, Yp, loss = net.prepare(X, y, data.loss)
        cost, error = cost_and_error(net, Xp, Yp, loss)
        out[f"{part}_cost"] = cost
        out[f"{part}_error"] = min(1.0, error / scale) if data.task == "regression" else error
    return out


@dataclass
class RunResult:
    """What a run produced, and where."""

    run_dir: Path
    metrics: dict
    diagnosis: Diagnosis
    network: Sequential
    history: object
    gradient_check: dict | None = None
    tuning: dict | None = None
    seconds: float = 0.0
    extra: dict = field(default_factory=dict)

    def headline(self) -> str:
        m = self.metrics
        test = (" (dev-only split: no test set, so no unbiased estimate)"
                if m["test_error"] is None else f", test error {m['test_error']:.2%}")
        return (f"train error {m['train_error']:.2%}, dev error {m['dev_error']:.2%}{test} -> "
                f"{self.diagnosis.verdict.replace('_', ' ')}; next: "
                f"{self.diagnosis.next_steps[0] if self.diagnosis.next_steps else 'ship it'}")


RUN_FILES = ("config.toml", "model.json", "model.npz", "history.jsonl", "report.html",
             "diagnosis.json", "summary.json")


def prepare_run_dir(run_dir: str | Path, *, force: bool = False, resume: bool = False,
                    create: bool = True) -> Path:
    """Create ``run_dir``; refuse to overwrite a finished run unless ``force``.

    ``create=False`` only checks (so a run that fails on its data leaves no empty folder).
    """
    from deeprecipe.errors import DeepRecipeError

    run_dir = Path(run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise DeepRecipeError(f"{run_dir} is a file, not a run directory; choose another --out")
    existing = [name for name in RUN_FILES if (run_dir / name).exists()]
    if existing and not (force or resume):
        raise DeepRecipeError(f"{run_dir} already holds a run ({', '.join(existing)}); pass "
                              "--force to overwrite it, continue it with `deeprecipe resume "
                              f"{run_dir}`, or choose another --out")
    if create:
        run_dir.mkdir(parents=True, exist_ok=True)
    return run_dir


def save_run_files(run_dir: Path, config: Config, data: PreparedData, net: Sequential,
                   trainer: Trainer, metrics: dict, diagnosis: Diagnosis,
                   gradcheck: dict | None, seconds: float) -> None:
    """config.toml, history.jsonl, model.npz/json, diagnosis.json, summary.json."""
    from deeprecipe.persistence import save

    write_text_atomic(run_dir / "config.toml", dump_config(config))
    write_text_atomic(run_dir / "history.jsonl", trainer.history.to_jsonl())
    preprocessing = data.standardizer.to_dict() if data.standardizer is not None else None
    save(net, run_dir / "model", preprocessing=preprocessing,
         metadata={"classes": None if data.classes is None else data.classes.tolist(),
                   "loss": data.loss, "task": data.task, "image_shape": data.image_shape,
                   "feature_names": data.feature_names, "label": data.label_name})
    (run_dir / "model.onnx").unlink(missing_ok=True)  # exported from a model now replaced
    write_json_atomic(run_dir / "diagnosis.json", diagnosis.to_dict())
    write_json_atomic(run_dir / "summary.json", {
        "name": config.name, "dataset": data.name, "split": data.split_summary,
        "distribution": data.distribution, "metrics": metrics, "seconds": seconds,
        "network": {"summary": net.summary(), "n_params": net.n_params,
                    "config": net.get_config()},
        "gradient_check": gradcheck, "epochs_run": trainer.epoch,
        "optimizer": trainer.optimizer.get_config()})


def run(config: Config, run_dir: str | Path, *, verbose: bool = False, resume: bool = False,
        force: bool = False, report: bool = True) -> RunResult:
    """The main job: split, normalize, train, evaluate, diagnose, (tune), save, report."""
    start = time.perf_counter()
    run_dir = prepare_run_dir(run_dir, force=force, resume=resume, create=False)
    data = prepare_data(config)
    prepare_run_dir(run_dir, force=force, resume=resume)
    if not resume:  # a stale checkpoint of an overwritten run must never be resumed
        shutil.rmtree(run_dir / "checkpoints", ignore_errors=True)
    if not (resume and (run_dir / "config.toml").exists()):
        # written before training, so an interrupted run can be resumed from its directory
        write_text_atomic(run_dir / "config.toml", dump_config(config))
    tuning = None
    if config.tuning.n_trials > 0:
        from deeprecipe.tuning import tune

        study = tune(config, run_dir=run_dir / "study", data=data, verbose=verbose,
                     resume=resume)
        tuning = study.to_dict()
        config = study.best_config
    net, trainer = fit(config, data, checkpoint_dir=run_dir / "checkpoints", resume=resume,
                       verbose=verbose)
    result = save_run(run_dir, config, data, net, trainer, start=start)
    result.tuning = tuning
    if tuning is not None:
        write_json_atomic(run_dir / "tuning.json", tuning)
    if report:
        from deeprecipe.report import write_report

        write_report(run_dir)
    return result


def save_run(run_dir: Path, config: Config, data: PreparedData, net: Sequential,
             trainer: Trainer, *, metrics: dict | None = None,
             diagnosis: Diagnosis | None = None, start: float | None = None) -> RunResult:
    """Evaluate, diagnose and gradient-check a trained model, then write every run file.

    Shared by ``run``, the automated recipe and the babysitter, so each run directory holds the
    same files (the report is written by the caller, after its own extra files).
    """
    from deeprecipe.gradcheck import gradient_check

    metrics = evaluate(net, data) if metrics is None else metrics
    if diagnosis is None:
        diagnosis = diagnose(train_error=metrics["train_error"],
                             dev_error=metrics["dev_error"],
                             human_error=config.data.human_error,
                             test_error=metrics["test_error"])
    rows = min(8, len(data.X_train))
    check = gradient_check(net, data.X_train[:rows], data.y_train[:rows], loss=data.loss,
                           l2=config.regularization.l2, l1=config.regularization.l1,
                           max_components=300, freeze_dropout=True).to_dict()
    seconds = 0.0 if start is None else time.perf_counter() - start
    save_run_files(run_dir, config, data, net, trainer, metrics, diagnosis, check, seconds)
    return RunResult(run_dir, metrics, diagnosis, net, trainer.history, check, None, seconds)


def demo_config() -> Config:
    """The demo: digits, Adam, L2, dropout and BatchNorm, and a short random search."""
    from deeprecipe.config import config_from_dict

    return config_from_dict({
        "name": "demo", "seed": 0,
        "data": {"dataset": "digits", "human_error": 0.005},
        "model": {"hidden_layer_sizes": [64, 32], "batch_norm": True, "keep_prob": 0.9},
        "regularization": {"l2": 0.5},
        "optimizer": {"name": "adam", "learning_rate": 3e-3},
        "schedule": {"name": "inverse_time", "decay_rate": 0.02},
        "training": {"epochs": 40, "batch_size": 64, "early_stopping": True, "patience": 10},
        "tuning": {"n_trials": 6, "rounds": 1, "epochs": 10, "space": {
            "learning_rate": {"dist": "log_uniform", "low": 3e-4, "high": 3e-2},
            "l2": {"dist": "log_uniform", "low": 1e-2, "high": 3.0}}},
    })


def gradcheck_for(*, dataset: str = "moons", config_path: str | Path | None = None,
                  l2: float = 0.7, samples: int = 8, max_components: int | None = 2000):
    """Gradient check of the network a config (or the default) builds on a few examples."""
    from deeprecipe.config import config_from_dict, load_config
    from deeprecipe.gradcheck import gradient_check

    if config_path is not None:
        config = load_config(config_path)
        l2, l1 = config.regularization.l2, config.regularization.l1
    else:
        config = config_from_dict({"data": {"dataset": dataset},
                                   "model": {"hidden_layer_sizes": [5, 3], "batch_norm": True,
                                             "activation": "tanh"}})
        l1 = 0.0
    data = prepare_data(config, check_distribution=False)
    net = build_network(config, data)
    rows = min(samples, len(data.X_train))
    return gradient_check(net, data.X_train[:rows], data.y_train[:rows], loss=data.loss, l2=l2,
                          l1=l1, max_components=max_components, freeze_dropout=True)
