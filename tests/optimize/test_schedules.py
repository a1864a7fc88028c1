"""Learning-rate schedules: the lecture's formulas and table, validation, config round trip."""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import pickle
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from deeprecipe.errors import ConfigError, InvalidTypeError, InvalidValueError
from deeprecipe.optimize.schedules import (
    SCHEDULES,
    Constant,
    ExponentialDecay,
    InverseTimeDecay,
    Piecewise,
    SqrtDecay,
    Staircase,
    make_schedule,
    schedule_from_config,
)

ALL = [Constant(0.1), InverseTimeDecay(0.2, 1.0), ExponentialDecay(0.2, 0.95),
       ExponentialDecay(0.2, 0.5, every=3), SqrtDecay(0.2, k=0.5), Staircase(0.2, 1.0, 4),
       Piecewise(0.1, (3, 7), (0.05, 0.01))]


def test_lecture_inverse_time_table():
    sched = InverseTimeDecay(lr0=0.2, decay_rate=1.0)
    got = [sched(e) for e in (1, 2, 3, 4)]
    assert got == pytest.approx([0.1, 0.2 / 3, 0.05, 0.04], rel=1e-12)
    assert [round(a, 3) for a in got] == [0.1, 0.067, 0.05, 0.04]


@pytest.mark.parametrize("epoch_num", [1, 2, 5, 17, 100])
def test_formulas(epoch_num):
    lr0 = 0.2
    assert ExponentialDecay(lr0)(epoch_num) == pytest.approx(0.95**epoch_num * lr0, rel=1e-12)
    assert ExponentialDecay(lr0, 0.5, every=4)(epoch_num) == pytest.approx(
        lr0 * 0.5 ** math.floor(epoch_num / 4), rel=1e-12)
    assert SqrtDecay(lr0, k=2.0)(epoch_num) == pytest.approx(
        2.0 / math.sqrt(epoch_num) * lr0, rel=1e-12)
    assert Staircase(lr0, decay_rate=0.5, interval=10)(epoch_num) == pytest.approx(
        lr0 / (1 + 0.5 * math.floor(epoch_num / 10)), rel=1e-12)
    assert Constant(lr0)(epoch_num) == lr0


def test_sqrt_decay_per_step():
    assert SqrtDecay(0.1, k=3.0).at_step(9) == pytest.approx(0.1, rel=1e-12)
    with pytest.raises(InvalidValueError, match=re.escape("t must be >= 1, got 0")):
        SqrtDecay(0.1).at_step(0)


def test_staircase_with_interval_one_is_inverse_time_decay():
    for e in range(1, 20):
        assert Staircase(0.3, 0.7, interval=1)(e) == InverseTimeDecay(0.3, 0.7)(e)


def test_piecewise_changes_and_nudges():
    sched = Piecewise.from_changes(0.1, [(6, 0.01), (3, 0.05), (6, 0.02)])  # later (6, .) wins
    assert (sched.boundaries, sched.values) == ((3, 6), (0.05, 0.02))
    assert [sched(e) for e in (1, 2, 3, 5, 6, 50)] == [0.1, 0.1, 0.05, 0.05, 0.02, 0.02]
    nudged = sched.with_change(4, 0.03)  # a rollback to epoch 4 discards the change at 6
    assert (nudged.boundaries, nudged.values) == ((3, 4), (0.05, 0.03))
    assert Piecewise(0.1)(10) == 0.1


@pytest.mark.parametrize("sched", ALL, ids=lambda s: type(s).__name__)
def test_config_round_trip_json_and_pickle(sched):
    cfg = json.loads(json.dumps(sched.get_config()))
    assert cfg["type"] == type(sched).__name__
    again = schedule_from_config(cfg)
    assert again == sched and pickle.loads(pickle.dumps(sched)) == sched
    assert [again(e) for e in range(1, 12)] == [sched(e) for e in range(1, 12)]
    with pytest.raises(dataclasses.FrozenInstanceError):
        sched.lr0 = 1.0


def test_registry_names():
    assert set(SCHEDULES) == {"inverse_time", "exponential", "sqrt", "staircase", "piecewise",
                              "constant"}
    assert make_schedule("staircase", lr0=0.2, interval=2) == Staircase(0.2, 1.0, 2)
    assert schedule_from_config({"type": "sqrt", "lr0": 0.1}) == SqrtDecay(0.1)


