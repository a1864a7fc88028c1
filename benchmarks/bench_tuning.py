"""Tuning throughput: trials per minute with 1 and 2 local worker processes, in one run.

Run: python benchmarks/bench_tuning.py [--repeats 1]
Two studies on digits (hidden [32], search over learning_rate / hidden_units / batch_size,
seed 0): 16 trials x 200 epochs, and 32 short trials x 20 epochs. The times include starting
the workers (forked once, warm: numba kernels compiled and the data in memory before the
fork), as a user would see them. Targets: 2 workers >= 1.9x one worker on the long study,
>= 1.6x on the short one. Prints the load average too: the machine is shared.

On a machine busier than its cores, wall-clock speed-ups measure the contention, not the
runner, so each row also gives a projection from CPU times, which contention barely changes:
the one-worker study's CPU time over the two-worker study's critical path on 2 cores, i.e.
the parent's warm-up and fork (serial) + the larger of (a) the makespan of the trials' own CPU
times dealt to 2 workers in the order they were handed out and (b) all the remaining CPU
time (trials + the parent's bookkeeping) shared by the 2 cores.
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


def _time(config, data, workers: int) -> tuple[float, float, object]:
    """(wall seconds, this process's CPU seconds, result)."""
    with tempfile.TemporaryDirectory() as d:
        start, cpu = time.perf_counter(), time.process_time()
        result = tune(config, run_dir=d, space=SPACE, seed=0, workers=workers, data=data)
        return time.perf_counter() - start, time.process_time() - cpu, result


def _makespan(cpu: list[float], workers: int) -> float:
    """Each trial, in order, to the worker that frees first (what the pool does)."""
    free = [0.0] * workers
    for c in cpu:
        free[free.index(min(free))] += c
    return max(free)


def _projection(serial_cpu: float, parent_cpu: float, result) -> float:
    """One worker's CPU time over two workers' critical path (see the module docstring)."""
    cpu = [t["cpu_seconds"] for t in sorted(result.trials, key=lambda t: t["number"])]
    warm = result.extra["start_cpu_seconds"]
    return serial_cpu / (warm + max(_makespan(cpu, 2), (sum(cpu) + parent_cpu - warm) / 2))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=1, help="best of N per cell")
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPUs, {platform.processor() or platform.machine()}, "
          f"load average before: {os.getloadavg()[0]:.1f}")
    print("| study | 1 worker | 2 workers | speed-up (wall) | projected from CPU times | "
          "target |")
    print("|---|---:|---:|---:|---:|---|")
    for label, n_trials, epochs, target in STUDIES:
        config = config_from_dict({
            "data": {"dataset": "digits"}, "model": {"hidden_layer_sizes": [32]},
            "training": {"epochs": epochs, "early_stopping": False},
            "tuning": {"n_trials": n_trials}})
        data = prepare_data(config, check_distribution=False)
        seconds, cpu, result = {}, {}, {}
        for workers in (1, 2):
            runs = [_time(config, data, workers) for _ in range(args.repeats)]
            seconds[workers], cpu[workers], result[workers] = min(runs, key=lambda r: r[0])
        assert result[1].best["dev_error"] == result[2].best["dev_error"], "same trials"
        speedup = seconds[1] / seconds[2]
        projected = _projection(cpu[1], cpu[2], result[2])
        verdict = (f"wall {'met' if speedup >= target else 'not met'}, projected "
                   f"{'met' if projected >= target else 'not met'}")
        print(f"| {label} | {seconds[1]:.2f} s | {seconds[2]:.2f} s | {speedup:.2f}x | "
              f"{projected:.2f}x | >= {target}x: {verdict} |", flush=True)
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
