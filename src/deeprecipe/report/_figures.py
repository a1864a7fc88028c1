"""Figures of the report, drawn with matplotlib's object API (no pyplot, no backend switch)
and returned as inline SVG text whose ids are prefixed so many figures can share one page."""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Sequence

import matplotlib
import numpy as np
from matplotlib.figure import Figure

from deeprecipe.optimize.averages import ewa
from deeprecipe.optimize.steplog import StepLog
from deeprecipe.report._html import esc, num

__all__ = ["render", "event_positions", "epoch_svg", "step_cost_svg", "bias_variance_svg",
           "learning_curve_svg", "steps_per_epoch",
           "param_scale", "tuning_param_svg", "tuning_curves_svg", "panda_svg", "recipe_svg",
           "EVENT_COLOURS"]

_RC = {"svg.fonttype": "path", "font.size": 9, "axes.titlesize": 10, "axes.labelsize": 9,
       "legend.fontsize": 7.5, "axes.spines.top": False, "axes.spines.right": False,
       "axes.grid": True, "grid.alpha": 0.3, "svg.image_inline": True}
EVENT_COLOURS = {"nudge": "#7b3fe4", "rollback": "#d62728", "roll_back": "#d62728",
                 "early_stopping": "#7f7f7f", "restored_best": "#2ca02c",
                 "divergence": "#ff7f0e", "branch": "#17becf"}
_OTHER_EVENT = "#8c564b"
_SESSION_KINDS = {"babysit", "resume", "chunk"}  # panda bookkeeping: in the table only
SIZE = (5.6, 3.2)


def render(fid: str, draw: Callable[[Figure], None], size: tuple[float, float] = SIZE) -> str:
    """Draw on a fresh Figure and return it as inline <svg> text with ids prefixed by fid."""
    with matplotlib.rc_context({**_RC, "svg.hashsalt": fid}):
        fig = Figure(figsize=size, layout="constrained")
        draw(fig)
        buf = io.StringIO()
        fig.savefig(buf, format="svg")
    svg = buf.getvalue()
    svg = re.sub(r"<\?xml[^>]*\?>\s*", "", svg)
    svg = re.sub(r"<!DOCTYPE[^>]*>\s*", "", svg)
    svg = re.sub(r"<metadata>.*?</metadata>\s*", "", svg, flags=re.S)
    svg = re.sub(r'\bid="([^"]+)"', lambda m: f'id="{fid}-{m[1]}"', svg)
    svg = re.sub(r'href="#([^"]+)"', lambda m: f'href="#{fid}-{m[1]}"', svg)
    svg = re.sub(r"url\(#([^)]+)\)", lambda m: f"url(#{fid}-{m[1]})", svg)
    return svg.replace("<svg ", f'<svg role="img" aria-label="{esc(fid)}" ', 1).strip()


def _series(rows: Sequence[dict], key: str) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = [], []
    for i, row in enumerate(rows):
        x, y = num(row.get("epoch", i + 1)), num(row.get(key))
        if x is not None and y is not None:
            xs.append(x)
            ys.append(y)
    return np.asarray(xs, float), np.asarray(ys, float)


def _auto_log(ax, values: np.ndarray, ratio: float = 100.0, axis: str = "y") -> None:
    values = values[np.isfinite(values)]
    if values.size and values.min() > 0 and values.max() / values.min() > ratio:
        (ax.set_yscale if axis == "y" else ax.set_xscale)("log")


def event_positions(events: Sequence[dict], batches: dict[int, int]) -> list[tuple[float, dict]]:
    """x (in epochs) of each event: ``epoch`` completed epochs plus ``step`` of the next one."""
    out = []
    for e in events:
        epoch = num(e.get("epoch"))
        if epoch is None:
            continue
        step = num(e.get("step")) or 0.0
        n = batches.get(int(epoch) + 1) or batches.get(int(epoch)) or 0
        out.append((epoch + (step / n if n and step else 0.0), e))
    return out


def _mark_events(ax, positions: list[tuple[float, dict]]) -> None:
    seen = set()
    for x, e in positions:
        kind = str(e.get("kind") or e.get("action") or "event")
        if kind in _SESSION_KINDS:
            continue
        colour = EVENT_COLOURS.get(kind, _OTHER_EVENT)
        ax.axvline(x, color=colour, ls="--", lw=1.1, alpha=0.85,
                   label=None if kind in seen else f"event: {kind}")
        seen.add(kind)


