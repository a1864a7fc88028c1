"""How deeprecipe's epoch time scales: with the number of samples m and with the layer width.

One epoch of mini-batch Adam (batch 128, float32, ReLU, softmax cross-entropy) of a
784-w-w-10 network on MNIST (``../shared/data/mnist.npz``; random data of that shape when the
file is absent), next to the "floor": the same forward and backward matmuls alone in NumPy.

- vs m (w = 512): the epoch is m / 128 identical steps, so the time should be linear in m.
- vs w (m = 15,000): the floor grows like 784 w + w**2 per sample (matmuls); the elementwise
  work (activations, Adam over the 784 w + w**2 + 10 w parameters) has the same shape, so the
  ratio deeprecipe / floor should stay roughly flat and approach 1 where the matmuls dominate.

    python benchmarks/bench_scaling.py [--threads N (default: all cores)] [--repeats 3]

Prints Markdown tables: best-of-repeats wall time and the process CPU time of that run.
"""

from __future__ import annotations

import argparse
import os
import time
from itertools import pairwise
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

import deeprecipe as dr

MNIST = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist.npz"
BATCH = 128


def load() -> tuple[np.ndarray, np.ndarray]:
    if MNIST.exists():
        with np.load(MNIST, allow_pickle=False) as f:
            X, y = f["X_train"], f["y_train"]
        return X.reshape(len(X), -1).astype(np.float32) / 255.0, y.astype(np.intp)
    rng = np.random.default_rng(0)
    return rng.random((60000, 784), dtype=np.float32), rng.integers(0, 10, 60000)


def deeprecipe_epoch(X, y, width):
    net = dr.Sequential([dr.layers.Dense(width), dr.layers.ReLU(), dr.layers.Dense(width),
                         dr.layers.ReLU(), dr.layers.Dense(10), dr.layers.Softmax()],
                        input_dim=X.shape[1], random_state=0)
    loss = dr.losses.get_loss("categorical_crossentropy")
    opt = dr.optimizers.Adam(1e-3)
    opt.init(net.params)
    xb, yb = np.empty((BATCH, X.shape[1]), X.dtype), np.empty(BATCH, y.dtype)
    perm = np.random.default_rng(0).permutation(len(X))

    def epoch():
        for s in range(0, len(X), BATCH):
            idx = perm[s:s + BATCH]
            Xb = np.take(X, idx, axis=0, out=xb[:len(idx)])
            Yb = np.take(y, idx, out=yb[:len(idx)])
            net.cost_and_gradients(Xb, Yb, loss)
            opt.step(net.params, net.grads)
    return epoch


def floor_epoch(X, y, width):
    sizes = [X.shape[1], width, width, 10]
    rng = np.random.default_rng(0)
    Ws = [rng.standard_normal((a, b)).astype(np.float32) * 0.05 for a, b in pairwise(sizes)]
    dWs = [np.empty_like(W) for W in Ws]
    acts = [np.empty((BATCH, n), np.float32) for n in sizes]
    grads = [np.empty((BATCH, n), np.float32) for n in sizes]
    xb = np.empty((BATCH, X.shape[1]), X.dtype)
    perm = rng.permutation(len(X))

    def epoch():
        for s in range(0, len(X), BATCH):
            idx = perm[s:s + BATCH]
            n = len(idx)
            A = [np.take(X, idx, axis=0, out=xb[:n])]
            for i, W in enumerate(Ws):
                A.append(np.matmul(A[-1], W, out=acts[i + 1][:n]))
            dZ = A[-1]
            for i in range(len(Ws) - 1, -1, -1):
                np.matmul(A[i].T, dZ, out=dWs[i])
                if i:
                    dZ = np.matmul(dZ, Ws[i].T, out=grads[i][:n])
    return epoch


def timed(epoch, repeats: int) -> tuple[float, float]:
    epoch()  # warm-up: buffers, BLAS threads
    best = (float("inf"), 0.0)
    for _ in range(repeats):
        t, c = time.perf_counter(), time.process_time()
        epoch()
        best = min(best, (time.perf_counter() - t, time.process_time() - c))
    return best


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    X, y = load()
    rows_m, rows_w = [], []
    with threadpool_limits(args.threads):
        for m in (7500, 15000, 30000, 60000):
            d = timed(deeprecipe_epoch(X[:m], y[:m], 512), args.repeats)
            f = timed(floor_epoch(X[:m], y[:m], 512), args.repeats)
            rows_m.append((m, d, f))
        for w in (64, 128, 256, 512, 1024, 2048):
            d = timed(deeprecipe_epoch(X[:15000], y[:15000], w), args.repeats)
            f = timed(floor_epoch(X[:15000], y[:15000], w), args.repeats)
            rows_w.append((w, d, f))
    print(f"threads={args.threads}, batch {BATCH}, best of {args.repeats} epochs (wall s; "
          "CPU s of that epoch in brackets)\n")
    print("| m (w = 512) | deeprecipe | floor | ratio | deeprecipe us / sample |")
    print("|---:|---:|---:|---:|---:|")
    for m, d, f in rows_m:
        print(f"| {m} | {d[0]:.3f} ({d[1]:.3f}) | {f[0]:.3f} ({f[1]:.3f}) | "
              f"{d[0] / f[0]:.2f} | {1e6 * d[0] / m:.1f} |")
    print("\n| w (m = 15,000) | deeprecipe | floor | ratio | 784 w + w^2 (M) |")
    print("|---:|---:|---:|---:|---:|")
    for w, d, f in rows_w:
        print(f"| {w} | {d[0]:.3f} ({d[1]:.3f}) | {f[0]:.3f} ({f[1]:.3f}) | "
              f"{d[0] / f[0]:.2f} | {(784 * w + w * w) / 1e6:.2f} |")


if __name__ == "__main__":
    main()
