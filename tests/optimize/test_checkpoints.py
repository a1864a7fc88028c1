"""Checkpoints: kill -9 / Ctrl-C a real training process, resume, and get the same bits."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from _timeouts import GUARD, wait_until

import deeprecipe as dr
from deeprecipe.errors import CheckpointError
from deeprecipe.optimize import checkpoints

WORKER = Path(__file__).resolve().parents[1] / "_resume_worker.py"


def _cmd(ckpt_dir: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, str(WORKER), str(ckpt_dir), str(out), *extra]


def _env() -> dict[str, str]:
    # one BLAS thread: identical arithmetic in every process, no oversubscription
    return {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def _run(cmd: list[str]) -> subprocess.CompletedProcess:
    done = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=GUARD)
    assert done.returncode == 0, done.stderr
    return done


def _paused(proc: subprocess.Popen, out: Path) -> None:
    """Wait until the worker is parked at its --pause-at step (it wrote OUT.paused)."""
    wait_until(Path(f"{out}.paused").exists, f"{out.name}.paused", proc=proc)


def _load(out: Path) -> tuple[dict[str, np.ndarray], dict]:
    with np.load(f"{out}.npz", allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files}
    history = json.loads(Path(f"{out}.json").read_text(encoding="utf-8"))
    return arrays, history


def _without_time(history: dict) -> dict:
    return {**history, "epochs": [{k: v for k, v in r.items() if k != "time"}
                                  for r in history["epochs"]]}


def _assert_same_run(a: Path, b: Path) -> None:
    arrays_a, hist_a = _load(a)
    arrays_b, hist_b = _load(b)
    assert sorted(arrays_a) == sorted(arrays_b)
    assert any(k.startswith("state/") for k in arrays_a)  # BatchNorm running statistics
    for k in arrays_a:
        assert arrays_a[k].dtype == arrays_b[k].dtype == np.float32, k
        assert np.array_equal(arrays_a[k], arrays_b[k]), k
    assert _without_time(hist_a) == _without_time(hist_b)


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """One uninterrupted run of the worker (in its own process, like the others)."""
    root = tmp_path_factory.mktemp("reference")
    _run(_cmd(root / "ckpt", root / "out"))
    return root / "out"


@pytest.mark.parametrize("kill_after", [1, 3, 6])
def test_sigkill_then_resume_is_bit_for_bit(tmp_path, reference, kill_after):
    ckpt, out = tmp_path / "ckpt", tmp_path / "out"
    # parked after step 3 of the next epoch's 10: mid-epoch, whatever the machine's speed
    proc = subprocess.Popen(_cmd(ckpt, out, "--pause-at", str(kill_after + 1), "3"),
                            env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    try:
        _paused(proc, out)
        assert (ckpt / f"epoch-{kill_after:04d}.json").exists()
        proc.kill()  # SIGKILL: no handler, no cleanup
        proc.wait(timeout=GUARD)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    assert not Path(f"{out}.npz").exists()  # it really died before finishing
    latest = checkpoints.latest_checkpoint(ckpt)
    assert latest is not None and latest.name == f"epoch-{kill_after:04d}.json"
    _run(_cmd(ckpt, out, "--resume"))
    _assert_same_run(reference, out)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child needs POSIX")
def test_ctrl_c_writes_mid_epoch_checkpoint_and_resume_is_bit_for_bit(tmp_path, reference):
    ckpt, out = tmp_path / "ckpt", tmp_path / "out"
    proc = subprocess.Popen(_cmd(ckpt, out, "--pause-at", "3", "3"), env=_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        _paused(proc, out)  # parked after step 3 of epoch 3's 10
        proc.send_signal(signal.SIGINT)  # noted by the trainer, acted on at the next step
        Path(f"{out}.go").touch()
        _, stderr = proc.communicate(timeout=GUARD)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode != 0
    assert "resume" in stderr and "KeyboardInterrupt" in stderr
    mid = [p.name for p in checkpoints.list_checkpoints(ckpt) if "-step-" in p.name]
    assert mid == ["epoch-0002-step-000003.json"], mid
    assert checkpoints.latest_checkpoint(ckpt).name == mid[0]
    _run(_cmd(ckpt, out, "--resume"))
    _assert_same_run(reference, out)


# -- in-process checkpoint files --------------------------------------------------------------

def _small_net(seed: int = 0, width: int = 8) -> dr.Sequential:
    L = dr.layers
    return dr.Sequential([L.Dense(width), L.BatchNorm(), L.ReLU(), L.Dense(2), L.Softmax()],
                         input_dim=2, random_state=seed)


def _moons(n: int = 120):
    from sklearn.datasets import make_moons

    X, y = make_moons(n_samples=n, noise=0.2, random_state=0)
    return X.astype(np.float32), y


def test_latest_checkpoint_ignores_temporary_files_and_npz_without_json(tmp_path):
    X, y = _moons()
    dr.train(_small_net(), X, y, optimizer=dr.optimizers.Adam(0.01), batch_size=40, epochs=2,
             random_state=0, checkpoint_dir=tmp_path)
    assert checkpoints.latest_checkpoint(tmp_path).name == "epoch-0002.json"
    # a crash mid-write leaves a temporary file; a crash between the two files an .npz alone
    (tmp_path / ".epoch-0003.npz.abc123.tmp").write_bytes(b"half written")
    (tmp_path / ".epoch-0003.json.def456.tmp").write_bytes(b'{"format": ')
    (tmp_path / "epoch-0003.npz").write_bytes((tmp_path / "epoch-0002.npz").read_bytes())
    (tmp_path / "epoch-0009-step-000004.npz").write_bytes(b"")
    assert checkpoints.latest_checkpoint(tmp_path).name == "epoch-0002.json"
    assert [p.name for p in checkpoints.list_checkpoints(tmp_path)] == [
        "epoch-0001.json", "epoch-0002.json"]


def test_save_checkpoint_leaves_no_temporary_files(tmp_path):
    X, y = _moons()
    dr.train(_small_net(), X, y, batch_size=40, epochs=3, random_state=0,
             checkpoint_dir=tmp_path, validation_data=(X[:20], y[:20]))
    names = sorted(p.name for p in tmp_path.iterdir())
    assert not [n for n in names if n.endswith(".tmp")]
    assert names == ["best.npz", "epoch-0001.json", "epoch-0001.npz", "epoch-0002.json",
                     "epoch-0002.npz", "epoch-0003.json", "epoch-0003.npz"]


def test_latest_checkpoint_of_missing_or_empty_directory_is_none(tmp_path):
    assert checkpoints.latest_checkpoint(tmp_path / "nowhere") is None
    assert checkpoints.latest_checkpoint(tmp_path) is None


def test_save_weights_load_weights_round_trip(tmp_path):
    X, y = _moons()
    net = _small_net(seed=1)
    dr.train(net, X, y, optimizer=dr.optimizers.Adam(0.01), batch_size=30, epochs=2,
             random_state=0)
    checkpoints.save_weights(tmp_path / "w.npz", net)
    other = _small_net(seed=2)
    assert not np.array_equal(other.params["0.W"], net.params["0.W"])
    checkpoints.load_weights(tmp_path / "w.npz", other)
    for k in net.params:
        assert np.array_equal(other.params[k], net.params[k])
        assert other.params[k].dtype == np.float32
    for k in net.state:
        assert np.array_equal(other.state[k], net.state[k])
    np.testing.assert_array_equal(other.predict_proba(X), net.predict_proba(X))


def test_load_weights_into_a_different_network_is_a_checkpoint_error(tmp_path):
    checkpoints.save_weights(tmp_path / "w.npz", _small_net(width=8))
    with pytest.raises(dr.DeepRecipeError, match="shape"):
        checkpoints.load_weights(tmp_path / "w.npz", _small_net(width=9))


def test_load_weights_of_garbage_is_a_checkpoint_error(tmp_path):
    (tmp_path / "w.npz").write_bytes(b"\x00garbage" * 10)
    with pytest.raises(CheckpointError, match="npz"):
        checkpoints.load_weights(tmp_path / "w.npz", _small_net())


def test_prune_keeps_the_newest(tmp_path):
    X, y = _moons()
    dr.train(_small_net(), X, y, batch_size=40, epochs=5, random_state=0,
             checkpoint_dir=tmp_path)
    assert len(checkpoints.list_checkpoints(tmp_path)) == 5
    checkpoints.prune(tmp_path, 2)
    assert [p.name for p in checkpoints.list_checkpoints(tmp_path)] == [
        "epoch-0004.json", "epoch-0005.json"]
    assert sorted(p.name for p in tmp_path.glob("*.npz")) == ["epoch-0004.npz",
                                                              "epoch-0005.npz"]


def test_resume_in_process_matches_uninterrupted(tmp_path):
    X, y = _moons()

    def run(epochs, resume):
        net = _small_net(seed=3)
        h = dr.train(net, X, y, optimizer=dr.optimizers.Momentum(0.05), batch_size=25,
                     epochs=epochs, random_state=4, checkpoint_dir=tmp_path / "c",
                     resume=resume)
        return net, h

    full_net, full_h = run(5, False)
    for p in (tmp_path / "c").iterdir():
        p.unlink()
    run(2, False)
    net, h = run(5, True)
    for k in full_net.params:
        assert np.array_equal(net.params[k], full_net.params[k]), k
    assert _without_time(h.to_dict()) == _without_time(full_h.to_dict())


BAD_RNG_STATES = {  # where: an edit of the saved "rng" table -> what the one line must say
    "garbage string": (lambda rng: rng.update(shuffle="garbage"),
                       "its shuffle RNG state is not a PCG64 state: the state must be a table"),
    "state of the wrong type": (lambda rng: rng["augment"].update(state=[1, 2]),
                                "its augment RNG state is not a PCG64 state: 'state' must be a "
                                "table with keys 'inc', 'state', got list"),
    "negative counter": (lambda rng: rng["shuffle"]["state"].update(state=-1),
                         "'state' must be an integer >= 0, got -1"),
    "counter too large": (lambda rng: rng["shuffle"]["state"].update(inc=2**200),
                          "a number is out of the range of the bit generator"),
    "float counter": (lambda rng: rng["shuffle"].update(uinteger=1.5),
                      "'uinteger' must be an integer >= 0, got 1.5"),
    "another bit generator": (lambda rng: rng["shuffle"].update(bit_generator="MT19937"),
                              "'bit_generator' must be 'PCG64', got 'MT19937'"),
    "a layer's state": (lambda rng: rng["layers"].update({k: None for k in rng["layers"]}),
                        "RNG state is not a PCG64 state: the state must be a table with keys"),
}


@pytest.mark.parametrize("case", list(BAD_RNG_STATES))
def test_a_checkpoint_with_a_bad_rng_state_names_the_file_and_what_is_wrong(tmp_path, case):
    edit, match = BAD_RNG_STATES[case]
    X, y = _moons()
    net = dr.Sequential([dr.layers.Dense(4), dr.layers.Dropout(0.9), dr.layers.Dense(1),
                         dr.layers.Sigmoid()], input_dim=2, random_state=0)
    dr.train(net, X, y, loss="binary_crossentropy", batch_size=40, epochs=2, random_state=0,
             checkpoint_dir=tmp_path)
    path = checkpoints.latest_checkpoint(tmp_path)
    meta = json.loads(path.read_text(encoding="utf-8"))
    assert meta["rng"]["layers"]  # the dropout layer's generator is saved too
    edit(meta["rng"])
    path.write_text(json.dumps(meta), encoding="utf-8")
    with pytest.raises(CheckpointError) as info:
        dr.train(net, X, y, loss="binary_crossentropy", batch_size=40, epochs=3,
                 random_state=0, checkpoint_dir=tmp_path, resume=True)
    message = str(info.value)
    assert message.startswith(f"{path}: its ") and match in message, message
    assert message.endswith("the checkpoint is corrupt") and "\n" not in message
    for raw in ("TypeError", "ValueError", "OverflowError", "KeyError", "Python int"):
        assert raw not in message, message
