"""The basic recipe, automated: readings (curves, dev-set noise), steps, short searches on the
caviar runner (α; L2 λ and keep_prob), the time budget, and the loop of rounds.

Imports tuning (its runner, for short searches), report, runs and everything below them;
never workflows or the faces.
"""
