"""The automated recipe against its peers, in one run, at an equal wall-clock budget.

For each data set, on the same train/dev/test split (deeprecipe's ``prepare_data`` of the config
``deeprecipe init`` writes, with only the dataset path changed; a file's own test set is kept
as the test set):

- deeprecipe: ``recipe(config, budget=B, workers=W)`` (what ``deeprecipe recipe --budget``
  runs);
- scikit-learn: ``MLPClassifier(hidden_layer_sizes=(100,), early_stopping=True)``;
- PyTorch + Optuna: a TPE search over MLPs (layers, units, dropout, lr, weight decay, batch
  size) with a median pruner, for B seconds; the best trial's model is tested.

Prints a Markdown table of test accuracy and seconds (and the load average before and after).
With ``--seeds 0,1,2`` every method runs once per seed (the config's seed: its split and its
initialisation; scikit-learn's random_state; the TPE sampler's and torch's seeds), the three on
the same arrays for each seed, and a second table gives each method's mean and standard
deviation: the test sets of football (200) and catvnoncat (50 images) are too small for one run
to rank the methods.

    python benchmarks/bench_recipe.py --budget fashion_mnist=600,mnist=600,digits=60 --workers 2
    python benchmarks/bench_recipe.py --budget football=30,catvnoncat=60 --seeds 0,1,2
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import tempfile
import time
import tomllib
from pathlib import Path

import numpy as np
import optuna

from deeprecipe.basic_recipe.loop import recipe
from deeprecipe.runs.config import EXAMPLE_CONFIG, config_from_dict
from deeprecipe.runs.prepare import prepare_data

DATA = Path(os.environ.get("DEEPRECIPE_DATA",
                           Path(__file__).resolve().parents[2] / "shared" / "data"))
DATASETS = {name: str(DATA / f"{name}.npz") for name in (
    "fashion_mnist", "mnist", "mnist1d", "football", "catvnoncat")} | {"digits": "digits"}


def init_config(dataset: str, seed: int = 0):
    """``deeprecipe init``'s config with only the dataset (and the seed) changed."""
    raw = tomllib.loads(EXAMPLE_CONFIG)
    raw["data"]["dataset"] = dataset
    raw["seed"] = seed
    return config_from_dict(raw)


def run_recipe(config, data, budget: float, workers: int) -> tuple[float, float, str]:
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        res = recipe(config, Path(tmp) / "run", time_budget=budget, max_rounds=50,
                     workers=workers, data=data, verbose=True)
    hidden = res.final_config.model.hidden_layer_sizes
    return 1 - res.result.metrics["test_error"], time.perf_counter() - t0, \
        f"{len(res.rounds)} rounds, best {hidden}, α {res.final_config.optimizer.learning_rate:g}"


def run_sklearn(data, seed: int = 0) -> tuple[float, float, str]:
    from sklearn.neural_network import MLPClassifier  # heavy; only this peer needs it

    t0 = time.perf_counter()
    X = np.concatenate([data.X_train, data.X_dev])
    y = np.concatenate([data.y_train, data.y_dev])
    clf = MLPClassifier(hidden_layer_sizes=(100,), early_stopping=True,
                        random_state=seed).fit(X, y)
    return clf.score(data.X_test, data.y_test), time.perf_counter() - t0, \
        f"{clf.n_iter_} epochs"


def _torch_trial(trial, data, torch, deadline: float, nets: dict, seed: int = 0):
    nn = torch.nn
    layers, units = trial.suggest_int("layers", 1, 3), trial.suggest_int("units", 64, 1024,
                                                                             log=True)
    dropout = trial.suggest_float("dropout", 0.0, 0.5)
    lr = trial.suggest_float("lr", 1e-4, 1e-2, log=True)
    wd = trial.suggest_float("weight_decay", 1e-6, 1e-3, log=True)
    bs = trial.suggest_categorical("batch_size", [64, 128, 256])
    torch.manual_seed(1000 * seed + trial.number)
    mods, n_in = [], data.X_train.shape[1]
    for _ in range(layers):
        mods += [nn.Linear(n_in, units), nn.ReLU(), nn.Dropout(dropout)]
        n_in = units
    net = nn.Sequential(*mods, nn.Linear(n_in, len(data.classes)))
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=wd)
    X, y = torch.from_numpy(data.X_train), torch.from_numpy(data.y_train.astype(np.int64))
    Xd, yd = torch.from_numpy(data.X_dev), torch.from_numpy(data.y_dev.astype(np.int64))
    best, best_state = 0.0, None
    for epoch in range(30):
        net.train()
        for idx in torch.randperm(len(X)).split(bs):
            opt.zero_grad()
            nn.functional.cross_entropy(net(X[idx]), y[idx]).backward()
            opt.step()
        net.eval()
        with torch.no_grad():
            acc = float((net(Xd).argmax(1) == yd).float().mean())
        if acc > best:
            best, best_state = acc, {k: v.clone() for k, v in net.state_dict().items()}
        trial.report(acc, epoch)
        if trial.should_prune():
            raise optuna.TrialPruned(f"pruned at epoch {epoch}")
        if time.perf_counter() > deadline:
            break
    net.load_state_dict(best_state)
    nets[trial.number] = net
    return best


