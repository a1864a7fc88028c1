"""Sections for what surrounds a run: a tuning study, panda babysitting, the automated recipe.

These files come from code that is still moving, so every key is read defensively: a field
that is missing or of an unexpected type is skipped, never an error.
"""

from __future__ import annotations

import json

from deeprecipe.report import _figures as F
from deeprecipe.report._files import RunFiles
from deeprecipe.report._html import Raw, badge, esc, figure, fmt, note, num, pct, section, table
from deeprecipe.report._recipe import judged_by_line, search_parts
from deeprecipe.report._sections import VERDICTS, all_events, batches_per_epoch
from deeprecipe.report._tuning import study_parts

__all__ = ["tuning_section", "events_section", "recipe_section", "normalize_trials"]

Built = tuple[Raw | None, str | None]


def _first_num(d: dict, *keys):
    for k in keys:
        if num(d.get(k)) is not None:
            return float(d[k])
    return None


def _short(value, limit: int = 60) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def normalize_trials(study: dict) -> list[dict]:
    """Trials as {"number", "round", "params", "dev_error", "state", "curve", "best"}."""
    raw = study.get("trials")
    trials = []
    for i, t in enumerate(raw if isinstance(raw, list) else []):
        if not isinstance(t, dict):
            continue
        params = t.get("params") if isinstance(t.get("params"), dict) else {}
        curve, curve_epoch = t.get("curve"), None
        if isinstance(curve, dict):
            curve, curve_epoch = curve.get("dev_error"), curve.get("epoch")
        r = t.get("round", t.get("stage"))
        trials.append({"number": t.get("number", i), "round": 1 if r is None else r,
                       "params": params, "state": None if t.get("state") is None
                       else str(t["state"]).upper(),
                       "dev_error": _first_num(t, "dev_error", "value", "score"),
                       "curve": curve if isinstance(curve, list) else None,
                       "curve_epoch": curve_epoch if isinstance(curve_epoch, list) else None,
                       "best": False})
    best = study.get("best", study.get("best_trial"))
    best_number = best.get("number") if isinstance(best, dict) else best
    if not any(t["number"] == best_number for t in trials):
        done = [t for t in trials if t["dev_error"] is not None and
                t["state"] in (None, "COMPLETE")]
        best_number = min(done, key=lambda t: t["dev_error"])["number"] if done else None
    for t in trials:
        t["best"] = best_number is not None and t["number"] == best_number
    return trials


def _space_hint(study: dict, name: str):
    for key in ("spaces", "space", "search_space"):
        spaces = study.get(key)
        for s in (spaces if isinstance(spaces, list) else [spaces]):
            if isinstance(s, dict):
                if name in s:
                    return s[name]
                inner = s.get("space")
                if isinstance(inner, dict) and name in inner:
                    return inner[name]
    return None


def _dict_table(rows: list) -> Raw | None:
    rows = [r for r in rows if isinstance(r, dict)]
    if not rows:
        return None
    cols = list(dict.fromkeys(k for r in rows for k in r))[:9]
    return table(cols, [[_short(fmt(r.get(c)) if not isinstance(r.get(c), (dict, list))
                                else r.get(c)) for c in cols] for r in rows])


def tuning_section(files: RunFiles) -> Built:
    """Dev error vs each hyperparameter on its own scale, the trials' curves, the best ones."""
    study = files.tuning
    if study is None:
        return None, "no tuning study (tuning.json missing)"
    trials = normalize_trials(study)
    if not trials:
        return section("tuning", "Hyperparameter tuning",
                       note("tuning.json holds no trials.")), None
    names = list(dict.fromkeys(k for t in trials for k in t["params"]))
    figs = []
    for i, name in enumerate(names):
        pts = [{"value": t["params"][name], "dev_error": t["dev_error"], "round": t["round"],
                "best": t["best"], "state": t["state"]}
               for t in trials if name in t["params"] and t["params"][name] is not None]
        fid = f"fig-tuning-param-{i}"
        svg = F.tuning_param_svg(fid, str(name), pts, _space_hint(study, name))
        if svg:
            figs.append(figure(fid, svg, f"Dev error of each trial against {name}; colour = "
                               "round (coarse to fine)."))
    svg = F.tuning_curves_svg("fig-tuning-curves", trials)
    if svg:
        figs.append(figure("fig-tuning-curves", svg, "Dev-error learning curves of the trials "
                           "(caviar: many models in parallel)."))
    states: dict[str, int] = {}
    for t in trials:
        states[t["state"] or "COMPLETE"] = states.get(t["state"] or "COMPLETE", 0) + 1
    rounds = sorted({str(t["round"]) for t in trials})
    head = (f"<p>{len(trials)} trials in {len(rounds)} round(s); "
            + esc(", ".join(f"{n} {s.lower()}" for s, n in states.items())) + "</p>")
    ranked = sorted([t for t in trials if t["dev_error"] is not None],
                    key=lambda t: t["dev_error"])[:10]
    best_table = table(["trial", "round", "state", "dev error"] + [str(n) for n in names],
                       [[t["number"], t["round"], t["state"] or "", pct(t["dev_error"], 2)]
                        + [fmt(t["params"].get(n)) for n in names] for t in ranked],
                       row_classes=["best" if t["best"] else "" for t in ranked])
    parts = [head]
    if figs:
        parts.append(f'<div class="grid">{"".join(figs)}</div>')
    parts.append("<h3>Best trials</h3>" + best_table)
    rounds_table = _dict_table(study.get("rounds") if isinstance(study.get("rounds"), list)
                               else [])
    if rounds_table:
        parts.append("<h3>Rounds (coarse to fine)</h3>" + rounds_table)
    parts += study_parts(study, trials)
    return section("tuning", "Hyperparameter tuning", "\n".join(parts)), None


