"""SimServer: the embedded OpenAI/Anthropic-compatible endpoint with scripted timing and faults.

It runs inside the caller's event loop (``await start()``), in its own daemon thread
(``start_in_thread()``, for sync code and notebooks), or as its own process
(``python -m llmbench_jupyter.sim``) so a benchmark's client and server don't share a GIL.
"""

from __future__ import annotations

import asyncio
import hmac
import os
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from time import perf_counter_ns
from typing import Any

from aiohttp import web

from llmbench_jupyter.sim import model_lists
from llmbench_jupyter.sim.capacity import SlotPool
from llmbench_jupyter.sim.engine import (
    ANTHROPIC,
    OPENAI,
    RequestError,
    error_response,
    http_fault,
    parse_job,
    serve_stream,
    serve_whole,
)
from llmbench_jupyter.sim.hostile import serve_hostile
from llmbench_jupyter.sim.rules import Rule, load_rules
from llmbench_jupyter.sim.scenarios import (
    BUILTIN_SCENARIOS,
    SPEC_PREFIX,
    Scenario,
    parse_model_spec,
)
from llmbench_jupyter.sim.sendlog import SendLog
from llmbench_jupyter.sim.text import get_encoder

_MAX_BODY = 256 * 1024 * 1024  # 150K-token context tiers need far more than aiohttp's 1 MiB


