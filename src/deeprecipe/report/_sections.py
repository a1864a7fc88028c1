"""The report's sections for a single run: headline, data, model, curves, diagnosis, gradcheck.

Each builder takes the parsed files and returns ``(html, None)`` or ``(None, reason)`` when
its input is missing, so the page can list what it left out and why.
"""

from __future__ import annotations

import re

from deeprecipe.report import _figures as F
from deeprecipe.report._files import RunFiles
from deeprecipe.report._html import (
    Raw,
    badge,
    esc,
    figure,
    fmt,
    note,
    num,
    pct,
    sci,
    section,
    table,
)

__all__ = ["header", "data_section", "model_section", "curves_section", "diagnosis_section",
           "gradcheck_section", "all_events", "VERDICTS"]

Built = tuple[Raw | None, str | None]

VERDICTS = {"ok": ("neither high bias nor high variance", "good"),
            "high_bias": ("high bias (underfitting)", "bad"),
            "high_variance": ("high variance (overfitting)", "bad"),
            "high_bias_and_variance": ("high bias and high variance", "bad")}
_GRAD = {"great": "good", "check": "warn", "bug": "bad", "not finite": "bad"}


def _dict(value) -> dict:
    return value if isinstance(value, dict) else {}


def _metric(files: RunFiles, key: str):
    """A headline number from summary metrics, else diagnosis, else the last epoch."""
    for source in (_dict(_dict(files.summary).get("metrics")), _dict(files.diagnosis),
                   files.history.last if files.history else {}):
        if num(source.get(key)) is not None:
            return source[key]
    return None


def header(files: RunFiles) -> tuple[str, Raw]:
    """The page title and the header: run name, data set and headline numbers."""
    s = _dict(files.summary)
    name = s.get("name") or files.run_dir.name
    title = f"deeprecipe report — {name}"
    sub = [f"run directory: {files.run_dir.name}"]
    if s.get("dataset"):
        sub.append(f"data set: {s['dataset']}")
    epochs = s.get("epochs_run", len(files.history) if files.history else None)
    cards = [("train error", pct(_metric(files, "train_error"))),
             ("dev error", pct(_metric(files, "dev_error")))]
    if num(_metric(files, "test_error")) is not None:
        cards.append(("test error", pct(_metric(files, "test_error"))))
    verdict = _dict(files.diagnosis).get("verdict")
    if verdict:
        cards.append(("diagnosis", VERDICTS.get(verdict, (verdict,))[0]))
    n_params = _dict(s.get("network")).get("n_params")
    if n_params is not None:
        cards.append(("parameters", f"{n_params:,}" if isinstance(n_params, int) else n_params))
    if epochs is not None:
        cards.append(("epochs", epochs))
    if num(s.get("seconds")) is not None:
        cards.append(("time", f"{s['seconds']:.1f} s"))
    html = (f"<h1>{esc(title)}</h1><div class=\"sub\">{esc(' · '.join(sub))}</div>"
            '<div class="cards">' + "".join(
                f'<div class="card"><div class="k">{esc(k)}</div><div class="v">{esc(v)}</div>'
                "</div>" for k, v in cards) + "</div>")
    return title, Raw(html)


