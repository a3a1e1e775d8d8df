"""Persist records off the event loop: a writer thread commits each record as it completes.

A synchronous database commit on the loop would delay the stamps of every other stream
in flight, so the loop only enqueues; the thread does one transaction per record, which
keeps completed results if the process dies mid-run.
"""

from __future__ import annotations

import queue
import threading
from typing import Any

from .errors import scrub
from .records import RequestRecord

_STOP = object()


class StoreWriter:
    def __init__(self, store: Any) -> None:
        self.store = store
        self.errors: list[str] = []
        self.written = 0
        self._queue: queue.Queue[Any] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="llmbench-store-writer", daemon=True)
        self._thread.start()

    def put(self, record: RequestRecord) -> None:
        self._queue.put(record)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            try:
                self.store.add_record(item)
                self.written += 1
            except Exception as exc:  # keep going: the records stay in memory on the result
                self.errors.append(scrub(f"{type(exc).__name__}: {exc}")[:500])

    def close(self, timeout: float = 60.0) -> None:
        self._queue.put(_STOP)
        self._thread.join(timeout)