class SimServer:
    """A simulated LLM endpoint over real HTTP. See the package docstring for the API."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        seed: int = 0,
        rules: str | os.PathLike[str] | list[Any] | None = None,
        require_key: str | None = None,
        scenarios: dict[str, Scenario | str] | None = None,
        clock: Callable[[], float] = time.time,
    ):
        self.host = host
        #: The wall clock scenarios with ``slow_after`` read (a test sets its own).
        self.clock = clock
        self.port = port
        self.seed = seed
        self.rules: list[Rule] = load_rules(rules)
        self._require_key = require_key
        self._scenarios: dict[str, Scenario] = dict(BUILTIN_SCENARIOS)
        for name, sc in (scenarios or {}).items():
            self._scenarios[name] = parse_model_spec(sc) if isinstance(sc, str) else sc
        self._spec_cache: dict[str, Scenario] = {}
        self._pools: dict[str, SlotPool] = {}  # decode slots per model (Scenario.slots)
        self._requests = 0
        self.stats: dict[str, Counter[str]] = {
            name: Counter() for name in ("endpoint", "model", "status", "event")
        }
        self.active = 0
        self.log = SendLog()
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._thread_loop: asyncio.AbstractEventLoop | None = None

    # --- lifecycle -------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    async def start(self) -> SimServer:
        # Load the tokenizer now, not inside the first request's TTFT.
        await asyncio.get_running_loop().run_in_executor(None, get_encoder)
        app = web.Application(client_max_size=_MAX_BODY)
        app.add_routes(
            [
                web.post("/v1/chat/completions", self._chat),
                web.post("/v1/messages", self._messages),
                web.get("/v1/models", self._models),
                web.get("/v1beta/models", self._gemini_models),
                web.get("/api/tags", self._ollama_tags),
                web.get("/sim/sendlog/{response_id}", self._sendlog),
                web.get("/sim/stats", self._stats),
            ]
        )
        # handler_cancellation: a stalled stream ends as soon as its client disconnects.
        runner = web.AppRunner(
            app, access_log=None, handler_cancellation=True, shutdown_timeout=0.5
        )
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port, reuse_address=True)
        try:
            await site.start()
        except OSError:
            await runner.cleanup()
            raise
        self._runner = runner
        self.port = runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def __aenter__(self) -> SimServer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def start_in_thread(self, timeout: float = 30.0) -> SimServer:
        """Serve from a daemon thread with its own loop; for sync code, CLIs and notebooks."""
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._thread_loop = loop
            try:
                loop.run_until_complete(self.start())
            except BaseException as exc:
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
                loop.run_until_complete(self.stop())
            finally:
                loop.close()

        self._thread = threading.Thread(target=run, name="llmbench-sim", daemon=True)
        self._thread.start()
        if not ready.wait(timeout):
            raise TimeoutError(f"sim server did not start within {timeout} s")
        if failure:
            raise failure[0]
        return self

    def stop_thread(self, timeout: float = 10.0) -> None:
        loop, thread = self._thread_loop, self._thread
        if loop is None or thread is None:
            return
        if loop.is_running():
            asyncio.run_coroutine_threadsafe(self.stop(), loop).result(timeout)
            loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout)
        self._thread = self._thread_loop = None

    # --- models, randomness, bookkeeping ------------------------------------------------
    def model_names(self) -> list[str]:
        return list(self._scenarios)

    def scenario_for(self, model: str) -> Scenario | None:
        """The named scenario, or one parsed from ``sim:...`` (ScenarioError if invalid)."""
        found = self._scenarios.get(model)
        if found is None and model.startswith(SPEC_PREFIX):
            found = self._spec_cache.get(model)
            if found is None:
                found = parse_model_spec(model)
                if len(self._spec_cache) < 1000:
                    self._spec_cache[model] = found
        return found.at(self.clock()) if found is not None else None

    def next_request_number(self) -> int:
        self._requests += 1
        return self._requests

    def rng(self, number: int, purpose: str) -> random.Random:
        """Per-request RNG from seed + request counter: same seed, same sequence, same run."""
        return random.Random(f"{self.seed}:{number}:{purpose}")

    def count(self, key: str, group: str = "event") -> None:
        """Count an event (faults, disconnects...) for ``/sim/stats``."""
        self.stats[group][key] += 1

    def send_log(self, response_id: str) -> dict[str, Any] | None:
        return self.log.get(response_id)

    # --- handlers -----------------------------------------------------------------------
    def _authorized(self, request: web.Request) -> bool:
        if self._require_key is None:
            return True
        auth = request.headers.get("Authorization", "")
        given = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
        given = given or request.headers.get("x-api-key", "")
        return hmac.compare_digest(given.encode(), self._require_key.encode())

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        return await self._complete(request, OPENAI)

    async def _messages(self, request: web.Request) -> web.StreamResponse:
        return await self._complete(request, ANTHROPIC)

    async def _complete(self, request: web.Request, protocol: str) -> web.StreamResponse:
        arrived_ns = perf_counter_ns()
        self.count(protocol, "endpoint")
        self.active += 1
        status = 200
        try:
            if not self._authorized(request):
                raise RequestError(401, "Incorrect or missing API key.", "invalid_api_key")
            job = await parse_job(self, request, protocol, arrived_ns)
            self.count(job.model, "model")
            if job.scenario.hostile is not None:
                self.count(f"hostile_{job.scenario.hostile}")
                return await serve_hostile(
                    request, job.scenario.hostile, job.stream, protocol == ANTHROPIC
                )
            if job.fault is not None and job.fault.is_http:
                self.count(f"fault_{job.fault.kind}")
                raise http_fault(job.fault)
            if job.scenario.slots:
                return await self._serve_in_slot(request, job)
            if job.stream:
                return await serve_stream(self, request, job)
            return await serve_whole(self, request, job)
        except RequestError as exc:
            status = exc.status
            return error_response(protocol, exc)
        except asyncio.CancelledError:
            status = 499  # client went away (nginx's convention)
            raise
        finally:
            self.active -= 1
            self.count(str(status), "status")

    async def _serve_in_slot(self, request: web.Request, job: Any) -> web.StreamResponse:
        """Wait (FIFO) for one of the model's decode slots; serve; free it at the last byte."""
        pool = self._pools.get(job.model)
        if pool is None or pool.slots != job.scenario.slots:
            pool = self._pools[job.model] = SlotPool(job.scenario.slots)
        await pool.acquire()
        job.started_ns = perf_counter_ns()
        try:
            if job.stream:
                return await serve_stream(self, request, job)
            return await serve_whole(self, request, job)
        finally:
            pool.release()

    async def _models(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return error_response(
                OPENAI, RequestError(401, "Incorrect or missing API key.", "invalid_api_key")
            )
        names = list(self._scenarios)
        if "anthropic-version" in request.headers:
            return web.json_response(model_lists.anthropic_list(names, request.query))
        return web.json_response(model_lists.openai_list(names))

    async def _gemini_models(self, request: web.Request) -> web.Response:
        if self._require_key is not None and not hmac.compare_digest(
            request.headers.get("x-goog-api-key", "").encode(), self._require_key.encode()
        ):
            return web.json_response(
                {
                    "error": {
                        "code": 403,
                        "message": "API key not valid.",
                        "status": "PERMISSION_DENIED",
                    }
                },
                status=403,
            )
        return web.json_response(model_lists.gemini_list(list(self._scenarios), request.query))

    async def _ollama_tags(self, request: web.Request) -> web.Response:
        return web.json_response(model_lists.ollama_tags(list(self._scenarios)))

    async def _sendlog(self, request: web.Request) -> web.Response:
        rid = request.match_info["response_id"]
        entry = self.send_log(rid)
        if entry is None:
            return web.json_response(
                {"error": {"message": f"no send log for {rid!r}", "type": "not_found"}}, status=404
            )
        return web.json_response(entry)

    async def _stats(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "requests": sum(self.stats["endpoint"].values()),
                "active": self.active,
                "by_endpoint": self.stats["endpoint"],
                "by_model": self.stats["model"],
                "by_status": self.stats["status"],
                "events": self.stats["event"],
                "seed": self.seed,
                "logged_responses": len(self.log),
                "slots": {
                    model: {"slots": p.slots, "busy": p.slots - p.free, "queued": p.queued}
                    for model, p in self._pools.items()
                },
            }
        )