def data_section(files: RunFiles) -> Built:
    """Train/dev/test sizes, the dev-only label and the same-distribution verdict."""
    s = _dict(files.summary)
    split = s.get("split")
    if not isinstance(split, dict):
        return None, "no data split recorded (summary.json missing or without 'split')"
    fr = _dict(split.get("fractions"))
    rows = [[part, f"{split.get(part):,}" if isinstance(split.get(part), int)
             else fmt(split.get(part)), pct(fr.get(part))] for part in ("train", "dev", "test")]
    if split.get("m") is not None:
        rows.append(["total", f"{split['m']:,}" if isinstance(split["m"], int) else split["m"],
                     "100.0%"])
    left = [table(["set", "examples", "fraction"], rows)]
    parts: list[str] = []
    mode = badge("dev only — no test set", "warn") if split.get("dev_only") else \
        badge("train / dev / test", "info")
    parts.append(f"<p>Mode: {mode} {esc(split.get('mode', ''))}</p>")
    if split.get("stratified") is not None:
        parts.append(f"<p>Stratified split: {esc('yes' if split['stratified'] else 'no')}</p>")
    if s.get("dataset"):
        parts.append(f"<p>Data set: <b>{esc(s['dataset'])}</b></p>")
    dist = s.get("distribution")
    if isinstance(dist, dict):
        verdict = str(dist.get("verdict", "unknown"))
        kind = {"same": "good", "different": "bad"}.get(verdict, "info")
        auc = num(dist.get("auc"))
        auc_txt = "" if auc is None else f" — classifier ROC AUC {auc:.3f}" + (
            f" ± {dist['auc_std']:.3f}" if num(dist.get("auc_std")) is not None else "")
        parts.append("<h3>Dev vs test: same distribution?</h3>"
                     f"<p>{badge(verdict, kind)}{esc(auc_txt)}</p>")
        if dist.get("message"):
            parts.append(f"<p>{esc(dist['message'])}</p>")
    else:
        parts.append(note("No dev-vs-test distribution check was recorded (no test set, or the "
                          "check was skipped)."))
    body = f'<div class="cols"><div>{left[0]}</div><div>{"".join(parts)}</div></div>'
    return section("data", "Data split", body), None


_ROW = re.compile(r"^\s*(\d+)\s{2}(.+?)\s+(\(m, \d+\))\s+(\d+)\s*$")


def _layers_table(text: str) -> Raw:
    """Network.summary() as an HTML table, or verbatim in <pre> if its format is unknown."""
    lines = [ln for ln in text.splitlines() if ln.strip()]
    rows = [_ROW.match(ln) for ln in lines[1:-1]]
    if len(lines) >= 3 and all(rows):
        body = table(["#", "layer", "output", "parameters"],
                     [[m[1], m[2], m[3], f"{int(m[4]):,}"] for m in rows])
        return Raw(f"{body}<p>{esc(lines[-1])}</p>")
    return Raw(f"<pre>{esc(text)}</pre>")


def model_section(files: RunFiles) -> Built:
    """The layers table, parameter count and optimizer settings."""
    s = _dict(files.summary)
    net = _dict(s.get("network"))
    if not net and not s.get("optimizer"):
        return None, "no model recorded (summary.json missing or without 'network')"
    parts, right = [], ""
    if net.get("n_params") is not None:
        parts.append(f"<p><b>{esc(net['n_params'])}</b> trainable parameters</p>")
    if isinstance(net.get("summary"), str):
        parts.append(_layers_table(net["summary"]))
    elif isinstance(_dict(net.get("config")).get("layers"), list):
        layers = net["config"]["layers"]
        parts.append(table(["#", "layer", "settings"], [
            [i, _dict(c).get("type", "?"), ", ".join(f"{k}={fmt(v)}" for k, v in
                                                     _dict(c).items() if k != "type")]
            for i, c in enumerate(layers)]))
    opt = s.get("optimizer")
    if isinstance(opt, dict) and opt:
        label = {"learning_rate": "learning_rate (configured α)",
                 "final_learning_rate": "α at the last epoch (after the schedule's decay)"}
        right = "<h3>Optimizer</h3>" + table(["setting", "value"],
                                             [[label.get(k, k), fmt(v)] for k, v in opt.items()])
    body = f'<div class="cols"><div>{"".join(parts)}</div><div>{right}</div></div>'
    return section("model", "Model", body), None


def _chunk_epoch(files: RunFiles, e: dict):
    """The epoch of a panda session event that names only its chunk (a roll-back)."""
    branches = _dict(_dict(files.panda).get("branches"))
    branch = _dict(branches.get(e.get("from_branch") or e.get("branch")))
    return _dict(_dict(branch.get("chunks")).get(str(e.get("chunk")))).get("epoch")


