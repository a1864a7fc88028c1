"""Scale in m: one epoch on 1M, 3M and 10M rows x 100 float32 features, from a memory map.

For each m, synthetic 10-class data (class centres 3 apart in a random direction per class,
unit Gaussian noise: separable enough to learn in one epoch) is written to ``X.npy``/``y.npy``
under a temporary folder in /tmp, in chunks, and deleted afterwards. A fresh child process
per (m, mode) then does what ``deeprecipe run`` does with the data: map (or load) the file,
split it 98/1/1-or-finer into sorted index arrays, fit the Standardizer in one streaming pass
over the training rows, and train one epoch of a 100-256-256-10 ReLU/softmax network with Adam
at batch 512 (``dr.train``'s Trainer, history on), reading each mini-batch by sorted row
numbers and standardizing it in place. It reports:

- seconds of the epoch's training loop (wall and process CPU), and per 1M training examples;
- the anonymous RSS (``RssAnon`` of /proc/self/status: not the file's pages, which are the
  page cache's) sampled every 20 ms: the peak, and the peak above the process's own runtime
  (RssAnon after the imports, before any data);
- the dev error after that epoch.

Mode "mapped" opens the .npy with ``mmap_mode="r"``; mode "memory" reads the same file into
memory first (where it fits: at most a third of MemAvailable). The file's pages are cached
(just written), so the mapped epoch reads from memory: this measures the data path, not disk.

    python benchmarks/bench_scale.py [--sizes 1e6,3e6,1e7] [--threads 1] [--keep DIR]

writes benchmarks/scale_results.json and benchmarks/scale.png, prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

N_FEATURES, N_CLASSES, HIDDEN, BATCH = 100, 10, (256, 256), 512
HERE = Path(__file__).resolve().parent


def write_data(folder: Path, m: int, seed: int = 0) -> tuple[Path, Path]:
    """X.npy (m, 100) float32 and y.npy (m,) int64, written 500k rows at a time."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(N_CLASSES, N_FEATURES)).astype(np.float32)
    centres *= 3.0 / np.linalg.norm(centres, axis=1, keepdims=True)
    X = np.lib.format.open_memmap(folder / "X.npy", mode="w+", dtype=np.float32,
                                  shape=(m, N_FEATURES))
    y = np.lib.format.open_memmap(folder / "y.npy", mode="w+", dtype=np.int64, shape=(m,))
    for start in range(0, m, 500_000):
        k = min(500_000, m - start)
        labels = rng.integers(0, N_CLASSES, k)
        X[start:start + k] = rng.standard_normal((k, N_FEATURES), dtype=np.float32) + \
            centres[labels]
        y[start:start + k] = labels
    X.flush(), y.flush()
    del X, y
    return folder / "X.npy", folder / "y.npy"


def _rss_anon() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) * 1024
    return 0


class PeakSampler(threading.Thread):
    """The largest RssAnon seen, sampled every ``interval`` seconds."""

    def __init__(self, interval: float = 0.02) -> None:
        super().__init__(daemon=True)
        self.interval, self.peak, self.running = interval, _rss_anon(), True

    def run(self) -> None:
        while self.running:
            self.peak = max(self.peak, _rss_anon())
            time.sleep(self.interval)

    def stop(self) -> int:
        self.running = False
        self.join()
        return max(self.peak, _rss_anon())


def child(X_path: str, y_path: str, mode: str) -> dict:
    """One epoch from the file in a fresh process (the measurement: see the module docstring)."""
    import deeprecipe as dr
    from deeprecipe.data import Standardizer, split_indices
    from deeprecipe.optimize.rows import Rows
    from deeprecipe.optimize.trainer import Trainer

    runtime = _rss_anon()
    sampler = PeakSampler()
    sampler.start()
    t0 = time.perf_counter()
    X = np.load(X_path, mmap_mode="r" if mode == "mapped" else None)
    y = np.load(y_path, mmap_mode="r" if mode == "mapped" else None)
    y = np.array(y, dtype=np.int64)  # labels in memory: 8 bytes per row
    (train, dev, test), sizes, _ = split_indices(y, random_state=0)
    for part in (train, dev, test):
        part.sort()
    scaler = Standardizer().fit(X, rows=train)
    stats = {"mean": scaler.mean_, "std": scaler.std_}
    X_train, X_dev = Rows(X, train, **stats), Rows(X, dev, **stats)
    y_train, y_dev = y[train], y[dev]
    del y
    prepare_s = time.perf_counter() - t0
    net = dr.engine.builders.build_mlp(N_FEATURES, HIDDEN, N_CLASSES, activation="relu",
                                       init="he", output="softmax", random_state=0)
    trainer = Trainer(net, X_train, y_train, loss="categorical_crossentropy",
                      optimizer=dr.optimizers.Adam(learning_rate=1e-3), batch_size=BATCH,
                      validation_data=(X_dev, y_dev), random_state=0)
    cpu0, t1 = time.process_time(), time.perf_counter()
    trainer.fit(1)
    fit_s, cpu_s = time.perf_counter() - t1, time.process_time() - cpu0
    peak = sampler.stop()
    record = trainer.history.epochs[-1]
    return {"mode": mode, "m": len(X), "train": int(sizes.train), "dev": int(sizes.dev),
            "test": int(sizes.test), "prepare_s": prepare_s, "epoch_s": record["time"],
            "fit_s": fit_s, "cpu_s": cpu_s, "dev_error": record["dev_error"],
            "runtime_anon": runtime, "peak_anon": peak, "above_runtime": peak - runtime}


