"""Import tools from an MCP server (stdio command or streamable-HTTP URL) into suites.

The official ``mcp`` SDK does the talking; it is imported inside the functions because
it takes over a second to import. What this module adds is what the predecessor's
import lacked: the SDK's failures arrive as nested exception groups, bare "Connection
closed" or "Server returned an error response" messages and logged tracebacks, and a
source may carry credentials (URL userinfo, query tokens, headers, command flags).
Every failure here becomes one :class:`MCPImportError` that names the source with its
secrets masked, says what went wrong and what was expected; header values and
environment values never appear.

Tools come out in OpenAI function format and pass :func:`.suites.check_tools`. Only
``name``, ``description`` and ``parameters`` go into the function dict: the runner sends
tools verbatim and some OpenAI-compatible endpoints reject unknown keys, so MCP
``title``/``annotations`` are dropped. Names with characters OpenAI does not allow
(MCP allows ``.`` and ``/``) have them replaced by ``_``, as the BFCL importer does.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import os
import re
import shlex
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from llmbench_jupyter.core.errors import REDACTED, LLMBenchError, scrub
from llmbench_jupyter.evals.model import Case, Suite
from llmbench_jupyter.evals.suites import SuiteError, check_tools, load_suite

__all__ = [
    "MCPImportError",
    "describe_mcp_source",
    "import_mcp_tools",
    "list_mcp_tools",
    "suite_from_mcp",
]

Source = str | Sequence[str]

_EMPTY_PARAMS: dict[str, Any] = {"type": "object", "properties": {}}
_BAD_NAME_CHARS = re.compile(r"[^A-Za-z0-9_-]")
_URL_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
# Command-line flags whose value is a secret: --api-key X, --token=X, --password X ...
_SECRET_FLAG = re.compile(r"^--?[\w-]*(?:token|key|secret|password|passwd|auth)[\w-]*$", re.I)
_MAX_PAGES = 1000
_STDERR_TAIL = 1500


class MCPImportError(LLMBenchError):
    """Tools could not be imported from an MCP server; the message names the source."""


@dataclass(frozen=True)
class _Source:
    """A parsed source: what to connect to, how to name it safely, what to scrub."""

    url: str | None
    argv: tuple[str, ...]
    label: str
    secrets: tuple[str, ...] = field(default=())

    @property
    def is_http(self) -> bool:
        return self.url is not None


# --- sources and masking -----------------------------------------------------------------
def _mask_url(url: str) -> tuple[str, list[str]]:
    """The URL with userinfo and every query value masked, and the values masked."""
    parts = urlsplit(url)
    secrets: list[str] = []
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hostport = netloc.rpartition("@")
        secrets += [s for s in userinfo.split(":", 1) if s]
        netloc = f"{REDACTED}@{hostport}"
    query = ""
    if parts.query:
        pairs = parse_qsl(parts.query, keep_blank_values=True)
        secrets += [v for _, v in pairs if v]
        query = "&".join(f"{k}={REDACTED}" if v else k for k, v in pairs)
    return urlunsplit((parts.scheme, netloc, parts.path, query, "")), secrets


def _mask_argv(argv: Sequence[str]) -> tuple[str, list[str]]:
    """The command line with the values of secret-looking flags masked."""
    shown: list[str] = []
    secrets: list[str] = []
    hide_next = False
    for arg in argv:
        if hide_next:
            secrets.append(arg)
            shown.append(REDACTED)
            hide_next = False
            continue
        flag, eq, value = arg.partition("=")
        if _SECRET_FLAG.match(flag):
            if eq:
                secrets.append(value)
                shown.append(f"{flag}={REDACTED}")
                continue
            hide_next = True
        shown.append(arg)
    return shlex.join(shown), secrets


def _parse_source(
    source: Any,
    headers: Mapping[str, str] | None,
    env: Mapping[str, str] | None,
    cwd: str | os.PathLike[str] | None,
) -> _Source:
    """Decide HTTP vs stdio, check the options fit, and build the safe label."""
    header_values = [str(v) for v in (headers or {}).values()]
    env_values = [str(v) for v in (env or {}).values()]
    if isinstance(source, str):
        text = source.strip()
        scheme = _URL_SCHEME.match(text)
        if scheme:
            if scheme.group(1).lower() not in ("http", "https"):
                label, _ = _mask_url(text)
                raise MCPImportError(
                    f"MCP source {scrub(label)}: unsupported URL scheme "
                    f"{scheme.group(1)!r}; expected an http(s) URL of a streamable-HTTP "
                    "endpoint (e.g. http://127.0.0.1:8000/mcp) or a command to run over stdio"
                )
            label, url_secrets = _mask_url(text)
            if not urlsplit(text).hostname:
                raise MCPImportError(f"MCP source {scrub(label)}: the URL has no host")
            if env or cwd is not None:
                raise MCPImportError(
                    f"MCP server {scrub(label)}: 'env' and 'cwd' apply to stdio commands only, "
                    "not to URLs"
                )
            return _Source(
                url=text, argv=(), label=scrub(label), secrets=(*url_secrets, *header_values)
            )
        try:
            argv = shlex.split(text)
        except ValueError as exc:
            raise MCPImportError(
                f"MCP source {scrub(text, env_values)!r}: cannot split the command ({exc}); "
                "expected a shell-style command line or an argv list"
            ) from None
    elif isinstance(source, Sequence) and not isinstance(source, bytes | bytearray):
        argv = list(source)
        bad = [a for a in argv if not isinstance(a, str)]
        if bad:
            raise MCPImportError(
                f"MCP source {source!r}: argv items must be strings, found {bad[0]!r}"
            )
    else:
        raise MCPImportError(
            f"MCP source: found {type(source).__name__}, expected an http(s) URL, a command "
            "string or an argv list"
        )
    if not argv or not argv[0]:
        raise MCPImportError(
            "MCP source: the command is empty; expected an http(s) URL or a command "
            "to run over stdio, e.g. 'python server.py'"
        )
    label, argv_secrets = _mask_argv(argv)
    label = scrub(label, env_values)
    if headers:
        raise MCPImportError(
            f"MCP server command {label}: 'headers' apply to http(s) URLs only, not to "
            "stdio commands (pass secrets to a command through 'env')"
        )
    if cwd is not None and not Path(cwd).is_dir():
        raise MCPImportError(
            f"MCP server command {label}: working directory {os.fspath(cwd)!r} does not exist"
        )
    return _Source(url=None, argv=tuple(argv), label=label, secrets=(*argv_secrets, *env_values))


def describe_mcp_source(source: Source) -> str:
    """How errors and suite descriptions name ``source``: secrets in it are masked."""
    return _parse_source(source, None, None, None).label


# --- conversion --------------------------------------------------------------------------
def _to_openai_tools(raw: Sequence[Any], src: _Source) -> list[dict[str, Any]]:
    """MCP ``Tool`` objects to OpenAI function tools, validated with ``check_tools``."""
    origin = _origin(src)
    tools: list[dict[str, Any]] = []
    first_seen: dict[str, int] = {}
    renamed_from: dict[str, str] = {}
    for i, tool in enumerate(raw):
        name = tool.name
        if name in first_seen:
            raise MCPImportError(
                f"{origin}: lists tool {name!r} twice (tools[{first_seen[name]}] and "
                f"tools[{i}]); expected unique tool names"
            )
        first_seen[name] = i
        safe = _BAD_NAME_CHARS.sub("_", name)[:64]
        if not safe:
            raise MCPImportError(f"{origin}: tools[{i}] has an empty name; expected a name")
        if safe in renamed_from:
            raise MCPImportError(
                f"{origin}: tools {renamed_from[safe]!r} and {name!r} both become {safe!r} "
                "once made a valid function name (letters, digits, '_', '-', at most 64); "
                "expected names that stay distinct"
            )
        renamed_from[safe] = name
        tools.append(
            {
                "type": "function",
                "function": {
                    "name": safe,
                    "description": tool.description or "",
                    "parameters": _parameters(tool.input_schema, origin, name),
                },
            }
        )
    try:
        check_tools(tools, origin, "tools")
    except SuiteError as exc:
        text = str(exc)
        at = re.search(r"tools\[(\d+)\]", text)
        if at and int(at.group(1)) < len(raw):
            text += f" (tool {raw[int(at.group(1))].name!r})"
        raise MCPImportError(text) from None
    return tools


def _parameters(schema: Any, origin: str, name: str) -> dict[str, Any]:
    """The tool's inputSchema as function parameters; it must describe an object."""
    if schema is None or schema == {}:
        return copy.deepcopy(_EMPTY_PARAMS)
    if not isinstance(schema, Mapping):
        raise MCPImportError(
            f"{origin}: tool {name!r}: inputSchema is {type(schema).__name__}, expected a "
            "JSON Schema object with type 'object'"
        )
    params = copy.deepcopy(dict(schema))
    kind = params.setdefault("type", "object")
    params.setdefault("properties", {})
    if kind != "object":
        raise MCPImportError(
            f"{origin}: tool {name!r}: inputSchema has type {kind!r}, expected type 'object' "
            "(function parameters are a JSON object of named arguments)"
        )
    return params


