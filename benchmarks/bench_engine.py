"""One training epoch of mini-batch Adam: deeprecipe vs PyTorch CPU vs scikit-learn vs the floor.

Wide: 784-512-512-10, ReLU, softmax cross-entropy, float32, batch 128, Adam(1e-3), on the
60,000 MNIST training images (``../shared/data/mnist.npz`` from the repository root, flattened
and / 255; random data of the same shape when the file is absent).
Narrow: 64-32-10 on scikit-learn's digits (1,797 samples, / 16), batch 32: per-epoch overhead.

Every framework sees the same mini-batches (one fixed permutation) and runs in its own
subprocess, so its peak resident memory (ru_maxrss) is its own; "floor" is the same matmuls
alone in NumPy (forward X @ W; backward dW = A.T @ dZ and dA = dZ @ W.T, except dX of the first
layer, which no framework computes), i.e. what BLAS needs for the epoch.

    python benchmarks/bench_engine.py            # full run, prints a Markdown table
    python benchmarks/bench_engine.py --quick    # 6,000 samples, a smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
MNIST = ROOT.parent / "shared" / "data" / "mnist.npz"
WIDE, NARROW = (512, 512), (32,)
FRAMEWORKS = ("deeprecipe", "deeprecipe-trainer", "pytorch", "sklearn", "floor")


def _status_mb(key: str) -> float | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return None


def rss_now_mb() -> float:
    now = _status_mb("VmRSS")
    return now if now is not None else rss_peak_mb()


def rss_peak_mb() -> float:
    """Peak resident memory since reset_peak() (VmHWM), else since the process started."""
    peak = _status_mb("VmHWM")
    return peak if peak is not None else resource.getrusage(
        resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def reset_peak() -> None:
    try:  # Linux: writing 5 resets VmHWM to the current RSS
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def load(name: str, quick: bool) -> tuple[np.ndarray, np.ndarray, str]:
    if name == "digits":
        from sklearn.datasets import load_digits

        d = load_digits()
        return (d.data / 16.0).astype(np.float32), d.target.astype(np.int64), "sklearn digits"
    n = 6000 if quick else 60000
    if MNIST.exists():
        with np.load(MNIST, allow_pickle=False) as f:
            X, y = f["X_train"][:n], f["y_train"][:n]
        return (X.reshape(len(X), -1).astype(np.float32) / 255.0, y.astype(np.int64),
                f"MNIST ({MNIST.name})")
    rng = np.random.default_rng(0)
    return (rng.random((n, 784), dtype=np.float32), rng.integers(0, 10, n),
            "random (mnist.npz absent)")


def batches(m: int, batch_size: int) -> list[np.ndarray]:
    perm = np.random.default_rng(0).permutation(m)
    return [perm[i:i + batch_size] for i in range(0, m, batch_size)]


# -- one epoch per framework: each returns a callable that runs one epoch ---------------------

def setup_deeprecipe(X, y, hidden, batch_size):
    import deeprecipe as dr
    from deeprecipe.losses import get_loss

    L = dr.layers
    layers = [x for h in hidden for x in (L.Dense(h), L.ReLU())]
    net = dr.Sequential([*layers, L.Dense(10), L.Softmax()], input_dim=X.shape[1],
                        random_state=0)
    loss = get_loss("categorical_crossentropy")
    X, Y, loss = net.prepare(X, y, loss)
    opt = dr.optimizers.Adam(learning_rate=1e-3)
    opt.init(net.params)
    idx = batches(len(X), batch_size)

    def epoch(limit=None):
        for b in idx[:limit]:
            net.cost_and_gradients(X[b], Y[b], loss)
            opt.step(net.params, net.grads)
    return epoch


def setup_deeprecipe_trainer(X, y, hidden, batch_size):
    import deeprecipe as dr

    L = dr.layers
    layers = [x for h in hidden for x in (L.Dense(h), L.ReLU())]
    net = dr.Sequential([*layers, L.Dense(10), L.Softmax()], input_dim=X.shape[1],
                        random_state=0)
    trainer = dr.Trainer(net, X, y, loss="categorical_crossentropy",
                         optimizer=dr.optimizers.Adam(1e-3), batch_size=batch_size,
                         random_state=0, eval_samples=1000)

    def epoch(limit=None):  # the whole loop: shuffle, batches, history, EWA, 1,000-row eval
        if limit is None:
            trainer.fit(trainer.epoch + 1)
        else:  # warm-up on a few batches, outside the trainer's bookkeeping
            for b in batches(len(X), batch_size)[:limit]:
                net.cost_and_gradients(trainer.X[b], trainer.Y[b], trainer.loss)
    return epoch


def setup_pytorch(X, y, hidden, batch_size):
    import torch

    torch.manual_seed(0)
    sizes = (X.shape[1], *hidden)
    mods = [m for a, b in zip(sizes, sizes[1:]) for m in (torch.nn.Linear(a, b),
                                                           torch.nn.ReLU())]
    model = torch.nn.Sequential(*mods, torch.nn.Linear(sizes[-1], 10))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    lossf = torch.nn.CrossEntropyLoss()
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    idx = [torch.from_numpy(b) for b in batches(len(X), batch_size)]

    def epoch(limit=None):
        for b in idx[:limit]:
            opt.zero_grad(set_to_none=True)
            lossf(model(Xt[b]), yt[b]).backward()
            opt.step()
    return epoch


def setup_sklearn(X, y, hidden, batch_size):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    def epoch(limit=None):
        n = len(X) if limit is None else limit * batch_size
        clf = MLPClassifier(hidden_layer_sizes=hidden, solver="adam", batch_size=batch_size,
                            learning_rate_init=1e-3, max_iter=1, random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.fit(X[:n], y[:n])
        assert clf.coefs_[0].dtype == X.dtype  # sklearn keeps float32
    return epoch


def setup_floor(X, y, hidden, batch_size):
    rng = np.random.default_rng(0)
    sizes = (X.shape[1], *hidden, 10)
    Ws = [rng.standard_normal((a, b), dtype=np.float32) * 0.01 for a, b in zip(sizes, sizes[1:])]
    dWs = [np.empty_like(W) for W in Ws]
    idx = batches(len(X), batch_size)
    full = len(idx[0])
    As = [np.empty((full, n), np.float32) for n in sizes[1:]]
    dAs = [np.empty((full, n), np.float32) for n in sizes[:-1]]

    def epoch(limit=None):
        for b in idx[:limit]:
            k = len(b)
            A = X[b]
            acts = [A]
            for W, out in zip(Ws, As):
                A = np.matmul(A, W, out=out[:k])
                acts.append(A)
            dZ = acts[-1]  # stands in for dJ/dZ of the output: same shape, same cost
            for layer in range(len(Ws) - 1, -1, -1):
                np.matmul(acts[layer].T, dZ, out=dWs[layer])
                if layer:
                    dZ = np.matmul(dZ, Ws[layer].T, out=dAs[layer][:k])
    return epoch


SETUPS = {"deeprecipe": setup_deeprecipe, "deeprecipe-trainer": setup_deeprecipe_trainer,
          "pytorch": setup_pytorch, "sklearn": setup_sklearn, "floor": setup_floor}


def child(framework: str, problem: str, quick: bool, repeats: int, threads: int) -> dict:
    """Runs in a subprocess: time `repeats` epochs (after a warm-up) of one framework."""
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(threads)
    with threadpool_limits(limits=threads):
        X, y, source = load(problem, quick)
        hidden, batch_size = (WIDE, 128) if problem == "mnist" else (NARROW, 32)
        base = rss_now_mb()
        reset_peak()
        epoch = SETUPS[framework](X, y, hidden, batch_size)
        epoch(limit=20)  # warm-up: allocations, BLAS threads, torch's first-call overheads
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            epoch()
            times.append(time.perf_counter() - t0)
    return {"framework": framework, "problem": problem, "source": source, "m": len(X),
            "times": times, "median": statistics.median(times), "peak_rss_mb": rss_peak_mb(),
            "base_rss_mb": base, "threads": threads}


def machine_info() -> dict:
    import sklearn
    import torch
    from threadpoolctl import threadpool_info

    blas = [f"{i['internal_api']} {i.get('version')} ({i['num_threads']} threads, "
            f"{i.get('architecture')})" for i in threadpool_info()]
    return {"nproc": os.cpu_count(), "python": platform.python_version(),
            "platform": platform.platform(), "cpu": platform.processor() or platform.machine(),
            "numpy": np.__version__, "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(), "sklearn": sklearn.__version__,
            "blas": blas}


def run_all(quick: bool, repeats: int, threads: int) -> tuple[list[dict], dict]:
    results = []
    plan = [("mnist", f) for f in FRAMEWORKS] + [("digits", f) for f in
                                                  ("deeprecipe", "pytorch")]
    for problem, framework in plan:
        reps = repeats if problem == "mnist" else 10 * repeats
        env = {**os.environ, **{v: str(threads) for v in (
            "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}}
        out = subprocess.run([sys.executable, __file__, "--child", framework, "--problem",
                              problem, "--repeats", str(reps), "--threads", str(threads),
                              *(["--quick"] if quick else [])],
                             capture_output=True, text=True, check=True, timeout=900, env=env)
        res = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"  {problem:7s} {framework:20s} median {res['median']:.3f} s", file=sys.stderr)
        results.append(res)
    return results, {**machine_info(), "threads_used": threads}


def table(results: list[dict], info: dict) -> str:
    by = {(r["problem"], r["framework"]): r for r in results}
    dr = by[("mnist", "deeprecipe")]["median"]
    mn = by[("mnist", "deeprecipe")]
    lines = [f"Wide: 784-512-512-10, Adam, batch 128, float32, one epoch of {mn['m']:,} samples "
             f"({mn['source']}); median of {len(mn['times'])} epochs after a warm-up.", "",
             "| framework | epoch (s) | time ratio deeprecipe / it | peak RSS (MB) "
             "| peak over data (MB) |",
             "|---|---:|---:|---:|---:|"]
    for f in FRAMEWORKS:
        r = by[("mnist", f)]
        lines.append(f"| {f} | {r['median']:.3f} | {dr / r['median']:.2f} | "
                     f"{r['peak_rss_mb']:.0f} | {r['peak_rss_mb'] - r['base_rss_mb']:.0f} |")
    d, t = by[("digits", "deeprecipe")], by[("digits", "pytorch")]
    lines += ["", f"Narrow: 64-32-10, Adam, batch 32, float32, one epoch of {d['m']:,} samples "
              f"({d['source']}); median of {len(d['times'])} epochs.", "",
              "| framework | epoch (ms) | time ratio deeprecipe / it |", "|---|---:|---:|",
              f"| deeprecipe | {1e3 * d['median']:.2f} | 1.00 |",
              f"| pytorch | {1e3 * t['median']:.2f} | {d['median'] / t['median']:.2f} |", "",
              "Machine: " + ", ".join(f"{k}={v}" for k, v in info.items() if k != "blas"),
              "BLAS (threadpoolctl): " + "; ".join(info["blas"])]
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="6,000 samples (smoke run)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                   help="BLAS/OpenMP/torch threads for every framework (default: all cores)")
    p.add_argument("--child", choices=FRAMEWORKS, help=argparse.SUPPRESS)
    p.add_argument("--problem", choices=("mnist", "digits"), default="mnist",
                   help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.child:
        print(json.dumps(child(a.child, a.problem, a.quick, a.repeats, a.threads)))
        return
    results, info = run_all(a.quick, a.repeats, a.threads)
    print(table(results, info))


if __name__ == "__main__":
    main()
