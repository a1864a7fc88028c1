"""Shared test settings: hypothesis without deadlines (no timed tests) and derandomized."""

from __future__ import annotations

from hypothesis import settings

settings.register_profile("deeprecipe", deadline=None, derandomize=True, max_examples=100)
settings.load_profile("deeprecipe")
