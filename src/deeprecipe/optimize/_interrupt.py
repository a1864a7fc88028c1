"""Ctrl-C as a flag the training loop checks between steps, so a checkpoint is consistent."""

from __future__ import annotations

import signal
import threading

__all__ = ["InterruptFlag"]


class InterruptFlag:
    """Turns SIGINT into a flag the loop checks between steps, so a checkpoint is consistent."""

    def __init__(self) -> None:
        self.raised = False
        self._old = None

    def __enter__(self) -> InterruptFlag:
        if threading.current_thread() is threading.main_thread():
            self._old = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        if self.raised:  # a second Ctrl-C stops at once
            raise KeyboardInterrupt
        self.raised = True

    def __exit__(self, *exc) -> None:
        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)
