"""Tuning throughput: trials per minute with 1 and 2 local worker processes, in one run.

Run: python benchmarks/bench_tuning.py [--repeats 1]
Two studies on digits (hidden [32], search over learning_rate / hidden_units / batch_size,
seed 0): 16 trials x 200 epochs, and 32 short trials x 20 epochs. The times include starting
the workers (forked once, warm: numba kernels compiled and the data in memory before the
fork), as a user would see them. Targets: 2 workers >= 1.9x one worker on the long study,
>= 1.6x on the short one. Prints the load average too: the machine is shared.
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

STUDIES = (("16 trials x 200 epochs", 16, 200, 1.9), ("32 trials x 20 epochs", 32, 20, 1.6))
SPACE = {"learning_rate": LogUniform(1e-4, 1e-1), "hidden_units": IntUniform(16, 128, log=True),
         "batch_size": Choice([32, 64, 128])}


def _time(config, data, workers: int) -> tuple[float, object]:
    with tempfile.TemporaryDirectory() as d:
        start = time.perf_counter()
        result = tune(config, run_dir=d, space=SPACE, seed=0, workers=workers, data=data)
        return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=1, help="best of N per cell")
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPUs, {platform.processor() or platform.machine()}, "
          f"load average before: {os.getloadavg()[0]:.1f}")
    print("| study | 1 worker | 2 workers | speed-up | target |")
    print("|---|---:|---:|---:|---|")
    for label, n_trials, epochs, target in STUDIES:
        config = config_from_dict({
            "data": {"dataset": "digits"}, "model": {"hidden_layer_sizes": [32]},
            "training": {"epochs": epochs, "early_stopping": False},
            "tuning": {"n_trials": n_trials}})
        data = prepare_data(config, check_distribution=False)
        seconds, best = {}, {}
        for workers in (1, 2):
            runs = [_time(config, data, workers) for _ in range(args.repeats)]
            seconds[workers] = min(s for s, _ in runs)
            best[workers] = runs[0][1].best["dev_error"]
        assert best[1] == best[2], "the same trials must give the same best"
        speedup = seconds[1] / seconds[2]
        verdict = "met" if speedup >= target else "NOT met"
        print(f"| {label} | {seconds[1]:.2f} s | {seconds[2]:.2f} s | {speedup:.2f}x | "
              f">= {target}x, {verdict} |", flush=True)
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
