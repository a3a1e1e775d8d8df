"""The benchmark configuration: providers, their models and run defaults, loaded from YAML.

Validation is strict (unknown keys and wrong types are errors, no silent coercion of
``"123"`` into ``123``) because a typo in a config file otherwise turns into a
benchmark that quietly measured something else. Every problem in a file is reported
at once, one line each, with the file, the dotted key path, what was found and what
was expected; API key values are never echoed.
"""

from __future__ import annotations

import difflib
import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlparse

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from llmbench_jupyter.core.errors import LLMBenchError, scrub
from llmbench_jupyter.core.tokens import TOKENIZER_NAMES

ENV_VAR = "LLMBENCH_CONFIG"
_PKG_DIR = Path(__file__).resolve().parent.parent  # the package directory (config.yaml ships there)


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
        """A JSON-able copy to store with a run: inline API keys removed, secret headers masked."""
        data = self.model_dump(mode="json")
        for prov in data["providers"].values():
            prov.pop("api_key", None)
            prov["extra_headers"] = {
                k: ("[REDACTED]" if _SECRET_HEADER.search(k) else scrub(v))
                for k, v in prov["extra_headers"].items()
            }
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


_SECRET_HEADER = re.compile(r"(?i)auth|key|token|secret|cookie")
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


# --------------------------------------------------------------------------- path resolution


def _candidates() -> list[tuple[str, Path]]:
    return [
        ("./config.yaml", Path.cwd() / "config.yaml"),
        ("packaged config", _PKG_DIR / "config.yaml"),
        ("repository config", _PKG_DIR.parent / "config.yaml"),
    ]


def default_config_path(path: str | os.PathLike[str] | None = None) -> Path:
    """The config file to use.

    Order: explicit ``path`` > ``$LLMBENCH_CONFIG`` > ``./config.yaml`` > the copy shipped in
    the wheel > the repository's ``config.yaml`` (editable install). An explicit path or
    environment variable that does not exist is an error rather than a silent fallback.
    """
    if path is not None:
        p = Path(path).expanduser()
        if not p.is_file():
            raise ConfigError(f"config file not found: {p}")
        return p
    env = os.environ.get(ENV_VAR)
    if env:
        p = Path(env).expanduser()
        if not p.is_file():
            raise ConfigError(f"${ENV_VAR} points to {p}, which does not exist")
        return p
    tried = []
    for _, candidate in _candidates():
        if candidate.is_file():
            return candidate
        tried.append(str(candidate))
    raise ConfigError(
        f"no config file found; set ${ENV_VAR} or pass a path. Tried: " + ", ".join(tried)
    )


# --------------------------------------------------------------------------- loading


class _UniqueKeyLoader(yaml.SafeLoader):
    """safe_load, except that a key repeated in one mapping is an error, not a silent overwrite."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            first = seen.get(key)
        except TypeError:  # unhashable key; let the default constructor complain
            continue
        if first is not None:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"duplicate key {key!r} (first defined on line {first})",
                key_node.start_mark,
            )
        seen[key] = key_node.start_mark.line + 1
    return loader.construct_mapping(node, deep=True)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    """Load and validate a config file (see ``default_config_path`` for which one)."""
    file = default_config_path(path)
    label = str(file)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{label}: cannot read: {exc}") from None
    return parse_config(text, label)


def parse_config(text: str, source: str = "<string>") -> Config:
    """Validate YAML text as a config; ``source`` names it in error messages."""
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown position"
        problem = scrub(exc.problem or exc.context or "invalid YAML")
        raise ConfigError(f"{source}: YAML syntax error at {where}: {problem}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: YAML error: {scrub(str(exc))}") from None
    if data is None:
        raise ConfigError(f"{source}: file is empty; expected a mapping with 'providers'")
    if not isinstance(data, dict):
        raise ConfigError(
            f"{source}: top level: found {_found(data)}, expected a mapping with 'providers'"
        )

    problems: list[str] = []
    config: Config | None = None
    try:
        config = Config.model_validate(_prepare(data))
    except ValidationError as exc:
        problems += [
            _describe(err, data)
            for err in exc.errors()
            if not _is_injected_name(tuple(err["loc"]))  # reported by _precheck
        ]
    problems += _precheck(data)
    if problems:
        unique = list(dict.fromkeys(problems))
        raise ConfigError("\n".join(f"{source}: {p}" for p in unique))
    assert config is not None
    config.source = source
    return config


def _is_injected_name(loc: tuple[Any, ...]) -> bool:
    return len(loc) == 3 and loc[0] == "providers" and loc[2] == "name"


def _prepare(data: dict[str, Any]) -> dict[str, Any]:
    """Copy the raw data, giving each provider its mapping key as ``name``."""
    prepared = {k: v for k, v in data.items() if k != "source"}
    providers = data.get("providers")
    if isinstance(providers, dict):
        prepared["providers"] = {
            name: ({**prov, "name": name} if isinstance(prov, dict) else prov)
            for name, prov in providers.items()
        }
    return prepared


def _precheck(data: dict[str, Any]) -> list[str]:
    """Checks pydantic cannot place precisely: names, duplicate ids, misplaced keys."""
    problems: list[str] = []
    if "source" in data:
        problems.append("source: unknown key (it is set to the file path when loading)")
    providers = data.get("providers")
    if not isinstance(providers, dict):
        return problems
    for name, prov in providers.items():
        if isinstance(name, str) and not name.strip():
            problems.append("providers: found an empty provider name, expected a non-empty name")
        if not isinstance(prov, dict):
            continue
        if "name" in prov:
            problems.append(
                f"providers.{name}.name: unknown key (the provider name is its key "
                "under 'providers')"
            )
        models = prov.get("models")
        if not isinstance(models, list):
            continue
        first_index: dict[str, int] = {}
        for i, model in enumerate(models):
            if not isinstance(model, dict):
                continue
            mid = model.get("id")
            if isinstance(mid, str) and mid:
                if mid in first_index:
                    problems.append(
                        f'providers.{name}.models[{i}].id: found duplicate id "{mid}" '
                        f"(also models[{first_index[mid]}]), expected ids unique per provider"
                    )
                else:
                    first_index[mid] = i
            if model.get("litellm_model") is not None and prov.get("kind") != "litellm":
                problems.append(
                    f"providers.{name}.models[{i}].litellm_model{_model_hint(model)}: "
                    "only allowed when the provider's kind is 'litellm'"
                )
    return problems


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