def epoch_svg(fid: str, epochs: Sequence[dict], series: Sequence[tuple[str, str, dict]],
              ylabel: str, *, events=(), percent: bool = False, hline: float | None = None,
              hline_label: str = "", log_ratio: float | None = 100.0) -> str | None:
    """Per-epoch lines (key, label, style) with event markers; None if no series has data."""
    data = [(label, style, *_series(epochs, key)) for key, label, style in series]
    data = [d for d in data if d[2].size]
    if not data:
        return None

    def draw(fig: Figure) -> None:
        ax = fig.add_subplot()
        scale = 100.0 if percent else 1.0
        for label, style, x, y in data:
            ax.plot(x, y * scale, label=label, marker="o" if x.size < 30 else None, ms=3,
                    **style)
        if hline is not None:
            ax.axhline(hline * scale, color="#444", ls=":", lw=1.2, label=hline_label)
        _mark_events(ax, list(events))
        if log_ratio is not None and not percent:
            _auto_log(ax, np.concatenate([d[3] for d in data]), log_ratio)
        ax.set_xlabel("epoch")
        ax.set_ylabel(ylabel)
        ax.legend(loc="best", frameon=False)

    return render(fid, draw)


def steps_per_epoch(steps: StepLog) -> dict[int, int]:
    """{epoch: its highest logged step}: its mini-batches, within the log's stride."""
    out: dict[int, int] = {}
    for e, s in zip(steps["epoch"].tolist(), steps["step"].tolist(), strict=True):
        out[e] = max(out.get(e, 0), s)
    return out


def step_cost_svg(fid: str, steps: StepLog, *, events=()) -> str | None:
    """Raw mini-batch cost and its bias-corrected EWA against (fractional) epochs: a step s of
    epoch e at e - 1 + s / (the epoch's steps); every ``steps.stride``-th step."""
    n = len(steps)
    if n == 0:
        return None
    per_epoch, epoch = steps_per_epoch(steps), steps["epoch"]
    x = epoch - 1 + steps["step"] / np.array([max(per_epoch[e], 1) for e in epoch.tolist()])
    y = np.asarray(steps["cost"], float)
    full_batch = steps.stride == 1 and max(per_epoch.values()) == 1  # β = 0.98: ~50 epochs
    if not full_batch:
        smooth, how = np.asarray(steps["cost_ewa"], float), "recorded"
    else:
        finite = np.where(np.isfinite(y), y, np.nanmean(y) if np.isfinite(y).any() else 0.0)
        beta = 1 - 1 / max(2.0, n / 10)  # a window of ~n/10 points
        smooth = ewa(finite, beta=beta)
        how = f"β = {beta:.2g}, a window that fits {n} full-batch steps"
    each = ("one mini-batch" if steps.stride == 1 else
            f"one mini-batch in {steps.stride}; the log keeps at most {steps.capacity}")

    def draw(fig: Figure) -> None:
        ax = fig.add_subplot()
        ax.plot(x, y, color="#9db7e0", lw=0.8, label="mini-batch cost (raw)")
        ax.plot(x, smooth, color="#1f4e9c", lw=2.0,
                label=f"EWA, bias-corrected ({how})")
        _mark_events(ax, list(events))
        _auto_log(ax, y)
        ax.set_xlabel(f"epoch (each point is {each})")
        ax.set_ylabel("cost J")
        ax.legend(loc="best", frameon=False)

    return render(fid, draw)


def bias_variance_svg(fid: str, diag: dict) -> str | None:
    """Bars of human, train, dev (and test) error, arrows for avoidable bias and variance."""
    names = [("human-level", "human_error", "#8c8c8c"), ("train", "train_error", "#1f77b4"),
             ("dev", "dev_error", "#ff7f0e"), ("test", "test_error", "#2ca02c")]
    bars = [(label, 100 * num(diag.get(k)), c) for label, k, c in names
            if num(diag.get(k)) is not None]
    if not bars:
        return None
    level = {label: v for label, v, _ in bars}

    def draw(fig: Figure) -> None:
        ax = fig.add_subplot()
        xs = np.arange(len(bars))
        ax.bar(xs, [v for _, v, _ in bars], color=[c for *_, c in bars], width=0.6)
        for x, (_, v, _) in zip(xs, bars, strict=True):
            ax.annotate(f"{v:.1f}%", (x, v), ha="center", va="bottom", xytext=(0, 2),
                        textcoords="offset points")
        ax.set_xticks(xs, [b[0] for b in bars])
        ax.set_ylabel("error (%)")
        top = max(v for _, v, _ in bars)
        ax.set_ylim(0, max(top * 1.7, 1.0))  # room for the gap labels above the bars
        order = [b[0] for b in bars]
        for lo, hi, text, colour in (("human-level", "train", "avoidable bias", "#b22222"),
                                     ("train", "dev", "variance", "#6a3d9a")):
            if lo in level and hi in level:
                # the arrow in the gap between the two bars, its label above both bars' values
                x = (order.index(lo) + order.index(hi)) / 2
                ax.annotate("", xy=(x, level[hi]), xytext=(x, level[lo]),
                            arrowprops={"arrowstyle": "<->", "color": colour, "lw": 1.4})
                ax.annotate(f"{text}\n{level[hi] - level[lo]:+.1f} pts",
                            (x, max(level[hi], level[lo])), xytext=(0, 16),
                            textcoords="offset points", color=colour, ha="center",
                            va="bottom", fontsize=8)
        ax.grid(axis="x", visible=False)

    return render(fid, draw)