def _branch_curve(branch: dict) -> tuple[list, list] | None:
    for src in (branch, branch.get("history")):
        if not isinstance(src, dict):
            continue
        epochs = src.get("epochs")
        if isinstance(epochs, list) and epochs and isinstance(epochs[0], dict):
            key = "dev_error" if any(num(r.get("dev_error")) is not None for r in epochs) \
                else "cost"
            pts = [(num(r.get("epoch")), num(r.get(key))) for r in epochs if isinstance(r, dict)]
            pts = [p for p in pts if None not in p]
            if pts:
                return [p[0] for p in pts], [p[1] for p in pts]
        curve = src.get("curve")
        if isinstance(curve, dict):
            curve = curve.get("dev_error")
        if isinstance(curve, list) and curve:
            start = num(branch.get("start_epoch", branch.get("from_epoch", 0))) or 0
            pts = [(start + i + 1, num(v)) for i, v in enumerate(curve)]
            pts = [p for p in pts if p[1] is not None]
            if pts:
                return [p[0] for p in pts], [p[1] for p in pts]
    return None


def events_section(files: RunFiles) -> Built:
    """Panda babysitting: branches, nudges and roll-backs, plus any event of the history."""
    events = all_events(files)
    panda = files.panda if isinstance(files.panda, dict) else {}
    if files.panda is None and not events:
        return None, "no babysitting session or training events (panda.json missing)"
    raw = panda.get("branches")
    branches = list(raw.values()) if isinstance(raw, dict) else raw if isinstance(raw, list) \
        else []
    curves = []
    for name, b in files.branches.items():
        rows = b["history"].epochs
        key = "dev_error" if any(num(r.get("dev_error")) is not None for r in rows) else "cost"
        pts = [(num(r.get("epoch")), num(r.get(key))) for r in rows]
        pts = [p for p in pts if None not in p]
        if pts:
            curves.append((name + (" (active)" if b["active"] else ""),
                           [p[0] for p in pts], [p[1] for p in pts]))
    for i, b in enumerate(branches if not files.branches else []):
        if isinstance(b, dict) and (c := _branch_curve(b)):
            curves.append((str(b.get("name", b.get("id", b.get("branch", i)))), *c))
    positions = F.event_positions(events, batches_per_epoch(files))
    from_branch = any(b["history"] is files.history for b in files.branches.values())
    epochs = files.history.epochs if files.history and not from_branch else []
    parts, fig = [], ""
    svg = F.panda_svg("fig-panda", epochs, curves, events=positions)
    if svg:
        fig = figure("fig-panda", svg, "The babysat model (panda): its curve, the branches "
                     "tried, and each nudge or roll-back as a dashed line."
                     if files.panda is not None else "The training run: its dev curve and "
                     "each event (early stopping, restored weights...) as a dashed line.")
    if events:
        parts.append(table(["epoch", "step", "kind", "message", "source"],
                           [[fmt(e.get("epoch")), fmt(e.get("step")),
                             badge(str(e["kind"]), "info"), e.get("message", ""),
                             e["source"]] for e in events]))
    else:
        parts.append(note("No events were recorded."))
    named = raw.items() if isinstance(raw, dict) else enumerate(branches)
    bt = _dict_table([{"branch": n, **{k: (len(v) if k == "chunks" and isinstance(v, dict)
                                           else v) for k, v in b.items()
                                       if k not in ("history", "curve", "epochs", "dir")}}
                      for n, b in named if isinstance(b, dict)])
    if bt:
        parts.append("<h3>Branches</h3>" + bt)
    title = "Babysitting (panda) and events" if files.panda is not None else "Training events"
    return section("events", title,
                   f'<div class="grid">{fig}<div>{"".join(parts)}</div></div>'), None


