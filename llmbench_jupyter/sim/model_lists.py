"""The simulator's model lists, in the shapes real APIs use, so discovery has a test bed.

``GET /v1/models`` answers in OpenAI's shape, or in Anthropic's (paged by ``limit`` and
``after_id``) when the request carries ``anthropic-version``; ``GET /v1beta/models`` in
Gemini's (paged by ``pageSize``/``pageToken``, with token limits, and one embedding model
that cannot chat); ``GET /api/tags`` in Ollama's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aiohttp import web

#: What every listed model claims as its limits (the simulator accepts any size).
CONTEXT_WINDOW = 131_072
MAX_OUTPUT = 8_192


def _page(names: Sequence[str], after: str | None, size_text: str | None) -> tuple[list[str], bool]:
    try:
        size = max(1, min(1000, int(size_text or 1000)))
    except ValueError:
        raise web.HTTPBadRequest(text="page size must be an integer") from None
    start = names.index(after) + 1 if after in names else 0
    return list(names[start : start + size]), start + size < len(names)


def openai_list(names: Sequence[str]) -> dict[str, Any]:
    data = [{"id": n, "object": "model", "created": 0, "owned_by": "llmbench-sim"} for n in names]
    return {"object": "list", "data": data}


def anthropic_list(names: Sequence[str], query: Any) -> dict[str, Any]:
    page, more = _page(names, query.get("after_id"), query.get("limit"))
    data = [{"type": "model", "id": n, "display_name": f"Sim {n}",
             "created_at": "2025-01-01T00:00:00Z"} for n in page]  # fmt: skip
    return {"data": data, "has_more": more, "first_id": page[0] if page else None,
            "last_id": page[-1] if page else None}  # fmt: skip


def gemini_list(names: Sequence[str], query: Any) -> dict[str, Any]:
    listed = [*names, "sim-embedding"]
    page, more = _page(listed, query.get("pageToken"), query.get("pageSize"))
    models = []
    for n in page:
        chat = n != "sim-embedding"
        models.append({
            "name": f"models/{n}", "displayName": f"Sim {n}",
            "inputTokenLimit": CONTEXT_WINDOW, "outputTokenLimit": MAX_OUTPUT,
            "supportedGenerationMethods": ["generateContent"] if chat else ["embedContent"],
        })  # fmt: skip
    out: dict[str, Any] = {"models": models}
    if more:
        out["nextPageToken"] = page[-1]
    return out


def ollama_tags(names: Sequence[str]) -> dict[str, Any]:
    return {"models": [{"name": n, "model": n, "modified_at": "2025-01-01T00:00:00Z",
                        "size": 1, "details": {"family": "sim"}} for n in names]}  # fmt: skip
