"""REST endpoints of the panel under ``/llmbench/api/``, behind the server's own
authentication: every call reads the store as the user the server runs as.

Database calls run in a worker thread, so one slow query never stalls the server's loop
(other users' notebooks on it). Errors come back as JSON ``{"error": ...}`` with a 4xx
status for a bad request, 404 and 409 for cancels, and 503 with a hint when the store
cannot be reached; never a traceback.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from typing import Any

import tornado.web
from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join

from llmbench_jupyter.core.errors import InputError, LLMBenchError, scrub
from llmbench_jupyter.server import data

PREFIX = "llmbench/api"
_HINT = ("check $LLMBENCH_DB_URL (or the local SQLite store's folder) and that the database "
         "is up; on a hub, ask its admin")  # fmt: skip


class _StoreHolder:
    """One store per server process, opened on first use (opening may migrate it)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._store: Any = None

    def get(self) -> Any:
        with self._lock:
            if self._store is None:
                from llmbench_jupyter.store import open_store

                self._store = open_store()
            return self._store


class _Base(APIHandler):
    holder: _StoreHolder

    def initialize(self, holder: _StoreHolder) -> None:
        self.holder = holder

    async def _answer(self, fn: Callable[[Any], Any]) -> None:
        """``fn(store)`` in a worker thread: its body (200), or its ``(status, body)``."""
        try:
            store = await asyncio.to_thread(self.holder.get)
        except LLMBenchError as exc:
            self._fail(503, scrub(str(exc)), hint=_HINT)
            return
        try:
            body = await asyncio.to_thread(fn, store)
        except InputError as exc:
            self._fail(400, str(exc))
            return
        except LLMBenchError as exc:  # the store answered with an error: unreachable or worse
            self._fail(503, scrub(str(exc)), hint=_HINT)
            return
        status, body = body if isinstance(body, tuple) else (200, body)
        self.set_status(status)
        self.finish(json.dumps(body))

    def _fail(self, status: int, error: str, hint: str | None = None) -> None:
        self.set_status(status)
        body: dict[str, Any] = {"ok": False, "error": error}
        if hint:
            body["hint"] = hint
        self.finish(json.dumps(body))

    def _limit(self, default: int = 50) -> int | None:
        try:
            return data.limit_of(self.get_argument("limit", None), default)
        except InputError as exc:
            self._fail(400, str(exc))
            return None


class StatusHandler(_Base):
    @tornado.web.authenticated
    async def get(self) -> None:
        await self._answer(data.status)


class JobsHandler(_Base):
    @tornado.web.authenticated
    async def get(self) -> None:
        if (limit := self._limit()) is not None:
            await self._answer(lambda store: data.jobs(store, limit))


class CancelHandler(_Base):
    @tornado.web.authenticated
    async def post(self, job_id: str) -> None:
        await self._answer(lambda store: data.cancel(store, job_id))


class RunsHandler(_Base):
    @tornado.web.authenticated
    async def get(self) -> None:
        if (limit := self._limit()) is not None:
            await self._answer(lambda store: data.runs(store, limit))


class LeaderboardHandler(_Base):
    @tornado.web.authenticated
    async def get(self) -> None:
        by = self.get_argument("by", None)
        if (limit := self._limit(20)) is not None:
            await self._answer(lambda store: data.leaderboard(store, by, limit))


class ExperimentsHandler(_Base):
    @tornado.web.authenticated
    async def get(self) -> None:
        await self._answer(data.experiments)


class SchedulesHandler(_Base):
    @tornado.web.authenticated
    async def get(self) -> None:
        await self._answer(data.schedules)


def setup_handlers(web_app: Any) -> None:
    """Register the endpoints on the server's tornado application."""
    base = url_path_join(web_app.settings["base_url"], PREFIX)
    holder = {"holder": _StoreHolder()}
    routes: list[tuple[str, type[_Base]]] = [
        ("status", StatusHandler), ("jobs", JobsHandler),
        (r"jobs/([0-9a-f]{8,64})/cancel", CancelHandler), ("runs", RunsHandler),
        ("leaderboard", LeaderboardHandler), ("experiments", ExperimentsHandler),
        ("schedules", SchedulesHandler),
    ]  # fmt: skip
    web_app.add_handlers(".*$", [(url_path_join(base, path), handler, holder)
                                 for path, handler in routes])  # fmt: skip
