"""Tests for deeprecipe.runs.prepare on data larger than the memory it may use.

A .npy file is memory-mapped and read batch by batch: training from it under an RLIMIT_DATA
(which counts anonymous, private writable memory and not the file's pages) smaller than the
array succeeds, while loading the array whole fails under the same limit. Training from the
map and from the same arrays in memory (an .npz) gives the same weights bit for bit.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from deeprecipe.optimize.rows import Rows
from deeprecipe.runs.build import fit
from deeprecipe.runs.config import config_from_dict
from deeprecipe.runs.prepare import prepare_data
from _timeouts import GUARD

ROWS, FEATURES = 500_000, 200  # 400 MB of float32 (381 MiB)
BUDGET = 160 * 2**20  # anonymous memory the training may add: less than half the array


def _write_pair(folder, m: int, n: int, seed: int = 0) -> tuple:
    """X.npy (m, n) float32 and y.npy (m,) int64 of 3 separable classes, written in chunks."""
    X = np.lib.format.open_memmap(folder / "X.npy", mode="w+", dtype=np.float32, shape=(m, n))
    y = np.lib.format.open_memmap(folder / "y.npy", mode="w+", dtype=np.int64, shape=(m,))
    rng = np.random.default_rng(seed)
    for start in range(0, m, 50_000):
        k = min(50_000, m - start)
        labels = rng.integers(0, 3, k)
        X[start:start + k] = rng.normal(size=(k, n)).astype(np.float32) + 2.0 * labels[:, None]
        y[start:start + k] = labels
    X.flush(), y.flush()
    return folder / "X.npy", folder / "y.npy"


def _config(dataset, **training) -> dict:
    return {"name": "mapped", "seed": 0, "data": {"dataset": str(dataset)},
            "model": {"hidden_layer_sizes": [16]}, "optimizer": {"learning_rate": 0.01},
            "training": {"epochs": 2, "batch_size": 256, **training}}


_CHILD = textwrap.dedent("""
    import json, resource, sys
    import numpy as np
    import scipy.sparse.csgraph  # loaded before the limit, as any import would be
    from deeprecipe.runs.build import fit
    from deeprecipe.runs.config import config_from_dict
    from deeprecipe.runs.prepare import prepare_data

    def vm_data():
        for line in open("/proc/self/status"):
            if line.startswith("VmData:"):
                return int(line.split()[1]) * 1024

    if len(sys.argv) > 3:  # the runtime first (numba's compiled kernels): a run on a few rows
        warm = config_from_dict(json.loads(sys.argv[3]))
        fit(warm, prepare_data(warm, check_distribution=False))
    limit = vm_data() + int(sys.argv[2])
    resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
    config = config_from_dict(json.loads(sys.argv[1]))
    data = prepare_data(config, check_distribution=False)
    net, trainer = fit(config, data)
    record = trainer.history.epochs[-1]
    try:  # the control: the whole array does not fit under the same limit
        whole = np.array(data.X_train.base)
        loaded = True
    except MemoryError:
        loaded = False
    print(json.dumps({"dev_error": record["dev_error"], "mapped": data.X_train.mapped,
                      "loaded_whole": loaded, "vm_data": vm_data(), "limit": limit}))
