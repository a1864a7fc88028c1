"""_validation (safe names, keep probabilities) and _io's memory limit (#16)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from deeprecipe._io import check_size, format_bytes, memory_limit
from deeprecipe._validation import (
    as_float_array,
    check_bool,
    check_choice,
    check_in_range,
    check_keep_prob,
    check_name,
    check_path,
    check_workers,
)
from deeprecipe.errors import DataError, InvalidTypeError, InvalidValueError


def test_memory_limit_and_check_size(monkeypatch):
    monkeypatch.setenv("DEEPRECIPE_MAX_BYTES", "1000")
    assert memory_limit() == 1000
    assert check_size("W", (10, 25), 4) == 1000
    with pytest.raises(DataError, match=r"W of shape \(10, 26\) would need"):
        check_size("W", (10, 26), 4, error=DataError)
    with pytest.raises(InvalidValueError, match="negative size"):
        check_size("W", (-1, 3))
    monkeypatch.delenv("DEEPRECIPE_MAX_BYTES")
    assert memory_limit() > 1 << 20


@pytest.mark.parametrize("name", ["run", "run-1", "a.b_c", "données", "x" * 100])
def test_safe_names(name):
    assert check_name("name", name) == name


@pytest.mark.parametrize("name", ["", " ", ".", "..", "../x", "/abs", "a/b", "a\\b", "a\0b",
                                  "a\nb", "c:", "x" * 101])
def test_unsafe_names(name):
    with pytest.raises(InvalidValueError, match="must be one folder name"):
        check_name("name", name)


def test_a_name_must_be_text():
    with pytest.raises(InvalidTypeError):
        check_name("name", 3)


@pytest.mark.parametrize("value", [1e-300, 1e-39, 0.0, -0.1, 1.5, float("nan")])
def test_keep_prob_below_float32_tiny_is_refused(value):
    with pytest.raises(InvalidValueError, match=r"keep_prob must be in \(0.0, 1.0\]"):
        check_keep_prob("keep_prob", value)


def test_keep_prob_at_float32_tiny_is_kept():
    assert check_keep_prob("keep_prob", 1.2e-38) == 1.2e-38


def test_workers_are_at_most_four_per_cpu(monkeypatch):
    """A process pool of 100,000 workers is forked at once: the OOM killer ends it (and others'
    processes); more than four per CPU only wait for a CPU."""
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    assert check_workers("workers", 8) == 8
    with pytest.raises(InvalidValueError, match=r"workers must be in \[1, 8\] \(4 per CPU: "
                                                r"more processes only wait for one\), got 9"):
        check_workers("workers", 9)
    with pytest.raises(InvalidValueError, match=r"workers must be in \[1, 8\]"):
        check_workers("workers", 0)
    with pytest.raises(InvalidTypeError, match="workers must be an integer"):
        check_workers("workers", 2.0)
    monkeypatch.setattr("os.cpu_count", lambda: None)  # unknown: as one CPU
    assert check_workers("workers", 4) == 4


_NOT_PATHS = st.one_of(st.none(), st.integers(), st.floats(), st.booleans(),
                       st.binary(min_size=1), st.lists(st.text(max_size=3), max_size=2))


@given(_NOT_PATHS)
def test_a_path_must_be_text_or_path_like(value):
    with pytest.raises(InvalidTypeError, match=r"^out must be a path \(a str or os.PathLike\)"):
        check_path("out", value)


def test_a_path_is_not_empty_and_comes_back_as_a_path(tmp_path):
    assert check_path("out", str(tmp_path)) == tmp_path == check_path("out", tmp_path)
    with pytest.raises(InvalidValueError, match="out must not be empty"):
        check_path("out", "")


@given(st.sampled_from([np.nan, np.inf, -np.inf]))
def test_an_unbounded_range_asks_for_a_finite_number(value):
    with pytest.raises(InvalidValueError, match=rf"^fill must be a finite number, got {value}"):
        check_in_range("fill", value)


@given(st.one_of(st.none(), st.integers(), st.floats(), st.text(max_size=3)))
def test_a_flag_must_be_a_bool(value):
    with pytest.raises(InvalidTypeError, match=r"^flag must be True or False, got"):
        check_bool("flag", value)
    assert check_bool("flag", True) is True and check_bool("flag", np.False_) is False


def test_as_float_array_keeps_floats_converts_other_reals_and_refuses_the_rest():
    X32 = np.ones((2, 3), np.float32)
    assert as_float_array(X32, "X", ndim=2) is X32
    assert as_float_array([[1, 2]], "X").dtype == np.float64
    assert as_float_array(np.ones(2, bool), "X", dtype=np.float32).dtype == np.float32
    assert as_float_array(np.ones(2, np.float16), "X").dtype == np.float64
    for bad, message in (("x", "X must be real numeric"), (None, "X must be real numeric"),
                         ([[1], [1, 2]], "X could not be read"), (np.ones(3), "X must be 2-D")):
        with pytest.raises(DataError, match=message):
            as_float_array(bad, "X", ndim=2)


@pytest.mark.parametrize("value", [np.array(["he", "zeros"]), ["he"], {"he": 1}, None])
def test_check_choice_refuses_unhashable_and_array_values(value):
    # an array compared itself with each choice: "truth value of an array is ambiguous"
    with pytest.raises(InvalidValueError, match="init must be one of 'he', 'zeros'"):
        check_choice("init", value, ("he", "zeros"))


def test_format_bytes():
    assert (format_bytes(3 << 30), format_bytes(1 << 19)) == ("3 GiB", "0.5 MiB")
