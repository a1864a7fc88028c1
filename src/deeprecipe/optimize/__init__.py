"""Optimization: optimizers, learning-rate schedules, averages, the training loop and its files.

Imports the engine and the base modules; knows nothing of runs, configs, tuning or faces.
"""
