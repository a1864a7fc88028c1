"""The basic recipe, automated: learning curves, the next step, the loop of rounds.

Imports tuning (its runner, for short searches), report, runs and everything below them;
never workflows or the faces.
"""
