"""_random: every random_state a user can type is a seed or a clear error."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from deeprecipe._random import as_seed_sequence
from deeprecipe.errors import InvalidValueError


@given(st.integers(max_value=-1))
def test_a_negative_seed_is_refused_by_name(seed):
    with pytest.raises(InvalidValueError, match=rf"random_state must be >= 0, got {seed}"):
        as_seed_sequence(seed)
    with pytest.raises(InvalidValueError, match="random_state must be >= 0"):
        as_seed_sequence(np.int64(max(seed, -2**63)))


@given(st.integers(min_value=0, max_value=2**128))
def test_a_seed_gives_the_same_sequence_each_time(seed):
    assert as_seed_sequence(seed).entropy == as_seed_sequence(seed).entropy == seed
