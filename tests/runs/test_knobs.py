"""The one table of knobs: every consumer reads it, and a new knob is one entry."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from deeprecipe.errors import ConfigError
from deeprecipe.runs.config import Config, config_from_dict, dump_config
from deeprecipe.runs.knobs import BY_NAME, KNOBS, apply, check_value, set_live
from deeprecipe.tuning.hyperparameters import HYPERPARAMETERS
from _timeouts import GUARD

SRC = Path(__file__).resolve().parents[2] / "src"


def test_every_knob_is_a_config_key_with_its_default():
    config = Config()
    for knob in KNOBS:
        assert getattr(getattr(config, knob.section), knob.key) == knob.default, knob.name


def test_every_knob_is_a_tuning_name():
    assert {k.name for k in KNOBS} <= set(HYPERPARAMETERS)
    assert HYPERPARAMETERS["learning_rate"] == "optimizer.learning_rate"


def test_every_estimator_knob_is_an_estimator_parameter():
    from deeprecipe.estimator import DeepClassifier, DeepRegressor

    for cls in (DeepClassifier, DeepRegressor):
        params = cls().get_params()
        for knob in KNOBS:
            assert (knob.name in params) == knob.estimator, (cls.__name__, knob.name)


def test_apply_sets_the_knob_at_its_path_and_validates():
    config = apply(Config(), {"learning_rate": 0.03, "optimizer": "momentum", "beta": 0.95})
    assert (config.optimizer.learning_rate, config.optimizer.name, config.optimizer.beta) == \
        (0.03, "momentum", 0.95)
    with pytest.raises(ConfigError, match="learning_rate must be > 0.0"):
        apply(Config(), {"learning_rate": -1.0})
    with pytest.raises(ConfigError, match="unknown hyperparameter 'learning_rte'"):
        apply(Config(), {"learning_rte": 0.1})
    assert check_value("batch_size", "full") == "full"


def test_live_knobs_change_a_running_trainer():
    import deeprecipe as dr

    X = np.random.default_rng(0).standard_normal((32, 3)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int)
    net = dr.Sequential([dr.layers.Dense(4), dr.layers.ReLU(), dr.layers.Dropout(0.9),
                         dr.layers.Dense(1), dr.layers.Sigmoid()], input_dim=3, random_state=0)
    trainer = dr.Trainer(net, X, y, loss="binary_crossentropy",
                         optimizer=dr.optimizers.Momentum(0.1), random_state=0)
    assert set_live(trainer, "learning_rate", 0.05) == 0.1
    assert trainer.optimizer.learning_rate == pytest.approx(0.05)
    assert trainer.schedule(1) == pytest.approx(0.05)  # the schedule owns it
    assert set_live(trainer, "beta", 0.8) == 0.9 and trainer.optimizer.beta == 0.8
    assert set_live(trainer, "keep_prob", 0.7) == 0.9 and net.layers[2].keep_prob == 0.7
    assert set_live(trainer, "l2", 0.5) == 0.0 and trainer.l2 == 0.5
    with pytest.raises(ConfigError, match="epochs cannot change during training"):
        set_live(trainer, "epochs", 3)
    assert all(k.live is None or k.name in BY_NAME for k in KNOBS)


NEW_KNOB = '''
    Knob("divergence_factor", "training", "divergence_factor", float, 100.0,
         _real(1.0, closed="neither"), "stop when the cost exceeds this multiple of the first",
         live=_trainer_attribute("divergence_factor")),
'''

PROBE = '''
import json, tempfile
import numpy as np
from deeprecipe.runs.config import config_from_dict, dump_config
from deeprecipe.errors import ConfigError
from deeprecipe.estimator import DeepClassifier
from deeprecipe.tuning.hyperparameters import apply, space_from_config
from deeprecipe.tuning import panda
from deeprecipe.runs.knobs import set_live
import deeprecipe as dr

out = {}
cfg = config_from_dict({"training": {"divergence_factor": 50.0}})
out["config"] = cfg.training.divergence_factor
out["dumped"] = "divergence_factor = 100.0" in dump_config(config_from_dict({}))
try:
    config_from_dict({"training": {"divergence_factor": 0.5}})
except ConfigError as exc:
    out["rejected"] = str(exc)
out["estimator"] = DeepClassifier().get_params()["divergence_factor"]
space = space_from_config({"divergence_factor": {"dist": "uniform", "low": 10, "high": 20}})
out["space"] = sorted(space)
out["tuned"] = apply(cfg, {"divergence_factor": 12.0}).training.divergence_factor
X = np.random.default_rng(0).standard_normal((16, 2)).astype(np.float32)
net = dr.Sequential([dr.layers.Dense(1), dr.layers.Sigmoid()], input_dim=2, random_state=0)
trainer = dr.Trainer(net, X, (X[:, 0] > 0).astype(int), loss="binary_crossentropy")
out["live_old"] = set_live(trainer, "divergence_factor", 30.0)
out["live_new"] = trainer.divergence_factor
with tempfile.TemporaryDirectory() as d:
    panda.babysit(config_from_dict({"data": {"dataset": "moons", "n_samples": 100},
                                    "model": {"hidden_layer_sizes": [4]},
                                    "training": {"epochs": 2}}), d, chunks=1)
    out["nudge"] = panda.nudge(d, divergence_factor=40.0)["request"]
print(json.dumps(out))
'''


def test_a_new_knob_is_one_table_entry(tmp_path):
    """Add one entry to KNOBS (and nothing else): config, estimator, tuning and nudges see it."""
    src = tmp_path / "src"
    shutil.copytree(SRC, src, ignore=shutil.ignore_patterns("__pycache__"))
    knobs = src / "deeprecipe" / "runs" / "knobs.py"
    text = knobs.read_text()
    end = text.index("\n)\n\nBY_NAME")
    knobs.write_text(text[:end + 1] + NEW_KNOB.lstrip("\n") + text[end + 1:])
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=tmp_path, capture_output=True,
                          text=True, timeout=GUARD, env={"PYTHONPATH": str(src),
                                                       "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr[-3000:]
    import json

    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["config"] == 50.0 and out["dumped"]
    assert "divergence_factor must be > 1.0, got 0.5" in out["rejected"]
    assert out["estimator"] == 100.0
    assert out["space"] == ["divergence_factor"] and out["tuned"] == 12.0
    assert (out["live_old"], out["live_new"]) == (100.0, 30.0)
    assert out["nudge"] == {"divergence_factor": 40.0}


def test_the_config_round_trips_through_toml():
    config = config_from_dict({"optimizer": {"name": "rmsprop", "learning_rate": 0.02}})
    import tomllib

    assert config_from_dict(tomllib.loads(dump_config(config))) == config
