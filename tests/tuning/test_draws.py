"""draws: trial i of round r is a function of (seed, r, i) alone, made in constant time and
memory whatever n_trials is (spawning every sibling made each draw O(n_trials): a search of
10**12 trials allocated 24 GB and was OOM-killed before its first trial)."""

from __future__ import annotations

import tracemalloc

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from deeprecipe.tuning import LogUniform
from deeprecipe.tuning.draws import draw

SPACE = {"learning_rate": LogUniform(1e-4, 1e-1), "l2": LogUniform(1e-3, 10.0)}


@settings(max_examples=50, deadline=None, derandomize=True)
@given(seed=st.integers(0, 2**63 - 1), round_=st.integers(1, 5), n=st.integers(1, 200),
       data=st.data())
def test_a_draw_is_the_documented_child_of_the_round(seed, round_, n, data):
    i = data.draw(st.integers(0, n - 1))
    rng = np.random.default_rng(np.random.SeedSequence([seed, round_]).spawn(n)[i])
    expected = {name: dist.sample(rng) for name, dist in SPACE.items()}
    assert draw(SPACE, seed, round_, n, i) == expected
    assert draw(SPACE, seed, round_, n + 1000, i) == expected  # n_trials only bounds i


def test_a_draw_takes_constant_memory_whatever_n_trials():
    tracemalloc.start()
    try:
        draw(SPACE, 0, 1, 200_000, 199_999)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20, f"one draw of 200,000 trials peaked at {peak >> 20} MiB"
