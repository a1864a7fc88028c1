"""DeepClassifier / DeepRegressor with their class defaults vs scikit-learn's MLP defaults.

Each model is ``make_pipeline(StandardScaler(), estimator)`` with ``random_state=0`` and nothing
else set, scored by 5-fold cross-validation (``cross_validate``: stratified folds for the
classifiers, accuracy; plain folds for the regressors, R^2). "seconds" is the summed fit +
score time of the 5 folds. Both libraries run in this one process on the same BLAS threads,
one data set after the other (deeprecipe first, then scikit-learn).

Main sets: digits, breast cancer, wine, diabetes, make_regression. Extra checks: iris, a 3-class
make_classification and make_friedman1. The target: deeprecipe's score at least scikit-learn's
(within 0.005 accuracy or 0.02 R^2) in no more time.

    python benchmarks/bench_estimators.py                 # every set, prints a Markdown table
    python benchmarks/bench_estimators.py --out benchmarks/ESTIMATORS.md
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
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
from sklearn import datasets
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import cross_validate
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

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
    if task == "classification":
        ours, theirs = DeepClassifier(random_state=0, **params), MLPClassifier(random_state=0)
    else:
        ours, theirs = DeepRegressor(random_state=0, **params), MLPRegressor(random_state=0)
    return {"deeprecipe": make_pipeline(StandardScaler(), ours),
            "sklearn": make_pipeline(StandardScaler(), theirs)}


def run(names: list[str], params: dict, cv: int = 5) -> list[dict]:
    """One row per data set: mean CV score and summed seconds of both libraries."""
    rows = []
    for name in names:
        task, load, main = SETS[name]
        X, y = load()
        row = {"set": name, "task": task, "main": main, "m": len(X), "n": X.shape[1]}
        for lib, pipe in models(task, params).items():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                res = cross_validate(pipe, X, y, cv=cv)
            row[lib] = {"score": float(np.mean(res["test_score"])),
                        "seconds": float(np.sum(res["fit_time"]) + np.sum(res["score_time"]))}
        ours, theirs = row["deeprecipe"], row["sklearn"]
        row["score_ok"] = ours["score"] >= theirs["score"] - TOLERANCE[task]
        row["time_ok"] = ours["seconds"] <= theirs["seconds"]
        rows.append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)
    return rows


def _machine() -> str:
    try:
        from threadpoolctl import threadpool_info

        blas = ", ".join(sorted({f"{i['internal_api']} ({i['num_threads']} threads)"
                                 for i in threadpool_info()}))
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        blas = "unknown BLAS"
    import sklearn

    return (f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.python_implementation()} "
            f"{platform.python_version()}, NumPy {np.__version__}, scikit-learn "
            f"{sklearn.__version__}, {blas}")


def table(rows: list[dict], cv: int = 5) -> str:
    """The Markdown table of ``run``'s rows, with the verdict per set."""
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [f"{cv}-fold CV, `make_pipeline(StandardScaler(), model)`, class defaults, "
             f"random_state=0. Run {now} on {_machine()}.", "",
             "| set | m x n | metric | deeprecipe | sklearn MLP | deeprecipe s | sklearn s "
             "| score | time |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        metric = "accuracy" if r["task"] == "classification" else "R^2"
        name = r["set"] if r["main"] else f"{r['set']} (extra)"
        ours, theirs = r["deeprecipe"], r["sklearn"]
        lines.append(f"| {name} | {r['m']} x {r['n']} | {metric} | {ours['score']:.3f} "
                     f"| {theirs['score']:.3f} | {ours['seconds']:.2f} | {theirs['seconds']:.2f} "
                     f"| {'met' if r['score_ok'] else 'missed'} "
                     f"| {'met' if r['time_ok'] else 'missed'} |")
    total = [sum(r[lib]["seconds"] for r in rows) for lib in ("deeprecipe", "sklearn")]
    lines += ["", f"Total seconds: deeprecipe {total[0]:.1f}, sklearn {total[1]:.1f}."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="iris only, 2 folds (smoke run)")
    parser.add_argument("--sets", nargs="+", choices=list(SETS), help="data sets to run")
    parser.add_argument("--params", default="{}",
                        help="JSON dict of deeprecipe parameters to override (exploration)")
    parser.add_argument("--out", type=Path, help="also write the table to this file")
    args = parser.parse_args(argv)
    cv = 2 if args.quick else 5
    names = ["iris"] if args.quick else (args.sets or list(SETS))
    params = json.loads(args.params)
    params = {k: tuple(v) if isinstance(v, list) else v for k, v in params.items()}
    text = table(run(names, params, cv), cv)
    print(text)
    if args.out is not None:
        args.out.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
