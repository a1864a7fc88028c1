"""The automated recipe's architecture searches and how it judged its changes.

A round that ran a random search over the architecture saved it as rounds/NN/search.json
(its trials also sit in recipe.json, under the round's evidence "architecture_search"). Trial 0
is the model unchanged; the others are drawn from the search's space. A search ranked by
k-fold cross-validation ("ranked_by": "cv_error") is shown in that order, with each trial's
cross-validated error beside its dev error. Every key is read defensively: a missing or
wrongly-typed field is skipped, an unreadable file is named.
"""

from __future__ import annotations

from matplotlib.ticker import NullFormatter

from deeprecipe.report import _figures as F
from deeprecipe.report._files import RunFiles
from deeprecipe.report._html import Raw, badge, esc, figure, fmt, note, num, pct, sci, table
from deeprecipe.runs import rundir

__all__ = ["judged_by_line", "search_parts", "search_trials", "search_winner"]

#: how the report names each searched knob, in column order
_LABELS = {"learning_rate": "α", "hidden_units": "units", "n_layers": "layers",
           "keep_prob": "keep_prob"}
_DISTS = {"log_uniform": "log-uniform", "uniform": "uniform", "int_uniform": "integers",
          "one_minus_log_uniform": "1 − log-uniform", "choice": "one of"}


def _rounds(rec: dict) -> list[dict]:
    raw = rec.get("rounds")
    return [r for r in raw if isinstance(r, dict)] if isinstance(raw, list) else []


def _evidence(r: dict) -> dict:
    return r["evidence"] if isinstance(r.get("evidence"), dict) else {}


def _count(value) -> int | None:
    v = num(value)
    return int(v) if v is not None and v == int(v) else None


def judged_by_line(rec: dict) -> Raw | None:
    """One line: 'k-fold cross-validation over train + dev' or 'the dev set' (None when
    recipe.json says neither)."""
    folds, text = rec.get("folds"), rec.get("judged_by")
    text = text.strip() if isinstance(text, str) else ""
    if "folds" not in rec and not text:
        return None
    first = next((_evidence(r) for r in _rounds(rec) if _evidence(r)), {})
    k = _count(folds)
    if k is not None and k >= 2:
        n = _count(first.get("n_judged"))
        how = (f"{k}-fold cross-validation over train + dev"
               + (f" ({n:,} examples pooled)" if n else ""))
        error = "cross-validated error"
    elif folds is None or k == 1:
        n = _count(first.get("n_dev"))
        how, error = "the dev set" + (f" ({n:,} examples)" if n else ""), "dev error"
    elif text:
        how, error = text, "error"
    else:
        return None
    paired = any(isinstance(_evidence(r).get("paired"), dict) for r in _rounds(rec))
    rule = ("when the examples it fixes outnumber those it breaks by more than "
            "√(fixed + broke), the noise of the gap between two models predicting the same "
            "examples (± noise below)" if paired else
            f"when it lowers the {error} by more than its noise (± noise below)")
    line = (f"<p><b>How changes were judged:</b> {esc(how)}; a round's change is kept only "
            f"{esc(rule)}.</p>")
    return Raw(line + (note(f"The recipe: {text}.") if text and text != how else ""))


def search_trials(found: dict) -> list[dict]:
    """The trials of a search as {"index", "params", "status", "dev_error", "dev_cost",
    "train_error", "error", "cv_error", "cv_cost"}; index is the position in the file (0 is
    the unchanged model); cv_error is None for a trial not cross-validated."""
    raw = found.get("trials")
    trials = []
    for i, t in enumerate(raw if isinstance(raw, list) else []):
        if not isinstance(t, dict):
            continue
        params = t.get("params") if isinstance(t.get("params"), dict) else {}
        trials.append({"index": i, "params": params,
                       "status": str(t["status"]) if t.get("status") is not None else "",
                       "dev_error": num(t.get("dev_error")), "dev_cost": num(t.get("dev_cost")),
                       "train_error": num(t.get("train_error")),
                       "error": t["error"] if isinstance(t.get("error"), str) else "",
                       "cv_error": num(t.get("cv_error")), "cv_cost": num(t.get("cv_cost"))})
    return trials