@given(lr0=st.floats(1e-6, 10.0), rate=st.floats(0.0, 10.0), base=st.floats(0.5, 1.0),
       k=st.floats(0.01, 10.0), every=st.integers(1, 20))
def test_decaying_schedules_are_positive_and_non_increasing(lr0, rate, base, k, every):
    for sched in (InverseTimeDecay(lr0, rate), ExponentialDecay(lr0, base, every),
                  SqrtDecay(lr0, k), Staircase(lr0, rate, every)):
        rates = [sched(e) for e in range(1, 200)]
        assert all(r > 0 for r in rates)
        assert all(b <= a for a, b in itertools.pairwise(rates))


@pytest.mark.parametrize(("make", "message"), [
    (lambda: Constant(0.0), "lr0 must be > 0.0, got 0.0"),
    (lambda: InverseTimeDecay(-0.2, 1.0), "lr0 must be > 0.0, got -0.2"),
    (lambda: InverseTimeDecay(0.2, -1.0), "decay_rate must be >= 0.0, got -1.0"),
    (lambda: ExponentialDecay(0.2, base=0.0), "base must be in (0.0, 1.0], got 0.0"),
    (lambda: ExponentialDecay(0.2, base=1.5), "base must be in (0.0, 1.0], got 1.5"),
    (lambda: ExponentialDecay(0.2, every=0), "every must be >= 1, got 0"),
    (lambda: SqrtDecay(0.2, k=0.0), "k must be > 0.0, got 0.0"),
    (lambda: Staircase(0.2, interval=0), "interval must be >= 1, got 0"),
    (lambda: Piecewise(0.1, (3,), (0.0,)), "values[0] must be > 0.0, got 0.0"),
    (lambda: Piecewise(0.1, (3, 2), (0.1, 0.2)), "boundaries must be strictly increasing"),
    (lambda: Piecewise(0.1, (3,), ()), "boundaries and values must have the same length"),
    (lambda: Constant(0.1)(0), "epoch_num must be >= 1, got 0"),
    (lambda: ExponentialDecay(1e-3, base=0.5)(5000),
     "ExponentialDecay gives a non-positive learning rate 0.0 at epoch_num=5000"),
    (lambda: make_schedule("cosine", lr0=0.1), "schedule must be one of 'constant'"),
    (lambda: schedule_from_config({"type": "Cosine", "lr0": 0.1}), "schedule type must be one"),
])
def test_bad_input_fails_with_a_clear_message(make, message):
    with pytest.raises(InvalidValueError, match=re.escape(message)):
        make()


def test_bad_types_and_config_keys():
    with pytest.raises(InvalidTypeError, match="epoch_num must be an integer, got 1.5"):
        Constant(0.1)(1.5)
    with pytest.raises(InvalidTypeError, match="lr0 must be a real number"):
        Constant("0.1")
    with pytest.raises(ConfigError, match="allowed fields are \\['lr0', 'decay_rate'\\]"):
        schedule_from_config({"type": "InverseTimeDecay", "lr0": 0.1, "decay": 1.0})
    with pytest.raises(ConfigError, match="'type' key"):
        schedule_from_config({"lr0": 0.1})


@given(sched=st.sampled_from(ALL), factor=st.one_of(
    st.floats(max_value=0.0), st.sampled_from([math.nan, math.inf, "2", None, [2.0]])))
def test_scaled_refuses_a_factor_that_is_not_positive_by_name(sched, factor):
    with pytest.raises((InvalidValueError, InvalidTypeError), match=r"^factor must be"):
        sched.scaled(factor)


@pytest.mark.parametrize("changes", [None, "ab", [(3,)], [(3, 0.1, 2)], 3, [3]])
def test_piecewise_changes_must_be_pairs(changes):
    with pytest.raises(InvalidTypeError, match=r"changes must be \(epoch_num, value\) pairs"):
        Piecewise.from_changes(0.1, changes)


@pytest.mark.parametrize("field", ["boundaries", "values"])
@pytest.mark.parametrize("bad", [None, 3, "ab"])
def test_piecewise_boundaries_and_values_must_be_sequences(field, bad):
    with pytest.raises(InvalidTypeError, match=rf"{field} must be a tuple or list, got"):
        Piecewise(0.1, **{field: bad})


def test_a_bad_piecewise_value_is_named_by_its_position():
    with pytest.raises(InvalidValueError, match=re.escape("values[1] must be > 0.0, got -1")):
        Piecewise(0.1, (3, 5), (0.05, -1))
