"""Trials per minute of a small digits study with 1 and 2 local worker processes.

Run: python benchmarks/bench_tuning.py [--trials 16] [--epochs 30]
Prints trials/minute for each and the parallel efficiency (speed-up / workers). The times
include starting the worker processes, as a user would see them.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time

from deeprecipe.runs.config import config_from_dict
from deeprecipe.runs.prepare import prepare_data
from deeprecipe.tuning import Choice, IntUniform, LogUniform, tune


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=30)
    args = parser.parse_args()
    config = config_from_dict({
        "data": {"dataset": "digits"}, "model": {"hidden_layer_sizes": [32]},
        "training": {"epochs": args.epochs, "early_stopping": False},
        "tuning": {"n_trials": args.trials}})
    space = {"learning_rate": LogUniform(1e-4, 1e-1), "hidden_units": IntUniform(16, 128,
                                                                                   log=True),
             "batch_size": Choice([32, 64, 128])}
    data = prepare_data(config, check_distribution=False)
    rates = {}
    for workers in (1, 2):
        with tempfile.TemporaryDirectory() as d:
            start = time.perf_counter()
            result = tune(config, run_dir=d, space=space, seed=0, workers=workers, data=data)
            seconds = time.perf_counter() - start
        rates[workers] = len(result.trials) / seconds * 60
        print(f"workers={workers}: {len(result.trials)} trials in {seconds:.1f} s = "
              f"{rates[workers]:.1f} trials/min (best dev_error {result.best['dev_error']:.4f})")
    speedup = rates[2] / rates[1]
    print(f"speed-up {speedup:.2f}x with 2 workers; parallel efficiency {speedup / 2:.0%} "
          f"({os.cpu_count()} CPUs, {platform.processor() or platform.machine()}, "
          f"digits m={len(data.X_train)}, {args.trials} trials x {args.epochs} epochs)")


if __name__ == "__main__":
    main()