def _matches(params: dict, picked: dict) -> bool:
    """Whether a trial's params are the search's pick (hidden_layer_sizes = units x layers)."""
    for key, value in picked.items():
        if key == "hidden_layer_sizes":
            units, layers = _count(params.get("hidden_units")), _count(params.get("n_layers"))
            if units is None or layers is None or value != [units] * layers:
                return False
        elif params.get(key) != value:
            return False
    return bool(picked)


def _by_cv(found: dict) -> bool:
    """Whether the search ranked its trials by cross-validated error."""
    return found.get("ranked_by") == "cv_error"


def search_winner(found: dict, trials: list[dict]) -> int | None:
    """Index of the trial the search picked: from its "picked" ({} is trial 0, the unchanged
    model), else the lowest ranking error (then its cost) of the complete trials."""
    picked = found.get("picked")
    indices = {t["index"] for t in trials}
    if isinstance(picked, dict) and not picked and 0 in indices:
        return 0
    if isinstance(picked, dict):
        for t in trials:
            if t["index"] and _matches(t["params"], picked):
                return t["index"]
    key = "cv_error" if _by_cv(found) else "dev_error"
    ok = [t for t in trials if t[key] is not None and t["status"] in ("", "complete")]
    return min(ok, key=_ranker(found))["index"] if ok else None


def _ranker(found: dict):
    """The search's order: its ranking error (cross-validated or dev), then that error's
    cost, then trial number; trials without it last, in trial order."""
    key, cost = ("cv_error", "cv_cost") if _by_cv(found) else ("dev_error", "dev_cost")

    def rank(t: dict) -> tuple:
        if t[key] is None:
            return (True, 0.0, 0.0, t["index"])
        return (False, t[key], float("inf") if t[cost] is None else t[cost], t["index"])

    return rank


def _show(key: str, value) -> str:
    if key == "learning_rate" and num(value) is not None:
        return sci(value)
    if isinstance(value, (dict, list)) or value is None:
        return fmt(value)
    text = fmt(value)
    return text if len(text) <= 40 else text[:39] + "…"


def _space_text(space) -> str:
    """'α log-uniform in [3.16e-03, 3.16e-01], units integers (log scale) in [16, 1024], ...'."""
    parts = []
    for key, d in (space.items() if isinstance(space, dict) else []):
        if not isinstance(d, dict):
            continue
        dist = _DISTS.get(str(d.get("dist")), str(d.get("dist", "drawn")))
        scale = " (log scale)" if d.get("log") is True and "log" not in dist else ""
        low, high = d.get("low"), d.get("high")
        where = (f" in [{_show(key, low)}, {_show(key, high)}]"
                 if num(low) is not None and num(high) is not None else "")
        parts.append(f"{_LABELS.get(key, key)} {dist}{scale}{where}")
    return ", ".join(parts)


def _trials_table(found: dict, trials: list[dict], winner: int | None) -> Raw:
    """The trials in the search's order, the picked one marked; trial 0 is the unchanged model;
    a "cv error" column when any trial was cross-validated."""
    keys = list(dict.fromkeys([k for k in _LABELS if any(k in t["params"] for t in trials)]
                              + [k for t in trials for k in t["params"]]))[:8]
    ranked = sorted(trials, key=_ranker(found))
    cv = any(t["cv_error"] is not None for t in trials)
    rows = []
    for rank, t in enumerate(ranked, 1):
        name = "0 (unchanged model)" if t["index"] == 0 else str(t["index"])
        label = Raw(esc(name) + (" " + badge("picked", "good") if t["index"] == winner else ""))
        params = [("current" if t["index"] == 0 and not t["params"] else
                   _show(k, t["params"].get(k))) for k in keys]
        status = t["status"] + (f": {t['error']}" if t["error"] else "")
        rows.append([rank, label, *params, *([pct(t["cv_error"], 2)] if cv else []),
                     pct(t["dev_error"], 2), fmt(t["dev_cost"]), pct(t["train_error"], 2),
                     status[:80]])
    return table(["rank", "trial", *[_LABELS.get(k, str(k)) for k in keys],
                  *(["cv error"] if cv else []), "dev error", "dev cost", "train error",
                  "status"], rows,
                 row_classes=["best" if t["index"] == winner else "" for t in ranked])