# --- talking to the server ---------------------------------------------------------------
def _origin(src: _Source) -> str:
    return f"MCP server {src.label}" if src.is_http else f"MCP server command {src.label}"


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


# --- public API --------------------------------------------------------------------------
async def list_mcp_tools(
    source: Source,
    *,
    headers: Mapping[str, str] | None = None,
    timeout_s: float = 30.0,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
) -> list[dict[str, Any]]:
    """Tools of an MCP server in OpenAI function format.

    ``source`` is an http(s) URL (streamable HTTP; ``headers`` are sent with every
    request) or a command, as a shell-style string or an argv list, started and spoken
    to over stdio (``env`` is added to a minimal inherited environment, as the SDK
    does; ``cwd`` is its working directory). ``timeout_s`` bounds the whole exchange.
    Raises :class:`MCPImportError`.
    """
    src = _parse_source(source, headers, env, cwd)
    tools, _ = await _fetch(src, headers, env, cwd, timeout_s)
    return tools


def _run_sync(
    source: Source,
    headers: Mapping[str, str] | None,
    timeout_s: float,
    env: Mapping[str, str] | None,
    cwd: str | os.PathLike[str] | None,
) -> tuple[list[dict[str, Any]], str | None, _Source]:
    src = _parse_source(source, headers, env, cwd)

    def run() -> tuple[list[dict[str, Any]], str | None]:
        return asyncio.run(_fetch(src, headers, env, cwd, timeout_s))

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        tools, server = run()
    else:  # e.g. a Jupyter kernel: its loop is busy running us, so use a fresh one
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="mcp-import") as pool:
            tools, server = pool.submit(run).result()
    return tools, server, src


