"""Model discovery: the models an endpoint offers, read from its own model list.

Four list shapes are read, each from where its API keeps it:

- ``openai``: ``GET {api_base}/models`` (OpenAI and every OpenAI-compatible server:
  vLLM, OpenRouter, Groq, Gemini's compatibility endpoint, the built-in simulator),
  ``{"data": [{"id": ...}]}``, or a bare list of such objects (Together);
- ``anthropic``: ``GET {api_base}/models`` with ``x-api-key``, paged by ``after_id``;
- ``gemini``: Gemini's own ``GET /v1beta/models``, paged by ``pageToken``, with each
  model's token limits;
- ``ollama``: Ollama's own ``GET /api/tags``.

A page that is not JSON, not of its shape, too big or refused gives a
:class:`DiscoveryError` saying which URL answered what, with every key scrubbed; entries
without a usable id are skipped and counted, never guessed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp

from llmbench_jupyter.core.errors import LLMBenchError, scrub
from llmbench_jupyter.core.redact import exact_secrets, redact_url
from llmbench_jupyter.core.targets import join_url

SHAPES = ("openai", "anthropic", "gemini", "ollama")
#: The most a model list may be (bytes) and the most pages followed.
MAX_BODY = 8 * 2**20
MAX_PAGES = 50
ANTHROPIC_VERSION = "2023-06-01"


class DiscoveryError(LLMBenchError):
    """An endpoint's model list could not be read: which URL, what it answered."""


@dataclass(frozen=True)
class Endpoint:
    """Where and how to ask (a configured provider's base URL, key and headers)."""

    provider: str
    kind: str
    api_base: str
    api_key: str | None = field(default=None, repr=False)
    headers: tuple[tuple[str, str], ...] = ()
    timeout_s: float = 30.0

    def secrets(self) -> tuple[str, ...]:
        """What to mask in any text from this endpoint: the key, URL credentials (and
        secrets in its query string), header values."""
        return exact_secrets(self.api_key, self.api_base, self.headers)


@dataclass(frozen=True)
class FoundModel:
    """One model the endpoint offers, as it describes it (None: it does not say)."""

    id: str
    display_name: str | None = None
    created: str | None = None
    owned_by: str | None = None
    context_window: int | None = None
    max_output_tokens: int | None = None


@dataclass
class Listing:
    """What one discovery read: the models, where from, and what it skipped."""

    provider: str
    shape: str
    url: str
    models: list[FoundModel] = field(default_factory=list)
    skipped: int = 0
    pages: int = 0


def guess_shape(kind: str, api_base: str) -> str:
    """The shape an endpoint most likely speaks: Anthropic's by kind, Gemini's by host,
    else OpenAI's (Ollama answers OpenAI's too, under ``/v1``)."""
    if kind == "anthropic":
        return "anthropic"
    if urlsplit(api_base).hostname == "generativelanguage.googleapis.com":
        return "gemini"
    return "openai"


def listing_url(shape: str, api_base: str) -> str:
    if shape not in SHAPES:
        raise DiscoveryError(f"model list shape {shape!r} unknown; expected one of {SHAPES}")
    if shape in ("openai", "anthropic"):
        return join_url(api_base, "/models")
    parts = urlsplit(api_base)  # these two APIs keep their lists at a fixed path
    path = "/v1beta/models" if shape == "gemini" else "/api/tags"
    return urlunsplit(parts._replace(path=path))


def _headers(shape: str, endpoint: Endpoint) -> dict[str, str]:
    out = {"Accept": "application/json"}
    key = endpoint.api_key
    if shape == "anthropic":
        out["anthropic-version"] = ANTHROPIC_VERSION
        if key:
            out["x-api-key"] = key
    elif shape == "gemini":
        if key:
            out["x-goog-api-key"] = key
    elif key:
        out["Authorization"] = f"Bearer {key}"
    out.update(dict(endpoint.headers))
    return out


async def list_models(
    session: aiohttp.ClientSession,
    endpoint: Endpoint,
    shape: str | None = None,
    page_size: int = 1000,
) -> Listing:
    """Every model ``endpoint`` lists, all pages followed (at most ``MAX_PAGES`` of
    ``page_size``, where the API pages)."""
    shape = shape or guess_shape(endpoint.kind, endpoint.api_base)
    url = listing_url(shape, endpoint.api_base)
    out = Listing(endpoint.provider, shape, _shown(url, endpoint))
    seen: set[str] = set()
    token: str | None = None
    while out.pages < MAX_PAGES:
        body = await _get(session, endpoint, shape, url, _page_params(shape, token, page_size))
        out.pages += 1
        entries, token = _entries(shape, body, out.url)
        for entry in entries:
            found = _model(shape, entry)
            if found is None:
                out.skipped += 1
            elif found.id not in seen:
                seen.add(found.id)
                out.models.append(found)
        if not token:
            return out
    raise DiscoveryError(f"{out.url}: more than {MAX_PAGES} pages of models; stopped there")


