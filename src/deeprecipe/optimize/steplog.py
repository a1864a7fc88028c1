"""The per-step log of a training run: its mini-batch costs, bounded however long it runs.

One row per recorded step: ``epoch``, ``step`` (1-based within the epoch), ``cost`` and
``cost_ewa``. The rows live in four arrays preallocated at ``capacity`` rows
(``STEP_LOG_CAPACITY`` = 2**15 by default: 1 MiB, touched only as rows are written), so
recording a step allocates nothing. Row i is the step at 0-based position ``i * stride`` of
the run. When a step is due and the log is full, it keeps every other row and doubles the
stride: the log always covers the whole run at one resolution, with at most ``capacity``
rows, ``ceil(seen / stride)`` of them. Only the recording is thinned: ``cost_ewa`` is the
trainer's running average over every step, recorded or not.

Files hold the rows as JSON lists beside stride, seen and capacity (``to_dict``): at most
``capacity`` rows (~1.5 MB), exact float round trip, and one format for checkpoints,
history.jsonl and saved estimators. Older files (the four lists of every step) still load.
"""

from __future__ import annotations

import numbers

import numpy as np

from deeprecipe._validation import check_int
from deeprecipe.errors import CheckpointError

__all__ = ["StepLog", "STEP_LOG_CAPACITY", "MAX_STEP_LOG_CAPACITY", "COLUMNS"]

STEP_LOG_CAPACITY = 2**15  # rows kept at most by default: ~1.5 MB as JSON in a checkpoint
MAX_STEP_LOG_CAPACITY = 2**20  # the largest capacity a log (or a file) may ask for
COLUMNS = {"epoch": np.int64, "step": np.int64, "cost": np.float64, "cost_ewa": np.float64}
_KINDS = {"epoch": (numbers.Integral, "integers"), "step": (numbers.Integral, "integers"),
          "cost": (numbers.Real, "real numbers"), "cost_ewa": (numbers.Real, "real numbers")}
_FIELDS = ("stride", "seen", "capacity")  # beside the columns; older files have only those


