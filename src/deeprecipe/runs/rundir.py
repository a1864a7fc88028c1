"""A run directory: the name of every file in it, creating it, writing and reading it."""

from __future__ import annotations

from pathlib import Path

from deeprecipe._io import load_json, write_json_atomic, write_text_atomic
from deeprecipe.engine.network import Sequential
from deeprecipe.errors import CheckpointError, DeepRecipeError
from deeprecipe.optimize.trainer import Trainer
from deeprecipe.persistence import load, load_info, load_preprocessing, model_paths, save
from deeprecipe.runs.config import Config, config_from_dict, dump_config, load_config
from deeprecipe.runs.prepare import PreparedData

__all__ = ["RUN_FILES", "prepare_run_dir", "check_run_dir", "save_run_files", "load_run_model",
           "run_config"]


#: The name of every file and folder a run directory may hold (the one place that names them).
CONFIG = "config.toml"            # the complete, effective configuration
HISTORY = "history.jsonl"         # one line per epoch, logged step and event
CHECKPOINTS = "checkpoints"       # the trainer's resumable checkpoints
MODEL = "model"                   # model.npz + model.json (the base name persistence takes)
MODEL_JSON = "model.json"
MODEL_NPZ = "model.npz"
ONNX = "model.onnx"               # deeprecipe export: the whole predictor for ONNX Runtime
DIAGNOSIS = "diagnosis.json"      # the bias/variance reading
SUMMARY = "summary.json"          # split, metrics, network, gradient check
REPORT = "report.html"            # the self-contained report
LEARNING_CURVE = "learning_curve.json"
STUDY = "study"                   # tuning: the Optuna journal, best config, one folder per trial
JOURNAL = "journal.log"           # in STUDY
JOURNAL_LOCK = "journal.log.flock"  # in STUDY: held (flock) while the journal is written
STUDY_JSON = "study.json"         # in STUDY: the study as the report reads it
LOCK = ".lock"                    # held (flock) by the process working in the run directory
BEST_CONFIG = "best_config.toml"  # in STUDY
TRIALS = "trials"                 # in STUDY
TUNING = "tuning.json"            # the study as the report reads it
RECIPE = "recipe.json"            # the automated recipe's rounds
ROUNDS = "rounds"                 # the recipe's per-round checkpoints
RECIPE_ARGS_NAME = "recipe_args.json"
RECIPE_ARGS = f"{ROUNDS}/{RECIPE_ARGS_NAME}"  # the recipe's baseline and options, to resume
ROUND_ALPHA = "alpha.json"        # in ROUNDS/NN: the round's α search
ROUND_REGULARIZATION = "regularization.json"  # in ROUNDS/NN: its L2 / keep_prob search
ROUND_SEARCH = "search.json"      # in ROUNDS/NN: its random search over the architecture
RECIPE_CLOCK = f"{ROUNDS}/clock.json"  # seconds of the budget spent, for a resumed recipe
PANDA = "panda.json"              # a babysat model's branches, chunks and events
BRANCHES = "branches"
NUDGES = "nudges"                 # nudge requests waiting for an epoch boundary
APPLIED = "applied"               # in NUDGES: the requests already applied

RUN_FILES = (CONFIG, MODEL_JSON, MODEL_NPZ, HISTORY, REPORT, DIAGNOSIS, SUMMARY)


