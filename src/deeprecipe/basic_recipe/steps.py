"""The recipe's steps: for high bias a bigger network, longer training, Adam; for high variance
L2, dropout, augmentation. Each step is a change of knobs (``runs.knobs``) to a config.

High bias comes first: a wider network (hidden units x2), a deeper one (one more hidden layer),
training longer (epochs x2), Adam. Then high variance: L2 with lambda on the lecture's
(lambda / 2m) ||W||^2 scale (a ladder of lambda / m = 0.005, 0.02, 0.08), dropout (keep_prob
0.8, then 0.6), data augmentation for images.
"""

from __future__ import annotations

from dataclasses import dataclass

from deeprecipe.runs.config import Config
from deeprecipe.runs.diagnosis import Diagnosis
from deeprecipe.runs.knobs import BY_NAME, apply
from deeprecipe.runs.prepare import PreparedData

__all__ = ["BIAS_ACTIONS", "VARIANCE_ACTIONS", "Step", "propose", "next_step", "helped"]

#: The order in which the recipe tries its steps, per problem.
BIAS_ACTIONS = ("wider", "deeper", "longer", "adam")
VARIANCE_ACTIONS = ("l2", "dropout", "augment")

_L2_PER_EXAMPLE = (0.005, 0.02, 0.08)  # lambda / m: weight decay per step is lr * lambda / m
_KEEP_PROBS = (0.8, 0.6)
_MAX_UNITS, _MAX_LAYERS, _MAX_EPOCHS = 1024, 6, 100_000


@dataclass(frozen=True)
class Step:
    kind: str
    problem: str  # "bias" or "variance"
    config: Config
    changes: dict
    text: str


def _set(config: Config, changes: dict, name: str, value) -> Config:
    """config with knob ``name`` = value; the change is recorded in ``changes`` by its path."""
    knob = BY_NAME[name]
    changes[knob.path] = {"from": getattr(getattr(config, knob.section), knob.key), "to": value}
    return apply(config, {name: value})


def propose(kind: str, config: Config, data: PreparedData, base_epochs: int):
    """(new config, changes, text) for one step, or None when it does not apply."""
    ch: dict = {}
    hidden = list(config.model.hidden_layer_sizes)
    if kind == "wider":
        if not hidden or max(hidden) >= _MAX_UNITS:
            return None
        new = [min(2 * h, _MAX_UNITS) for h in hidden]
        return _set(config, ch, "hidden_layer_sizes", new), ch, \
            f"doubled hidden units {hidden} → {new}"
    if kind == "deeper":
        if len(hidden) >= _MAX_LAYERS:
            return None
        new = hidden + [hidden[-1] if hidden else 16]
        return _set(config, ch, "hidden_layer_sizes", new), ch, \
            f"added a hidden layer {hidden} → {new}"
    if kind == "longer":
        t = config.training
        epochs = 2 * t.epochs
        if epochs > max(8 * base_epochs, 1) or epochs > _MAX_EPOCHS:
            return None
        new = _set(config, ch, "epochs", epochs)
        if t.early_stopping:  # otherwise early stopping ends the longer run where it began
            new = _set(new, ch, "patience", 2 * t.patience)
        return new, ch, f"trained longer: epochs {t.epochs} → {epochs}"
    if kind == "adam":
        o = config.optimizer
        if o.name == "adam":
            return None
        new = _set(config, ch, "optimizer", "adam")
        lr = min(o.learning_rate, 0.01)
        if lr != o.learning_rate:
            new = _set(new, ch, "learning_rate", lr)
        return new, ch, f"switched optimizer {o.name} → Adam (learning_rate {lr:g})"
    if kind == "l2":
        m, old = len(data.X_train), config.regularization.l2
        ladder = [float(f"{r * m:.2g}") for r in _L2_PER_EXAMPLE]
        lam = next((v for v in ladder if v > 1.5 * old), None) if old > 0 else ladder[0]
        if lam is None:
            return None
        text = f"added L2 λ={lam:g}" if old == 0 else f"raised L2 λ {old:g} → {lam:g}"
        return _set(config, ch, "l2", lam), ch, \
            f"{text} (λ/m={lam / m:.2g})"
    if kind == "dropout":
        old = config.model.keep_prob
        keep = next((k for k in _KEEP_PROBS if k < old - 1e-9), None)
        if keep is None or not hidden:
            return None
        text = "added dropout" if old == 1.0 else f"lowered keep_prob {old:g} →"
        return _set(config, ch, "keep_prob", keep), ch, f"{text} keep_prob={keep:g}"
    if kind == "augment":
        if data.image_shape is None or config.regularization.augment:
            return None
        return _set(config, ch, "augment", True), ch, \
            "added data augmentation (flips, crops, noise)"
    raise ValueError(f"unknown recipe action {kind!r}")


def next_step(config: Config, diag: Diagnosis, data: PreparedData, failed: set[str],
               base_epochs: int) -> Step | None:
    """The first applicable, not yet failed step for the problem the diagnosis shows."""
    problem, kinds = (("bias", BIAS_ACTIONS) if diag.avoidable_bias > 0 and
                      diag.verdict in ("high_bias", "high_bias_and_variance")
                      else ("variance", VARIANCE_ACTIONS))
    for kind in kinds:
        if kind in failed:
            continue
        proposal = propose(kind, config, data, base_epochs)
        if proposal is not None:
            return Step(kind, problem, *proposal)
    return None


def helped(step: Step, before: Diagnosis, after: Diagnosis) -> bool:
    """A bias step must shrink the avoidable bias; a variance step the variance, without a
    worse dev error. A round that reads "ok" always counts as help."""
    if after.verdict == "ok":
        return True
    if step.problem == "bias":
        return after.avoidable_bias < before.avoidable_bias - 1e-9
    return (after.variance < before.variance - 1e-9
            and after.dev_error <= before.dev_error + 1e-9)