def learning_curve_svg(fid: str, curve: dict) -> str | None:
    """Train and dev error against training-set size, human-level error dashed.

    ``curve`` is learning_curve.json: sizes, train_errors, dev_errors (and human_error);
    points whose size or error is not a number are skipped; None if nothing is left.
    """
    sizes, tr, dv = (curve.get(k) for k in ("sizes", "train_errors", "dev_errors"))
    if not all(isinstance(v, list) for v in (sizes, tr, dv)):
        return None
    rows = [(num(n), num(t), num(d)) for n, t, d in zip(sizes, tr, dv, strict=True)]
    rows = sorted(r for r in rows if r[0] is not None and (r[1] is not None or
                                                           r[2] is not None))
    if not rows:
        return None
    human = num(curve.get("human_error"))

    def draw(fig: Figure) -> None:
        ax = fig.add_subplot()
        for idx, label, colour in ((1, "train error", "#1f77b4"), (2, "dev error", "#ff7f0e")):
            pts = [(r[0], 100 * r[idx]) for r in rows if r[idx] is not None]
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", ms=4, color=colour,
                    label=label)
        if human is not None:
            ax.axhline(100 * human, color="#444", ls="--", lw=1.2, label="human-level error")
        ax.set_xlabel("training-set size (examples)")
        ax.set_ylabel("error (%)")
        ax.set_ylim(bottom=0)
        ax.legend(loc="best", frameon=False)

    return render(fid, draw)


_LOG_NAMES = {"learning_rate", "lr", "l2", "l1", "epsilon", "eps", "weight_decay",
              "learning_rate_init", "alpha"}
_ONE_MINUS_NAMES = {"beta", "beta1", "beta2", "beta_1", "beta_2", "momentum", "b1", "b2"}


def param_scale(name: str, values: Sequence, space=None) -> str:
    """"log", "one_minus", "linear" or "category" for a hyperparameter's axis.

    >>> param_scale("learning_rate", [1e-4, 1e-2]), param_scale("beta", [0.9, 0.999])
    ('log', 'one_minus')
    >>> param_scale("n_hidden", [10, 20]), param_scale("optimizer", ["adam", "gd"])
    ('linear', 'category')
    >>> param_scale("units", [8, 64], {"dist": "int_uniform", "log": True})
    'log'
    """
    nums = [num(v) for v in values]
    if not values or any(v is None for v in nums):
        return "category"
    if isinstance(space, dict):  # tuning.spaces' to_dict(): {"dist": "log_uniform", ...}
        hint = str(space.get("dist", space.get("type", ""))).lower()
        hint += " log" if space.get("log") is True else ""
    else:
        hint = str(space).lower() if space is not None else ""
    short = name.rsplit(".", 1)[-1].lower()
    if ("oneminus" in hint.replace("_", "") or short in _ONE_MINUS_NAMES) and \
            all(v < 1 for v in nums):
        return "one_minus"
    if ("log" in hint or short in _LOG_NAMES) and all(v > 0 for v in nums):
        return "log"
    if "choice" in hint or "categor" in hint:
        return "category"
    return "linear"


def _round_colours(rounds: Sequence) -> dict:
    cmap = matplotlib.colormaps["viridis"]
    uniq = sorted(set(rounds), key=lambda r: (num(r) is None, num(r) or 0, str(r)))
    k = max(len(uniq) - 1, 1)
    return {r: cmap(0.15 + 0.7 * i / k) for i, r in enumerate(uniq)}


