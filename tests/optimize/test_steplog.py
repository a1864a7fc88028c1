"""StepLog: bounded per-step rows, decimated by two at capacity, exact running EWA, files."""

from __future__ import annotations

import copy
import json
import pickle
import tracemalloc

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from deeprecipe.errors import CheckpointError, DeepRecipeError
from deeprecipe.optimize import steplog
from deeprecipe.optimize.averages import ExponentialAverage, ewa
from deeprecipe.optimize.steplog import STEP_LOG_CAPACITY, StepLog


def _cost(g: int) -> float:
    """A cost that differs at every position g: any misplaced row shows."""
    return 1.0 / (g + 1) + 0.001 * (g % 7)


def filled(capacity: int, n_steps: int, per_epoch: int, *, start: int = 0,
           log: StepLog | None = None) -> StepLog:
    """``log`` (or a new one) after the steps at positions start..start+n_steps-1, epochs of
    ``per_epoch`` steps; cost_ewa is the running EWA (beta 0.98) of every step."""
    log = StepLog(capacity) if log is None else log
    avg = ExponentialAverage(beta=0.98)
    for g in range(start):
        avg.update(_cost(g))
    for g in range(start, start + n_steps):
        log.append(g // per_epoch + 1, g % per_epoch + 1, _cost(g), avg.update(_cost(g)))
    return log


def test_default_capacity_is_the_documented_constant():
    assert STEP_LOG_CAPACITY == 2**15 and StepLog().capacity == STEP_LOG_CAPACITY
    assert StepLog().stride == 1 and len(StepLog()) == 0


def test_log_is_bounded_at_a_uniform_power_of_two_stride():
    log = filled(64, 1000, per_epoch=37)
    assert len(log) <= 64 and log.seen == 1000
    assert log.stride == 16  # the least power of two with ceil(1000 / stride) <= 64
    assert len(log) == -(-1000 // 16) == 63
    assert (log.index % log.stride == 0).all()
    np.testing.assert_array_equal(log.index, np.arange(63) * 16)
    np.testing.assert_array_equal(log["epoch"], log.index // 37 + 1)
    np.testing.assert_array_equal(log["step"], log.index % 37 + 1)
    assert (log["epoch"][0], log["step"][0]) == (1, 1)  # the first step is always kept
    # every epoch of 37 >= 16 steps has rows; epoch 28 holds only the last step, 999
    assert set(log["epoch"].tolist()) == set(range(1, 28))
    np.testing.assert_array_equal(log["cost"], [_cost(g) for g in log.index])


def test_under_capacity_every_step_is_kept():
    log = filled(64, 64, per_epoch=10)
    assert log.stride == 1 and len(log) == 64
    np.testing.assert_array_equal(log["cost"], [_cost(g) for g in range(64)])
    log.append(7, 5, 0.5, 0.5)  # the 65th step: decimated first
    assert log.stride == 2 and len(log) == 32 + 1 and log["cost"][-1] == 0.5


def test_memory_does_not_grow_past_capacity():
    log = filled(64, 64, per_epoch=10)
    arrays = {k: log._columns[k] for k in steplog.COLUMNS}
    nbytes = sum(a.nbytes for a in arrays.values())
    filled(64, 20_000, per_epoch=10, start=64, log=log)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for g in range(20_064, 40_064):
            log.append(g // 10 + 1, g % 10 + 1, 0.5, 0.5)
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert grown < 4096, grown
    assert all(log._columns[k] is a for k, a in arrays.items())  # the same arrays, written in
    assert sum(a.nbytes for a in log._columns.values()) == nbytes
    assert len(log) <= 64 and log.seen == 40_064


def test_recorded_ewa_is_the_average_over_every_step():
    log = filled(16, 500, per_epoch=9)
    assert log.stride == 32
    everything = ewa(np.array([_cost(g) for g in range(500)]), beta=0.98)
    np.testing.assert_allclose(log["cost_ewa"], everything[log.index], rtol=1e-12)
    thinned = ewa(np.asarray(log["cost"]), beta=0.98)  # what averaging only the rows gives
    assert not np.allclose(log["cost_ewa"][1:], thinned[1:], rtol=1e-3)


def test_columns_are_read_only_views():
    log = filled(8, 5, per_epoch=5)
    with pytest.raises(ValueError, match="read-only"):
        log["cost"][0] = 9.0
    assert log.get("cost") is not None and log.get("other", "x") == "x"
    assert [k for k, _ in log.items()] == ["epoch", "step", "cost", "cost_ewa"]


@pytest.mark.parametrize("capacity", [1, 0, 2**21, 2.0, True])
def test_capacity_must_be_an_integer_of_at_least_two(capacity):
    with pytest.raises(DeepRecipeError, match="capacity must be"):
        StepLog(capacity)


def test_truncate_after_decimation_continues_as_if_never_past_that_epoch():
    full = filled(8, 60, per_epoch=5)
    assert full.stride == 8
    full.truncate(6)  # epochs 1..6: steps 0..29
    assert full["epoch"].max() <= 6 and full.seen == 30 and full.stride == 8
    np.testing.assert_array_equal(full.index, [0, 8, 16, 24])
    filled(8, 45, per_epoch=5, start=30, log=full)  # train on from epoch 7
    direct = filled(8, 75, per_epoch=5)
    assert full == direct


def test_truncate_when_whole_epochs_left_no_row_stays_consistent():
    log = filled(4, 100, per_epoch=3)  # stride 32: most epochs leave no row
    assert log.stride == 32
    log.truncate(15)  # epoch 15 ends at step 45; the next row (position 64) is in epoch 22
    assert log["epoch"].tolist() == [1, 11] and log["step"].tolist() == [1, 3]
    assert 33 <= log.seen <= 64 and len(log) == -(-log.seen // log.stride)
    assert log.seen == 63  # the start of epoch 22: within the stride of the true 45
    log.truncate(0)
    assert len(log) == 0 and log.seen == 0 and log.stride == 32


def test_extend_of_an_undecimated_log_is_appending_its_steps():
    first, second = filled(16, 40, per_epoch=8), filled(64, 30, per_epoch=8)
    assert (first.stride, second.stride) == (4, 1)
    first.extend(second, epoch_offset=5)
    direct = filled(16, 40, per_epoch=8)
    for epoch, step, cost, cost_ewa in zip(*(second[k].tolist() for k in steplog.COLUMNS),
                                           strict=True):
        direct.append(epoch + 5, step, cost, cost_ewa)
    assert first == direct and first.seen == 70 and len(first) <= 16


def test_extend_of_a_decimated_log_stays_bounded_and_covers_both():
    first, second = filled(16, 37, per_epoch=8), filled(16, 1000, per_epoch=100)
    first.extend(second, epoch_offset=5)
    assert first.seen == 1037 and len(first) == -(-1037 // first.stride) <= 16
    assert first["epoch"][0] == 1 and first["epoch"][-1] == 15  # 5 + the last of 10 epochs
    assert (np.diff(first["epoch"]) >= 0).all()
    empty = StepLog(2**15)
    empty.extend(second)  # no finer than the log it takes: no repeated rows
    assert (empty.stride, empty.seen) == (second.stride, second.seen)
    np.testing.assert_array_equal(empty["cost"], second["cost"])


def test_copies_and_pickles_carry_the_rows_in_use_not_the_whole_arrays():
    log = filled(2**15, 10, per_epoch=4)
    assert len(pickle.dumps(log)) < 2000  # the arrays hold 1 MiB
    for twin in (pickle.loads(pickle.dumps(log)), copy.deepcopy(log), copy.copy(log)):
        assert twin == log and twin._columns["cost"] is not log._columns["cost"]
        twin.append(3, 3, 0.5, 0.5)
        assert twin != log and len(log) == 10


# ---- files -------------------------------------------------------------------------------

def test_dict_round_trip_keeps_rows_stride_seen_and_capacity():
    log = filled(32, 300, per_epoch=17)
    d = json.loads(json.dumps(log.to_dict()))
    assert (d["stride"], d["seen"], d["capacity"]) == (16, 300, 32)
    assert len(d["cost"]) == len(log) == 19
    assert StepLog.from_dict(d) == log
    assert StepLog.from_dict(None) == StepLog() == StepLog.from_dict({})


def _old(n: int, per_epoch: int = 7) -> dict:
    """Steps as the code before the bounded log wrote them: four lists, every step."""
    avg = ExponentialAverage(beta=0.98)
    rows = [(g // per_epoch + 1, g % per_epoch + 1, _cost(g), avg.update(_cost(g)))
            for g in range(n)]
    return {k: [r[i] for r in rows] for i, k in enumerate(steplog.COLUMNS)}


def test_old_files_of_any_length_load_decimated_as_recording_would_have(monkeypatch):
    short = StepLog.from_dict(_old(10))
    assert short.stride == 1 and short.seen == 10 and short["cost"].tolist() == _old(10)["cost"]
    monkeypatch.setattr(steplog, "STEP_LOG_CAPACITY", 16)
    long = StepLog.from_dict(_old(1000))
    assert long.capacity == 16 and long.stride == 64 and len(long) == 16
    assert long == filled(16, 1000, per_epoch=7)


def _edit(**changes):
    def make():
        d = filled(8, 20, per_epoch=6).to_dict()
        d.update(changes)
        return d
    return make


def _without(key):
    def make():
        d = filled(8, 20, per_epoch=6).to_dict()
        del d[key]
        return d
    return make


BAD = {
    "not a table": (lambda: [1, 2], "history.steps must be a table of lists, got [1, 2]"),
    "a column missing": (lambda: {k: v for k, v in _old(3).items() if k != "cost_ewa"},
                         "must be a table with keys 'cost', 'cost_ewa', 'epoch', 'step'"),
    "an unknown key": (lambda: {**_old(3), "lr": []}, "got one with also 'lr'"),
    "stride without capacity": (_without("capacity"), "got one with no 'capacity'"),
    "a column a string": (_edit(cost="low"), "history.steps.cost must be a list, got 'low'"),
    "lists of two lengths": (lambda: {**_old(3), "step": [1, 2]},
                             "history.steps must be lists of one length"),
    "an epoch a float": (lambda: {**_old(3), "epoch": [1, 1.5, 2]},
                         "history.steps.epoch must be a list of integers, got 1.5"),
    "a cost a string": (lambda: {**_old(3), "cost": [1.0, "x", 2.0]},
                        "history.steps.cost must be a list of real numbers, got 'x'"),
    "a step a bool": (lambda: {**_old(3), "step": [1, True, 3]},
                      "history.steps.step must be a list of integers, got True"),
    "an epoch past 64 bits": (lambda: {**_old(3), "epoch": [1, 2**70, 2]},
                              "history.steps.epoch must be a list of integers that fit in 64"),
    "stride zero": (_edit(stride=0), "history.steps.stride must be a power of two (1, 2, 4, "
                    "...), got 0"),
    "stride three": (_edit(stride=3), "stride must be a power of two (1, 2, 4, ...), got 3"),
    "stride a float": (_edit(stride=4.0), "stride must be a power of two (1, 2, 4, ...), got 4.0"),
    "capacity one": (_edit(capacity=1), "history.steps.capacity must be an integer in [2, "
                     "1048576], got 1"),
    "capacity huge": (_edit(capacity=2**40), "capacity must be an integer in [2, 1048576]"),
    "more rows than capacity": (_edit(capacity=4), "history.steps must be at most capacity=4 "
                                "rows, got 5"),
    "seen too large": (_edit(seen=21), "history.steps.seen must be the steps counted for 5 "
                       "rows at stride 4 (from 17 to 20), got 21"),
    "seen too small": (_edit(seen=16), "(from 17 to 20), got 16"),
    "seen negative": (_edit(seen=-1), "history.steps.seen must be the steps counted"),
    "seen a string": (_edit(seen="20"), "history.steps.seen must be the steps counted"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_steps_are_refused_naming_the_field(case):
    make, message = BAD[case]
    with pytest.raises(CheckpointError) as info:
        StepLog.from_dict(make())
    assert message in str(info.value)


@given(capacity=st.integers(2, 40), n=st.integers(0, 400), per_epoch=st.integers(1, 50))
def test_any_log_is_bounded_consistent_and_round_trips(capacity, n, per_epoch):
    log = filled(capacity, n, per_epoch)
    assert len(log) <= capacity and len(log) == -(-n // log.stride)
    assert log.stride & (log.stride - 1) == 0
    assert log.stride == 1 or -(-n // (log.stride // 2)) > capacity  # no coarser than needed
    assert StepLog.from_dict(json.loads(json.dumps(log.to_dict()))) == log
    saved, steplog.STEP_LOG_CAPACITY = steplog.STEP_LOG_CAPACITY, capacity
    try:  # an older file of every step loads as recording them would have kept them
        assert StepLog.from_dict(_old(n, per_epoch)) == log
    finally:
        steplog.STEP_LOG_CAPACITY = saved


_VALUES = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(),
                    st.text(max_size=3), st.lists(st.integers(-3, 3), max_size=4))


@given(key=st.sampled_from(["epoch", "step", "cost", "cost_ewa", "stride", "seen", "capacity",
                            "other"]), value=_VALUES, drop=st.booleans())
def test_any_edit_of_a_stored_log_loads_consistent_or_is_a_checkpoint_error(key, value, drop):
    d = filled(8, 20, per_epoch=6).to_dict()
    if drop:
        d.pop(key, None)
    else:
        d[key] = value
    try:
        log = StepLog.from_dict(d)
    except CheckpointError as exc:
        assert "history.steps" in str(exc) and " must be " in str(exc)
        return
    assert len(log) <= log.capacity and len(log) == -(-log.seen // log.stride)
