"""deeprecipe vs PyTorch CPU vs scikit-learn vs the matrix-multiply floor, in one run.

Main case: one training epoch of mini-batch Adam(1e-3) of 784-512-512-10 (ReLU, softmax
cross-entropy, float32, batch 128) on the 60,000 MNIST training images
(``../shared/data/mnist.npz`` from the repository root, flattened and / 255; random data of the
same shape when the file is absent). Also: batch sizes 32 and 512, BatchNorm + Dropout on,
inference throughput (class probabilities for the 60,000 images in one call), and a narrow
64-32-10 net on scikit-learn's digits (batch 32), where per-step overhead dominates.

Every framework sees the same mini-batches (one fixed permutation) and runs in its own
subprocess with the same threads. "floor" is the same matmuls alone in NumPy (forward X @ W;
backward dW = A.T @ dZ and dA = dZ @ W.T, except dX of the first layer, which no framework
computes), i.e. what BLAS needs for the epoch.

Memory, per subprocess: "runtime" is the resident size once the framework is imported and has
run one step on a toy problem (imports, JIT-compiled kernels, thread pools); "data" what loading
the data added; "training" the peak during the timed work above both. The budget for training is
4 x parameters + 3 x the largest activation batch + 100 MB.

The hot path against the floor (issue #17, item 4) is measured apart, in ONE process per batch
size (32, 128, 512), so that machine noise hits all three alike: (a) the floor, (b) the bare
engine loop (gather into a buffer, ``cost_and_gradients``, ``Adam.step``) and (c) the user's
path, ``Trainer.fit`` for one more epoch exactly as ``dr.train`` runs it (its defaults:
History, EWA, the 10,000-row train evaluation at the end of the epoch) with an EarlyStopping
callback. The repeats are interleaved (a, b, c, a, b, c, ...; the order rotates) and each time
is the median of >= 5 repeats. The user's path also runs the evaluation's forward matmuls, so
its floor (a') adds those (the same shapes: 10,000 rows in the Trainer's chunks of 8,192).

    python benchmarks/bench_engine.py            # full run (~7 min), prints Markdown tables
    python benchmarks/bench_engine.py --floor-only --repeats 7   # just the ratios to the floor
    python benchmarks/bench_engine.py --quick    # 6,000 samples, 1 repeat: a smoke run
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
from itertools import pairwise
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
MNIST = ROOT.parent / "shared" / "data" / "mnist.npz"
WIDE, NARROW = (512, 512), (32,)
ALL = ("deeprecipe", "pytorch", "sklearn", "floor")
#: case -> (data set, hidden widths, batch size, BatchNorm + Dropout, frameworks)
CASES = {
    "train": ("mnist", WIDE, 128, False, ("deeprecipe", "deeprecipe-trainer", *ALL[1:])),
    "batch32": ("mnist", WIDE, 32, False, ALL),
    "batch512": ("mnist", WIDE, 512, False, ALL),
    "bn-dropout": ("mnist", WIDE, 128, True, ("deeprecipe", "pytorch")),
    "inference": ("mnist", WIDE, None, False, ALL),
    "narrow": ("digits", NARROW, 32, False, ("deeprecipe", "pytorch", "sklearn")),
}
KEEP_PROB = 0.8
TARGETS = (("pytorch", 0.8), ("sklearn", 0.5), ("floor", 1.5))  # epoch ratio deeprecipe / it
#: issue #17 item 4: batch size -> largest epoch time / floor (the bare loop and the user path)
FLOOR_TARGETS = {32: 1.3, 128: 1.2, 512: 1.15}
EVAL_ROWS, EVAL_CHUNK = 10_000, 8192  # the Trainer's default eval_samples; cost_and_error's chunk


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


# -- one unit of work per framework: an epoch (limit: only the first batches), or inference ----

def deeprecipe_net(n_in: int, hidden, bn: bool):
    import deeprecipe as dr

    L = dr.layers
    block = (lambda h: [L.Dense(h), L.BatchNorm(), L.ReLU(), L.Dropout(KEEP_PROB)]) if bn else \
        (lambda h: [L.Dense(h), L.ReLU()])
    return dr.Sequential([*(x for h in hidden for x in block(h)), L.Dense(10), L.Softmax()],
                         input_dim=n_in, random_state=0)


def setup_deeprecipe(X, y, hidden, batch_size, bn):
    import deeprecipe as dr
    from deeprecipe.engine.losses import get_loss

    net = deeprecipe_net(X.shape[1], hidden, bn)
    if batch_size is None:
        return lambda limit=None: net.predict_proba(X)
    X, Y, loss = net.prepare(X, y, get_loss("categorical_crossentropy"))
    opt = dr.optimizers.Adam(learning_rate=1e-3)
    opt.init(net.params)
    idx = batches(len(X), batch_size)

    def epoch(limit=None):
        for b in idx[:limit]:
            net.cost_and_gradients(X[b], Y[b], loss)
            opt.step(net.params, net.grads)
    return epoch


def setup_deeprecipe_trainer(X, y, hidden, batch_size, bn):
    import deeprecipe as dr

    net = deeprecipe_net(X.shape[1], hidden, bn)
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


def setup_pytorch(X, y, hidden, batch_size, bn):
    import torch

    torch.manual_seed(0)
    sizes = (X.shape[1], *hidden)
    mods = []
    for a, b in pairwise(sizes):
        mods += [torch.nn.Linear(a, b, bias=False), torch.nn.BatchNorm1d(b), torch.nn.ReLU(),
                 torch.nn.Dropout(1 - KEEP_PROB)] if bn else [torch.nn.Linear(a, b),
                                                              torch.nn.ReLU()]
    model = torch.nn.Sequential(*mods, torch.nn.Linear(sizes[-1], 10))
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    if batch_size is None:
        model.eval()

        def predict(limit=None):
            with torch.inference_mode():
                return torch.softmax(model(Xt), dim=1)
        return predict
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    lossf = torch.nn.CrossEntropyLoss()
    idx = [torch.from_numpy(b) for b in batches(len(X), batch_size)]

    def epoch(limit=None):
        for b in idx[:limit]:
            opt.zero_grad(set_to_none=True)
            lossf(model(Xt[b]), yt[b]).backward()
            opt.step()
    return epoch


def setup_sklearn(X, y, hidden, batch_size, bn):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    def fit(n, batch):
        clf = MLPClassifier(hidden_layer_sizes=hidden, solver="adam", batch_size=batch,
                            learning_rate_init=1e-3, max_iter=1, random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.fit(X[:n], y[:n])
        assert clf.coefs_[0].dtype == X.dtype  # sklearn keeps float32
        return clf

    if batch_size is None:
        clf = fit(len(X) // 10, 128)  # any fitted model: inference cost is the same
        return lambda limit=None: clf.predict_proba(X)
    return lambda limit=None: fit(len(X) if limit is None else limit * batch_size, batch_size)


def setup_floor(X, y, hidden, batch_size, bn):
    sizes = (X.shape[1], *hidden, 10)
    if batch_size is None:
        Ws = _floor_weights(sizes)

        def forward(limit=None):
            A = X
            for W in Ws:
                A = A @ W
            return A
        return forward
    return floor_epoch(X, sizes, batch_size)


def _floor_weights(sizes) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.standard_normal((a, b), dtype=np.float32) * 0.01 for a, b in pairwise(sizes)]


def floor_epoch(X: np.ndarray, sizes, batch_size: int, *, backward: bool = True):
    """The floor: only the GEMMs of an epoch, float32, into preallocated outputs.

    Per mini-batch of ``batch_size`` rows (the last one partial), forward A = A_prev @ W; then
    backward dW = A_prev.T @ dZ and dA_prev = dZ @ W.T (no dX for the first layer, which no
    framework computes). The batches are contiguous row slices: the floor gathers nothing, adds
    no bias, applies no activation and updates nothing. ``backward=False``: the forward GEMMs
    alone (an evaluation in chunks of ``batch_size`` rows)."""
    Ws = _floor_weights(sizes)
    dWs = [np.empty_like(W) for W in Ws]
    full = min(batch_size, len(X))
    As = [np.empty((full, n), np.float32) for n in sizes[1:]]
    dAs = [np.empty((full, n), np.float32) for n in sizes[:-1]]
    starts = range(0, len(X), batch_size)

    def epoch(limit=None):
        for start in starts[:limit]:
            A = X[start:start + batch_size]
            k = len(A)
            acts = [A]
            for W, out in zip(Ws, As, strict=True):
                A = np.matmul(A, W, out=out[:k])
                acts.append(A)
            if not backward:
                continue
            dZ = acts[-1]  # stands in for dJ/dZ of the output: same shape, same cost
            for layer in range(len(Ws) - 1, -1, -1):
                np.matmul(acts[layer].T, dZ, out=dWs[layer])
                if layer:
                    dZ = np.matmul(dZ, Ws[layer].T, out=dAs[layer][:k])
    return epoch


# -- the hot path against the floor, in one process (issue #17, item 4) -----------------------

def bare_epoch(X, y, hidden, batch_size):
    """The bare engine loop: gather the batch into a buffer, cost_and_gradients, Adam.step."""
    import deeprecipe as dr
    from deeprecipe.engine.losses import get_loss

    net = deeprecipe_net(X.shape[1], hidden, False)
    X, Y, loss = net.prepare(X, y, get_loss("categorical_crossentropy"))
    opt = dr.optimizers.Adam(learning_rate=1e-3)
    opt.init(net.params)
    perm = np.random.default_rng(0).permutation(len(X))
    xbuf = np.empty((min(batch_size, len(X)), X.shape[1]), X.dtype)
    ybuf = np.empty(len(xbuf), Y.dtype)

    def epoch():
        for start in range(0, len(X), batch_size):
            idx = perm[start:start + batch_size]
            Xb = np.take(X, idx, axis=0, out=xbuf[:len(idx)])
            Yb = np.take(Y, idx, axis=0, out=ybuf[:len(idx)])
            net.cost_and_gradients(Xb, Yb, loss)
            opt.step(net.params, net.grads)
    return epoch


def user_epoch(X, y, hidden, batch_size):
    """The user's path: one more epoch of ``Trainer.fit`` as ``dr.train`` builds it (defaults:
    History, EWA, 10,000-row train evaluation) with an EarlyStopping callback; and the seconds
    that building took (dr.train's one-off setup: input checks, buffers, optimizer state)."""
    import deeprecipe as dr

    net = deeprecipe_net(X.shape[1], hidden, False)
    t0 = time.perf_counter()
    trainer = dr.Trainer(net, X, y, loss="categorical_crossentropy",
                         optimizer=dr.optimizers.Adam(1e-3), batch_size=batch_size,
                         callbacks=[dr.callbacks.EarlyStopping("train_cost", patience=10**6)],
                         random_state=0)
    setup = time.perf_counter() - t0
    return (lambda: trainer.fit(trainer.epoch + 1)), setup


def floor_child(batch_size: int, quick: bool, repeats: int, threads: int,
                clock: str = "wall") -> dict:
    """Runs in a subprocess: floor, eval floor, bare loop and user's path, interleaved.

    clock "cpu": the process's CPU time instead of wall time; with 1 thread that is the time
    the work took on a core, what a shared machine's wall clock cannot show (with more threads
    it also counts BLAS threads spin-waiting)."""
    from threadpoolctl import threadpool_limits

    now = time.process_time if clock == "cpu" else time.perf_counter
    with threadpool_limits(limits=threads):
        warm_up_runtime("deeprecipe")
        X, y, source = load("mnist", quick)
        sizes = (X.shape[1], *WIDE, 10)
        user, setup = user_epoch(X, y, WIDE, batch_size)
        runs = {"floor": floor_epoch(X, sizes, batch_size),
                "floor_eval": floor_epoch(X[:EVAL_ROWS], sizes, EVAL_CHUNK, backward=False),
                "bare": bare_epoch(X, y, WIDE, batch_size), "user": user}
        for run in runs.values():  # warm-up: one whole epoch each
            run()
        times: dict[str, list[float]] = {name: [] for name in runs}
        names = list(runs)
        for r in range(repeats):
            for name in names[r % len(names):] + names[:r % len(names)]:  # rotate the order
                t0 = now()
                runs[name]()
                times[name].append(now() - t0)
    return {"batch": batch_size, "source": source, "m": len(X), "times": times,
            "setup": setup, "threads": threads, "load": os.getloadavg(), "clock": clock}


def floor_ratios(res: dict) -> dict:
    """Medians and ratios: bare / floor, user / floor and user / (floor + eval floor)."""
    med = {k: statistics.median(v) for k, v in res["times"].items()}
    both = statistics.median(a + b for a, b in zip(res["times"]["floor"],
                                                   res["times"]["floor_eval"], strict=True))
    return {**med, "floor_user": both, "bare_ratio": med["bare"] / med["floor"],
            "user_ratio": med["user"] / med["floor"], "user_ratio_eval": med["user"] / both}


def floor_table(floor_results: list[dict]) -> str:
    """The issue #17 item 4 table: one row per batch size, each measured in one process."""
    out = ["### The hot path against the floor (one process per batch size, interleaved)", "",
           "| batch | floor (a) | bare loop (b) | b / a | user's path (c) | c / a | "
           "floor + eval (a') | **c / a'** | target | status |",
           "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for res in floor_results:
        r, limit = floor_ratios(res), FLOOR_TARGETS.get(res["batch"], float("nan"))
        worst = max(r["bare_ratio"], r["user_ratio_eval"])
        out.append(f"| {res['batch']} | {r['floor']:.3f} | {r['bare']:.3f} | "
                   f"{r['bare_ratio']:.3f} | {r['user']:.3f} | {r['user_ratio']:.3f} | "
                   f"{r['floor_user']:.3f} | **{r['user_ratio_eval']:.3f}** | <= {limit} | "
                   f"{'met' if worst <= limit else 'missed'} |")
    first = floor_results[0]
    out += ["", f"Seconds per epoch, medians of {len(first['times']['floor'])} interleaved "
            f"repeats after a warm-up epoch; {first['m']:,} samples ({first['source']}); "
            f"{first['threads']} threads; {first['clock']} clock. dr.train's one-off setup "
            "(input checks, buffers, optimizer state): "
            + ", ".join(f"{r['setup']:.3f} s (batch {r['batch']})" for r in floor_results)
            + ". Load average at "
            "the end of each child: " + ", ".join(f"{r['load'][0]:.2f}" for r in floor_results)
            + "."]
    return "\n".join(out)


def run_floor(quick: bool, repeats: int, threads: int, clock: str = "wall") -> list[dict]:
    results = []
    for batch in FLOOR_TARGETS:
        res = _run_child(["--child", "floor-ratio", "--batch", str(batch), "--clock", clock],
                         quick, repeats, threads)
        r = floor_ratios(res)
        print(f"  floor-ratio batch {batch:4d}: floor {r['floor']:.3f} bare {r['bare']:.3f} "
              f"({r['bare_ratio']:.3f}) user {r['user']:.3f} ({r['user_ratio_eval']:.3f} of "
              f"floor + eval)", file=sys.stderr)
        results.append(res)
    return results


def _run_child(args: list[str], quick: bool, repeats: int, threads: int) -> dict:
    env = {**os.environ, **{v: str(threads) for v in (
        "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}}
    out = subprocess.run([sys.executable, __file__, *args, "--repeats", str(repeats),
                          "--threads", str(threads), *(["--quick"] if quick else [])],
                         capture_output=True, text=True, timeout=1800, env=env, check=False)
    if out.returncode:
        sys.exit(f"{' '.join(args)} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


SETUPS = {"deeprecipe": setup_deeprecipe, "deeprecipe-trainer": setup_deeprecipe_trainer,
          "pytorch": setup_pytorch, "sklearn": setup_sklearn, "floor": setup_floor}


def warm_up_runtime(framework: str) -> None:
    """Import the framework and run one step on a toy problem (JIT kernels, thread pools)."""
    X = np.random.default_rng(1).random((8, 4), dtype=np.float32)
    y = np.arange(8) % 10
    SETUPS[framework](X, y, (4,), 4, False)(limit=1)


def child(framework: str, case: str, quick: bool, repeats: int, threads: int) -> dict:
    """Runs in a subprocess: time `repeats` runs (after a warm-up) of one framework and case."""
    from threadpoolctl import threadpool_limits

    problem, hidden, batch_size, bn, _ = CASES[case]
    if framework == "pytorch":
        import torch

        torch.set_num_threads(threads)
    with threadpool_limits(limits=threads):
        warm_up_runtime(framework)
        if problem == "digits":
            import sklearn.datasets  # noqa: F401  (its import is not the data's memory)
        runtime = rss_now_mb()
        X, y, source = load(problem, quick)
        data = rss_now_mb() - runtime
        reset_peak()
        run = SETUPS[framework](X, y, hidden, batch_size, bn)
        run(limit=20)  # warm-up: allocations, BLAS threads, first-call overheads
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            run()
            times.append(time.perf_counter() - t0)
    sizes = (X.shape[1], *hidden, 10)
    n_params = sum((a + 1) * b for a, b in pairwise(sizes))
    largest_batch = (batch_size or len(X)) * max(sizes) * 4 / 2**20
    return {"framework": framework, "case": case, "source": source, "m": len(X),
            "times": times, "median": statistics.median(times), "runtime_mb": runtime,
            "data_mb": data, "training_mb": rss_peak_mb() - runtime - data,
            "budget_mb": 4 * n_params * 4 / 2**20 + 3 * largest_batch + 100, "threads": threads}


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
    for case, (*_, frameworks) in CASES.items():
        reps = 10 * repeats if case == "narrow" else repeats
        for framework in frameworks:
            res = _run_child(["--child", framework, "--case", case], quick, reps, threads)
            print(f"  {case:10s} {framework:20s} median {res['median']:.4f} s", file=sys.stderr)
            results.append(res)
    return results, {**machine_info(), "threads_used": threads}


def _ratio_table(by: dict, case: str, unit: str = "s", scale: float = 1.0) -> list[str]:
    dr_time = by[(case, "deeprecipe")]["median"]
    lines = [f"| framework | {unit} | deeprecipe / it |", "|---|---:|---:|"]
    for f in CASES[case][4]:
        r = by[(case, f)]
        lines.append(f"| {f} | {scale * r['median']:.3f} | {dr_time / r['median']:.2f} |")
    return lines


def table(results: list[dict], info: dict) -> str:
    by = {(r["case"], r["framework"]): r for r in results}
    main = by[("train", "deeprecipe")]
    out = [(f"Data: {main['source']}, {main['m']:,} samples; {info['threads_used']} threads; "
            f"medians of {len(main['times'])} runs after a warm-up."), "",
           "### Targets (one epoch, 784-512-512-10, Adam, batch 128)", "",
           "| target | measured | status |", "|---|---:|---|"]
    for other, limit in TARGETS:
        ratio = main["median"] / by[("train", other)]["median"]
        out.append(f"| epoch <= {limit} x {other} | {ratio:.2f} | "
                   f"{'met' if ratio <= limit else 'missed'} |")
    narrow = by[("narrow", "deeprecipe")]["median"] / by[("narrow", "pytorch")]["median"]
    out.append(f"| narrow net no slower than pytorch | {narrow:.2f} | "
               f"{'met' if narrow <= 1 else 'missed'} |")
    ours = [r for r in results if r["framework"].startswith("deeprecipe")]
    over = [r["case"] for r in ours if r["training_mb"] > r["budget_mb"]]
    worst = max(r["training_mb"] / r["budget_mb"] for r in ours)
    out.append(f"| deeprecipe training memory within budget (every case) | {worst:.2f} x "
               f"budget | {'missed: ' + ', '.join(over) if over else 'met'} |")
    out += ["", "### Epoch time (s), batch 128", "", *_ratio_table(by, "train", "epoch (s)")]
    out += ["", "### Batch size (epoch s; deeprecipe / it in brackets)", "",
            "| batch | deeprecipe | pytorch | sklearn | floor |", "|---:|---:|---:|---:|---:|"]
    for case, batch in (("batch32", 32), ("train", 128), ("batch512", 512)):
        d = by[(case, "deeprecipe")]["median"]
        cells = [f"{by[(case, f)]['median']:.3f} ({d / by[(case, f)]['median']:.2f})"
                 for f in ALL[1:]]
        out.append(f"| {batch} | {d:.3f} | " + " | ".join(cells) + " |")
    out += ["", f"### BatchNorm + Dropout (keep_prob {KEEP_PROB}), batch 128", "",
            *_ratio_table(by, "bn-dropout", "epoch (s)")]
    inf = {f: by[("inference", f)] for f in ALL}
    out += ["", f"### Inference: class probabilities for {main['m']:,} images in one call", "",
            "| framework | s | samples / s | deeprecipe / it (time) |", "|---|---:|---:|---:|"]
    for f, r in inf.items():
        out.append(f"| {f} | {r['median']:.3f} | {r['m'] / r['median']:,.0f} | "
                   f"{inf['deeprecipe']['median'] / r['median']:.2f} |")
    out += ["", "### Narrow 64-32-10 on digits, batch 32", "",
            *_ratio_table(by, "narrow", "epoch (ms)", 1e3)]
    out += ["", "### Memory (MB): runtime, data, training peak over both, budget", "",
            "| case | framework | runtime | data | training | budget |",
            "|---|---|---:|---:|---:|---:|"]
    out += [f"| {r['case']} | {r['framework']} | {r['runtime_mb']:.0f} | {r['data_mb']:.0f} | "
            f"{r['training_mb']:.0f} | {r['budget_mb']:.0f} |" for r in results]
    out += ["", "Machine: " + ", ".join(f"{k}={v}" for k, v in info.items() if k != "blas"),
            "BLAS (threadpoolctl): " + "; ".join(info["blas"])]
    return "\n".join(out)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="6,000 samples, 1 repeat (smoke run)")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                   help="BLAS/OpenMP/torch threads for every framework (default: all cores)")
    p.add_argument("--floor-only", action="store_true",
                   help="only the ratios to the floor (issue #17 item 4), not the frameworks")
    p.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                   help="floor ratios in wall or process CPU time (cpu: for --threads 1 on a "
                        "shared machine)")
    p.add_argument("--child", choices=(*SETUPS, "floor-ratio"), help=argparse.SUPPRESS)
    p.add_argument("--case", choices=tuple(CASES), default="train", help=argparse.SUPPRESS)
    p.add_argument("--batch", type=int, default=128, help=argparse.SUPPRESS)
    a = p.parse_args()
    repeats = 1 if a.quick else a.repeats
    if a.child == "floor-ratio":
        print(json.dumps(floor_child(a.batch, a.quick, max(repeats, 1 if a.quick else 5),
                                     a.threads, a.clock)))
        return
    if a.child:
        print(json.dumps(child(a.child, a.case, a.quick, repeats, a.threads)))
        return
    floor = run_floor(a.quick, max(repeats, 1 if a.quick else 5), a.threads, a.clock)
    print(floor_table(floor))
    if not a.floor_only:
        results, info = run_all(a.quick, repeats, a.threads)
        print()
        print(table(results, info))


if __name__ == "__main__":
    main()
