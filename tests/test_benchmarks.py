"""The benchmark script still runs: one subprocess per framework, as ``bench_engine.py`` does.

A smoke run only (6,000 samples, one repeat, small cases). The measurements themselves belong in
``benchmarks/RESULTS.md``; no test here looks at a time.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from _timeouts import GUARD

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_engine.py"


def _child(framework: str, case: str) -> dict:
    out = subprocess.run([sys.executable, str(BENCH), "--child", framework, "--case", case,
                          "--quick", "--threads", "1"],
                         capture_output=True, text=True, timeout=GUARD, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(("framework", "case"), [
    ("deeprecipe", "narrow"), ("pytorch", "narrow"), ("sklearn", "narrow"),
    ("deeprecipe", "inference"), ("floor", "inference")])
def test_benchmark_child_reports_times_and_memory(framework, case):
    result = _child(framework, case)
    assert (result["framework"], result["case"]) == (framework, case)
    assert len(result["times"]) == 1 and result["median"] > 0
    assert result["runtime_mb"] > 0 and result["budget_mb"] >= 100
    assert result["m"] == (1797 if case == "narrow" else 6000)


def test_benchmark_table_names_every_target():
    sys.path.insert(0, str(BENCH.parent))
    try:
        import bench_engine
    finally:
        sys.path.remove(str(BENCH.parent))
    fake = [{"framework": f, "case": case, "source": "random", "m": 100, "times": [t],
             "median": t, "runtime_mb": 150.0, "data_mb": 1.0, "training_mb": 5.0,
             "budget_mb": 111.0}
            for case, (*_, frameworks) in bench_engine.CASES.items()
            for f, t in zip(frameworks, (1.0, 2.0, 3.0, 4.0, 0.5), strict=False)]
    table = bench_engine.table(fake, {"threads_used": 2, "blas": []})
    # train: deeprecipe 1.0 s, pytorch 3.0, sklearn 4.0, floor 0.5; narrow: 1.0 vs pytorch 2.0
    for row in ("| epoch <= 0.8 x pytorch | 0.33 | met |",
                "| epoch <= 0.5 x sklearn | 0.25 | met |",
                "| epoch <= 1.5 x floor | 2.00 | missed |",
                "| narrow net no slower than pytorch | 0.50 | met |",
                "| deeprecipe training memory within budget (every case) | 0.05 x budget | met |"):
        assert row in table


def test_floor_ratio_child_times_floor_bare_loop_and_user_path_interleaved():
    out = subprocess.run([sys.executable, str(BENCH), "--child", "floor-ratio", "--batch", "512",
                          "--quick", "--threads", "1", "--clock", "cpu"],
                         capture_output=True, text=True, timeout=GUARD, check=True)
    res = json.loads(out.stdout.strip().splitlines()[-1])
    assert set(res["times"]) == {"floor", "floor_eval", "bare", "user"}
    assert all(len(t) == 1 and t[0] > 0 for t in res["times"].values())
    assert (res["batch"], res["m"], res["clock"]) == (512, 6000, "cpu")


def test_floor_table_reports_both_ratios_against_each_target():
    sys.path.insert(0, str(BENCH.parent))
    try:
        import bench_engine
    finally:
        sys.path.remove(str(BENCH.parent))
    fake = [{"batch": b, "source": "random", "m": 100, "setup": 0.01, "threads": 2,
             "load": [0.5, 0.5, 0.5], "clock": "wall",
             "times": {"floor": [1.0] * 5, "floor_eval": [0.1] * 5, "bare": [1.1] * 5,
                       "user": [1.3] * 5}} for b in (32, 128, 512)]
    table = bench_engine.floor_table(fake)
    assert "| 32 | 1.000 | 1.100 | 1.100 | 1.300 | 1.300 | 1.100 | **1.182** | <= 1.3 | met |" \
        in table
    assert "| 512 | 1.000 | 1.100 | 1.100 | 1.300 | 1.300 | 1.100 | **1.182** | <= 1.15 | " \
        "missed |" in table
