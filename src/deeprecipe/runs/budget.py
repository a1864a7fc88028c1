"""A wall-clock budget: "90s", "10m", "1h", "1h30m" (or a number of seconds) and its deadline.

Shared by ``deeprecipe tune --budget`` and ``deeprecipe recipe --budget``: parse once, then ask
the :class:`Deadline` whether there is time for more work.
"""

from __future__ import annotations

import math
import re
import time

from deeprecipe.errors import ConfigError

__all__ = ["parse_budget", "Deadline"]

_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)\s*([smhd])")


def parse_budget(budget: str | float | None) -> float | None:
    """Seconds of a budget: "90s" -> 90.0, "10m" -> 600.0, "1h30m" -> 5400.0; None -> None.

    A bare number (or numeric string) is seconds.

    >>> parse_budget("10m"), parse_budget("1h30m"), parse_budget(90)
    (600.0, 5400.0, 90.0)

    Raises
    ------
    ConfigError
        Not a positive duration such as 90s, 10m or 1h.
    """
    if budget is None:
        return None
    if isinstance(budget, (int, float)) and not isinstance(budget, bool):
        seconds = float(budget)
    elif isinstance(budget, str):
        text = budget.strip().lower()
        try:
            seconds = float(text)
        except ValueError:
            parts = _PART.findall(text)
            if not parts or _PART.sub("", text).strip():
                seconds = math.nan
            else:
                seconds = sum(float(n) * _UNITS[u] for n, u in parts)
    else:
        seconds = math.nan
    if not (math.isfinite(seconds) and seconds > 0):
        raise ConfigError(f"--budget must be a positive duration such as 90s, 10m or 1h "
                          f"(units s, m, h, d), got {budget!r}")
    return seconds


class Deadline:
    """``seconds`` of wall-clock time from now (None: no limit).

    >>> Deadline(None).expired(), Deadline(3600).expired()
    (False, False)
    """

    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds
        self._start = time.monotonic()

    @classmethod
    def from_budget(cls, budget: str | float | None) -> Deadline:
        """A Deadline from a budget text such as "10m" (see ``parse_budget``)."""
        return cls(parse_budget(budget))

    def elapsed(self) -> float:
        """Seconds since the deadline was set."""
        return time.monotonic() - self._start

    def remaining(self) -> float:
        """Seconds left (math.inf without a limit, 0.0 once expired)."""
        if self.seconds is None:
            return math.inf
        return max(0.0, self.seconds - self.elapsed())

    def expired(self) -> bool:
        """True once the budget is spent."""
        return self.remaining() <= 0.0
