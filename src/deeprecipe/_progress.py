"""A Rich progress bar on stderr that stays silent when stderr is not a terminal."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn


class _Bar:
    def __init__(self, progress, task) -> None:
        self._progress, self._task = progress, task

    def advance(self, info: str = "") -> None:
        if self._progress is not None:
            self._progress.update(self._task, advance=1, info=info)


@contextlib.contextmanager
def progress_bar(total: int, description: str, *, enabled: bool = True,
                 force: bool = False) -> Iterator[_Bar]:
    """Yield a bar with ``advance(info)``; a no-op unless enabled and stderr is a TTY."""
    if not enabled or not (force or sys.stderr.isatty()):
        yield _Bar(None, None)
        return
    with Progress(TextColumn(f"[bold]{description}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.fields[info]}"), console=Console(stderr=True)) as progress:
        yield _Bar(progress, progress.add_task(description, total=total, info=""))
