"""Finding, reading and validating a config file.

Every problem in a file is reported at once, one line each (see :mod:`._messages`); an
explicit path or ``$LLMBENCH_CONFIG`` that does not exist is an error, not a fallback.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from llmbench_jupyter.core.config._messages import _describe, _found, _model_hint
from llmbench_jupyter.core.config._model import Config, ConfigError
from llmbench_jupyter.core.errors import scrub

ENV_VAR = "LLMBENCH_CONFIG"
#: The package directory (config.yaml ships there); its parent is the repository root.
_PKG_DIR = Path(__file__).resolve().parents[2]


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


class _UniqueKeyLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """safe_load, except that a key repeated in one mapping is an error, not a silent overwrite.

    On libyaml's parser when PyYAML has it: the pure-Python one spends ~40 ms on the shipped
    config, which every first ``lj.bench()`` of a kernel pays.
    """


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