""")


def test_trains_from_a_mapped_file_under_a_memory_limit_the_array_breaks(tmp_path):
    X_path, _ = _write_pair(tmp_path, ROWS, FEATURES)
    assert X_path.stat().st_size > 2 * BUDGET
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "MALLOC_ARENA_MAX": "1"}
    proc = subprocess.run([sys.executable, "-c", _CHILD, json.dumps(_config(X_path, epochs=1)),
                           str(BUDGET)], capture_output=True, text=True, env=env, timeout=GUARD)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["mapped"]
    assert not result["loaded_whole"]  # the limit is real: the array itself breaks it
    assert result["dev_error"] < 0.05  # and the model learned the three classes


def test_mapped_and_in_memory_data_train_bit_for_bit_alike(tmp_path):
    X_path, y_path = _write_pair(tmp_path, 6_000, 12)
    np.savez(tmp_path / "same.npz", X=np.load(X_path), y=np.load(y_path))
    nets = []
    for dataset in (X_path, tmp_path / "same.npz"):
        config = config_from_dict(_config(dataset, batch_size=64))
        data = prepare_data(config, check_distribution=False)
        assert isinstance(data.X_train, Rows)
        assert data.X_train.mapped == (dataset == X_path)
        nets.append(fit(config, data)[0])
    for key, W in nets[0].params.items():
        assert np.array_equal(W, nets[1].params[key]), key


def test_parts_are_sorted_disjoint_index_views_of_one_array(tmp_path):
    X_path, _ = _write_pair(tmp_path, 12_000, 4)
    data = prepare_data(config_from_dict(_config(X_path)), check_distribution=True)
    parts = [data.X_train, data.X_dev, data.X_test]
    base = np.load(X_path, mmap_mode="r")
    assert all(p.base.filename == base.filename for p in parts)
    index = np.concatenate([p.index for p in parts])
    assert all(np.all(np.diff(p.index) > 0) for p in parts)
    assert np.array_equal(np.sort(index), np.arange(12_000))  # a partition: no row twice
    assert (len(data.X_dev), len(data.X_test)) == (data.split_summary["dev"],
                                                   data.split_summary["test"])
    s = data.standardizer
    np.testing.assert_allclose(s.mean_, base[data.X_train.index].astype(np.float64).mean(0),
                               rtol=1e-9)
    np.testing.assert_allclose(data.X_dev[:5], (base[data.X_dev.index[:5]] - s.mean_) / s.std_,
                               rtol=1e-5, atol=1e-6)
    assert "random subsample of 2,000 of" in data.distribution["message"]


@pytest.mark.parametrize("dev_only", [False, True])
def test_an_npz_with_its_own_test_set_keeps_it_whole(tmp_path, dev_only):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(500, 3)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    np.savez(tmp_path / "d.npz", X_train=X[:400], y_train=y[:400], X_test=X[400:],
             y_test=y[400:])
    cfg = _config(tmp_path / "d.npz")
    cfg["split"] = {"dev_only": dev_only}
    data = prepare_data(config_from_dict(cfg), check_distribution=False)
    given = data.X_dev if dev_only else data.X_test
    assert len(given) == 100
    np.testing.assert_allclose(given[:], data.standardizer.transform(X[400:]), rtol=1e-6)
    assert len(data.X_train) == (400 if dev_only else data.split_summary["train"])


_PEAK_CHILD = textwrap.dedent("""
    import json, sys
    from deeprecipe.runs.build import fit
    from deeprecipe.runs.config import config_from_dict
    from deeprecipe.runs.prepare import prepare_data

    def status(key):
        for line in open("/proc/self/status"):
            if line.startswith(key):
                return int(line.split()[1]) * 1024

    def run(cfg):
        config = config_from_dict(cfg)
        data = prepare_data(config, check_distribution=False)
        fit(config, data)
        return data.X_train.base.nbytes

    small, big = json.loads(sys.argv[1]), json.loads(sys.argv[2])
    run(small)  # the runtime: every import, BLAS and the code paths, on a few rows
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # VmHWM := VmRSS: the peak from here on
    base = status("VmRSS:")
    nbytes = run(big)
    print(json.dumps({"above": status("VmHWM:") - base, "data": nbytes}))
