"""Working with finished run directories: evaluate and predict with their saved model."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from deeprecipe.config import load_config
from deeprecipe.errors import DeepRecipeError
from deeprecipe.prediction import predict_file  # moved there; kept importable from here

__all__ = ["load_run_model", "evaluate_run", "learning_curve_run", "predict_file"]


def load_run_model(run_dir: str | Path):
    """(network, standardizer or None, metadata) of the model saved in ``run_dir``.

    ``run_dir`` is a run directory (its model.npz + model.json) or a saved model's base name.
    """
    from deeprecipe.persistence import load, load_info, load_preprocessing, model_paths

    run_dir = Path(run_dir)
    base = run_dir / "model" if (run_dir / "model.json").exists() else run_dir
    if not model_paths(base)[1].exists():
        if run_dir.is_dir() and (run_dir / "checkpoints").is_dir():
            raise DeepRecipeError(f"{run_dir} holds no final model yet (no model.json); finish "
                                  f"the run with `deeprecipe resume {run_dir}`")
        raise DeepRecipeError(f"{run_dir} is neither a run directory nor a saved model "
                              "(no model.json found)")
    net = load(base)
    if not hasattr(net, "predict_proba") or not hasattr(net, "check_input"):
        raise DeepRecipeError(f"{run_dir} holds an estimator, not a run's network model")
    pre = load_preprocessing(base)
    return net, (pre if hasattr(pre, "transform") else None), load_info(base).get("metadata") or {}


def _run_config(run_dir: Path):
    """The configuration a run (config.toml) or a babysat run (panda.json) was trained with."""
    if (run_dir / "config.toml").exists():
        return load_config(run_dir / "config.toml")
    if (run_dir / "panda.json").exists():
        from deeprecipe._io import load_json
        from deeprecipe.config import config_from_dict

        return config_from_dict(load_json(run_dir / "panda.json")["config"])
    raise DeepRecipeError(f"{run_dir} is not a run directory (no config.toml or panda.json)")


def evaluate_run(run_dir: str | Path) -> dict:
    """Errors and costs of the saved model on the run's own train/dev/test split."""
    from deeprecipe.pipeline import evaluate, prepare_data

    run_dir = Path(run_dir)
    config = _run_config(run_dir)
    net, _, _ = load_run_model(run_dir)
    data = prepare_data(config, check_distribution=False)
    return evaluate(net, data)


def _curve_reading(train: list[float], dev: list[float], human: float,
                   tol: float = 0.02) -> str:
    """One sentence reading a learning curve as the lecture does (tol as in diagnose)."""
    te, de = train[-1], dev[-1]
    gap, bias = de - te, te - human
    numbers = (f"(dev error {dev[0]:.1%} -> {de:.1%} from the smallest to the largest size, "
               f"train error {te:.1%}, human-level {human:.1%})")
    if len(dev) > 1 and dev[-2] - de > tol / 4 and gap > tol:
        extra = "; train error also stays above human-level, so bias remains" \
            if bias > tol else ""
        return (f"dev error still falling with more data: variance; more data should "
                f"help{extra} {numbers}.")
    if bias > tol and gap <= tol:
        return ("train and dev errors converge high above human-level: bias; more data will "
                f"not help, a bigger network or longer training should {numbers}.")
    if gap > tol:
        return ("dev error has levelled off above train error: variance that more of the "
                f"same data no longer reduces; try regularization {numbers}.")
    return ("train and dev errors converge near human-level: neither bias nor variance; "
            f"more data is not needed {numbers}.")


def learning_curve_run(run_dir: str | Path, *, sizes=(0.1, 0.25, 0.5, 1.0)):
    """Train and dev error of fresh networks trained on growing (nested) training subsets.

    Each size trains a new network from the run's configuration on the first n training
    examples (shuffled once with the run's seed) and measures its train and dev error on
    the scale of ``pipeline.evaluate`` (misclassification rate; for regression MSE over the
    full training targets' variance, clipped to 1). Writes ``run_dir/learning_curve.json``
    (sizes, train_errors, dev_errors, human_error and a one-sentence reading) and returns
    the :class:`~deeprecipe.diagnosis.LearningCurve`.
    """
    import dataclasses

    from deeprecipe._io import write_json_atomic
    from deeprecipe.diagnosis import error_rate, learning_curve
    from deeprecipe.pipeline import build_network, make_trainer, prepare_data

    run_dir = Path(run_dir)
    config = _run_config(run_dir)
    data = prepare_data(config, check_distribution=False)

    def make_and_fit(X, y):
        cfg = config
        bs = config.training.batch_size
        if isinstance(bs, int) and bs > len(X):  # a small subset: one full batch at most
            cfg = dataclasses.replace(config, training=dataclasses.replace(
                config.training, batch_size=len(X)))
        sub = dataclasses.replace(data, X_train=X, y_train=y)
        net = build_network(cfg, sub)
        make_trainer(cfg, sub, net).fit(cfg.training.epochs)
        return net.predict

    error = error_rate
    if data.task == "regression":
        scale = float(np.var(data.y_train, axis=0).mean()) or 1.0

        def error(y_true, y_pred) -> float:  # = pipeline.evaluate's regression error
            d = (np.asarray(y_pred, np.float64).reshape(len(y_pred), -1)
                 - np.asarray(y_true, np.float64).reshape(len(y_true), -1))
            return min(1.0, float(np.einsum("ij,ij->", d, d) / len(d)) / scale)

    curve = learning_curve(make_and_fit, data.X_train, data.y_train, data.X_dev, data.y_dev,
                           sizes=sizes, error=error, random_state=config.seed)
    human = float(config.data.human_error)
    write_json_atomic(run_dir / "learning_curve.json", {
        **curve.to_dict(), "human_error": human,
        "reading": _curve_reading(list(curve.train_errors), list(curve.dev_errors), human)})
    return curve
