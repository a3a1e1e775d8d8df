"""Read and write suite files (YAML or JSON), and hash a suite's content.

The file side of suites: parse errors name the file and the line, and a saved suite
loads back unchanged.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from llmbench_jupyter.core.private_files import write_atomic
from llmbench_jupyter.evals.model import Suite
from llmbench_jupyter.evals.suites._errors import SuiteError
from llmbench_jupyter.evals.suites._validate import _build


def read_data_file(path: str | os.PathLike[str], what: str = "suite file") -> tuple[Any, str]:
    """Parse a YAML or JSON file; return (data, origin label for messages)."""
    origin = f"{what} {os.fspath(path)}"
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise SuiteError(f"{origin}: cannot read ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise SuiteError(f"{origin}: not UTF-8 text") from None
    if str(path).lower().endswith(".json"):
        try:
            return json.loads(text), origin
        except json.JSONDecodeError as exc:
            raise SuiteError(
                f"{origin}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
            ) from None
    import yaml

    try:
        return yaml.safe_load(text), origin
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1} column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise SuiteError(f"{origin}: invalid YAML{at}: {problem}") from None


def load_suite(source: str | os.PathLike[str] | Mapping[str, Any] | Suite) -> Suite:
    """Load and validate a suite from a YAML/JSON file, a parsed mapping, or a Suite;
    ``"example"`` and ``"tuning-example"`` are the shipped example suites.

    Matchers may use the short forms of :mod:`.model`. Raises :class:`SuiteError`.
    """
    if isinstance(source, str) and source in EXAMPLES:
        source = example_files(source)[0]
    if isinstance(source, Suite):
        return _build(source.to_dict(), f"suite {source.name!r}")
    if isinstance(source, Mapping):
        label = source.get("name") if isinstance(source.get("name"), str) else "?"
        return _build(dict(source), f"suite {label!r}")
    data, origin = read_data_file(source)
    return _build(data, origin)


def dump_suite(suite: Suite, path: str | os.PathLike[str]) -> Path:
    """Write a suite as YAML (``.yaml``/``.yml``) or JSON (anything else); lossless.

    The file is private (0600) and never written through a link planted at its name.
    """
    out = Path(path)
    data = suite.to_dict()
    if out.suffix.lower() in (".yaml", ".yml"):
        import yaml

        text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)
    else:
        text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    return write_atomic(out, text)


def suite_hash(suite: Suite) -> str:
    """SHA-256 of the suite's content (everything but ``version``), stable across runs.

    The store uses it to tell whether a saved suite changed and needs a new version.
    """
    data = suite.to_dict()
    data.pop("version", None)
    canon = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canon.encode("utf-8")).hexdigest()


#: Shipped suites by name: (suite file, the sim rules that answer it). ``tuning-example``
#: has a known optimum for parameter searches.
EXAMPLES = {
    "example": ("example_suite.yaml", "example_sim_rules.yaml"),
    "tuning-example": ("tuning_suite.yaml", "tuning_sim_rules.yaml"),
}


def example_files(name: str = "example") -> tuple[str, str]:
    """Paths of a shipped example suite and of the sim rules that answer it."""
    from importlib.resources import files

    data = files("llmbench_jupyter.evals") / "data"
    suite, rules = EXAMPLES[name]
    return str(data / suite), str(data / rules)
