"""The ``deeprecipe`` command line: thin commands that parse options and call one function.

A user error, click's usage errors included (a wrong option type, an unknown option, a missing
argument), prints one line on stderr and exits with code 2 (``--debug`` shows the traceback);
Ctrl-C leaves resumable state and exits with code 130. Commands live in ``commands_model``
(one model), ``commands_tuning`` (many models, babysitting, the recipe) and ``commands_deploy``
(export).

The top face: it may import anything, and imports the heavy layers inside each command (with a
comment) so that ``deeprecipe --help`` stays fast.
"""

from __future__ import annotations

from deeprecipe.cli import (  # noqa: F401  (registers commands)
    commands_data,
    commands_deploy,
    commands_model,
    commands_tuning,
)
from deeprecipe.cli._common import app

__all__ = ["app", "main"]


def main() -> None:
    """Console-script entry point (``python -m deeprecipe.cli`` names itself deeprecipe too)."""
    app(prog_name="deeprecipe")
