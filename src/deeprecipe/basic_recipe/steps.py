"""The recipe's steps: each is a change of knobs (``runs.knobs``) to a config.

Which step comes next depends on the curve reading and the diagnosis of the accepted model:

- oscillating or diverging J: a smaller learning rate (α / 3);
- high bias: train longer first when J had not converged, else a wider network (hidden
  units x2, x4 on large data; with dropout when variance is high too), a deeper one (one
  more hidden layer), train longer (epochs x2), Adam. Without a human-level error, bias is
  chased only while bias steps pay on dev error;
- high variance, in the notes' order: more data (for images of at least 16 x 16 pixels,
  augmented copies: crops and noise), then regularization (L2 λ and keep_prob picked by a
  small search, ``searches.regularization_search``), then the architecture: a wider network
  with dropout;
- when the steps for the problem are spent (for bias without a human-level error: also when
  they stop paying, since the gap may then be Bayes error that no bias step removes): a random
  search over the architecture and its regularization (hidden units, layers, keep_prob and α
  on their scales, ``searches.architecture_search``), the notes' tuning, with the budget that
  is left.
"""

from __future__ import annotations

from dataclasses import dataclass

from deeprecipe.basic_recipe.readings import CurveReading
from deeprecipe.runs.config import Config
from deeprecipe.runs.diagnosis import Diagnosis
from deeprecipe.runs.knobs import BY_NAME, apply
from deeprecipe.runs.prepare import PreparedData

__all__ = ["BIAS_ACTIONS", "VARIANCE_ACTIONS", "ALPHA_ACTIONS", "SEARCH_ACTIONS", "Step",
           "propose", "next_step", "set_knobs"]

#: The steps the recipe can take, per problem.
BIAS_ACTIONS = ("longer", "wider", "deeper", "adam")
VARIANCE_ACTIONS = ("augment", "regularize", "wider_dropout")
ALPHA_ACTIONS = ("lower_alpha",)
SEARCH_ACTIONS = ("search",)  # after the problem's own steps, for either problem
_BIAS_VERDICTS = ("high_bias", "high_bias_and_variance")

_MAX_UNITS, _MAX_LAYERS, _MAX_EPOCHS = 1024, 6, 100_000
_LARGE_DATA = 10_000  # training examples from which a wider step quadruples the units
_KEEP_WIDER = 0.8     # the dropout a wider step brings when variance is high too
_TIMES = {2: "doubled", 4: "quadrupled"}
_MIN_AUGMENT_SIDE = 16  # pixels: smaller images are not augmented by the recipe


@dataclass(frozen=True)
class Step:
    """One proposed change: ``config`` is None for a step a search completes (regularize)."""

    kind: str
    problem: str  # "bias", "variance" or "alpha"
    config: Config | None
    changes: dict
    text: str


def set_knobs(config: Config, values: dict, changes: dict) -> Config:
    """config with each knob ``name: value``; each change is recorded in ``changes`` by path."""
    for name, value in values.items():
        knob = BY_NAME[name]
        changes[knob.path] = {"from": getattr(getattr(config, knob.section), knob.key),
                              "to": value}
    return apply(config, values)


def _wider(config: Config, data: PreparedData, dropout: bool):
    """Widen every hidden layer: x4 on large data (m_train >= 10,000), where a x2 step is
    often lost in the dev set's noise, else x2. With ``dropout`` (variance is high too) the
    bigger network comes with keep_prob <= 0.8: the notes' "a bigger network, regularized,
    rarely hurts"."""
    ch: dict = {}
    hidden = list(config.model.hidden_layer_sizes)
    if not hidden or max(hidden) >= _MAX_UNITS:
        return None
    factor = 4 if len(data.y_train) >= _LARGE_DATA else 2
    new = [min(factor * h, _MAX_UNITS) for h in hidden]
    values: dict = {"hidden_layer_sizes": new}
    text = f"{_TIMES[factor]} hidden units {hidden} → {new}"
    keep = config.model.keep_prob
    if dropout and keep > _KEEP_WIDER:
        values["keep_prob"] = _KEEP_WIDER
        text += f", with dropout keep_prob {keep:g} → {_KEEP_WIDER:g}"
    if dropout:
        text += " (variance is high too: a bigger network, regularized)"
    return set_knobs(config, values, ch), ch, text


