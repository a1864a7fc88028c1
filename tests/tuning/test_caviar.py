"""Caviar: the same trials on local processes and on a Dask cluster as in one process."""

from __future__ import annotations

import time

import pytest

from deeprecipe.errors import DeepRecipeError
from deeprecipe.runs.config import config_from_dict
from deeprecipe.tuning import Choice, IntUniform, LogUniform, tune

SPACE = {"learning_rate": LogUniform(1e-3, 1.0), "hidden_units": IntUniform(2, 16),
         "batch_size": Choice([32, 64])}
CONFIG = config_from_dict({
    "data": {"dataset": "moons", "n_samples": 300}, "model": {"hidden_layer_sizes": [8]},
    "training": {"epochs": 4, "early_stopping": False}, "tuning": {"n_trials": 4, "rounds": 2}})


def _rows(result):
    return [(t["round"], t["index"], t["params"], t["dev_error"], t["state"])
            for t in result.trials]


@pytest.fixture(scope="module")
def serial(tmp_path_factory):
    return tune(CONFIG, run_dir=tmp_path_factory.mktemp("serial"), space=SPACE, seed=7)


def test_two_local_processes_reproduce_the_serial_study(serial, tmp_path):
    parallel = tune(CONFIG, run_dir=tmp_path, space=SPACE, seed=7, workers=2)
    assert _rows(parallel) == _rows(serial)
    assert len(parallel.trials) == 8 and parallel.spaces == serial.spaces
    assert parallel.best_config == serial.best_config


def test_a_dask_cluster_runs_the_same_trials(serial, tmp_path):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                  dashboard_address=None) as cluster:
        result = tune(CONFIG, run_dir=tmp_path, space=SPACE, seed=7,
                      scheduler=cluster.scheduler_address)
    assert _rows(result) == _rows(serial)


def test_a_silent_scheduler_is_a_clear_error_within_seconds(tmp_path):
    pytest.importorskip("distributed")
    start = time.monotonic()
    with pytest.raises(DeepRecipeError, match="no Dask scheduler answered at "
                                              "tcp://127.0.0.1:1"):
        tune(CONFIG, run_dir=tmp_path, space=SPACE, seed=7, scheduler="tcp://127.0.0.1:1")
    # connect() waits 5 s; Dask's own default would be 30 s: what is checked is that the 5 s
    # apply (25 s leaves a loaded machine 20 s for the rest), not how fast the machine is
    assert time.monotonic() - start < 25
