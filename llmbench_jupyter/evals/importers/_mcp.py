"""Import tools from an MCP server (stdio command or streamable-HTTP URL) into suites.

The public side of the MCP import: the awaitable listing, its blocking twin for code
that cannot await (a notebook cell, the CLI), and a suite built from the listing.
"""

from __future__ import annotations

import asyncio
import functools
import os
from collections.abc import Callable, Coroutine, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ParamSpec, TypeVar

from llmbench_jupyter.evals.importers._mcp_client import _fetch
from llmbench_jupyter.evals.importers._mcp_source import Source, _parse_source
from llmbench_jupyter.evals.model import Case, Suite
from llmbench_jupyter.evals.suites import load_suite

_P = ParamSpec("_P")
_T = TypeVar("_T")


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


def _run_blocking(make: Callable[[], Coroutine[Any, Any, _T]]) -> _T:
    """Run the coroutine ``make()`` returns to its end, from code that cannot await."""

    def run() -> _T:
        return asyncio.run(make())

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return run()
    # e.g. a Jupyter kernel: its loop is busy running us, so use a fresh one
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="mcp-import") as pool:
        return pool.submit(run).result()


def _blocking(
    async_fn: Callable[_P, Coroutine[Any, Any, _T]], name: str, doc: str
) -> Callable[_P, _T]:
    """The blocking twin of ``async_fn``: same parameters (and signature), same result."""

    @functools.wraps(async_fn)
    def blocking(*args: _P.args, **kwargs: _P.kwargs) -> _T:
        return _run_blocking(lambda: async_fn(*args, **kwargs))

    blocking.__name__ = blocking.__qualname__ = name
    blocking.__doc__ = doc
    return blocking


import_mcp_tools = _blocking(
    list_mcp_tools,
    "import_mcp_tools",
    """Blocking :func:`list_mcp_tools`; safe to call where an event loop is running.

    Inside a running loop (a notebook cell) the import runs on a fresh loop in a worker
    thread, which blocks the caller until it finishes or ``timeout_s`` passes.
    """,
)


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
    src = _parse_source(source, headers, env, cwd)
    tools, server = _run_blocking(lambda: _fetch(src, headers, env, cwd, timeout_s))
    what = f"MCP server {server!r}" if server else "an MCP server"
    data = {
        "name": name or server or "mcp",
        "description": f"Tools imported from {what} ({src.label}).",
        "tools": tools,
        "cases": [c.to_dict() if isinstance(c, Case) else dict(c) for c in cases or []],
    }
    return load_suite(data)