def _shown(url: str, endpoint: Endpoint) -> str:
    return scrub(redact_url(url), endpoint.secrets())


def _page_params(shape: str, token: str | None, size: int) -> dict[str, str]:
    if shape == "anthropic":
        return {"limit": str(size), **({"after_id": token} if token else {})}
    if shape == "gemini":
        return {"pageSize": str(size), **({"pageToken": token} if token else {})}
    return {}


async def _get(session: aiohttp.ClientSession, endpoint: Endpoint, shape: str, url: str,
               params: dict[str, str]) -> Any:  # fmt: skip
    where = _shown(url, endpoint)
    timeout = aiohttp.ClientTimeout(total=endpoint.timeout_s)
    try:
        async with session.get(url, headers=_headers(shape, endpoint), params=params,
                               timeout=timeout) as resp:  # fmt: skip
            raw, status = await _body(resp), resp.status
    except TimeoutError:
        raise DiscoveryError(f"{where}: no answer within {endpoint.timeout_s:g} s") from None
    except aiohttp.ClientError as exc:
        text = scrub(f"{type(exc).__name__}: {exc}", endpoint.secrets())
        raise DiscoveryError(f"{where}: cannot connect ({text})") from None
    if len(raw) > MAX_BODY:
        raise DiscoveryError(f"{where}: the model list is over {MAX_BODY // 2**20} MB; stopped")
    text = scrub(raw[:300].decode("utf-8", "replace"), endpoint.secrets())
    if status in (401, 403):
        raise DiscoveryError(
            f"{where}: authentication failed (HTTP {status}); check the key of provider "
            f"{endpoint.provider!r}: {text}"
        )
    if status == 404:
        raise DiscoveryError(
            f"{where}: no model list here (HTTP 404); this endpoint may keep it elsewhere: "
            f"try another shape ({', '.join(SHAPES)})"
        )
    if status >= 400:
        raise DiscoveryError(f"{where}: HTTP {status}: {text}")
    try:
        return json.loads(raw)
    except ValueError:
        raise DiscoveryError(f"{where}: the answer is not JSON: {text!r}") from None


async def _body(resp: aiohttp.ClientResponse) -> bytes:
    """The body, or its first ``MAX_BODY + 1`` bytes: an endless one is cut, not read."""
    parts, size = [], 0
    async for chunk in resp.content.iter_chunked(2**16):
        parts.append(chunk)
        size += len(chunk)
        if size > MAX_BODY:
            break
    return b"".join(parts)


def _entries(shape: str, body: Any, where: str) -> tuple[list[Any], str | None]:
    """A page's entries and the next page's token (None: the last page)."""
    if shape == "openai" and isinstance(body, list):
        return body, None
    key = {"gemini": "models", "ollama": "models"}.get(shape, "data")
    entries = body.get(key) if isinstance(body, dict) else None
    if entries is None and isinstance(body, dict) and shape == "gemini" and not body:
        return [], None  # Gemini sends {} when there is nothing to list
    if not isinstance(entries, list):
        got = f"keys {sorted(body)[:8]}" if isinstance(body, dict) else type(body).__name__
        raise DiscoveryError(
            f"{where}: not a {shape} model list: expected an object with a {key!r} list, got {got}"
        )
    if shape == "anthropic":
        more = body.get("has_more") is True and isinstance(body.get("last_id"), str)
        return entries, body["last_id"] if more else None
    if shape == "gemini":
        token = body.get("nextPageToken")
        return entries, token if isinstance(token, str) and token else None
    return entries, None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _model(shape: str, entry: Any) -> FoundModel | None:
    """One entry as a FoundModel; None when it has no usable id."""
    if not isinstance(entry, dict):
        return None
    if shape == "gemini":
        name = _text(entry.get("name"))
        methods = entry.get("supportedGenerationMethods")
        if name is None or (isinstance(methods, list) and "generateContent" not in methods):
            return None  # embedding-only models cannot be benchmarked for chat
        return FoundModel(
            name.removeprefix("models/"), _text(entry.get("displayName")),
            context_window=_count(entry.get("inputTokenLimit")),
            max_output_tokens=_count(entry.get("outputTokenLimit")),
        )  # fmt: skip
    if shape == "ollama":
        name = _text(entry.get("name")) or _text(entry.get("model"))
        if name is None:
            return None
        return FoundModel(name, created=_text(entry.get("modified_at")))
    model_id = _text(entry.get("id"))
    if model_id is None or len(model_id) > 300:
        return None
    created = entry.get("created_at") if shape == "anthropic" else entry.get("created")
    return FoundModel(
        model_id.removeprefix("models/"),  # Gemini's compatibility endpoint names them so
        _text(entry.get("display_name")),
        created=str(created) if isinstance(created, str | int) else None,
        owned_by=_text(entry.get("owned_by")),
        context_window=_count(entry.get("context_length") or entry.get("context_window")),
    )
