"""Persist records off the event loop: a writer thread commits completed requests in small batches.

A database commit on the loop would delay the stamps of every stream in flight, and a
thread that commits once per record competes for the GIL at the worst moment (many
streams finishing together). So the loop only enqueues; the thread commits whatever has
completed every ``FLUSH_S`` seconds in one transaction. A crash loses at most that window;
a batch is all-or-nothing, so nothing is half-written.
"""

from __future__ import annotations

import queue
import threading
import time
from typing import Any

from llmbench_jupyter.core.errors import scrub
from llmbench_jupyter.core.records import RequestRecord

_STOP = object()
FLUSH_S = 0.25


class StoreWriter:
    def __init__(self, store: Any, flush_s: float = FLUSH_S) -> None:
        self.store = store
        self.flush_s = flush_s
        self.errors: list[str] = []
        self.written = 0
        self._queue: queue.Queue[Any] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="llmbench-store-writer", daemon=True)
        self._thread.start()

    def put(self, record: RequestRecord) -> None:
        self._queue.put(record)

    def _run(self) -> None:
        while True:
            item = self._queue.get()  # wait for the first record of the next batch
            batch: list[RequestRecord] = []
            deadline = time.monotonic() + self.flush_s
            stop = False
            while item is not _STOP:
                batch.append(item)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    item = self._queue.get(timeout=remaining)
                except queue.Empty:
                    break
            else:
                stop = True
            if batch:
                self._flush(batch)
            if stop:
                return

    def _flush(self, batch: list[RequestRecord]) -> None:
        try:
            self.store.add_records(batch)
            self.written += len(batch)
            return
        except Exception:  # find the culprit: store the good ones one by one
            pass
        for record in batch:
            try:
                self.store.add_record(record)
                self.written += 1
            except Exception as exc:  # keep going: the records stay in memory on the result
                self.errors.append(scrub(f"{record.request_id}: {type(exc).__name__}: {exc}")[:500])

    def close(self, timeout: float = 60.0) -> None:
        self._queue.put(_STOP)
        self._thread.join(timeout)
