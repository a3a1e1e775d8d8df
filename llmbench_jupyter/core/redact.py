"""Redaction of credentials carried by configuration: URL user-info, query values, headers.

A URL or a header set is persisted, displayed or logged only in its redacted form; the
values taken out are handed to the scrubber as exact secrets, so they are masked as well
wherever an endpoint echoes them back.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit, urlunsplit

from llmbench_jupyter.core.errors import REDACTED

#: Shortest value treated as an exact secret: shorter ones ("1", "on") would mask real text.
MIN_SECRET_LEN = 6


def mask_url(url: str) -> tuple[str, list[str]]:
    """``url`` with user-info and every query value masked, and the values masked.

    A URL that does not split is masked whole (it may still hold a credential). Masking a
    masked URL gives it back unchanged.
    """
    try:
        # "[REDACTED]@" would split as a bracketed IPv6 host: a masked URL stays as it is
        parts = urlsplit(url.replace(f"://{REDACTED}@", "://@", 1))
        netloc = parts.netloc
        secrets: list[str] = []
        if "@" in netloc:
            userinfo, _, hostport = netloc.rpartition("@")
            secrets += [s for s in userinfo.split(":", 1) if s]
            netloc = f"{REDACTED}@{hostport}"
        query = ""
        if parts.query:
            pairs = parse_qsl(parts.query, keep_blank_values=True)
            secrets += [v for _, v in pairs if v and v != REDACTED]
            query = "&".join(f"{k}={REDACTED}" if v else k for k, v in pairs)
        fragment = REDACTED if parts.fragment else ""
        if parts.fragment and parts.fragment != REDACTED:
            secrets.append(parts.fragment)
        return urlunsplit((parts.scheme, netloc, parts.path, query, fragment)), secrets
    except ValueError:
        return REDACTED, [url]


def redact_url(url: str) -> str:
    """``url`` safe to persist, display or log (see :func:`mask_url`)."""
    return mask_url(url)[0] if url else url


def redact_headers(headers: Mapping[str, str] | Iterable[tuple[str, str]]) -> dict[str, str]:
    """Header names kept, every value masked: any header may carry a credential."""
    items = headers.items() if isinstance(headers, Mapping) else headers
    return {str(name): REDACTED for name, _ in items}


#: Keys of a stored spec or config whose string value is an endpoint URL.
URL_KEYS = frozenset({"api_base"})
#: Keys whose mapping value is a set of request headers.
HEADER_KEYS = frozenset({"headers", "extra_headers"})


def redact_config(value: Any) -> Any:
    """A JSON-able spec, config snapshot or audit detail with every ``api_base`` URL and
    every header set redacted, at any depth: the store's second line behind ``describe()``
    and ``Config.snapshot()``."""
    if isinstance(value, Mapping):
        out: dict[Any, Any] = {}
        for key, item in value.items():
            if key in URL_KEYS and isinstance(item, str):
                out[key] = redact_url(item)
            elif key in HEADER_KEYS and isinstance(item, Mapping):
                out[key] = redact_headers(item)
            else:
                out[key] = redact_config(item)
        return out
    if isinstance(value, list | tuple):
        return [redact_config(item) for item in value]
    return value


def exact_secrets(
    api_key: str | None = None,
    url: str = "",
    headers: Mapping[str, str] | Iterable[tuple[str, str]] = (),
) -> tuple[str, ...]:
    """The exact values a scrubber must mask for one endpoint: key, URL credentials, headers."""
    items = headers.items() if isinstance(headers, Mapping) else headers
    from_url = mask_url(url)[1]
    found = [api_key or "", *from_url, *(unquote(v) for v in from_url), *(str(v) for _, v in items)]
    basic = _basic_auth(url)
    if basic:  # user-info goes out as "Authorization: Basic <base64>": mask an echo of it
        found.append(basic)
    # "Bearer sk-..." style values: the token alone may be echoed too
    found += [v.split(None, 1)[1] for v in found if " " in v.strip()]
    return tuple(sorted({s.strip() for s in found if len(s.strip()) >= MIN_SECRET_LEN}))


def _basic_auth(url: str) -> str:
    """The base64 credentials an HTTP client sends for ``url``'s user-info ("" if none)."""
    try:
        userinfo = urlsplit(url).netloc.rpartition("@")[0]
    except ValueError:
        return ""
    if not userinfo:
        return ""
    user, _, password = userinfo.partition(":")
    pair = f"{unquote(user)}:{unquote(password)}"
    try:
        raw = pair.encode("latin-1")  # aiohttp's BasicAuth encoding
    except UnicodeEncodeError:
        raw = pair.encode()
    return base64.b64encode(raw).decode()