def measure(X_path: Path, y_path: Path, mode: str, threads: int) -> dict:
    src = str(HERE.parent / "src")
    env = {**os.environ, "PYTHONPATH": src + os.pathsep + os.environ.get("PYTHONPATH", ""),
           "OPENBLAS_NUM_THREADS": str(threads), "OMP_NUM_THREADS": str(threads),
           "MKL_NUM_THREADS": str(threads)}
    proc = subprocess.run([sys.executable, __file__, "--child", str(X_path), str(y_path), mode],
                          capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        return {"mode": mode, "error": proc.stderr.strip().splitlines()[-1]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _mem_available() -> int:
    with open("/proc/meminfo") as fh:
        for line in fh:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return 0


def table(results: list[dict]) -> str:
    head = ("| m | mode | train / dev / test | prepare s | epoch s (wall) | s per 1M (wall) "
            "| epoch CPU s | CPU s per 1M | peak RssAnon MB | above runtime MB | dev error |\n"
            "|---|---|---|---|---|---|---|---|---|---|---|\n")
    rows = []
    for r in results:
        if "error" in r:
            rows.append(f"| {r.get('m', '?'):,} | {r['mode']} | failed: {r['error']} |"
                        + " |" * 8)
            continue
        per = 1e6 / r["train"]
        rows.append(f"| {r['m']:,} | {r['mode']} | {r['train']:,} / {r['dev']:,} / "
                    f"{r['test']:,} | {r['prepare_s']:.1f} | {r['epoch_s']:.1f} | "
                    f"{r['epoch_s'] * per:.2f} | {r['cpu_s']:.1f} | {r['cpu_s'] * per:.2f} | "
                    f"{r['peak_anon'] / 2**20:.0f} | {r['above_runtime'] / 2**20:.0f} | "
                    f"{r['dev_error']:.4f} |")
    return head + "\n".join(rows) + "\n"


def plot(results: list[dict], path: Path) -> None:
    import matplotlib  # heavy: loaded on use

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # heavy: loaded on use

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    for mode, marker in (("mapped", "o-"), ("memory", "s--")):
        rs = [r for r in results if r.get("mode") == mode and "error" not in r]
        if not rs:
            continue
        m = [r["m"] / 1e6 for r in rs]
        ax1.plot(m, [r["epoch_s"] for r in rs], marker, label=f"{mode}: epoch s")
        ax1.plot(m, [r["epoch_s"] * 1e6 / r["train"] for r in rs], marker, alpha=0.5,
                 label=f"{mode}: s per 1M examples")
        ax1.plot(m, [r["cpu_s"] * 1e6 / r["train"] for r in rs], marker, alpha=0.3,
                 label=f"{mode}: CPU s per 1M examples")
        ax2.plot(m, [r["above_runtime"] / 2**20 for r in rs], marker, label=mode)
    ax1.set(xscale="log", yscale="log", xlabel="m (millions of rows)", ylabel="seconds",
            title="one epoch, 100-256-256-10, batch 512")
    ax2.set(xscale="log", xlabel="m (millions of rows)", ylabel="MB",
            title="peak anonymous RSS above the runtime")
    ax2.axhline(600, color="red", lw=0.8, ls=":", label="600 MB target")
    for ax in (ax1, ax2):
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1e6,3e6,1e7")
    parser.add_argument("--json", type=Path, default=HERE / "scale_results.json")
    parser.add_argument("--threads", type=int, default=1,
                        help="BLAS threads of the child (1: best on a shared, loaded machine)")
    parser.add_argument("--keep", type=Path, default=None,
                        help="move the largest data set's files here instead of deleting them")
    parser.add_argument("--replot", action="store_true",
                        help="only the table and the plot of the results in --json")
    args = parser.parse_args()
    if args.replot:
        results = json.loads(args.json.read_text())
        print(table(results))
        plot(results, HERE / "scale.png")
        return
    sizes = [int(float(s)) for s in args.sizes.split(",")]
    need = max(sizes) * (N_FEATURES * 4 + 8)
    free = shutil.disk_usage("/tmp").free
    if free < 1.2 * need:
        sys.exit(f"/tmp has {free / 2**30:.1f} GiB free; {need / 2**30:.1f} GiB are needed")
    results = []
    for m in sizes:
        folder = Path(tempfile.mkdtemp(prefix="deeprecipe-scale-", dir="/tmp"))
        try:
            t0 = time.perf_counter()
            X_path, y_path = write_data(folder, m)
            print(f"m={m:,}: wrote {X_path.stat().st_size / 2**30:.2f} GiB in "
                  f"{time.perf_counter() - t0:.0f} s", flush=True)
            modes = ["mapped"] + (["memory"] if 3 * X_path.stat().st_size < _mem_available()
                                  else [])
            for mode in modes:
                results.append(measure(X_path, y_path, mode, args.threads))
                results[-1].update(load_avg=os.getloadavg()[0], threads=args.threads)
                print(json.dumps(results[-1]), flush=True)
            if args.keep is not None and m == max(sizes):
                args.keep.mkdir(parents=True, exist_ok=True)
                for path in (X_path, y_path):
                    shutil.move(path, args.keep / path.name)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        args.json.write_text(json.dumps(results, indent=1))
    print(table(results))
    plot(results, HERE / "scale.png")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        print(json.dumps(child(*sys.argv[2:5])))
    else:
        main()
