"""Config problems as one line each: the dotted key path, what was found, what was expected.

Turns pydantic's errors into text a user can act on; API key values are never echoed.
"""

from __future__ import annotations

import difflib
from typing import Any

from pydantic import BaseModel

from llmbench_jupyter.core.config._model import Config, Defaults, ModelConfig, ProviderConfig
from llmbench_jupyter.core.errors import scrub
from llmbench_jupyter.core.tokens import TOKENIZER_NAMES

# What each field expects, keyed by the last path components (indices written as "*").
_EXPECTED: dict[tuple[str, ...], str] = {
    ("providers",): "a mapping of provider name to provider settings",
    ("providers", "*"): "a mapping of provider settings (api_base, models, ...)",
    ("models",): "a list of models, each a mapping with at least 'id'",
    ("models", "*"): "a mapping with at least 'id'",
    ("id",): "a non-empty string (quote numbers)",
    ("name",): "a non-empty string",
    ("context_window",): "a positive integer",
    ("max_output_tokens",): "a positive integer",
    ("max_tokens",): "a positive integer",
    ("runs",): "a positive integer",
    ("concurrency",): "a positive integer",
    ("warmup",): "a non-negative integer",
    ("temperature",): "a number between 0 and 2",
    ("timeout_s",): "a positive number of seconds",
    ("input_cost_per_mtok",): "a non-negative number (USD per million tokens)",
    ("output_cost_per_mtok",): "a non-negative number (USD per million tokens)",
    ("context_tiers",): "a non-empty list of non-negative integers (padding tokens)",
    ("context_tiers", "*"): "a non-negative integer (padding tokens)",
    ("skip_params",): "a list of parameter names",
    ("skip_params", "*"): "a parameter name (string)",
    ("extra_headers",): "a mapping of header name to string value",
    ("extra_headers", "*"): "a string",
    ("prompts",): "a mapping of template name to template text",
    ("prompts", "*"): "a string",
    ("prompt",): "a non-empty string",
    ("api_base",): "an http(s) URL such as https://api.example.com/v1",
    ("kind",): 'one of "openai", "anthropic", "litellm"',
    ("version",): "1",
    ("api_key",): "a string (for local servers only; use api_key_env for real keys)",
    ("api_key_env",): "the name of an environment variable",
    ("display_name",): "a string",
    ("model_id_prefix",): "a string",
    ("system_prompt",): "a string",
    ("litellm_model",): "a litellm model string such as bedrock/<model>",
    ("tokenizer",): "one of " + ", ".join(f'"{t}"' for t in TOKENIZER_NAMES),
    ("defaults",): "a mapping of default run settings",
    ("simulated",): "true or false",
    ("sequential",): "true or false",
}

_SECRET_KEYS = ("api_key", "extra_headers")


def _describe(err: Any, raw: dict[str, Any]) -> str:
    """Turn one pydantic error into 'path: found X, expected Y'."""
    loc: tuple[Any, ...] = tuple(err["loc"])
    kind: str = err["type"]
    if kind == "extra_forbidden":
        parent = ".".join(_fmt_path(loc[:-1]))
        where = f"{parent}." if parent else ""
        known = _known_fields(loc[:-1])
        close = difflib.get_close_matches(str(loc[-1]), known, n=2, cutoff=0.6)
        hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        return f"{where}{loc[-1]}: unknown key{hint} (allowed: {', '.join(known)})"

    if loc and loc[-1] == "[key]":  # a mapping key of the wrong type, e.g. `1:` under providers
        parent = ".".join(str(p) for p in loc[:-2])
        return f"{parent}: found key {_found(loc[-2])}, expected a string name (quote it)"
    path = _path_text(loc, raw)
    if kind == "missing":
        return f"{path}: missing, expected {_expected(loc, err)}"
    secret = any(part in _SECRET_KEYS for part in loc if isinstance(part, str))
    found = _found(err.get("input"), secret)
    return f"{path}: found {found}, expected {_expected(loc, err)}"


def _path_text(loc: tuple[Any, ...], raw: dict[str, Any]) -> str:
    text = ".".join(_fmt_path(loc))
    # Name the model by its id: "models[2]" alone is hard to find in a long file.
    if len(loc) >= 4 and loc[0] == "providers" and loc[2] == "models" and isinstance(loc[3], int):
        try:
            model = raw["providers"][loc[1]]["models"][loc[3]]
        except (KeyError, IndexError, TypeError):
            model = None
        if isinstance(model, dict):
            text += _model_hint(model)
    return text


def _model_hint(model: dict[str, Any]) -> str:
    mid = model.get("id")
    return f' (model "{mid}")' if isinstance(mid, str) and mid else ""


def _fmt_path(loc: tuple[Any, ...]) -> list[str]:
    parts: list[str] = []
    for part in loc:
        if isinstance(part, int) and parts:
            parts[-1] += f"[{part}]"
        else:
            parts.append(str(part))
    return parts


def _expected(loc: tuple[Any, ...], err: Any) -> str:
    norm = tuple("*" if isinstance(p, int) else str(p) for p in loc)
    # Mapping keys chosen by the user (provider, template, header names) become "*".
    if len(norm) == 2 and norm[0] == "providers":
        norm = ("providers", "*")
    elif len(norm) == 3 and norm[:2] == ("defaults", "prompts"):
        norm = ("prompts", "*")
    elif len(norm) == 4 and norm[0] == "providers" and norm[2] == "extra_headers":
        norm = ("extra_headers", "*")
    for size in (2, 1):
        if len(norm) >= size and norm[-size:] in _EXPECTED:
            return _EXPECTED[norm[-size:]]
    msg = str(err.get("msg", "")) or "a valid value"
    return msg[0].lower() + msg[1:]


def _found(value: Any, secret: bool = False) -> str:
    """A short, safe description of a value found in the file."""
    kind = type(value).__name__
    if value is None:
        return "nothing (null)"
    if isinstance(value, dict):
        return f"a mapping ({len(value)} keys)"
    if isinstance(value, list):
        return f"a list ({len(value)} items)"
    if secret:
        return f"<hidden> ({kind})"
    text = value if isinstance(value, str) else repr(value)
    text = scrub(text)
    if len(text) > 60:
        text = text[:57] + "..."
    if isinstance(value, str):
        return f'"{text}" ({kind})'
    return f"{text} ({kind})"


def _known_fields(loc: tuple[Any, ...]) -> list[str]:
    """Fields allowed at the place an unknown key was found (for the error hint)."""
    if not loc:
        model: type[BaseModel] = Config
    elif loc == ("defaults",):
        model = Defaults
    elif len(loc) == 2 and loc[0] == "providers":
        model = ProviderConfig
    elif len(loc) == 4 and loc[0] == "providers" and loc[2] == "models":
        model = ModelConfig
    else:
        return []
    hidden = {"source", "name"}
    return [f for f in model.model_fields if f not in hidden]
