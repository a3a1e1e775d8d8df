"""What an MCP import connects to, and how errors name it without its secrets.

A source may carry credentials (URL userinfo, query tokens, headers, command flags).
Every failure of the import is one :class:`MCPImportError` that names the source with
its secrets masked; header values and environment values never appear.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from llmbench_jupyter.core.errors import REDACTED, LLMBenchError, scrub
from llmbench_jupyter.core.redact import mask_url

Source = str | Sequence[str]

_URL_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
# Command-line flags whose value is a secret: --api-key X, --token=X, --password X ...
_SECRET_FLAG = re.compile(r"^--?[\w-]*(?:token|key|secret|password|passwd|auth)[\w-]*$", re.I)


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
                label, _ = mask_url(text)
                raise MCPImportError(
                    f"MCP source {scrub(label)}: unsupported URL scheme "
                    f"{scheme.group(1)!r}; expected an http(s) URL of a streamable-HTTP "
                    "endpoint (e.g. http://127.0.0.1:8000/mcp) or a command to run over stdio"
                )
            label, url_secrets = mask_url(text)
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


def _origin(src: _Source) -> str:
    return f"MCP server {src.label}" if src.is_http else f"MCP server command {src.label}"