def _bounds(d) -> tuple[float, float] | None:
    """A space entry's (low, high), None unless both are numbers with low < high."""
    if not isinstance(d, dict):
        return None
    low, high = num(d.get("low")), num(d.get("high"))
    return (low, high) if low is not None and high is not None and low < high else None


def _x_axis(ax, key: str, scale: str, xs: list[float], bounds) -> None:
    """The axis of one knob over its whole search range: log scale with powers of two for
    units, decades for α; no minor tick labels."""
    lo, hi = min([*xs, *(bounds or ())]), max([*xs, *(bounds or ())])
    if scale == "log" and lo > 0:
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlim(lo / 1.2, hi * 1.2)
        if key == "hidden_units":
            ticks = [2 ** k for k in range(11) if lo / 1.2 <= 2 ** k <= hi * 1.2]
            ax.set_xticks(ticks, [str(t) for t in ticks])
    elif hi > lo:
        ax.set_xlim(lo - 0.05 * (hi - lo), hi + 0.05 * (hi - lo))
    ax.set_xlabel(_LABELS.get(key, key) + (" (log)" if ax.get_xscale() == "log" else ""))


def _search_svg(fid: str, trials: list[dict], winner: int | None, space,
                error: str = "dev_error") -> str | None:
    """The ranking error (dev or cv) against units, α and keep_prob over the search's range
    (each on its scale), the pick starred and the unchanged model (trial 0) as a dotted line."""
    space = space if isinstance(space, dict) else {}
    panels = []
    for key in ("hidden_units", "learning_rate", "keep_prob"):
        pts = [(num(t["params"].get(key)), 100 * t[error], t["index"] == winner)
               for t in trials if t[error] is not None]
        pts = [p for p in pts if p[0] is not None]
        if pts:
            panels.append((key, pts, F.param_scale(key, [p[0] for p in pts], space.get(key))))
    if not panels:
        return None
    base = next((t[error] for t in trials if t["index"] == 0 and t[error] is not None), None)

    def draw(fig) -> None:
        axes = fig.subplots(1, len(panels), sharey=True, squeeze=False)[0]
        for ax, (key, pts, scale) in zip(axes, panels, strict=True):
            ax.scatter([p[0] for p in pts], [p[1] for p in pts], s=22, color="#1f77b4",
                       label="trial")
            best = [p for p in pts if p[2]]
            if best:
                ax.scatter([best[0][0]], [best[0][1]], marker="*", s=140, color="#d62728",
                           zorder=5, label="picked")
            if base is not None:
                ax.axhline(100 * base, color="#444", ls=":", lw=1.2, label="unchanged (trial 0)")
            _x_axis(ax, key, scale, [p[0] for p in pts], _bounds(space.get(key)))
        axes[0].set_ylabel(("cv" if error == "cv_error" else "dev") + " error (%)")
        fig.legend(*axes[0].get_legend_handles_labels(), loc="outside upper center",
                   ncols=3, frameon=False)

    return F.render(fid, draw, size=(2.9 * len(panels) + 0.6, 3.0))


