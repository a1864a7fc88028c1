"""One run: its spec (config, the table of knobs) and its plumbing.

prepare, build, evaluate, rundir.

Imports engine, optimize, data and persistence; never recipe, tuning, report, workflows or faces.
"""
