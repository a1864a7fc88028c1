"""The wall-clock budget shared by ``tune --budget`` and ``recipe --budget``."""

from __future__ import annotations

import math
import time

import pytest

from deeprecipe.errors import ConfigError
from deeprecipe.runs.budget import Deadline, parse_budget


@pytest.mark.parametrize(("text", "seconds"), [
    ("90s", 90.0), ("10m", 600.0), ("1h", 3600.0), ("1h30m", 5400.0), ("2d", 172800.0),
    ("1.5m", 90.0), (" 10M ", 600.0), ("45", 45.0), (30, 30.0), (0.5, 0.5), (None, None)])
def test_durations_people_write(text, seconds):
    assert parse_budget(text) == seconds


@pytest.mark.parametrize("text", ["", "ten minutes", "10x", "m", "-5m", "0s", "1h 5", True,
                                  [10], "nan", "inf"])
def test_anything_else_is_a_one_line_error_naming_the_option(text):
    with pytest.raises(ConfigError, match=r"--budget must be a positive duration such as 90s"):
        parse_budget(text)


def test_a_deadline_runs_out():
    assert Deadline(None).remaining() == math.inf and not Deadline(None).expired()
    d = Deadline.from_budget(0.05)
    assert 0 < d.remaining() <= 0.05 and not d.expired()
    time.sleep(0.06)
    assert d.expired() and d.remaining() == 0.0 and d.elapsed() >= 0.05