def all_events(files: RunFiles) -> list[dict]:
    """Events of history.jsonl, panda.json and the panda branches, each once, in order of
    epoch, each with a "source" key."""
    out, seen = [], set()
    panda_events = _dict(files.panda).get("events")
    sources = [("history", files.history.events if files.history else []),
               ("panda", panda_events if isinstance(panda_events, list) else [])]
    sources += [(f"branch {name}", b["history"].events) for name, b in files.branches.items()]
    for source, events in sources:
        for e in events:
            if not isinstance(e, dict):
                continue
            kind = e.get("kind") or e.get("action") or "event"
            if e.get("epoch") is None and e.get("chunk") is not None:
                e = {**e, "epoch": _chunk_epoch(files, e)}
            key = (e.get("epoch"), str(kind), str(e.get("message")))
            if key not in seen:
                seen.add(key)
                out.append({**e, "kind": kind, "source": source})
    return sorted(out, key=lambda e: (num(e.get("epoch")) is not None, num(e.get("epoch")) or 0,
                                      num(e.get("step")) or 0))


def batches_per_epoch(files: RunFiles) -> dict[int, int]:
    """{epoch number: mini-batches} from the step log: the highest step logged in the epoch
    (exact when every step is logged, within the log's stride once it is thinned)."""
    return F.steps_per_epoch(files.history.steps) if files.history else {}


def curves_section(files: RunFiles) -> Built:
    """Mini-batch cost (raw and EWA); train/dev cost and error; learning rate per epoch."""
    h = files.history
    if h is None:
        return None, "no learning curves (history.jsonl missing)"
    # only the plotted history's own events: a babysat run's other branches have their own
    active = f"branch {_dict(files.panda).get('active')}"
    own = [e for e in all_events(files) if e["source"] in ("history", active)]
    events = F.event_positions(own, batches_per_epoch(files))
    human = num(_dict(files.diagnosis).get("human_error"))
    figs = []
    svg = F.step_cost_svg("fig-step-cost", h.steps, events=events)
    if svg:
        figs.append(figure("fig-step-cost", svg, "Mini-batch cost: every step (raw, noisy) and "
                           "its bias-corrected exponentially weighted average."))
    svg = F.epoch_svg("fig-epoch-cost", h.epochs, [
        ("train_cost", "train cost", {"color": "#1f77b4"}),
        ("dev_cost", "dev cost", {"color": "#ff7f0e"}),
        ("cost", "training objective (incl. regularization)",
         {"color": "#7f7f7f", "ls": "--", "lw": 1})], "cost J", events=events)
    if svg:
        figs.append(figure("fig-epoch-cost", svg, "Cost per epoch on the train and dev sets."))
    svg = F.epoch_svg("fig-epoch-error", h.epochs, [
        ("train_error", "train error", {"color": "#1f77b4"}),
        ("dev_error", "dev error", {"color": "#ff7f0e"})], "error (%)", events=events,
        percent=True, hline=human, hline_label="human-level error")
    if svg:
        figs.append(figure("fig-epoch-error", svg, "Error per epoch: the gap to human-level "
                           "error is avoidable bias, the train–dev gap is variance."))
    svg = F.epoch_svg("fig-learning-rate", h.epochs, [
        ("learning_rate", "learning rate α", {"color": "#2ca02c"})], "learning rate α",
        log_ratio=10.0)
    if svg:
        figs.append(figure("fig-learning-rate", svg, "Learning rate per epoch (the schedule)."))
    if not figs:
        return section("curves", "Learning curves",
                       note("history.jsonl holds no epochs or steps yet.")), None
    return section("curves", "Learning curves",
                   f'<div class="grid">{"".join(figs)}</div>'), None


def _learning_curve_html(files: RunFiles) -> str:
    """Train/dev error against training-set size and its reading (learning_curve.json)."""
    lc = files.learning_curve
    if lc is None:
        return ""
    svg = F.learning_curve_svg("fig-learning-curve", lc)
    reading = lc.get("reading")
    text = (f"<p>{esc(reading)}</p>" if isinstance(reading, str) and reading else "") + \
        note("Fresh networks trained on growing (nested) subsets of the training set: a dev "
             "error still falling as the set grows says more data helps (variance); train and "
             "dev curves that meet high above human-level error say it will not (bias).")
    fig = figure("fig-learning-curve", svg, "Train and dev error against training-set size; "
                 "dashed: human-level error.") if svg else \
        note("learning_curve.json holds no usable sizes and errors.")
    return ("<h3>Learning curve: would more data help?</h3>"
            f'<div class="grid">{fig}<div>{text}</div></div>')


