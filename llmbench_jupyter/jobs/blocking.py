"""Run a coroutine to its end from synchronous code, in a notebook too.

A kernel's own event loop is already running, so ``asyncio.run`` cannot be called on its
thread; the coroutine then runs on a fresh loop in a worker thread while the caller waits.
For short calls only (a model list, one request): a long job belongs on the job manager.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


def wait_for(coro: Coroutine[Any, Any, T]) -> T:
    """``coro``'s result, on this thread's loop if none runs, else on a worker thread's."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()