def _found_searches(files: RunFiles, rec: dict) -> list[tuple[int, dict | None, str]]:
    """(round, the search's record or None, a note) for every round with a search: its
    search.json, else the copy in recipe.json, else a note on what is missing."""
    evidence = {}
    for r in _rounds(rec):
        n = _count(r.get("round"))
        if n is not None and "architecture_search" in _evidence(r):
            evidence[n] = _evidence(r)["architecture_search"]
    tried = rec.get("tried") if isinstance(rec.get("tried"), list) else []
    asked = {_count(t.get("round")) for t in tried
             if isinstance(t, dict) and t.get("action") == "search"}
    out = []
    for n in sorted((set(files.searches) | set(evidence) | asked) - {None}):
        path = f"{rundir.ROUNDS}/{n:02d}/{rundir.ROUND_SEARCH}"
        saved, copy = files.searches.get(n), evidence.get(n)
        if isinstance(saved, dict):
            out.append((n, saved, ""))
        elif isinstance(copy, dict):
            out.append((n, copy, f"{path} could not be read; these trials are recipe.json's "
                        "copy." if n in files.searches else ""))
        elif n in files.searches:
            out.append((n, None, f"Round {n}'s architecture search: {path} could not be "
                        "read, and recipe.json holds no copy; its trials are not shown."))
        elif n in evidence:
            out.append((n, None, f"Round {n}'s architecture search did not run: no time "
                        "was left in the budget."))
        else:
            out.append((n, None, f"Round {n}'s architecture search: {path} is missing (the "
                        "search did not run, or the file was removed); no trials to show."))
    return out


def _search_head(n: int, found: dict, trials: list[dict], winner: int | None,
                 outcome: dict | None) -> str:
    """What was searched, how long each trial trained, what it picked and what came of it."""
    done = sum(t["status"] == "complete" for t in trials)
    epochs = _count(found.get("epochs"))
    space = _space_text(found.get("space"))
    k, cv = _count(found.get("folds")), sum(t["cv_error"] is not None for t in trials)
    scored = (f", scored on the dev set, then ranked by {k or 'k'}-fold cross-validated error "
              f"over train + dev ({cv} trials cross-validated, the best on dev first)"
              if _by_cv(found) else ", scored on the dev set")
    text = (f"{len(trials)} trials ({done} complete)"
            + (f", {epochs} epochs each" if epochs else "")
            + scored + "; trial 0 is the model unchanged"
            + (f", the others are drawn at random: {space}." if space else "."))
    if winner == 0:
        text += " The unchanged model stayed best: the search found nothing better."
    elif winner is not None:
        pick = next(t for t in trials if t["index"] == winner)
        text += " Picked: trial " + str(winner) + " (" + ", ".join(
            f"{_LABELS.get(k, k)} {_show(k, v)}" for k, v in pick["params"].items()) + ")"
        if outcome is not None:
            kept = {True: "kept", False: "not kept"}.get(outcome.get("helped"),
                                                          "its result is not recorded")
            text += f", trained in full as round {n}: {kept}."
        else:
            text += "."
    return f"<h3>Architecture search, round {n}</h3><p>{esc(text)}</p>"


def search_parts(files: RunFiles, rec: dict) -> list[str]:
    """For each round with an architecture search: a sentence, its trials table and a figure
    of its ranking error (dev or cross-validated) against units, α and keep_prob; a note
    for a search that cannot be shown."""
    parts = []
    outcomes = {_count(r.get("round")): r for r in _rounds(rec)
                if isinstance(_evidence(r).get("architecture_search"), dict)}
    for n, found, why in _found_searches(files, rec):
        if found is None:
            parts.append(note(why))
            continue
        trials = search_trials(found)
        if not trials:
            parts.append(f"<h3>Architecture search, round {n}</h3>"
                         + note(why or f"Round {n}'s search holds no readable trials."))
            continue
        winner = search_winner(found, trials)
        parts.append(_search_head(n, found, trials, winner, outcomes.get(n)))
        if why:
            parts.append(note(why))
        tab = _trials_table(found, trials, winner)
        error = "cv_error" if _by_cv(found) else "dev_error"
        svg = _search_svg(f"fig-search-{n}", trials, winner, found.get("space"), error)
        what = "cross-validated" if _by_cv(found) else "dev"
        fig = figure(f"fig-search-{n}", svg, f"Round {n}'s search: the {what} error of each "
                     "trial against its hidden units, α and keep_prob.") if svg else ""
        parts += [tab, fig]  # one below the other: the table is too wide for half a row
    return parts
