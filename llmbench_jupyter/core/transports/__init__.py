"""Transports: how bytes get from a provider to a ``StreamResult``. One per protocol."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from llmbench_jupyter.core.errors import InputError
from llmbench_jupyter.core.transports.base import RequestSpec, StreamResult

StreamFn = Callable[[Any, RequestSpec], Awaitable[tuple[int, StreamResult]]]


def for_kind(kind: str) -> tuple[str, StreamFn]:
    """The transport name and stream function for a provider ``kind``."""
    if kind == "openai":
        from llmbench_jupyter.core.transports import openai

        return openai.NAME, openai.stream
    if kind == "anthropic":
        from llmbench_jupyter.core.transports import anthropic

        return anthropic.NAME, anthropic.stream
    if kind == "litellm":
        from llmbench_jupyter.core.transports import litellm

        return litellm.NAME, litellm.stream
    raise InputError(f"unknown provider kind {kind!r}; expected openai, anthropic or litellm")


def endpoint_path(kind: str) -> str:
    return {"openai": "/chat/completions", "anthropic": "/messages"}.get(kind, "")


__all__ = ["RequestSpec", "StreamFn", "StreamResult", "endpoint_path", "for_kind"]
