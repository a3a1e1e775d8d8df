"""Talk to an MCP server through the official ``mcp`` SDK and explain its failures.

The SDK is imported inside the functions because it takes over a second to import.
What this module adds is what the predecessor's import lacked: the SDK's failures
arrive as nested exception groups, bare "Connection closed" or "Server returned an
error response" messages and logged tracebacks; each becomes one clear
:class:`MCPImportError` that says what went wrong and what was expected.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from llmbench_jupyter.core.errors import scrub
from llmbench_jupyter.evals.importers._mcp_convert import _to_openai_tools
from llmbench_jupyter.evals.importers._mcp_source import MCPImportError, _origin, _Source

_MAX_PAGES = 1000
_STDERR_TAIL = 1500


def _quiet_sdk_logs() -> None:
    """Give the SDK's logger a NullHandler, as libraries should have.

    Without any handler configured, Python prints the SDK's logged tracebacks (e.g.
    "Failed to parse JSONRPC message") to stderr; we report those failures ourselves.
    Applications that configure logging still receive the records.
    """
    sdk = logging.getLogger("mcp")
    if not any(isinstance(h, logging.NullHandler) for h in sdk.handlers):
        sdk.addHandler(logging.NullHandler())


@dataclass
class _HttpTrace:
    """Status and content type of the last HTTP responses (the SDK drops them)."""

    responses: list[tuple[int, str]] = field(default_factory=list)

    async def hook(self, response: Any) -> None:
        self.responses.append((response.status_code, response.headers.get("content-type", "")))

    def last_error(self) -> tuple[int, str] | None:
        errors = [r for r in self.responses if r[0] >= 400]
        return errors[-1] if errors else None


async def _fetch(
    src: _Source,
    headers: Mapping[str, str] | None,
    env: Mapping[str, str] | None,
    cwd: str | os.PathLike[str] | None,
    timeout_s: float,
) -> tuple[list[dict[str, Any]], str | None]:
    """(tools, server name) from the server; every failure becomes MCPImportError."""
    if not (isinstance(timeout_s, int | float) and not isinstance(timeout_s, bool)) or not (
        timeout_s > 0
    ):
        raise MCPImportError(f"{_origin(src)}: timeout_s={timeout_s!r}; expected seconds > 0")
    try:
        import anyio
        from mcp import Client
    except ImportError as exc:  # a declared dependency; only a broken install lands here
        raise MCPImportError(
            f"{_origin(src)}: the MCP SDK cannot be imported ({exc}); install the 'mcp' package"
        ) from None
    _quiet_sdk_logs()
    trace = _HttpTrace()
    with tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace") as errlog:
        try:
            with anyio.fail_after(timeout_s):
                if src.url is not None:
                    import httpx2
                    from mcp.client.streamable_http import streamable_http_client

                    async with httpx2.AsyncClient(
                        headers=dict(headers or {}),
                        timeout=httpx2.Timeout(timeout_s),
                        event_hooks={"response": [trace.hook]},
                    ) as http:
                        transport = streamable_http_client(src.url, http_client=http)
                        raw, server = await _list_all(Client(transport, cache=None), src)
                else:
                    from mcp.client.stdio import StdioServerParameters, stdio_client

                    params = StdioServerParameters(
                        command=src.argv[0],
                        args=list(src.argv[1:]),
                        env=dict(env) if env else None,
                        cwd=Path(cwd) if cwd is not None else None,
                    )
                    transport = stdio_client(params, errlog=errlog)
                    raw, server = await _list_all(Client(transport, cache=None), src)
        except MCPImportError:
            raise
        except BaseException as exc:
            failure = _explain(exc, src, trace, _tail(errlog), timeout_s)
            if failure is None:
                raise
            raise failure from None
    return _to_openai_tools(raw, src), server


async def _list_all(client: Any, src: _Source) -> tuple[list[Any], str | None]:
    """Every page of ``tools/list`` and the server's name."""
    tools: list[Any] = []
    seen: set[str] = set()
    cursor: str | None = None
    async with client:
        info = client.server_info
        for _ in range(_MAX_PAGES):
            page = await client.list_tools(cursor=cursor, cache_mode="bypass")
            tools += page.tools
            cursor = page.next_cursor
            if cursor is None:
                return tools, (info.name if info is not None else None)
            if cursor in seen:
                break
            seen.add(cursor)
    raise MCPImportError(
        f"{_origin(src)}: the tool listing does not end (a page cursor repeats or more "
        f"than {_MAX_PAGES} pages); expected a final page without nextCursor"
    )


def _tail(errlog: IO[str]) -> str:
    try:
        errlog.seek(0)
        text = errlog.read()
    except (OSError, ValueError):
        return ""
    text = text.strip()
    return ("…" + text[-_STDERR_TAIL:]) if len(text) > _STDERR_TAIL else text