def diagnosis_section(files: RunFiles) -> Built:
    """Bias/variance: the bars, the two gaps, the verdict and the recipe's next steps; the
    learning curve (error against training-set size) when learning_curve.json exists."""
    d = files.diagnosis
    if d is None:
        if files.learning_curve is not None:
            return section("diagnosis", "Bias and variance",
                           note("No bias/variance diagnosis (diagnosis.json missing).") +
                           _learning_curve_html(files)), None
        return None, "no bias/variance diagnosis (diagnosis.json missing)"
    verdict = str(d.get("verdict", "unknown"))
    text, kind = VERDICTS.get(verdict, (verdict, "info"))
    rows = [["human-level error (≈ Bayes)", pct(d.get("human_error"))],
            ["train error", pct(d.get("train_error"))],
            ["dev error", pct(d.get("dev_error"))]]
    if num(d.get("test_error")) is not None:
        rows.append(["test error", pct(d.get("test_error"))])
    rows += [["avoidable bias = train − human", pct(d.get("avoidable_bias"))],
             ["variance = dev − train", pct(d.get("variance"))]]
    if num(d.get("dev_test_gap")) is not None:
        rows.append(["test − dev", pct(d.get("dev_test_gap"))])
    steps = [s for s in d.get("next_steps") or [] if s]
    notes = [s for s in d.get("notes") or [] if s]
    svg = F.bias_variance_svg("fig-bias-variance", d)
    left = (f"<p>Verdict: {badge(text, kind)}</p>" + table(["quantity", "value"], rows) +
            ("<h3>Recommended next steps</h3><ol>" + "".join(f"<li>{esc(s)}</li>"
                                                            for s in steps) + "</ol>"
             if steps else "<p>No change needed: the recipe's loop is done.</p>") +
            "".join(f'<p class="note">{esc(n)}</p>' for n in notes))
    right = figure("fig-bias-variance", svg, "Human-level, train, dev and test error.") \
        if svg else ""
    return section("diagnosis", "Bias and variance",
                   f'<div class="grid"><div>{left}</div>{right}</div>'
                   + _learning_curve_html(files)), None


def gradcheck_section(files: RunFiles) -> Built:
    """Per-parameter relative error of the gradient check and its verdict."""
    g = _dict(files.summary).get("gradient_check")
    if not isinstance(g, dict):
        return None, "no gradient check (not recorded in summary.json)"
    rows, classes = [], []
    for name, p in _dict(g.get("parameters")).items():
        p = _dict(p)
        v = str(p.get("verdict", ""))
        checked = (f"{p.get('checked')}/{p.get('total')}" if p.get("total") is not None
                   else fmt(p.get("checked")))
        rows.append([name, checked, sci(p.get("error")), badge(v, _GRAD.get(v, "info"))])
        classes.append("")
    ov = str(g.get("verdict", ""))
    rows.append([Raw("<b>overall</b>"), "", sci(g.get("overall")),
                 badge(ov, _GRAD.get(ov, "info"))])
    eps = f" with ε = {g['epsilon']:g}" if num(g.get("epsilon")) is not None else ""
    amber = [n for n, p in _dict(g.get("parameters")).items()
             if _dict(p).get("verdict") == "check"]
    why = (f"<p>{esc(', '.join(amber))} read(s) “check” on its own while the overall error is "
           "“great”: a small parameter (a bias, BatchNorm's β) has tiny gradients, so float64 "
           "rounding weighs more in its own relative error; the overall θ decides.</p>"
           if amber and ov == "great" else "")
    body = (f"<p>Two-sided differences (J(θ+ε) − J(θ−ε)) / 2ε{esc(eps)} against backprop; "
            "relative error ‖dθ_approx − dθ‖ / (‖dθ_approx‖ + ‖dθ‖): &lt; 1e-7 great, "
            "&lt; 1e-3 check, larger is almost surely a bug; NaN or inf is “not finite”.</p>" +
            why +
            table(["parameter", "components checked", "relative error", "verdict"], rows,
                  row_classes=classes))
    return section("gradcheck", "Gradient check", body), None