def _bias(kind: str, config: Config, data: PreparedData, base_epochs: int,
          diag: Diagnosis | None):
    ch: dict = {}
    hidden = list(config.model.hidden_layer_sizes)
    if kind == "wider":
        return _wider(config, data, diag is not None and
                      diag.verdict == "high_bias_and_variance")
    if kind == "deeper":
        if len(hidden) >= _MAX_LAYERS:
            return None
        new = hidden + [hidden[-1] if hidden else 16]
        return set_knobs(config, {"hidden_layer_sizes": new}, ch), ch, \
            f"added a hidden layer {hidden} → {new}"
    if kind == "longer":
        t = config.training
        epochs = 2 * t.epochs
        if epochs > max(8 * base_epochs, 1) or epochs > _MAX_EPOCHS:
            return None
        values = {"epochs": epochs}
        if t.early_stopping:  # otherwise early stopping ends the longer run where it began
            values["patience"] = 2 * t.patience
        return set_knobs(config, values, ch), ch, f"trained longer: epochs {t.epochs} → {epochs}"
    o = config.optimizer  # "adam"
    if o.name == "adam":
        return None
    values = {"optimizer": "adam", "learning_rate": min(o.learning_rate, 0.01)}
    return set_knobs(config, values, ch), ch, \
        f"switched optimizer {o.name} → Adam (learning_rate {values['learning_rate']:g})"


def propose(kind: str, config: Config, data: PreparedData, base_epochs: int,
            diag: Diagnosis | None = None):
    """(new config or None, changes, text) for one step, or None when it does not apply."""
    if kind in BIAS_ACTIONS:
        return _bias(kind, config, data, base_epochs, diag)
    if kind == "lower_alpha":
        ch: dict = {}
        lr = config.optimizer.learning_rate
        return set_knobs(config, {"learning_rate": lr / 3}, ch), ch, \
            f"lowered the learning rate α {lr:.3g} → {lr / 3:.3g}"
    if kind == "wider_dropout":
        return _wider(config, data, True)
    if kind == "regularize":
        if not config.model.hidden_layer_sizes:
            return None
        return None, {}, "regularization picked by a small search (L2 λ, keep_prob)"
    if kind == "search":
        if not config.model.hidden_layer_sizes:
            return None
        return None, {}, ("a random search over the architecture and its regularization "
                          "(hidden units, layers, keep_prob, α)")
    if kind == "augment":  # a one-pixel crop moves an 8x8 digit by an eighth of its width
        if data.image_shape is None or min(data.image_shape[:2]) < _MIN_AUGMENT_SIDE or \
                config.regularization.augment:
            return None
        ch = {}
        return set_knobs(config, {"augment": True}, ch), ch, \
            "added data augmentation (crops, noise)"
    raise ValueError(f"unknown recipe action {kind!r}")


def _problem(diag: Diagnosis, bias_pays: bool, human_given: bool) -> str | None:
    """"bias" (bias first, as in the notes), "variance" or None (nothing to fix)."""
    if diag.verdict in _BIAS_VERDICTS and (human_given or bias_pays):
        return "bias"
    if diag.variance > 0 and diag.verdict in ("high_variance", "high_bias_and_variance"):
        return "variance"
    return None


def next_step(config: Config, diag: Diagnosis, reading: CurveReading | None,
              data: PreparedData, failed: set[str], base_epochs: int, *,
              bias_pays: bool = True, human_given: bool = False) -> Step | None:
    """The first applicable, not yet failed step for what the curve and the diagnosis show."""
    kinds: list[tuple[str, str]] = []
    if reading is not None and reading.kind in ("oscillating", "diverging"):
        kinds.append(("lower_alpha", "alpha"))
    problem = _problem(diag, bias_pays, human_given)
    if problem == "bias":
        order = list(BIAS_ACTIONS)
        if "longer" in order and (reading is None or reading.kind != "not_converged" or
                                  reading.evidence.get("stopped_early")):
            order.remove("longer")
            order.insert(2, "longer")  # a bigger network first when J has levelled off
        kinds += [(k, "bias") for k in order]
    if problem == "variance" or (problem == "bias" and diag.verdict != "high_bias"):
        kinds += [(k, "variance") for k in VARIANCE_ACTIONS]
    if problem is not None or diag.verdict in _BIAS_VERDICTS:  # bias steps spent or unpaid
        kinds += [(k, problem or "bias") for k in SEARCH_ACTIONS]
    for kind, why in kinds:
        if kind in failed:
            continue
        proposal = propose(kind, config, data, base_epochs, diag)
        if proposal is not None:
            return Step(kind, why, *proposal)
    return None