def import_mcp_tools(
    source: Source,
    *,
    headers: Mapping[str, str] | None = None,
    timeout_s: float = 30.0,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
) -> list[dict[str, Any]]:
    """Blocking :func:`list_mcp_tools`; safe to call where an event loop is running.

    Inside a running loop (a notebook cell) the import runs on a fresh loop in a worker
    thread, which blocks the caller until it finishes or ``timeout_s`` passes.
    """
    return _run_sync(source, headers, timeout_s, env, cwd)[0]


def suite_from_mcp(
    source: Source,
    *,
    name: str | None = None,
    cases: Sequence[Case | Mapping[str, Any]] | None = None,
    headers: Mapping[str, str] | None = None,
    timeout_s: float = 30.0,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
) -> Suite:
    """A suite whose tools come from an MCP server; ``cases`` default to none.

    The name defaults to the server's own name (else ``mcp``). Cases are validated
    against the imported tools like any suite file (:class:`.suites.SuiteError`).
    """
    tools, server, src = _run_sync(source, headers, timeout_s, env, cwd)
    what = f"MCP server {server!r}" if server else "an MCP server"
    data = {
        "name": name or server or "mcp",
        "description": f"Tools imported from {what} ({src.label}).",
        "tools": tools,
        "cases": [c.to_dict() if isinstance(c, Case) else dict(c) for c in cases or []],
    }
    return load_suite(data)
