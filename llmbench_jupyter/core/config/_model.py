"""The config models: providers, their models and run defaults, validated strictly by pydantic.

Strict means unknown keys and wrong types are errors, with no silent coercion of ``"123"``
into ``123``. Also the lookups with suggestions and the prompt templates.
"""

from __future__ import annotations

import difflib
import os
import re
from typing import Annotated, Any, Literal
from urllib.parse import urlparse

from pydantic import BaseModel, ConfigDict, Field, field_validator

from llmbench_jupyter.core.errors import LLMBenchError
from llmbench_jupyter.core.limits import DEFAULT_LIMITS, Limits
from llmbench_jupyter.core.redact import redact_headers, redact_url
from llmbench_jupyter.core.tokens import TOKENIZER_NAMES


class ConfigError(LLMBenchError):
    """A configuration file or lookup is wrong; the message says where and how."""


_STRICT = ConfigDict(extra="forbid", strict=True)


class ModelConfig(BaseModel):
    """One model of a provider, with optional overrides of what litellm knows about it."""

    model_config = _STRICT

    id: str = Field(min_length=1)
    display_name: str | None = None
    context_window: int | None = Field(default=None, gt=0)
    max_output_tokens: int | None = Field(default=None, gt=0)
    # Request parameters never sent to this model (e.g. reasoning models reject temperature).
    skip_params: list[str] = Field(default_factory=list)
    # USD per million tokens; when unset, litellm's price map is used.
    input_cost_per_mtok: float | None = Field(default=None, ge=0)
    output_cost_per_mtok: float | None = Field(default=None, ge=0)
    system_prompt: str | None = None
    # tiktoken encoding name hint such as "o200k_base"; None means infer from the model id.
    tokenizer: str | None = None
    # Only for providers of kind "litellm": the full litellm model string.
    litellm_model: str | None = None

    @field_validator("tokenizer")
    @classmethod
    def _known_tokenizer(cls, value: str | None) -> str | None:
        if value is not None and value not in TOKENIZER_NAMES:
            raise ValueError("unknown tokenizer")
        return value

    @property
    def label(self) -> str:
        """The name to show: the display name if set, else the id."""
        return self.display_name or self.id


class LimitsConfig(BaseModel):
    """Byte limits on what this provider may send back (see ``core.limits``)."""

    model_config = _STRICT

    error_body_bytes: int = Field(default=DEFAULT_LIMITS.error_body_bytes, ge=1024)
    event_bytes: int = Field(default=DEFAULT_LIMITS.event_bytes, ge=1024)
    response_bytes: int = Field(default=DEFAULT_LIMITS.response_bytes, ge=1024)

    def to_limits(self) -> Limits:
        return Limits(self.error_body_bytes, self.event_bytes, self.response_bytes)


class ProviderConfig(BaseModel):
    """An endpoint and how to authenticate to it; ``name`` is its key under ``providers``."""

    model_config = _STRICT

    name: str = Field(min_length=1)
    display_name: str | None = None
    kind: Literal["openai", "anthropic", "litellm"] = "openai"
    api_base: str | None = None
    api_key_env: str | None = None
    # Inline key: meant for local servers whose "key" is a placeholder such as "EMPTY".
    api_key: str | None = None
    model_id_prefix: str = ""
    # True for the built-in simulator: the runner starts it and replaces api_base.
    simulated: bool = False
    # Models of this provider run one after another; different providers run in parallel.
    sequential: bool = True
    timeout_s: float | None = Field(default=None, gt=0)
    extra_headers: dict[str, str] = Field(default_factory=dict)
    limits: LimitsConfig = Field(default_factory=LimitsConfig)
    models: list[ModelConfig]

    @field_validator("api_base")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None:
            parsed = urlparse(value)
            if parsed.scheme not in ("http", "https") or not parsed.netloc:
                raise ValueError("not an http(s) URL")
        return value

    @property
    def label(self) -> str:
        return self.display_name or self.name

    def resolve_api_key(self) -> str | None:
        """The inline key, else the value of ``api_key_env`` if that variable is set."""
        if self.api_key:
            return self.api_key
        if self.api_key_env:
            return os.environ.get(self.api_key_env) or None
        return None

    def api_model(self, model: ModelConfig) -> str:
        """The model name sent to the endpoint: prefix + id (or ``litellm_model`` if set)."""
        return model.litellm_model or f"{self.model_id_prefix}{model.id}"

    def model(self, model_id: str) -> ModelConfig:
        """Look a model up by id; ConfigError with suggestions if unknown."""
        for model in self.models:
            if model.id == model_id:
                return model
        raise ConfigError(
            _unknown(
                f'model "{model_id}" for provider "{self.name}"',
                model_id,
                [m.id for m in self.models],
            )
        )


