"""Error categories for failed requests, and secret scrubbing for everything we print or store.

Provider failures never abort a run: they become a record with ``status="error"``,
one of the categories below, and a message from which keys have been removed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

# Categories a failed request can carry. ``http_<code>`` covers the other statuses.
RATE_LIMITED = "rate_limited"
AUTH_FAILED = "auth_failed"
TIMEOUT = "timeout"
STREAM_CUT = "stream_cut"
MALFORMED = "malformed"
CONNECTION = "connection"
CONTEXT_OVERFLOW = "context_overflow"
EMPTY_RESPONSE = "empty_response"
CLIENT = "client_error"
CANCELLED = "cancelled"
PROVIDER_ERROR = "provider_error"  # an error event inside an otherwise healthy stream
OVERLOADED = "overloaded"
RESPONSE_TOO_LARGE = "response_too_large"  # past a configured byte limit (see core.limits)


def http_category(status: int) -> str:
    """Map an HTTP status to an error category."""
    if status == 429:
        return RATE_LIMITED
    if status in (401, 403):
        return AUTH_FAILED
    if status in (408, 504):
        return TIMEOUT
    return f"http_{status}"


class LLMBenchError(Exception):
    """Base of errors we raise on purpose; their text is meant for the user, not a traceback."""


class InputError(LLMBenchError, ValueError):
    """A value handed to a public function is wrong: says what, where, and what was expected."""


class InputTypeError(InputError, TypeError):
    """A public function got a value of the wrong type (still an :class:`InputError`)."""


class RequestFailed(LLMBenchError):
    """A request failed in a known way; carries the category and the HTTP status if any."""

    def __init__(self, category: str, message: str, http_status: int | None = None):
        super().__init__(message)
        self.category = category
        self.http_status = http_status


# Key shapes of the providers we know. Prefixed shapes are safe to mask anywhere, model
# output included; the generic assignments below would also mask ordinary text such as a
# tool argument named "key", so they apply to diagnostics (errors, logs) only.
_KEY_PATTERNS = [
    re.compile(r"sk-ant-[A-Za-z0-9_\-]{8,}"),
    re.compile(r"sk-proj-[A-Za-z0-9_\-]{8,}"),
    re.compile(r"sk-or-v1-[A-Za-z0-9_\-]{8,}"),
    re.compile(r"sk-[A-Za-z0-9_\-]{16,}"),
    re.compile(r"AIza[0-9A-Za-z_\-]{20,}"),
    re.compile(r"gsk_[A-Za-z0-9]{16,}"),
    re.compile(r"xai-[A-Za-z0-9]{16,}"),
    re.compile(r"hf_[A-Za-z0-9]{16,}"),
    re.compile(r"pplx-[A-Za-z0-9]{16,}"),
    re.compile(r"nvapi-[A-Za-z0-9_\-]{16,}"),
    re.compile(r"r8_[A-Za-z0-9]{16,}"),
    re.compile(r"(?:ghp|gho|ghs|ghu)_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}"),
    re.compile(r"glpat-[A-Za-z0-9_\-]{16,}"),
    re.compile(r"\bAKIA[0-9A-Z]{16}\b"),
    re.compile(r"eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}"),  # JWT
]
_ASSIGNMENT_PATTERNS = [
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._\-~+/=]{8,}"),
    re.compile(
        r"(?i)((?:api[_-]?key|x-api-key|authorization|key)[\"']?\s*[:=]\s*[\"']?)[^\s\"',&}]{8,}"
    ),
]
REDACTED = "[REDACTED]"
#: Exact secret values seen by this process (keys loaded from the vault): always masked.
_REGISTERED: set[str] = set()


def register_secret(value: str) -> None:
    """Mask this exact value in everything :func:`scrub` cleans from now on.

    The key vault registers every key it stores or loads, and target resolution every
    configured key, so a key of a shape the patterns do not know is still masked if it
    leaks into an error, a log or a response.
    """
    if isinstance(value, str) and len(value) >= 6:
        _REGISTERED.add(value)


def scrub(text: str, known_secrets: Iterable[str] = (), *, generic: bool = True) -> str:
    """Remove API keys from ``text``: the known values first, then anything key-shaped.

    ``generic=False`` keeps ``key: value``-style text (use it on model output, where such
    text is data); exact values and prefixed key shapes are masked either way. Scrub
    before cutting a text short: a cut key no longer matches its exact value.
    """
    exact = {s for s in known_secrets if s and len(s) >= 4} | _REGISTERED
    for secret in sorted(exact, key=len, reverse=True):  # longest first: no partial leftovers
        if secret in text:
            text = text.replace(secret, REDACTED)
    for pattern in _KEY_PATTERNS:
        text = pattern.sub(REDACTED, text)
    if generic:
        for pattern in _ASSIGNMENT_PATTERNS:
            text = pattern.sub(lambda m: m.group(1) + REDACTED, text)
    return text


def scrub_deep(value: Any, known_secrets: Iterable[str] = ()) -> Any:
    """``value`` with every string in it (keys of mappings too) scrubbed as model output."""
    secrets = tuple(known_secrets)
    if isinstance(value, str):
        return scrub(value, secrets, generic=False)
    if isinstance(value, dict):
        return {scrub_deep(k, secrets): scrub_deep(v, secrets) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub_deep(v, secrets) for v in value]
    return value


def scrub_json_text(text: str, known_secrets: Iterable[str] = ()) -> str:
    """Scrub model output that may be JSON (tool-call arguments) without breaking it.

    Masking inside a JSON string could swallow an escape; so when something must be
    masked and the text parses, the parsed value is scrubbed and dumped again.
    """
    secrets = tuple(known_secrets)
    cleaned = scrub(text, secrets, generic=False)
    if cleaned == text:
        return text
    try:
        return json.dumps(scrub_deep(json.loads(text), secrets), ensure_ascii=False)
    except (ValueError, RecursionError):
        return cleaned