class StepLog:
    """Rows (epoch, step, cost, cost_ewa) of every ``stride``-th step; ``seen`` steps in all.

    ``log["cost"]`` is a read-only view of the recorded rows, shape (len(log),);
    ``log.index`` is each row's 0-based position in the run (``arange(len(log)) * stride``).

    >>> log = StepLog(capacity=4)
    >>> for s in range(1, 10):
    ...     log.append(1, s, 1.0 / s, 1.0 / s)
    >>> log.stride, log.seen, log["step"].tolist()
    (4, 9, [1, 5, 9])
    """

    def __init__(self, capacity: int | None = None) -> None:
        capacity = STEP_LOG_CAPACITY if capacity is None else capacity
        self.capacity = check_int("capacity", capacity, low=2, high=MAX_STEP_LOG_CAPACITY)
        self.stride, self.seen, self._n = 1, 0, 0
        self._columns = {k: np.zeros(self.capacity, dtype) for k, dtype in COLUMNS.items()}
        self._epoch, self._step, self._cost, self._ewa = self._columns.values()

    def append(self, epoch: int, step: int, cost: float, cost_ewa: float) -> None:
        """Count one step; record it if its position is a multiple of the stride."""
        g = self.seen
        self.seen = g + 1
        if g % self.stride:
            return
        if self._n == self.capacity:
            self._decimate()
            if g % self.stride:
                return
        i = self._n
        self._epoch[i], self._step[i], self._cost[i], self._ewa[i] = epoch, step, cost, cost_ewa
        self._n = i + 1

    def _decimate(self) -> None:
        """Keep rows 0, 2, 4, ... (positions multiple of 2 * stride); double the stride."""
        n = self._n
        for column in self._columns.values():
            column[:(n + 1) // 2] = column[:n:2]  # NumPy copies overlapping memory safely
        self._n, self.stride = (n + 1) // 2, self.stride * 2

    def extend(self, other: StepLog, *, epoch_offset: int = 0) -> None:
        """Append the steps of ``other`` (epochs shifted by ``epoch_offset``) as if they came
        after this log's ``seen`` steps; exact when ``other.stride`` is 1, else this log is
        first thinned to at least its stride and each due step takes the row ``other``
        recorded last at or before it (< other.stride steps earlier)."""
        while self.stride < other.stride:  # no finer than other: no repeated rows
            self._decimate()
        base, total = self.seen, self.seen + other.seen
        g = base
        while True:
            g = -(-g // self.stride) * self.stride  # the next position due
            if g >= total:
                break
            if self._n == self.capacity:
                self._decimate()
                continue
            j, i = (g - base) // other.stride, self._n
            for key, column in self._columns.items():
                column[i] = other._columns[key][j]
            self._epoch[i] += epoch_offset
            self._n, g = i + 1, g + 1
        self.seen = total

    def truncate(self, epoch: int) -> None:
        """Drop the rows from the first of an epoch after ``epoch`` on. ``seen`` becomes the
        first step of that row's epoch (its position minus its step - 1): exact unless whole
        epochs between left no row, and always consistent with the rows kept."""
        later = np.flatnonzero(self._epoch[:self._n] > epoch)
        if later.size == 0:
            return
        k = int(later[0])
        start = k * self.stride - (int(self._step[k]) - 1)
        self.seen = 0 if k == 0 else min(k * self.stride, max((k - 1) * self.stride + 1, start))
        self._n = k

    @property
    def index(self) -> np.ndarray:
        """0-based position in the run of each row's step, shape (len(self),)."""
        return np.arange(self._n, dtype=np.int64) * self.stride

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, key: str) -> np.ndarray:
        view = self._columns[key][:self._n]
        view.flags.writeable = False
        return view

    def get(self, key: str, default=None):
        """The column ``key`` (as ``log[key]``), or ``default`` for another name."""
        return self[key] if key in self._columns else default

    def items(self):
        """(name, column) of the four columns, in the order of COLUMNS."""
        return [(key, self[key]) for key in self._columns]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, StepLog):
            return NotImplemented
        return ((self.capacity, self.stride, self.seen, self._n)
                == (other.capacity, other.stride, other.seen, other._n)
                and all(np.array_equal(self[k], other[k], equal_nan=k.startswith("cost"))
                        for k in COLUMNS))

    __hash__ = None  # mutable

    def __repr__(self) -> str:
        return (f"StepLog({self._n} rows of {self.seen} steps, stride {self.stride}, "
                f"capacity {self.capacity})")

    def __getstate__(self) -> dict:
        """For pickle and copy: the rows in use, not the whole preallocated arrays."""
        return self.to_dict()

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(StepLog.from_dict(state).__dict__)

    def to_dict(self) -> dict:
        """JSON-ready: the columns as lists of len(self) plus stride, seen and capacity."""
        return {**{k: self[k].tolist() for k in COLUMNS}, "stride": self.stride,
                "seen": self.seen, "capacity": self.capacity}

    @classmethod
    def from_dict(cls, d, *, what: str = "history.steps") -> StepLog:
        """The log of :meth:`to_dict` output, or of the four lists of older files (every step,
        any length: decimated here as recording them would have); an empty one for None or
        {}. CheckpointError naming ``what`` and the first part that is not as written."""
        if d is None or d == {}:
            return cls()
        columns, (stride, seen, capacity) = _checked(d, what)
        log = cls(capacity)
        step = 1
        while -(-seen // (stride * step)) > log.capacity:  # only an older file's long lists
            step *= 2
        log._n, log.stride, log.seen = -(-seen // (stride * step)), stride * step, seen
        for key, values in columns.items():
            log._columns[key][:log._n] = values[::step][:log._n]
        return log


def _checked(d, what: str) -> tuple[dict[str, np.ndarray], tuple[int, int, int]]:
    """(columns as arrays, (stride, seen, capacity)) of a stored log; CheckpointError else."""
    def bad(where: str, expected: str, value, text: str | None = None) -> CheckpointError:
        text = repr(value) if text is None else text
        return CheckpointError(f"{what}{where} must be {expected}, got "
                               f"{text if len(text) <= 60 else text[:57] + '...'}")

    if not isinstance(d, dict):
        raise bad("", "a table of lists", d)
    new = any(k in d for k in _FIELDS)
    keys = set(COLUMNS) | (set(_FIELDS) if new else set())
    if set(d) != keys:
        missing, extra = sorted(keys - set(d)), sorted(set(d) - keys)
        got = " and ".join(([f"no {', '.join(map(repr, missing))}"] if missing else [])
                           + ([f"also {', '.join(map(repr, extra))}"] if extra else []))
        raise bad("", "a table with keys " + ", ".join(map(repr, sorted(COLUMNS)))
                  + " (and 'capacity', 'seen', 'stride', all or none)", d, f"one with {got}")
    for key in COLUMNS:
        if not isinstance(d[key], list):
            raise bad(f".{key}", "a list", d[key])
    if len({len(d[k]) for k in COLUMNS}) > 1:
        raise bad("", "lists of one length", {k: len(d[k]) for k in COLUMNS})
    columns = {key: _column(d[key], key, bad) for key in COLUMNS}
    n = len(d["epoch"])
    if not new:
        return columns, (1, n, STEP_LOG_CAPACITY)
    stride, seen, capacity = (d[k] for k in _FIELDS)
    if not (_is_int(stride) and stride >= 1 and stride & (stride - 1) == 0):
        raise bad(".stride", "a power of two (1, 2, 4, ...)", stride)
    if not (_is_int(capacity) and 2 <= capacity <= MAX_STEP_LOG_CAPACITY):
        raise bad(".capacity", f"an integer in [2, {MAX_STEP_LOG_CAPACITY}]", capacity)
    if n > capacity:
        raise bad("", f"at most capacity={capacity} rows", n)
    if not (_is_int(seen) and seen >= 0 and -(-seen // stride) == n):
        low = (n - 1) * stride + 1 if n else 0
        raise bad(".seen", f"the steps counted for {n} rows at stride {stride} (from {low} "
                  f"to {n * stride})", seen)
    return columns, (stride, seen, capacity)


def _column(values: list, key: str, bad) -> np.ndarray:
    """``values`` as an array of COLUMNS[key]; ``bad`` for a value of another kind."""
    kind, plural = _KINDS[key]
    fast = {int} if kind is numbers.Integral else {int, float}  # JSON's own types: one pass
    if not all(type(v) in fast for v in values):
        for v in values:
            if not (isinstance(v, kind) and not isinstance(v, bool)):
                raise bad(f".{key}", f"a list of {plural}", v)
    try:
        return np.array(values, dtype=COLUMNS[key])
    except OverflowError:
        raise bad(f".{key}", f"a list of {plural} that fit in 64 bits",
                  max(values, key=abs)) from None


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)
