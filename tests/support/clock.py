"""A clock that moves only when someone sleeps: waits are counted, never spent."""

from __future__ import annotations

import threading
import time


class FakeClock:
    """``time()`` in epoch seconds (from the real time at creation); ``sleep(s)`` advances it by ``s``."""

    def __init__(self, start: float | None = None) -> None:
        self._now = time.time() if start is None else start
        self._lock = threading.Lock()
        self.slept: list[float] = []

    def time(self) -> float:
        with self._lock:
            return self._now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.slept.append(seconds)
            self._now += max(0.0, seconds)

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds

    @property
    def total_slept(self) -> float:
        return sum(self.slept)
