"""What a search shows while it runs: trials done / total, the best so far and an ETA, as a
progress bar on a terminal or one log line per trial otherwise (CI logs, nohup, pipes)."""

from __future__ import annotations

import sys
import time

from deeprecipe._progress import progress_bar

__all__ = ["Ticker", "duration"]


def duration(seconds: float) -> str:
    """'42s', '3m05s', '1h02m'.

    >>> duration(42.4), duration(185), duration(3725)
    ('42s', '3m05s', '1h02m')
    """
    s = int(round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


class Ticker:
    """``with Ticker(total, title, verbose) as t: t.tick(result, best)`` once per trial."""

    def __init__(self, total: int, title: str, verbose: bool, metric: str = "dev_error") -> None:
        self.total, self.title, self.verbose, self.metric = total, title, verbose, metric
        self.done, self._start = 0, time.monotonic()
        self._tty = sys.stderr.isatty()
        self._cm = progress_bar(total, title, enabled=verbose)

    def __enter__(self) -> Ticker:
        self._bar = self._cm.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._cm.__exit__(*exc)

    def line(self, result: dict, best: float | None) -> str:
        """'trial 3 complete dev_error 0.0412 | best 0.0300 | 4/16 | ETA 12s'."""
        elapsed = time.monotonic() - self._start
        value = result.get("value")
        shown = "-" if value is None else f"{value:.4f}"
        eta = duration(elapsed / self.done * (self.total - self.done)) if self.done else "?"
        best_text = "-" if best is None else f"{best:.4f}"
        return (f"trial {result['index']} {result['status']} {self.metric} {shown} | best "
                f"{best_text} | {self.done}/{self.total} | ETA {eta}")

    def tick(self, result: dict, best: float | None) -> None:
        """Count one finished trial and show it."""
        self.done += 1
        text = self.line(result, best)
        self._bar.advance(text)
        if self.verbose and not self._tty:
            print(f"{self.title}: {text}", file=sys.stderr, flush=True)
