"""What the recipe reads before it decides: the training curve, and the dev set's noise.

A curve reading names the state of training from the per-epoch cost J:

- ``not_converged``: J still falls at the end (the last quarter of the epochs holds more than
  10% of the whole fall) -> train longer, or α is too small;
- ``oscillating``: J goes up and down in the last quarter by more than 3% of its level
  -> α is too large;
- ``diverging``: J ends above where it started, or far above its minimum -> α is too large;
- ``plateau``: J has levelled off (converged) -> a bigger network if bias remains.

A dev error measured on n_dev examples has the standard error sqrt(p (1 - p) / n_dev); a change
is kept only when it lowers dev error by more than that.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

__all__ = ["CurveReading", "read_curve", "dev_noise", "beats", "beats_paired", "dev_set_warning",
           "more_data_gain", "READINGS"]

READINGS = ("not_converged", "oscillating", "diverging", "plateau")
_TAIL_SHARE = 0.10    # the last quarter's share of the whole fall above which J still falls
_WOBBLE = 0.03        # mean rise in the last quarter, relative to J's level: oscillation
_SMALL_DEV = 0.01     # a dev noise threshold above 1 point: too small to tell models apart


@dataclass(frozen=True)
class CurveReading:
    """One reading of a training curve: its ``kind`` (one of READINGS), a sentence, evidence."""

    kind: str
    text: str
    evidence: dict

    def to_dict(self) -> dict:
        """JSON-ready dict."""
        return asdict(self)


def _tail(n: int) -> int:
    return max(2, n // 4)


def read_curve(cost: Sequence[float], *, stopped_early: bool = False) -> CurveReading:
    """Read the per-epoch training cost J (one value per epoch, shape (epochs,)).

    ``stopped_early``: early stopping ended the run, so a J still falling says that dev error
    stopped improving first (variance), not that training was too short.

    Examples
    --------
    >>> read_curve([2.0, 1.5, 1.1, 0.8, 0.6, 0.45, 0.33, 0.25]).kind
    'not_converged'
    >>> read_curve([2.0, 0.5, 0.31, 0.302, 0.3, 0.3, 0.3, 0.3]).kind
    'plateau'
    >>> read_curve([2.0, 1.0, 0.6, 0.9, 0.5, 1.0, 0.55, 0.95]).kind
    'oscillating'
    >>> read_curve([2.0, 1.0, 0.8, 1.5, 3.0, 6.0]).kind
    'diverging'
    """
    J = np.asarray(cost, dtype=np.float64)
    n = len(J)
    if n < 3:
        return CurveReading("not_converged", f"only {n} epoch(s): too short to read; train "
                            "longer", {"epochs": n, "stopped_early": stopped_early})
    if not np.isfinite(J).all():
        return CurveReading("diverging", "the cost became NaN or infinite: α is too large",
                            {"epochs": n})
    w = _tail(n)
    low, first, last = float(J.min()), float(J[0]), float(J[-1])
    fall = max(first - low, 1e-12)
    tail = J[-w - 1:]
    rises = np.diff(tail)
    ups = rises[rises > 0]
    level = max(float(np.median(tail)), 1e-12)
    evidence = {"epochs": n, "first_cost": first, "min_cost": low, "last_cost": last,
                "tail_epochs": w, "tail_share_of_fall": float((tail[0] - last) / fall),
                "tail_rise_fraction": float(len(ups) / len(rises)),
                "tail_mean_rise": float(ups.mean() / level) if len(ups) else 0.0,
                "stopped_early": stopped_early}
    if last >= first or (last - low > 0.5 * fall and last > tail[0]):
        return CurveReading("diverging", f"J rose from its minimum {low:.4g} to {last:.4g} "
                            "at the end: α is too large", evidence)
    if evidence["tail_rise_fraction"] >= 0.3 and evidence["tail_mean_rise"] > _WOBBLE:
        return CurveReading("oscillating", f"J went up in {len(ups)} of the last {len(rises)} "
                            f"epochs, by {evidence['tail_mean_rise']:.0%} of its level: α is "
                            "too large", evidence)
    if evidence["tail_share_of_fall"] > _TAIL_SHARE:
        why = ("early stopping ended it while J still fell: dev error stopped improving first"
               if stopped_early else "train longer, or α is too small")
        return CurveReading("not_converged", f"J still falling: the last {w} epochs took "
                            f"{evidence['tail_share_of_fall']:.0%} of its fall; {why}", evidence)
    return CurveReading("plateau", f"J has levelled off at {last:.4g} (the last {w} epochs "
                        f"took {max(evidence['tail_share_of_fall'], 0.0):.0%} of its fall)",
                        evidence)


def dev_noise(p: float, n_dev: int) -> float:
    """Standard error of a dev error p measured on n_dev examples: sqrt(p (1 - p) / n_dev).

    p is kept within [1/n_dev, 1 - 1/n_dev]: a dev error of 0 on 33 examples is not exact.

    >>> round(dev_noise(0.1, 10_000), 4)
    0.003
    >>> round(dev_noise(0.0, 33), 3)
    0.03
    """
    n = max(int(n_dev), 1)
    q = min(max(float(p), 1.0 / n), 1.0 - 1.0 / n) if n > 1 else 0.5
    return math.sqrt(q * (1.0 - q) / n)


def beats(new: float, old: float, n_dev: int) -> tuple[bool, float]:
    """(new dev error < old - sqrt(p (1 - p) / n_dev) with p = old, that threshold).

    A change that does not clear the threshold is a tie, and a tie keeps the older, simpler
    model.

    >>> beats(0.10, 0.11, 10_000)[0], beats(0.108, 0.11, 10_000)[0]
    (True, False)
    """
    threshold = dev_noise(old, n_dev)
    return bool(new < old - threshold), threshold


def beats_paired(new_wrong: frozenset[int], old_wrong: frozenset[int], m: int
                 ) -> tuple[bool, float, dict]:
    """(the new model beats the old, the threshold in error units, {"fixed", "broke"}) for two
    models predicting the same m examples (McNemar's pairing).

    fixed = the examples only the old model got wrong, broke = those only the new one got
    wrong. The error difference is (fixed - broke) / m and its standard error
    sqrt(fixed + broke) / m: the examples both get right or both get wrong cancel, which an
    unpaired sqrt(p (1 - p) / m) cannot see. The new model wins when fixed - broke >
    sqrt(fixed + broke), one standard error, the same bar as ``beats``.

    >>> beats_paired(frozenset({1}), frozenset({1, 2, 3, 4}), 200)[0]  # fixed 3, broke 0
    True
    >>> beats_paired(frozenset({1, 5, 6}), frozenset({1, 2, 3, 4}), 200)[0]  # 3 vs 2
    False
    """
    fixed, broke = len(old_wrong - new_wrong), len(new_wrong - old_wrong)
    spread = math.sqrt(fixed + broke)
    return fixed - broke > spread, spread / max(int(m), 1), {"fixed": fixed, "broke": broke}


def dev_set_warning(p: float, n_dev: int, folds: int | None = None) -> str | None:
    """A warning when the dev set is too small to tell models apart (noise above 1 point);
    ``folds``: the changes were judged by that many folds of cross-validation instead."""
    threshold = dev_noise(p, n_dev)
    if threshold <= _SMALL_DEV:
        return None
    advice = (f"the recipe judged its changes by {folds}-fold cross-validation instead"
              if folds else "use a bigger dev set or cross-validation (folds)")
    return (f"the dev set has {n_dev} examples: one example is {1 / n_dev:.1%} of dev error "
            f"and differences under {threshold:.1%} are noise, too small to tell models "
            f"apart; {advice}")


def more_data_gain(sizes: Sequence[int], dev_errors: Sequence[float]) -> float | None:
    """Expected fall of dev error from twice the data, from a learning curve.

    A power law dev(m) = c m^-b through the last two points (m1 < m2) gives
    dev(2 m2) = dev(m2) (dev(m2) / dev(m1))^(log 2 / log(m2 / m1)); the gain is
    dev(m2) - dev(2 m2) (0 when dev error did not fall; None without two sizes).

    >>> round(more_data_gain([500, 1000], [0.2, 0.1]), 3)
    0.05
    """
    if len(sizes) < 2 or sizes[-1] <= sizes[-2]:
        return None
    d1, d2 = float(dev_errors[-2]), float(dev_errors[-1])
    if d2 <= 0 or d1 <= d2:
        return 0.0
    power = math.log(2.0) / math.log(sizes[-1] / sizes[-2])
    return d2 - d2 * (d2 / d1) ** power