def _round_curves_svg(rounds: list[dict]) -> str | None:
    """J (log scale) and dev error per epoch of every round, one line per round."""
    curves = [(r.get("round", i + 1), (r.get("evidence") or {}).get("curve"))
              for i, r in enumerate(rounds) if isinstance(r.get("evidence"), dict)]
    curves = [(n, c) for n, c in curves if isinstance(c, dict) and c.get("cost")]
    if not curves:
        return None

    def draw(fig) -> None:
        cost_ax, dev_ax = fig.subplots(1, 2)
        for n, c in curves:
            cost = [num(v) for v in c.get("cost", [])]
            dev = [100 * v if v is not None else None for v in map(num, c.get("dev_error", []))]
            cost_ax.plot(range(1, len(cost) + 1), cost, label=f"round {n}")
            dev_ax.plot(range(1, len(dev) + 1), dev, label=f"round {n}")
        cost_ax.set_yscale("log")
        cost_ax.set_xlabel("epoch")
        cost_ax.set_ylabel("training cost J")
        dev_ax.set_xlabel("epoch")
        dev_ax.set_ylabel("dev error (%)")
        dev_ax.legend(loc="best", frameon=False)

    return F.render("fig-recipe-curves", draw, size=(8.0, 3.2))


def _round_row(i: int, r: dict, cv: bool = False) -> list:
    """One round's evidence (α, errors, the cross-validated error when ``cv``, the noise
    threshold, the curve reading) and decision."""
    ev = r.get("evidence") if isinstance(r.get("evidence"), dict) else {}
    reading = r.get("reading") if isinstance(r.get("reading"), dict) else {}
    alpha = ev.get("alpha_search") if isinstance(ev.get("alpha_search"), dict) else {}
    tried = ", ".join(f"{t['params'].get('learning_rate'):g}: {pct(t.get('dev_error'))}"
                      for t in alpha.get("trials", []) if isinstance(t, dict)
                      and isinstance(t.get("params"), dict)
                      and t["params"].get("learning_rate") is not None)
    lr = ev.get("learning_rate")
    kept = {True: "yes", False: "no", None: "baseline"}.get(r.get("helped"), "")
    return [fmt(r.get("round", i + 1)),
            (f"{lr:g}" if isinstance(lr, (int, float)) else "-")
            + (f" (search: {tried})" if tried else ""),
            pct(r.get("train_error")), pct(r.get("dev_error")),
            *([pct(ev.get("cv_error"))] if cv else []),
            pct(ev.get("noise_threshold")) if ev.get("noise_threshold") else "-", kept,
            _short(str(reading.get("text", "")), 120),
            badge(*VERDICTS.get(str(r.get("verdict")), (str(r.get("verdict", "")), "info"))),
            _short(r.get("decision", ""), 120)]


def recipe_section(files: RunFiles) -> Built:
    """The automated recipe: how it judged its changes, one row and one sentence per round,
    the errors per round and each architecture search's trials."""
    rec = files.recipe
    if rec is None:
        return None, "no automated recipe (recipe.json missing)"
    rounds = [r for r in rec.get("rounds") or [] if isinstance(r, dict)]
    narrative = rec.get("narrative")
    if isinstance(narrative, str):
        narrative = [ln for ln in narrative.splitlines() if ln.strip()]
    if not isinstance(narrative, list) or not narrative:
        narrative = [r["narrative"] for r in rounds if isinstance(r.get("narrative"), str)]
    judged = judged_by_line(rec)
    parts, fig = [judged] if judged else [], ""
    if narrative:
        parts.append('<ol class="narrative">' + "".join(f"<li>{esc(s)}</li>"
                                                       for s in narrative) + "</ol>")
    human = num(_first_num(rec, "human_error")) or num((files.diagnosis or {}).get("human_error"))
    svg = F.recipe_svg("fig-recipe", rounds, human)
    if svg:
        fig = figure("fig-recipe", svg, "Train and dev error after each round.")
    curves = _round_curves_svg(rounds)
    if curves:
        fig += figure("fig-recipe-curves", curves, "Each round's curves, as the recipe read "
                      "them: the training cost J and the dev error per epoch.")
    warnings = rec.get("warnings") if isinstance(rec.get("warnings"), list) else []
    parts += [note(f"Warning: {w}") for w in warnings]
    more = rec.get("more_data") if isinstance(rec.get("more_data"), dict) else {}
    if isinstance(more.get("text"), str):
        parts.append(note(more["text"]))
    if rounds:  # under cross-validation its error, not dev error, decided "kept"
        cv = any(num((r.get("evidence") or {}).get("cv_error")) is not None for r in rounds
                 if isinstance(r.get("evidence") or {}, dict))
        parts.append(table(["round", "α", "train error", "dev error",
                            *(["cross-validated error"] if cv else []), "± noise", "kept",
                            "curve", "verdict", "decision"],
                           [_round_row(i, r, cv) for i, r in enumerate(rounds)]))
    searches = search_parts(files, rec)
    if not parts and not fig and not searches:
        parts.append(note("recipe.json holds no rounds."))
    return section("recipe", "The recipe, round by round",
                   f'<div class="grid"><div>{"".join(parts)}</div>{fig}</div>'
                   + "".join(searches)), None