def run_torch_optuna(data, budget: float, seed: int = 0) -> tuple[float, float, str]:
    import torch  # heavy; only this peer needs it

    torch.set_num_threads(2)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    t0 = time.perf_counter()
    study = optuna.create_study(direction="maximize",
                                sampler=optuna.samplers.TPESampler(seed=seed),
                                pruner=optuna.pruners.MedianPruner(n_warmup_steps=2))
    nets: dict = {}

    def keep_best(study, trial):  # only the best trial's network is kept, for the test set
        best = study.best_trial.number if any(
            t.state == optuna.trial.TrialState.COMPLETE for t in study.trials) else None
        for number in [n for n in nets if n != best]:
            del nets[number]

    study.optimize(lambda t: _torch_trial(t, data, torch, t0 + budget, nets, seed),
                   timeout=budget, callbacks=[keep_best])
    net = nets[study.best_trial.number]
    with torch.no_grad():
        pred = net(torch.from_numpy(data.X_test)).argmax(1).numpy()
    return float((pred == data.y_test).mean()), time.perf_counter() - t0, \
        f"{len(study.trials)} trials, best {study.best_params}"


def run_dataset(name: str, budget: float, seed: int, workers: int) -> list[tuple]:
    """(method, test accuracy, seconds, notes) of the three methods on one seed's split."""
    config = init_config(DATASETS[name], seed)
    data = prepare_data(config, check_distribution=False)
    arrays = dataclasses.replace(  # the peers get the same rows as plain float32 arrays
        data, X_train=data.X_train[:], X_dev=data.X_dev[:], X_test=data.X_test[:])
    methods = (("deeprecipe recipe", run_recipe, (config, data, budget, workers)),
               ("sklearn MLPClassifier", run_sklearn, (arrays, seed)),
               ("PyTorch + Optuna TPE", run_torch_optuna, (arrays, budget, seed)))
    return [(method, *run(*run_args)) for method, run, run_args in methods]


def summary(results: dict) -> list[str]:
    """Mean and standard deviation of test accuracy per data set and method, over the seeds."""
    rows = ["", "| data set | method | seeds | mean test accuracy | sd | min | max |",
            "|---|---|---:|---:|---:|---:|---:|"]
    for (name, method), accs in results.items():
        a = np.asarray(accs)
        rows.append(f"| {name} | {method} | {len(a)} | {a.mean():.4f} | "
                    f"{a.std(ddof=1) if len(a) > 1 else 0.0:.4f} | {a.min():.4f} | "
                    f"{a.max():.4f} |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", default="fashion_mnist=600,mnist=600,digits=60",
                        help="seconds per data set, name=seconds,...")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seeds", default="0", help="comma-separated seeds, e.g. 0,1,2")
    args = parser.parse_args()
    budgets = {k: float(v) for k, v in (p.split("=") for p in args.budget.split(","))}
    seeds = [int(x) for x in args.seeds.split(",")]
    rows = [f"load average before: {os.getloadavg()}", "",
            "| data set | budget s | seed | method | test accuracy | seconds | notes |",
            "|---|---:|---:|---|---:|---:|---|"]
    results: dict = {}
    for name, budget in budgets.items():
        for seed in seeds:
            for method, acc, seconds, notes in run_dataset(name, budget, seed, args.workers):
                results.setdefault((name, method), []).append(acc)
                rows.append(f"| {name} | {budget:g} | {seed} | {method} | {acc:.4f} | "
                            f"{seconds:.0f} | {notes} |")
                print(rows[-1], flush=True)
    if len(seeds) > 1:
        rows += summary(results)
    rows += ["", f"load average after: {os.getloadavg()}"]
    print("\n".join(rows))


if __name__ == "__main__":
    main()