def _leaves(exc: BaseException) -> Iterator[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        for sub in exc.exceptions:
            yield from _leaves(sub)
    else:
        yield exc


def _explain(
    exc: BaseException, src: _Source, trace: _HttpTrace, stderr: str, timeout_s: float
) -> MCPImportError | None:
    """One clear MCPImportError for an SDK failure; None for cancellations/interrupts."""
    leaves = list(_leaves(exc))
    if any(not isinstance(e, Exception) for e in leaves):
        return None  # KeyboardInterrupt, task cancellation...: not ours to swallow
    from mcp import MCPError
    from mcp.types import CONNECTION_CLOSED
    from pydantic import ValidationError

    origin = _origin(src)
    expected_http = "expected a streamable-HTTP MCP endpoint (usually ending in /mcp)"

    def pick(*types: type[BaseException]) -> BaseException | None:
        return next((e for e in leaves if isinstance(e, types)), None)

    def done(problem: str) -> MCPImportError:
        text = f"{origin}: {problem}"
        if src.url is not None:
            text = text.replace(src.url, src.label)
        elif stderr:
            text += f"\n--- server stderr (last lines) ---\n{stderr}"
        return MCPImportError(scrub(text, src.secrets))

    try:
        import httpx2

        http_timeout: tuple[type[BaseException], ...] = (httpx2.TimeoutException,)
        http_errors: tuple[type[BaseException], ...] = (httpx2.TransportError,)
    except ImportError:  # pragma: no cover - httpx2 comes with mcp
        http_timeout = http_errors = ()
    if pick(TimeoutError, *http_timeout) is not None:
        step = "connect, complete the MCP handshake and list its tools"
        return done(f"timed out after {timeout_s:g} s waiting to {step}; expected an answer")
    if (err := pick(ValidationError)) is not None:
        return done(_invalid_reply(err))
    if src.url is None:
        if (err := pick(FileNotFoundError)) is not None:
            return done(
                f"cannot start {src.argv[0]!r}: command not found; expected an executable "
                "on PATH or a path to one"
            )
        if (err := pick(PermissionError)) is not None:
            return done(f"cannot start {src.argv[0]!r}: permission denied (not executable?)")
        if (err := pick(MCPError)) is not None:
            if getattr(err, "code", None) != CONNECTION_CLOSED:
                return done(f"the server answered with an error: {err}")
            return done(
                "the server closed the connection before listing its tools: it exited or "
                "wrote something other than JSON-RPC to stdout; expected an MCP server "
                "speaking over stdin/stdout"
            )
        if (err := pick(OSError)) is not None:
            return done(f"cannot start the command: {err}")
        err = leaves[0]
        return done(f"failed: {type(err).__name__}: {err}")
    status = trace.last_error()
    if status is not None:
        code, ctype = status
        hint = {
            401: "the server wants credentials: pass them with headers={...}",
            403: "the credentials in the headers are not accepted",
            404: f"nothing is served at this path; {expected_http}",
            405: f"the path does not take POST requests; {expected_http}",
        }.get(code, expected_http)
        kind = f" ({ctype})" if ctype else ""
        return done(f"answered HTTP {code}{kind}: {hint}")
    if (err := pick(MCPError)) is not None:
        message = str(err)
        if message.startswith("Unexpected content type"):
            return done(f"is not an MCP server: {message.lower()}; {expected_http}")
        if getattr(err, "code", None) != CONNECTION_CLOSED:
            return done(f"the server answered with an error: {message}")
        return done(f"the MCP exchange failed: {message}; {expected_http}")
    if (err := pick(*http_errors)) is not None:
        reason = str(err) or type(err).__name__
        if type(err).__name__ == "ConnectError":
            return done(f"cannot connect ({reason}): is the server running at this address?")
        return done(f"HTTP transport error: {reason}; {expected_http}")
    err = leaves[0]
    return done(f"failed: {type(err).__name__}: {err}")


def _invalid_reply(exc: Any) -> str:
    """A pydantic ValidationError of a server reply, as one line with a location."""
    first = exc.errors()[0]
    loc = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in first["loc"]).lstrip(".")
    found = first.get("input")
    if isinstance(found, dict):
        found_text = f" (tool {found['name']!r})" if isinstance(found.get("name"), str) else ""
    else:
        found_text = f" (found {found!r})"
    reply = {"ListToolsResult": "tools/list", "InitializeResult": "initialize"}.get(
        exc.title, exc.title
    )
    what = (
        "each tool's inputSchema to be a JSON Schema with type 'object'"
        if "inputSchema" in first["loc"]
        else "a reply that follows the MCP specification"
    )
    return (
        f"its {reply} reply does not follow the MCP schema: {loc}: {first['msg']}"
        f"{found_text}; expected {what}"
    )