def tuning_param_svg(fid: str, name: str, points: Sequence[dict], space=None) -> str | None:
    """Dev error against one hyperparameter (points: value, dev_error, round, best, state)."""
    pts = [p for p in points if num(p["dev_error"]) is not None]
    if not pts:
        return None
    scale = param_scale(name, [p["value"] for p in pts], space)
    colours = _round_colours([p["round"] for p in pts])
    if scale == "category":
        cats = list(dict.fromkeys(str(p["value"]) for p in pts))

    def draw(fig: Figure) -> None:
        ax = fig.add_subplot()
        for r, colour in colours.items():
            mine = [p for p in pts if p["round"] == r]
            xs = [_x(p["value"]) for p in mine]
            ys = [100 * p["dev_error"] for p in mine]
            done = [p.get("state") in (None, "COMPLETE", "complete") for p in mine]
            label = f"round {r}" + (" (coarse)" if r == min(colours, key=str) and
                                    len(colours) > 1 else "")
            ax.scatter([x for x, d in zip(xs, done, strict=True) if d],
                       [y for y, d in zip(ys, done, strict=True) if d],
                       color=colour, s=22, label=label, edgecolors="white", linewidths=0.4)
            if not all(done):
                ax.scatter([x for x, d in zip(xs, done, strict=True) if not d],
                           [y for y, d in zip(ys, done, strict=True) if not d], facecolors="none",
                           edgecolors=colour, s=22)
        best = [p for p in pts if p.get("best")]
        if best:
            ax.scatter([_x(best[0]["value"])], [100 * best[0]["dev_error"]], marker="*",
                       s=140, color="#d62728", label="best", zorder=5)
        if scale == "category":
            ax.set_xticks(range(len(cats)), cats)
            ax.set_xlabel(name)
        elif scale == "one_minus":
            ax.set_xscale("log")
            ax.set_xlabel(f"1 − β (log)   [{name}]")
        else:
            if scale == "log":
                ax.set_xscale("log")
            ax.set_xlabel(f"{name} (log)" if scale == "log" else name)
        ax.set_ylabel("dev error (%)")
        ax.set_title(f"dev error vs {name}")
        ax.legend(loc="best", frameon=False)

    def _x(v):
        if scale == "category":
            return cats.index(str(v))
        return 1.0 - float(v) if scale == "one_minus" else float(v)

    return render(fid, draw)


def tuning_curves_svg(fid: str, trials: Sequence[dict]) -> str | None:
    """Every trial's dev-error learning curve, coloured by round; the best one drawn bold."""
    curves = [(t, [num(v) for v in t["curve"]]) for t in trials if t.get("curve")]
    curves = [(t, c) for t, c in curves if any(v is not None for v in c)]

    def epochs(t: dict, n: int) -> np.ndarray:
        x = [num(v) for v in t.get("curve_epoch") or []]
        return np.asarray(x, float) if len(x) == n and None not in x else np.arange(1, n + 1)

    if not curves:
        return None
    colours = _round_colours([t["round"] for t, _ in curves])

    def draw(fig: Figure) -> None:
        ax = fig.add_subplot()
        labelled = set()
        for t, c in curves:
            y = np.array([np.nan if v is None else 100 * v for v in c])
            best = bool(t.get("best"))
            r = t["round"]
            ax.plot(epochs(t, len(y)), y, color="#d62728" if best else colours[r],
                    lw=2.2 if best else 0.9, alpha=1.0 if best else 0.6, zorder=5 if best else 2,
                    label=(f"best (trial {t['number']})" if best else
                           None if r in labelled else f"round {r}"))
            labelled.add(r)
        ax.set_xlabel("epoch")
        ax.set_ylabel("dev error (%)")
        ax.legend(loc="best", frameon=False)

    return render(fid, draw)


def panda_svg(fid: str, epochs: Sequence[dict], branches: Sequence[tuple[str, list, list]],
              events=()) -> str | None:
    """The babysat run's dev error (or cost) with each branch and the nudges/roll-backs."""
    key = "dev_error" if _series(epochs, "dev_error")[0].size else "cost"
    x, y = _series(epochs, key)
    if not x.size and not branches:
        return None
    scale = 100.0 if key == "dev_error" else 1.0

    def draw(fig: Figure) -> None:
        ax = fig.add_subplot()
        if x.size:
            ax.plot(x, y * scale, color="#1f1f1f", lw=2, label=f"final run ({key})")
        for label, bx, by in branches:
            ax.plot(bx, np.asarray(by, float) * scale, lw=1, alpha=0.8, ls="-",
                    label=f"branch {label}")
        _mark_events(ax, list(events))
        ax.set_xlabel("epoch")
        ax.set_ylabel("dev error (%)" if key == "dev_error" else "cost")
        ax.legend(loc="best", frameon=False)

    return render(fid, draw)


def recipe_svg(fid: str, rounds: Sequence[dict], human: float | None = None) -> str | None:
    """Train and dev error after each round of the automated recipe."""
    rows = [(num(r.get("round", i + 1)) or i + 1, num(r.get("train_error")),
             num(r.get("dev_error"))) for i, r in enumerate(rounds)]
    if not any(t is not None or d is not None for _, t, d in rows):
        return None

    def draw(fig: Figure) -> None:
        ax = fig.add_subplot()
        for idx, label, colour in ((1, "train error", "#1f77b4"), (2, "dev error", "#ff7f0e")):
            pts = [(r[0], 100 * r[idx]) for r in rows if r[idx] is not None]
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", color=colour,
                    label=label)
        if human is not None:
            ax.axhline(100 * human, color="#444", ls=":", label="human-level error")
        ax.set_xlabel("recipe round")
        ax.set_ylabel("error (%)")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.legend(loc="best", frameon=False)

    return render(fid, draw)