_DEFAULT_PROMPT = (
    "Explain in a few short paragraphs how a refrigerator keeps food cold, "
    "as you would to a curious twelve-year-old."
)


class Defaults(BaseModel):
    """Run parameters used unless a run overrides them."""

    model_config = _STRICT

    max_tokens: int = Field(default=256, gt=0)
    temperature: float = Field(default=0.0, ge=0, le=2)
    context_tiers: list[Annotated[int, Field(ge=0)]] = Field(default_factory=lambda: [0])
    prompt: str = Field(default=_DEFAULT_PROMPT, min_length=1)
    # Named templates; they may use {placeholders} filled by Config.prompt(name, **values).
    prompts: dict[str, str] = Field(default_factory=dict)
    runs: int = Field(default=3, gt=0)
    warmup: int = Field(default=1, ge=0)
    concurrency: int = Field(default=1, gt=0)
    timeout_s: float = Field(default=120.0, gt=0)
    # Background jobs one user may run at once; more wait in a FIFO queue.
    # $LLMBENCH_MAX_JOBS overrides it (the hub sets per-user limits that way).
    max_jobs: int = Field(default=2, gt=0)
    # The timing self-test before a benchmark (docs/metrics.md): "off", "always" (or true),
    # or "long" (a short one before runs of 200 requests or more); its bound is stored.
    selftest: bool | Literal["off", "always", "long"] = "off"

    @field_validator("context_tiers")
    @classmethod
    def _tiers(cls, value: list[int]) -> list[int]:
        if not value:
            raise ValueError("empty list")
        return value


class Config(BaseModel):
    """A loaded configuration; ``source`` is the file it came from."""

    model_config = _STRICT

    version: Literal[1] | None = None
    providers: dict[str, ProviderConfig]
    defaults: Defaults = Field(default_factory=Defaults)
    source: str = ""

    def provider(self, name: str) -> ProviderConfig:
        """Look a provider up by name; ConfigError with suggestions if unknown."""
        try:
            return self.providers[name]
        except KeyError:
            raise ConfigError(_unknown(f'provider "{name}"', name, list(self.providers))) from None

    def model(self, provider: str, model_id: str) -> ModelConfig:
        return self.provider(provider).model(model_id)

    def snapshot(self) -> dict[str, Any]:
        """A JSON-able copy to store with a run: inline API keys removed, URL user-info and
        query values masked, every header value masked (any header may carry a credential)."""
        data = self.model_dump(mode="json")
        for prov in data["providers"].values():
            prov.pop("api_key", None)
            if prov.get("api_base"):
                prov["api_base"] = redact_url(prov["api_base"])
            prov["extra_headers"] = redact_headers(prov["extra_headers"])
        return data

    def prompt(self, name: str | None = None, **values: Any) -> str:
        """The default prompt, or the named template with its ``{placeholders}`` filled in."""
        if name is None:
            template = self.defaults.prompt
            label = "defaults.prompt"
        elif name in self.defaults.prompts:
            template = self.defaults.prompts[name]
            label = f"prompt template '{name}'"
        else:
            raise ConfigError(
                _unknown(f"prompt template '{name}'", name, list(self.defaults.prompts))
            )
        return fill_template(template, values, label)


_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}")


def fill_template(template: str, values: dict[str, Any], label: str = "template") -> str:
    """Replace ``{name}`` placeholders; other braces (JSON, code) stay literal, ``{{`` is ``{``.

    Not ``str.format``: prompt templates often contain code or JSON with braces.
    """
    needed = [m.group(1) for m in _PLACEHOLDER.finditer(template) if m.group(1)]
    missing = sorted({n for n in needed if n not in values})
    if missing:
        got = ", ".join(sorted(values)) or "nothing"
        raise ConfigError(f"{label} needs values for: {', '.join(missing)} (got: {got})")

    def sub(match: re.Match[str]) -> str:
        if match.group(1):
            return str(values[match.group(1)])
        return match.group(0)[0]

    return _PLACEHOLDER.sub(sub, template)


def _unknown(what: str, name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
    hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    listing = ", ".join(known) if known else "none"
    return f"unknown {what}{hint} (known: {listing})"
