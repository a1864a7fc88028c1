"""DeepClassifier / DeepRegressor with their class defaults vs scikit-learn's MLP defaults.

Each model is ``make_pipeline(StandardScaler(), estimator)`` with ``random_state=0`` and nothing
else set, scored by 5-fold cross-validation (stratified folds and accuracy for the classifiers,
plain folds and R^2 for the regressors). Times are fit + score seconds summed over the folds:
CPU seconds of this process (the verdict: stable on a shared machine; BLAS is limited to one
thread by default) and wall-clock seconds. Both libraries run in this one process, fold by
fold in turn, so they see the same machine load.

Main sets: digits, breast cancer, wine, diabetes, make_regression. Extra checks: iris, a 3-class
make_classification and make_friedman1. The target: deeprecipe's score at least scikit-learn's
(within 0.005 accuracy or 0.02 R^2) in no more time.

    python benchmarks/bench_estimators.py                 # every set, prints a Markdown table
    python benchmarks/bench_estimators.py --threads 2 --out table.md  # also into a file
    python benchmarks/bench_estimators.py --quick         # iris only, 2 folds: a smoke run
    python benchmarks/bench_estimators.py --sets digits --params '{"epochs": 100}'
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
from sklearn import datasets
from sklearn.exceptions import ConvergenceWarning
from sklearn.base import clone
from sklearn.model_selection import check_cv
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_info, threadpool_limits

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from deeprecipe.estimator import DeepClassifier, DeepRegressor  # noqa: E402

#: name -> (task, loader of (X, y), main set?)
SETS: dict[str, tuple[str, Callable[[], tuple], bool]] = {
    "digits": ("classification", lambda: datasets.load_digits(return_X_y=True), True),
    "breast_cancer": ("classification",
                      lambda: datasets.load_breast_cancer(return_X_y=True), True),
    "wine": ("classification", lambda: datasets.load_wine(return_X_y=True), True),
    "diabetes": ("regression", lambda: datasets.load_diabetes(return_X_y=True), True),
    "make_regression": ("regression", lambda: datasets.make_regression(
        n_samples=1000, n_features=20, n_informative=10, noise=10.0, random_state=0), True),
    "iris": ("classification", lambda: datasets.load_iris(return_X_y=True), False),
    "make_classification": ("classification", lambda: datasets.make_classification(
        n_samples=1000, n_features=20, n_informative=5, n_classes=3, random_state=0), False),
    "make_friedman1": ("regression", lambda: datasets.make_friedman1(
        n_samples=1000, noise=1.0, random_state=0), False),
}
#: A tie: deeprecipe at most this far below scikit-learn still counts as matching.
TOLERANCE = {"classification": 0.005, "regression": 0.02}


def models(task: str, params: dict) -> dict:
    """The two pipelines of a task: deeprecipe (class defaults + ``params``) and sklearn."""
    params = {"random_state": 0, **params}
    if task == "classification":
        ours, theirs = DeepClassifier(**params), MLPClassifier(random_state=0)
    else:
        ours, theirs = DeepRegressor(**params), MLPRegressor(random_state=0)
    return {"deeprecipe": make_pipeline(StandardScaler(), ours),
            "sklearn": make_pipeline(StandardScaler(), theirs)}


def run(names: list[str], params: dict, cv: int = 5) -> list[dict]:
    """One row per data set: mean CV score, CPU and wall seconds of both libraries.

    Both libraries first fit once untimed (first-call costs); then the folds are interleaved
    (fold 1 deeprecipe, fold 1 sklearn, fold 2 ...), so both see the same machine load. The
    seconds are sums over the folds of fit + score.
    """
    for task in ("classification", "regression"):  # first-call costs (imports, caches)
        X, y = SETS["iris"][1]()
        for pipe in models(task, params).values():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                pipe.fit(X, y)
    rows = []
    for name in names:
        task, load, main = SETS[name]
        X, y = load()
        pipes = models(task, params)
        folds = list(check_cv(cv, y, classifier=task == "classification").split(X, y))
        scores = {lib: [] for lib in pipes}
        cpu, wall = dict.fromkeys(pipes, 0.0), dict.fromkeys(pipes, 0.0)
        for train, test in folds:
            for lib, pipe in pipes.items():
                model = clone(pipe)
                c0, w0 = time.process_time(), time.perf_counter()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ConvergenceWarning)
                    model.fit(X[train], y[train])
                scores[lib].append(model.score(X[test], y[test]))
                cpu[lib] += time.process_time() - c0
                wall[lib] += time.perf_counter() - w0
        row = {"set": name, "task": task, "main": main, "m": len(X), "n": X.shape[1]}
        for lib in pipes:
            row[lib] = {"score": float(np.mean(scores[lib])), "cpu": cpu[lib],
                        "wall": wall[lib]}
        ours, theirs = row["deeprecipe"], row["sklearn"]
        row["score_ok"] = ours["score"] >= theirs["score"] - TOLERANCE[task]
        row["time_ok"] = ours["cpu"] <= theirs["cpu"]
        rows.append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)
    return rows


def _machine() -> str:
    import sklearn

    blas = ", ".join(sorted({i["internal_api"] for i in threadpool_info()}))

    return (f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.python_implementation()} "
            f"{platform.python_version()}, NumPy {np.__version__}, scikit-learn "
            f"{sklearn.__version__}, {blas}")


def table(rows: list[dict], cv: int = 5, threads: int = 1) -> str:
    """The Markdown table of ``run``'s rows, with the verdict per set."""
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [f"{cv}-fold CV, `make_pipeline(StandardScaler(), model)`, class defaults, "
             f"random_state=0; BLAS limited to {threads} thread(s). Run {now} on "
             f"{_machine()}.", "",
             "| set | m x n | metric | deeprecipe | sklearn MLP | deeprecipe CPU s "
             "| sklearn CPU s | deeprecipe wall s | sklearn wall s | score | time |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        metric = "accuracy" if r["task"] == "classification" else "R^2"
        name = r["set"] if r["main"] else f"{r['set']} (extra)"
        ours, theirs = r["deeprecipe"], r["sklearn"]
        lines.append(f"| {name} | {r['m']} x {r['n']} | {metric} | {ours['score']:.3f} "
                     f"| {theirs['score']:.3f} | {ours['cpu']:.2f} | {theirs['cpu']:.2f} "
                     f"| {ours['wall']:.2f} | {theirs['wall']:.2f} "
                     f"| {'met' if r['score_ok'] else 'missed'} "
                     f"| {'met' if r['time_ok'] else 'missed'} |")
    cpu = [sum(r[lib]["cpu"] for r in rows) for lib in ("deeprecipe", "sklearn")]
    lines += ["", f"Total CPU seconds: deeprecipe {cpu[0]:.1f}, sklearn {cpu[1]:.1f}."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="iris only, 2 folds (smoke run)")
    parser.add_argument("--sets", nargs="+", choices=list(SETS), help="data sets to run")
    parser.add_argument("--params", default="{}",
                        help="JSON dict of deeprecipe parameters to override (exploration)")
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads (default 1)")
    parser.add_argument("--out", type=Path, help="also write the table to this file")
    args = parser.parse_args(argv)
    cv = 2 if args.quick else 5
    names = ["iris"] if args.quick else (args.sets or list(SETS))
    params = {k: tuple(v) if isinstance(v, list) else v
              for k, v in json.loads(args.params).items()}
    with threadpool_limits(args.threads):
        rows = run(names, params, cv)
    text = table(rows, cv, args.threads)
    print(text)
    if args.out is not None:
        args.out.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
