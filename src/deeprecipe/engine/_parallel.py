"""Element-wise kernels over many arrays, split in two: a helper thread takes one half.

BLAS runs the matmuls of a step on every core, but the optimizer's update after them (Adam reads
p, g, v and s and writes p, v and s for every parameter) runs on the calling thread alone: ~0.2
ms per step for 670k float32 parameters, a quarter of the matmuls at batch 32 on 2 cores. The
kernels are element-wise, so cutting the arrays anywhere gives every element exactly the result
it gets in one piece: splitting changes no bit. The split is off unless DEEPRECIPE_NUM_THREADS
asks for it (``split_threads``): it has not been shown to pay on a quiet machine.

The helper is one daemon thread per process, started on first use, woken through a lock (no spin:
BLAS's own threads need the cores in between). The kernels release the GIL (``nogil``), so both
halves really run at once. A second thread that wants the helper while it is busy runs all its
work itself; a forked child starts without the helper and makes its own.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence

import numpy as np

__all__ = ["split_work", "run_split", "split_threads"]

#: the arrays of one kernel call, kernel(*arrays, *scalars)
Work = tuple[np.ndarray, ...]

#: Below this many elements in all, one thread does everything: the hand-off (~10-20 us) would
#: cost more than half of the work saves.
MIN_SPLIT = 1 << 16


def split_threads() -> int:
    """2 if DEEPRECIPE_NUM_THREADS asks for 2 or more and this process may use 2 cores; else 1.

    Off unless asked for: on an idle 2-core machine a two-thread Adam made the epoch slower
    (1.30 s -> 1.45-1.55 s at batch 128, ``benchmarks/RESULTS.md``, session 2), because
    OpenBLAS's worker thread spins on the other core between GEMMs. Measure before turning it on.
    """
    value = os.environ.get("DEEPRECIPE_NUM_THREADS", "").strip()
    if not (value.isdigit() and int(value) >= 2):
        return 1
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return 2 if cores >= 2 else 1


def split_work(arrays: Sequence[Work], parts: int) -> list[list[Work]]:
    """``parts`` lists of array tuples that together cover every tuple of equal-length 1-D
    arrays in ``arrays``, with about the same number of elements in each list. A tuple is cut
    (into views, at a multiple of 64 bytes) where a list is full; one list below MIN_SPLIT."""
    total = sum(len(a[0]) for a in arrays)
    if parts < 2 or total < MIN_SPLIT:
        return [list(arrays)]
    out: list[list[Work]] = [[] for _ in range(parts)]
    quota, part, filled = -(-total // parts), 0, 0
    for a in arrays:
        start, n = 0, len(a[0])
        align = max(1, 64 // a[0].itemsize)
        while start < n:
            room = quota - filled
            stop = n if (part == parts - 1 or n - start <= room) else \
                min(n, start + max(align, room // align * align))
            out[part].append(tuple(x[start:stop] for x in a))
            filled += stop - start
            start = stop
            if filled >= quota and part < parts - 1:
                part, filled = part + 1, 0
    return [w for w in out if w]


class _Helper:
    """One daemon thread that runs a list of calls when woken."""

    def __init__(self) -> None:
        self.lock = threading.Lock()  # held by the one caller using the helper
        # two locks used as signals (released by the other thread; unlike Events they allocate
        # nothing per hand-off): _go is released to start the helper, _done when it is finished
        self._go, self._done = threading.Lock(), threading.Lock()
        self._go.acquire()
        self._done.acquire()
        self._kernel: Callable | None = None
        self._scalars: Sequence = ()
        self._work: list[Work] = []
        self._error: BaseException | None = None
        threading.Thread(target=self._loop, name="deeprecipe-kernels", daemon=True).start()

    def _loop(self) -> None:
        while True:
            self._go.acquire()
            try:
                for arrays in self._work:
                    self._kernel(*arrays, *self._scalars)
            except BaseException as exc:  # handed to the caller, which raises it
                self._error = exc
            arrays = None  # keep nothing of this step alive until the next one
            self._done.release()

    def run(self, kernel: Callable, mine: list[Work], theirs: list[Work], scalars: Sequence
            ) -> None:
        self._kernel, self._scalars, self._work, self._error = kernel, scalars, theirs, None
        self._go.release()
        try:
            for arrays in mine:
                kernel(*arrays, *scalars)
        finally:
            self._done.acquire()
            self._kernel, self._scalars, self._work = None, (), []
        if self._error is not None:
            error, self._error = self._error, None
            raise error


_helper: _Helper | None = None
_starting = threading.Lock()


def _forget_helper() -> None:
    global _helper
    _helper = None


os.register_at_fork(after_in_child=_forget_helper)  # the thread does not survive a fork


def run_split(kernel: Callable, parts: list[list[Work]], scalars: Sequence) -> None:
    """kernel(*arrays, *scalars) for every array tuple of ``split_work``'s lists: the first
    list here, the second on the helper thread (all here if there is one list, or if another
    thread is using the helper)."""
    global _helper
    helper = _helper
    if len(parts) > 1 and helper is None:
        with _starting:
            helper = _helper = _helper or _Helper()
    if len(parts) == 1 or not helper.lock.acquire(blocking=False):
        for part in parts:
            for arrays in part:
                kernel(*arrays, *scalars)
        return
    try:
        helper.run(kernel, parts[0], parts[1], scalars)
    finally:
        helper.lock.release()
