"""What practitioners look at in a study: the spaces written as people write them
(α ~ 10^U(−4, −1), 1−β ~ 10^U(−3, −1)), Optuna's hyperparameter importances, and a
parallel-coordinates plot with the zoom box of every coarse-to-fine round."""

from __future__ import annotations

import math
from collections.abc import Sequence

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from deeprecipe.report._figures import render
from deeprecipe.report._html import Raw, figure, fmt, num, table

__all__ = ["space_text", "importance_svg", "parallel_svg", "study_parts"]

_SYMBOLS = {"learning_rate": "α", "beta": "β", "beta1": "β1", "beta2": "β2", "l2": "λ",
            "l1": "λ1", "keep_prob": "keep_prob", "epsilon": "ε"}


def _exp(x: float) -> str:
    """A decimal exponent as people write it: -4 -> '−4', -2.5 -> '−2.5'."""
    text = f"{x:.2g}" if abs(x - round(x)) > 1e-9 else str(int(round(x)))
    return text.replace("-", "−")


def space_text(name: str, spec) -> str:
    """'α ~ 10^U(−4, −1)', '1−β ~ 10^U(−3, −1)', 'batch_size ∈ {32, 64}', 'n ~ U{1, …, 3}'.

    >>> space_text("learning_rate", {"dist": "log_uniform", "low": 1e-4, "high": 0.1})
    'α ~ 10^U(−4, −1)'
    >>> space_text("beta", {"dist": "one_minus_log_uniform", "low": 0.9, "high": 0.999})
    '1−β ~ 10^U(−3, −1)'
    """
    s = _SYMBOLS.get(name, name)
    if not isinstance(spec, dict):
        return f"{s} = {spec}"
    kind = spec.get("dist")
    options = spec.get("choices", spec.get("options"))
    low, high = num(spec.get("low")), num(spec.get("high"))
    if isinstance(options, list):
        return f"{s} ∈ {{{', '.join(str(o) for o in options)}}}"
    if low is None or high is None:
        return f"{s}: {spec}"
    if kind == "log_uniform" and low > 0:
        return f"{s} ~ 10^U({_exp(math.log10(low))}, {_exp(math.log10(high))})"
    if kind == "one_minus_log_uniform" and high < 1:
        return f"1−{s} ~ 10^U({_exp(math.log10(1 - high))}, {_exp(math.log10(1 - low))})"
    if kind == "int_uniform":
        if spec.get("log"):
            return f"{s} ~ ⌊10^U(log {int(low)}, log {int(high) + 1})⌋"
        return f"{s} ~ U{{{int(low)}, …, {int(high)}}}"
    return f"{s} ~ U({fmt(low)}, {fmt(high)})"


def _axis(spec, values: Sequence) -> tuple[callable, list | None]:
    """(value -> position in [0, 1] on the dimension's own scale, categories or None)."""
    spec = spec if isinstance(spec, dict) else {}
    kind = str(spec.get("dist", spec.get("type", ""))).lower().replace("_", "")
    options = spec.get("choices", spec.get("options"))
    if isinstance(options, list) or any(num(v) is None for v in values):
        cats = [str(o) for o in options] if isinstance(options, list) else \
            list(dict.fromkeys(map(str, values)))
        return (lambda v: cats.index(str(v)) / max(1, len(cats) - 1)
                if str(v) in cats else math.nan), cats
    given = [num(v) for v in values]
    lo = num(spec.get("low")) if num(spec.get("low")) is not None else min(given)
    hi = num(spec.get("high")) if num(spec.get("high")) is not None else max(given)
    to = {"loguniform": math.log10,
          "oneminusloguniform": lambda v: -math.log10(1 - v)}.get(kind, float)
    if kind == "intuniform" and spec.get("log"):
        to = math.log10
    a, b = to(lo), to(hi)
    return (lambda v: (to(float(v)) - a) / ((b - a) or 1.0)), None