""")


def _peak_above_runtime(small: dict, big: dict) -> dict:
    """Peak RSS above the runtime (measured after a run on a few rows) of prepare + fit."""
    if not os.access("/proc/self/clear_refs", os.W_OK):
        pytest.skip("needs Linux's /proc/self/clear_refs to reset the peak RSS")
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "MALLOC_ARENA_MAX": "1"}
    proc = subprocess.run([sys.executable, "-c", _PEAK_CHILD, json.dumps(small),
                           json.dumps(big)], capture_output=True, text=True, env=env,
                          timeout=GUARD)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("kind", ["csv", "npz of float64"])
def test_in_memory_data_peaks_at_most_one_and_a_half_times_the_data(tmp_path, kind):
    m, n = 100_000, 100
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, m)
    configs = []
    for rows in (500, m):  # the runtime on a few rows, then the data
        X = rng.normal(size=(rows, n)) + y[:rows, None]
        path = tmp_path / f"d{rows}.{kind[:3]}"
        if kind == "csv":
            header = ",".join([f"f{i}" for i in range(n)] + ["label"])
            np.savetxt(path, np.c_[X, y[:rows]], delimiter=",", header=header, comments="",
                       fmt=["%.3f"] * n + ["%d"])
        else:
            np.savez_compressed(path, X=X, y=y[:rows])  # converted to float32 block by block
        label = {"label": "label"} if kind == "csv" else {}
        configs.append({**_config(path, epochs=1), "data": {"dataset": str(path), **label}})
    result = _peak_above_runtime(*configs)
    assert result["data"] == m * n * 4  # float32 features, held once
    assert result["above"] <= 1.5 * result["data"], result["above"] / result["data"]


def _write_shards(folder, X_path, y_path, cuts) -> None:
    """The rows of X.npy, y.npy cut into shards X_000.npy, y_000.npy, ... at ``cuts``."""
    folder.mkdir()
    X, y = np.load(X_path, mmap_mode="r"), np.load(y_path)
    for i, (a, b) in enumerate(zip(cuts[:-1], cuts[1:], strict=True)):
        np.save(folder / f"X_{i:03d}.npy", X[a:b])
        np.save(folder / f"y_{i:03d}.npy", y[a:b])


def test_shards_train_bit_for_bit_like_one_file(tmp_path):
    X_path, y_path = _write_pair(tmp_path, 6_000, 12)
    _write_shards(tmp_path / "shards", X_path, y_path, (0, 1_000, 1_001, 3_500, 6_000))
    nets = []
    for dataset in (X_path, tmp_path / "shards"):
        config = config_from_dict(_config(dataset, batch_size=64))
        data = prepare_data(config, check_distribution=True)
        assert data.X_train.mapped
        nets.append(fit(config, data)[0])
    assert type(data.X_train.base).__name__ == "Shards"
    for key, W in nets[0].params.items():
        assert np.array_equal(W, nets[1].params[key]), key


def test_trains_from_shards_under_a_memory_limit_the_array_breaks(tmp_path):
    rows, budget = 240_000, 40 * 2**20
    X_path, y_path = _write_pair(tmp_path, rows, 100)  # 96 MB of float32
    _write_shards(tmp_path / "shards", X_path, y_path, (0, 80_000, 160_000, rows))
    X_path.unlink()
    (tmp_path / "few").mkdir()
    few, _ = _write_pair(tmp_path / "few", 2_000, 100)
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "MALLOC_ARENA_MAX": "1"}
    proc = subprocess.run([sys.executable, "-c", _CHILD,
                           json.dumps(_config(tmp_path / "shards", epochs=1)), str(budget),
                           json.dumps(_config(few, epochs=1))],
                          capture_output=True, text=True, env=env, timeout=GUARD)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["mapped"] and not result["loaded_whole"]
    assert result["dev_error"] < 0.05


def test_dev_and_test_sets_too_small_to_compare_are_not_checked_and_say_so(tmp_path):
    X_path, _ = _write_pair(tmp_path, 10, 2)  # a few rows: dev and test get 1 or 2 each
    data = prepare_data(config_from_dict(_config(X_path)), check_distribution=True)
    dist = data.distribution
    assert min(len(data.X_dev), len(data.X_test)) < 3
    assert dist["verdict"] == "not checked" and dist["auc"] is None
    assert f"got {len(data.X_dev)} and {len(data.X_test)}" in dist["message"]
    fit(config_from_dict(_config(X_path)), data)  # and the run goes on
