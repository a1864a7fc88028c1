"""Running the ``deeprecipe`` command line as real subprocesses, for the CLI tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from _timeouts import GUARD

CLI = [sys.executable, "-m", "deeprecipe.cli"]


def _env(columns: int = 200) -> dict:
    # one BLAS/OpenMP thread per process: several CLI processes run at once, and oversubscribed
    # OpenMP (the dev/test distribution check) is what makes their time vary, not their work
    env = dict(os.environ, COLUMNS=str(columns), NO_COLOR="1", TERM="dumb",
               OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    env.pop("FORCE_COLOR", None)
    return env


def cli(*args, cwd: Path, timeout: float = GUARD, columns: int = 200
        ) -> subprocess.CompletedProcess:
    """Run ``python -m deeprecipe.cli ARGS`` in ``cwd``; text output, never raises on exit code."""
    return subprocess.run([*CLI, *map(str, args)], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=_env(columns))


def cli_many(arg_lists, *, cwd: Path, columns: int = 200) -> list[subprocess.CompletedProcess]:
    """Start every invocation at once (they are independent) and wait for all of them."""
    procs = [subprocess.Popen([*CLI, *map(str, args)], cwd=cwd, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=_env(columns))
             for args in arg_lists]
    results = []
    try:
        for args, p in zip(arg_lists, procs, strict=True):
            out, err = p.communicate(timeout=GUARD)
            results.append(subprocess.CompletedProcess(args, p.returncode, out, err))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    return results


def assert_one_line_error(res: subprocess.CompletedProcess) -> str:
    """Exit 2, one line on stderr that starts with "error:", no traceback; returns the line."""
    assert res.returncode == 2, (res.returncode, res.stderr)
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith("error: "), res.stderr
    assert "Traceback" not in res.stderr + res.stdout
    return lines[0]