def parallel_svg(fid: str, trials: list[dict], spaces: list[dict]) -> str | None:
    """One line per completed trial across the hyperparameters (each on its own scale, axes
    from round 1's space), coloured by dev error; shaded: each later round's zoom box."""
    done = [t for t in trials if num(t.get("dev_error")) is not None and t["params"]]
    if len(done) < 2 or not spaces:
        return None
    names = [n for n in spaces[0] if any(n in t["params"] for t in done)]
    if not names:
        return None
    axes = [_axis(spaces[0][n], [t["params"].get(n) for t in done]) for n in names]
    errs = np.array([100 * t["dev_error"] for t in done])
    norm = matplotlib.colors.Normalize(errs.min(), errs.max() if errs.max() > errs.min()
                                       else errs.min() + 1)
    cmap = matplotlib.colormaps["viridis_r"]

    def draw(fig: Figure) -> None:
        ax = fig.add_subplot()
        for r, space in enumerate(spaces[1:], start=2):  # the zoom box of each later round
            for i, n in enumerate(names):
                if n in space and axes[i][1] is None:
                    lo, hi = sorted(axes[i][0](space[n][k]) for k in ("low", "high"))
                    ax.add_patch(Rectangle((i - 0.08 * r, lo), 0.16 * r, hi - lo,
                                           alpha=0.12, color="#1f77b4", lw=0))
        for t, e in sorted(zip(done, errs, strict=True), key=lambda p: -p[1]):
            ys = [f(t["params"].get(n)) for n, (f, _) in zip(names, axes, strict=True)]
            best = bool(t.get("best"))
            ax.plot(range(len(names)), ys, color="#d62728" if best else cmap(norm(e)),
                    lw=2.4 if best else 1.0, alpha=1.0 if best else 0.7, zorder=5 if best else 2)
        ax.set_xticks(range(len(names)), [space_text(n, spaces[0][n]).split(" ")[0]
                                          for n in names])
        ax.set_yticks([0, 1], ["low", "high"])
        ax.set_xlim(-0.5, len(names) - 0.5)
        fig.colorbar(matplotlib.cm.ScalarMappable(norm, cmap), ax=ax, label="dev error (%)")

    return render(fid, draw, (6.4, 3.2))


def importance_svg(fid: str, importance: dict) -> str | None:
    """Horizontal bars: each hyperparameter's share of the objective's variance (fANOVA)."""
    items = sorted(((k, v) for k, v in importance.items() if num(v) is not None),
                   key=lambda kv: kv[1])
    if not items:
        return None

    def draw(fig: Figure) -> None:
        ax = fig.add_subplot()
        ax.barh([k for k, _ in items], [100 * v for _, v in items], color="#1f77b4")
        ax.set_xlabel("importance (% of the dev error's variance, fANOVA)")

    return render(fid, draw, (5.6, 0.6 + 0.35 * len(items)))


def study_parts(study: dict, trials: list[dict]) -> list[str]:
    """The figures and tables above, as HTML parts of the tuning section."""
    spaces = [s for s in study.get("spaces") or [] if isinstance(s, dict)]
    parts, figs = [], []
    svg = parallel_svg("fig-tuning-parallel", trials, spaces)
    if svg:
        figs.append(figure("fig-tuning-parallel", svg, "Parallel coordinates: one line per "
                           "trial, each hyperparameter on its own scale (red: the best); the "
                           "shaded boxes are the zoom boxes of the later rounds."))
    importance = study.get("importance") if isinstance(study.get("importance"), dict) else {}
    svg = importance_svg("fig-tuning-importance", importance)
    if svg:
        figs.append(figure("fig-tuning-importance", svg, "Hyperparameter importance "
                           "(Optuna's fANOVA evaluator): what to tune first."))
    if figs:
        parts.append(f'<div class="grid">{"".join(figs)}</div>')
    if spaces:
        rows = [[r, space_text(name, spec)] for r, sp in enumerate(spaces, start=1)
                for name, spec in sp.items()]
        parts.append("<h3>Search space per round (coarse to fine: each round zooms on the "
                     "best of the one before)</h3>" + table(["round", "sampled as"], rows))
    settings = {k: study.get(k) for k in ("method", "prune", "metric", "folds", "stopped")
                if study.get(k) not in (None, "none")}
    if settings:
        parts.append(str(Raw("<p>" + ", ".join(f"{k}: {fmt(v)}" for k, v in settings.items())
                             + "</p>")))
    return parts
