"""Adding models to a config file without losing what the user wrote in it.

A YAML library that rewrites the file drops its comments and layout, so the new entries
are inserted as text: after the provider's last model, indented like the models before
them (YAML's own node positions say where). The result is parsed and validated before
it replaces the file (atomically); if it would not load, nothing is written.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from llmbench_jupyter.core.config._model import ConfigError

#: Fields a new model entry may carry, in the order they are written.
ENTRY_FIELDS = ("id", "display_name", "context_window", "max_output_tokens")


def _node(mapping: yaml.Node, key: str) -> yaml.Node | None:
    if not isinstance(mapping, yaml.MappingNode):
        return None
    for k, v in mapping.value:
        if isinstance(k, yaml.ScalarNode) and k.value == key:
            return v
    return None


def _entry_lines(entry: Mapping[str, Any], indent: str) -> list[str]:
    """``- id: ...`` and its fields as block YAML, every value safely quoted by PyYAML."""
    lines = []
    for i, name in enumerate(f for f in ENTRY_FIELDS if entry.get(f) is not None):
        value = yaml.safe_dump(entry[name], default_flow_style=True, width=10**6)
        value = value.strip().removesuffix("...").strip()
        lead = f"{indent}- " if i == 0 else f"{indent}  "
        lines.append(f"{lead}{name}: {value}\n")
    return lines


def with_models(text: str, provider: str, entries: Sequence[Mapping[str, Any]],
                source: str = "config") -> str:  # fmt: skip
    """``text`` with ``entries`` appended to ``provider``'s ``models`` list."""
    try:
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML ({exc})") from None
    providers = _node(root, "providers") if root is not None else None
    prov = _node(providers, provider) if providers is not None else None
    models = _node(prov, "models") if prov is not None else None
    if models is None:
        raise ConfigError(f"{source}: no provider {provider!r} with a models list to add to")
    if not isinstance(models, yaml.SequenceNode):
        raise ConfigError(f"{source}: providers.{provider}.models is not a list")
    lines = text.splitlines(keepends=True)
    if models.flow_style or not models.value:  # `models: []` or `[a, b]`: rewrite as a block
        key_line = lines[models.start_mark.line]
        indent = " " * (len(key_line) - len(key_line.lstrip()) + 2)
        old = [yaml.safe_load(yaml.serialize(item)) for item in models.value]
        block = [ln for item in old for ln in _entry_lines(_as_entry(item), indent)]
        block += [ln for e in entries for ln in _entry_lines(e, indent)]
        start, end = models.start_mark, models.end_mark
        head = "".join(lines[: start.line]) + lines[start.line][: start.column].rstrip() + "\n"
        rest = lines[end.line][end.column :] if end.line < len(lines) else ""
        keep = [rest] if rest.strip() and not rest.lstrip().startswith("#") else []
        return head + "".join(block) + "".join(keep + lines[end.line + 1 :])
    first = models.value[0].start_mark
    dash_col = lines[first.line].index("-", 0, first.column + 1)
    indent = lines[first.line][:dash_col]
    cut = _last_line(models) + 1  # the line after the last item's last value
    if cut > 0 and not lines[cut - 1].endswith("\n"):
        lines[cut - 1] += "\n"
    new = [ln for e in entries for ln in _entry_lines(e, indent)]
    return "".join(lines[:cut] + new + lines[cut:])


def _last_line(node: yaml.Node) -> int:
    """The line of a block node's last value (a block node's own end mark is where the
    next token starts, possibly lines further down)."""
    while isinstance(node, yaml.MappingNode | yaml.SequenceNode) and node.value:
        if node.flow_style:
            return int(node.end_mark.line)
        last = node.value[-1]
        node = last[1] if isinstance(node, yaml.MappingNode) else last
    end = node.end_mark
    if end.column == 0 and end.line > node.start_mark.line:  # a block scalar ends at the
        return int(end.line) - 1  # start of the line after its text
    return int(end.line)


def _as_entry(item: Any) -> dict[str, Any]:
    return item if isinstance(item, dict) else {"id": item}


def add_models_to_file(path: Path, provider: str,
                       entries: Sequence[Mapping[str, Any]]) -> str:  # fmt: skip
    """Append ``entries`` to ``provider``'s models in the config file at ``path``,
    validated first, written atomically; returns the new text."""
    from llmbench_jupyter.core.config._loader import parse_config

    text = path.read_text(encoding="utf-8")
    new = with_models(text, provider, entries, str(path))
    loaded = parse_config(new, str(path))  # ConfigError, naming the problem, if it broke
    ids = {m.id for m in loaded.provider(provider).models}
    missing = [e["id"] for e in entries if e["id"] not in ids]
    if missing:
        raise ConfigError(f"{path}: adding {missing} did not take; the file is unchanged")
    fd, tmp = tempfile.mkstemp(prefix=".config-", suffix=".yaml", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(new)
        os.chmod(tmp, path.stat().st_mode & 0o777)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return new