def prepare_run_dir(run_dir: str | Path, *, force: bool = False, resume: bool = False,
                    create: bool = True) -> Path:
    """Create ``run_dir``; refuse to overwrite a finished run unless ``force``.

    ``create=False`` only checks (so a run that fails on its data leaves no empty folder).
    """
    run_dir = Path(run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise DeepRecipeError(f"{run_dir} is a file, not a run directory; choose another --out")
    # a finished run, and a babysat model or a recipe under way: one rule for every command
    existing = [name for name in (*RUN_FILES, PANDA, ROUNDS) if (run_dir / name).exists()]
    if existing and not (force or resume):
        raise DeepRecipeError(f"{run_dir} already holds a run ({', '.join(existing)}); pass "
                              "--force to overwrite it, continue it with `deeprecipe resume "
                              f"{run_dir}`, or choose another --out")
    if create:
        run_dir.mkdir(parents=True, exist_ok=True)
    return run_dir


def check_run_dir(run_dir: str | Path) -> Path:
    """``run_dir`` if it is a folder holding anything a run, tuning, recipe or babysat model
    writes; DeepRecipeError otherwise (so ``report /`` does not write /report.html)."""
    run_dir = Path(run_dir)
    marks = (*RUN_FILES, PANDA, ROUNDS, RECIPE, STUDY, CHECKPOINTS, LOCK)
    if not run_dir.is_dir() or not any((run_dir / name).exists() for name in marks):
        what = "does not exist" if not run_dir.exists() else (
            "is not a folder" if not run_dir.is_dir() else "holds no run")
        raise DeepRecipeError(f"{run_dir} is not a run directory: it {what} (a run writes "
                              f"{CONFIG}, a babysat model {PANDA})")
    return run_dir


def save_run_files(run_dir: Path, config: Config, data: PreparedData, net: Sequential,
                   trainer: Trainer, metrics: dict, diagnosis: dict,
                   gradcheck: dict | None, seconds: float) -> None:
    """config.toml, history.jsonl, model.npz/json, diagnosis.json, summary.json."""
    write_text_atomic(run_dir / CONFIG, dump_config(config))
    write_text_atomic(run_dir / HISTORY, trainer.history.to_jsonl())
    preprocessing = data.standardizer.to_dict() if data.standardizer is not None else None
    save(net, run_dir / MODEL, preprocessing=preprocessing,
         metadata={"classes": None if data.classes is None else data.classes.tolist(),
                   "loss": data.loss, "task": data.task, "image_shape": data.image_shape,
                   "feature_names": data.feature_names, "label": data.label_name})
    (run_dir / ONNX).unlink(missing_ok=True)  # exported from a model now replaced
    write_json_atomic(run_dir / DIAGNOSIS, diagnosis)
    write_json_atomic(run_dir / SUMMARY, {
        "name": config.name, "dataset": data.name, "split": data.split_summary,
        "distribution": data.distribution, "metrics": metrics, "seconds": seconds,
        "network": {"summary": net.summary(), "n_params": net.n_params,
                    "config": net.get_config()},
        "gradient_check": gradcheck, "epochs_run": trainer.epoch,
        # the configured α, and (labelled) the one the schedule had decayed it to at the end
        "optimizer": {**trainer.optimizer.get_config(),
                      "learning_rate": config.optimizer.learning_rate,
                      "final_learning_rate": trainer.optimizer.learning_rate}})


def load_run_model(run_dir: str | Path):
    """(network, standardizer or None, metadata) of the model saved in ``run_dir``.

    ``run_dir`` is a run directory (its model.npz + model.json) or a saved model's base name.
    """
    run_dir = Path(run_dir)
    base = run_dir / MODEL if (run_dir / MODEL_JSON).exists() else run_dir
    if not model_paths(base)[1].exists():
        if run_dir.is_dir() and (run_dir / CHECKPOINTS).is_dir():
            raise DeepRecipeError(f"{run_dir} holds no final model yet (no model.json); finish "
                                  f"the run with `deeprecipe resume {run_dir}`")
        raise DeepRecipeError(f"{run_dir} is neither a run directory nor a saved model "
                              "(no model.json found)")
    net = load(base)
    if not hasattr(net, "predict_proba") or not hasattr(net, "check_input"):
        raise DeepRecipeError(f"{run_dir} holds an estimator, not a run's network model")
    pre = load_preprocessing(base)
    metadata = load_info(base).get("metadata") or {}
    _check_metadata(metadata, net, model_paths(base)[1])
    return net, (pre if hasattr(pre, "transform") else None), metadata


def _check_metadata(metadata, net: Sequential, json_path: Path) -> None:
    """A run's metadata must fit its network: one class name per output (two for one sigmoid
    output), each a number or a string."""
    if not isinstance(metadata, dict):
        raise CheckpointError(f"{json_path}: metadata must be a JSON object, got {metadata!r}")
    classes = metadata.get("classes")
    if classes is None:
        return
    n_out = net.output_dim
    expected = 2 if n_out == 1 else n_out
    if (not isinstance(classes, list) or len(classes) != expected
            or not all(isinstance(c, (int, float, str)) and not isinstance(c, bool)
                       for c in classes)):
        raise CheckpointError(f"{json_path}: metadata.classes must list {expected} class "
                              f"names or numbers (the network has {n_out} output(s)), got "
                              f"{str(classes)[:80]}")


def run_config(run_dir: Path):
    """The configuration a run (config.toml) or a babysat run (panda.json) was trained with."""
    if (run_dir / CONFIG).exists():
        return load_config(run_dir / CONFIG)
    if (run_dir / PANDA).exists():
        return config_from_dict(load_json(run_dir / PANDA)["config"])
    raise DeepRecipeError(f"{run_dir} is not a run directory (no config.toml or panda.json)")

