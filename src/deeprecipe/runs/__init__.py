"""One run: its spec (config, the table of knobs) and its plumbing.

prepare, build, evaluate, rundir; diagnosis (bias and variance against human-level error)
and finish (evaluate, diagnose, check gradients, write the run files).

Imports engine, optimize, data and persistence; never recipe, tuning, report, workflows or faces.
"""
