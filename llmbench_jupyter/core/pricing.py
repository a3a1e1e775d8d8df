"""Token prices: per-model overrides from config.yaml, else litellm's bundled price map.

The map is read as JSON from litellm's package directory, without importing litellm
(that import costs seconds and must stay off the benchmark path).
"""

from __future__ import annotations

import importlib.util
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

#: How litellm's price map prefixes models of providers we ship in config.yaml.
LITELLM_PREFIXES = {
    "gemini": "gemini/",
    "groq": "groq/",
    "deepseek": "deepseek/",
    "mistral": "mistral/",
    "xai": "xai/",
    "openrouter": "openrouter/",
    "together": "together_ai/",
    "anthropic": "anthropic/",
    "openai": "",
}


@dataclass(frozen=True, slots=True)
class Price:
    """USD per million tokens; a side the map does not price is None (unknown), never 0."""

    input_per_mtok: float | None
    output_per_mtok: float | None
    source: str  # override | litellm | override+litellm

    def cost(self, input_tokens: int | None, output_tokens: int | None) -> float | None:
        """USD for one request's tokens; None unless both sides and both counts are known."""
        if (
            self.input_per_mtok is None
            or self.output_per_mtok is None
            or input_tokens is None
            or output_tokens is None
        ):
            return None
        return (input_tokens * self.input_per_mtok + output_tokens * self.output_per_mtok) / 1e6


@cache
def litellm_price_map() -> dict[str, Any]:
    spec = importlib.util.find_spec("litellm")
    if spec is None or not spec.submodule_search_locations:
        return {}
    path = Path(next(iter(spec.submodule_search_locations))) / (
        "model_prices_and_context_window_backup.json"
    )
    try:
        data: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data


def _per_mtok(entry: dict[str, Any], field: str) -> float | None:
    value = entry.get(field)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None  # absent from the map: unknown, not free
    return float(value) * 1e6


def _lookup(
    provider: str, api_model: str, model_id: str
) -> tuple[float | None, float | None] | None:
    table = litellm_price_map()
    prefix = LITELLM_PREFIXES.get(provider, f"{provider}/")
    for key in (api_model, prefix + api_model, model_id, prefix + model_id):
        entry = table.get(key)
        if entry and entry.get("input_cost_per_token") is not None:
            return (
                _per_mtok(entry, "input_cost_per_token"),
                _per_mtok(entry, "output_cost_per_token"),
            )
    return None


def price_for(
    provider: str,
    api_model: str,
    model_id: str = "",
    input_override: float | None = None,
    output_override: float | None = None,
) -> Price | None:
    """USD per million tokens for a target, or None when no price is known (never 0).

    A side litellm's map lacks (e.g. no ``output_cost_per_token``) stays None in the
    Price, so no cost is computed from it (docs/metrics.md).
    """
    if input_override is not None and output_override is not None:
        return Price(input_override, output_override, "override")
    found = _lookup(provider, api_model, model_id or api_model)
    if found is None:
        return None
    if input_override is None and output_override is None:
        return Price(found[0], found[1], "litellm")
    return Price(
        input_override if input_override is not None else found[0],
        output_override if output_override is not None else found[1],
        "override+litellm",
    )
