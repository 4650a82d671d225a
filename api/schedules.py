"""Work the api does on a clock, beside serving requests: each job a thread that runs its
tick every interval until the api shuts down (api/app.py starts and stops them).

A tick must not raise: it logs what failed and is tried again at the next interval."""

from __future__ import annotations

import threading
from collections.abc import Callable


class Schedule:
    def __init__(self, name: str, interval_s: float, tick: Callable[[], object]) -> None:
        self._interval_s = interval_s
        self._tick = tick
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop after the tick under way, if any."""
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            self._tick()
