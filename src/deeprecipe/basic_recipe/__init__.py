"""The basic recipe: bias/variance diagnosis, learning curves, the next step, the automated loop.

Imports run and everything below it; never tuning, report, workflows or faces.
"""
