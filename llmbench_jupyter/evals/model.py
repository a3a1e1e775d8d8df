"""Data model of the tool-calling eval: suites, cases, expected calls, parsed calls.

Plain dataclasses so suites round-trip through YAML/JSON (``to_dict``/``from_dict``) and
so scoring stays pure Python. A matcher may be written in short form in suite files: a
plain value means ``exact``; ``{one_of: [...]}``, ``{regex: "..."}``, ``{numeric: 3.5,
abs_tol: 0.1}``, ``{text: "paris"}``, ``{unordered: [...]}``, ``{object: {...}}``,
``{any: true}``, ``{optional: true, ...}``; the long form ``{kind: ..., value: ...}`` too.
``normalize: true`` on an ``exact``/``one_of``/``unordered`` matcher compares every string in
the value (list items and dict values included) the way ``text`` does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from llmbench_jupyter.core.errors import LLMBenchError

MATCHER_KINDS = (
    "exact",
    "one_of",
    "optional",
    "numeric",
    "text",
    "regex",
    "unordered",
    "object",
    "any",
)
# Keys of a short-form matcher besides the kind keyword itself.
_MODIFIERS = {"abs_tol", "rel_tol", "optional", "normalize"}


class EvalModelError(LLMBenchError, ValueError):
    """A suite/case/matcher description we cannot use: says what, where and what was expected."""


def is_matcher_spec(spec: Any) -> bool:
    """True when a mapping is a matcher written in short or long form (not a plain value)."""
    return _is_matcher_dict(spec)


def _is_matcher_dict(spec: Any) -> bool:
    """True when a dict is a matcher spec rather than an exact dict value."""
    if not isinstance(spec, dict) or not spec:
        return False
    keys = set(spec)
    if "kind" in keys:
        return keys <= {"kind", "value"} | _MODIFIERS
    kinds = keys & (set(MATCHER_KINDS) - {"optional"})
    if not kinds:  # {optional: true} alone: any value, or absent
        return keys == {"optional"}
    return len(kinds) == 1 and keys <= kinds | _MODIFIERS


@dataclass(slots=True)
class ParamMatcher:
    """How one expected argument value is judged (see docs/scoring.md for every kind)."""

    kind: str = "exact"
    value: Any = None
    abs_tol: float | None = None
    rel_tol: float | None = None
    optional: bool = False
    #: strings inside the value compare like ``text`` (exact, one_of, unordered)
    normalize: bool = False

    def __post_init__(self) -> None:
        if self.kind not in MATCHER_KINDS:
            raise EvalModelError(
                f"unknown matcher kind {self.kind!r}; expected one of {list(MATCHER_KINDS)}"
            )

    @classmethod
    def parse(cls, spec: Any, where: str = "matcher") -> ParamMatcher:
        """Build a matcher from its short or long form (or return it if already one)."""
        if isinstance(spec, ParamMatcher):
            return spec
        if not _is_matcher_dict(spec):
            return cls(kind="exact", value=spec)
        spec = dict(spec)
        optional = bool(spec.pop("optional", False))
        normalize = spec.pop("normalize", False)
        if not isinstance(normalize, bool):
            raise EvalModelError(f"{where}: normalize must be true or false, got {normalize!r}")
        abs_tol = spec.pop("abs_tol", None)
        rel_tol = spec.pop("rel_tol", None)
        if "kind" in spec:
            kind, value = spec["kind"], spec.get("value")
        elif spec:
            ((kind, value),) = spec.items()
        else:  # {optional: true}: any value, or absent
            kind, value = "optional", None
        if kind not in MATCHER_KINDS:
            raise EvalModelError(
                f"{where}: unknown matcher kind {kind!r}; expected one of {list(MATCHER_KINDS)}"
            )
        if kind == "optional":
            optional = True
        for name, tol in (("abs_tol", abs_tol), ("rel_tol", rel_tol)):
            if tol is not None and (isinstance(tol, bool) or not isinstance(tol, int | float)):
                raise EvalModelError(f"{where}: {name} must be a number, got {tol!r}")
        if normalize and kind not in ("exact", "one_of", "unordered"):
            raise EvalModelError(
                f"{where}: normalize applies to exact, one_of and unordered, not {kind!r}"
            )
        value = _parse_value(kind, value, where)
        return cls(
            kind=kind,
            value=value,
            abs_tol=abs_tol,
            rel_tol=rel_tol,
            optional=optional,
            normalize=normalize,
        )

    def to_dict(self) -> dict[str, Any]:
        """Long form, JSON-able (nested matchers serialised recursively)."""
        out: dict[str, Any] = {"kind": self.kind, "value": _value_to_json(self.kind, self.value)}
        if self.abs_tol is not None:
            out["abs_tol"] = self.abs_tol
        if self.rel_tol is not None:
            out["rel_tol"] = self.rel_tol
        if self.optional:
            out["optional"] = True
        if self.normalize:
            out["normalize"] = True
        return out

    @classmethod
    def from_dict(cls, data: Any) -> ParamMatcher:
        return cls.parse(data)


def _parse_value(kind: str, value: Any, where: str) -> Any:
    if kind == "one_of":
        if not isinstance(value, list):
            raise EvalModelError(f"{where}: one_of needs a list of values, got {value!r}")
    elif kind == "regex":
        import re

        if not isinstance(value, str):
            raise EvalModelError(f"{where}: regex needs a pattern string, got {value!r}")
        try:
            re.compile(value)
        except re.error as exc:
            raise EvalModelError(f"{where}: invalid regex {value!r}: {exc}") from None
    elif kind == "numeric":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise EvalModelError(f"{where}: numeric needs a number, got {value!r}")
    elif kind == "text":
        if not isinstance(value, str):
            raise EvalModelError(f"{where}: text needs a string, got {value!r}")
    elif kind == "unordered":
        if not isinstance(value, list):
            raise EvalModelError(f"{where}: unordered needs a list, got {value!r}")
        return [
            ParamMatcher.parse(item, f"{where}[{i}]") if _is_matcher_dict(item) else item
            for i, item in enumerate(value)
        ]
    elif kind == "object":
        if not isinstance(value, dict):
            raise EvalModelError(f"{where}: object needs a mapping of matchers, got {value!r}")
        return {str(k): ParamMatcher.parse(v, f"{where}.{k}") for k, v in value.items()}
    return value


def _value_to_json(kind: str, value: Any) -> Any:
    if kind == "object" and isinstance(value, dict):
        return {k: v.to_dict() if isinstance(v, ParamMatcher) else v for k, v in value.items()}
    if kind == "unordered" and isinstance(value, list):
        return [v.to_dict() if isinstance(v, ParamMatcher) else v for v in value]
    return value


@dataclass(slots=True)
class ExpectedCall:
    """One call the model should make: a tool name and a matcher per argument."""

    name: str
    params: dict[str, ParamMatcher] = field(default_factory=dict)
    allow_extra_params: bool = False
    #: Other tool names that also satisfy this call (the predecessor's list of tools).
    alternatives: list[str] = field(default_factory=list)

    def accepts(self, name: str) -> bool:
        return name == self.name or name in self.alternatives

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "params": {k: m.to_dict() for k, m in self.params.items()},
            "allow_extra_params": self.allow_extra_params,
        }
        if self.alternatives:
            out["alternatives"] = list(self.alternatives)
        return out

    @classmethod
    def from_dict(cls, data: Any, where: str = "expected call") -> ExpectedCall:
        if isinstance(data, ExpectedCall):
            return data
        if not isinstance(data, dict) or not isinstance(data.get("name"), str):
            raise EvalModelError(f"{where}: expected a mapping with a string 'name', got {data!r}")
        params = data.get("params") or {}
        if not isinstance(params, dict):
            raise EvalModelError(f"{where}: 'params' must be a mapping, got {params!r}")
        return cls(
            name=data["name"],
            params={
                str(k): ParamMatcher.parse(v, f"{where}.{data['name']}.{k}")
                for k, v in params.items()
            },
            allow_extra_params=bool(data.get("allow_extra_params", False)),
            alternatives=[str(a) for a in data.get("alternatives") or []],
        )


@dataclass(slots=True)
class Case:
    """One prompt and what a correct model does with it."""

    id: str
    messages: list[dict[str, Any]]
    category: str = "single"
    should_call: bool = True
    expected: list[ExpectedCall] = field(default_factory=list)
    ordered: bool = False
    tools: list[str] | None = None
    # multi-turn
    max_rounds: int = 1
    mock_responses: dict[str, Any] = field(default_factory=dict)
    required_sequence: list[str] = field(default_factory=list)
    expected_final_state: dict[str, Any] | None = None
    mock_tools: str | None = None  # a registered stateful mock class (evals/mocks.py)
    initial_state: dict[str, Any] = field(default_factory=dict)
    # provenance
    source: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "messages": self.messages,
            "category": self.category,
            "should_call": self.should_call,
            "expected": [e.to_dict() for e in self.expected],
            "ordered": self.ordered,
            "tools": self.tools,
            "max_rounds": self.max_rounds,
            "mock_responses": self.mock_responses,
            "required_sequence": self.required_sequence,
            "expected_final_state": self.expected_final_state,
            "mock_tools": self.mock_tools,
            "initial_state": self.initial_state,
            "source": self.source,
        }

    @classmethod
    def from_dict(cls, data: Any, where: str = "case") -> Case:
        if isinstance(data, Case):
            return data
        if not isinstance(data, dict) or "id" not in data:
            raise EvalModelError(f"{where}: expected a mapping with an 'id', got {data!r}")
        where = f"case {data['id']!r}"
        messages = data.get("messages")
        if messages is None and isinstance(data.get("prompt"), str):
            messages = [{"role": "user", "content": data["prompt"]}]
        if not isinstance(messages, list):
            raise EvalModelError(f"{where}: 'messages' (or 'prompt') is required")
        expected = data.get("expected") or []
        if not isinstance(expected, list):
            raise EvalModelError(f"{where}: 'expected' must be a list of calls")
        tools = data.get("tools")
        return cls(
            id=str(data["id"]),
            messages=messages,
            category=str(data.get("category", "single")),
            should_call=bool(data.get("should_call", True)),
            expected=[
                ExpectedCall.from_dict(e, f"{where} expected[{i}]") for i, e in enumerate(expected)
            ],
            ordered=bool(data.get("ordered", False)),
            tools=list(tools) if tools is not None else None,
            max_rounds=int(data.get("max_rounds", 1)),
            mock_responses=dict(data.get("mock_responses") or {}),
            required_sequence=list(data.get("required_sequence") or []),
            expected_final_state=data.get("expected_final_state"),
            mock_tools=data.get("mock_tools"),
            initial_state=dict(data.get("initial_state") or {}),
            source=dict(data.get("source") or {}),
        )


@dataclass(slots=True)
class Suite:
    """A named set of tools (OpenAI function-calling schema) and the cases that use them."""

    name: str
    tools: list[dict[str, Any]]
    cases: list[Case]
    version: int = 1
    description: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "description": self.description,
            "tools": self.tools,
            "cases": [c.to_dict() for c in self.cases],
        }

    @classmethod
    def from_dict(cls, data: Any) -> Suite:
        if not isinstance(data, dict) or not isinstance(data.get("name"), str):
            raise EvalModelError(f"suite: expected a mapping with a string 'name', got {data!r}")
        tools = data.get("tools") or []
        cases = data.get("cases") or []
        if not isinstance(tools, list) or not isinstance(cases, list):
            raise EvalModelError(f"suite {data['name']!r}: 'tools' and 'cases' must be lists")
        return cls(
            name=data["name"],
            tools=tools,
            cases=[
                Case.from_dict(c, f"suite {data['name']!r} case[{i}]") for i, c in enumerate(cases)
            ],
            version=int(data.get("version", 1)),
            description=str(data.get("description", "")),
        )


@dataclass(slots=True)
class ParsedCall:
    """One tool call as the model made it, from any provider format.

    ``arguments`` is None when they could not be parsed; ``parse_error`` then says why.
    Such a call is still a call: it is never dropped nor read as an abstention.
    """

    name: str
    arguments: dict[str, Any] | None
    raw_arguments: str = ""
    id: str | None = None
    parse_error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "arguments": self.arguments,
            "raw_arguments": self.raw_arguments,
            "id": self.id,
            "parse_error": self.parse_error,
        }

    @classmethod
    def from_dict(cls, data: Any) -> ParsedCall:
        if not isinstance(data, dict) or not isinstance(data.get("name"), str):
            raise EvalModelError(
                f"parsed call: expected a mapping with a string 'name', got {data!r}"
            )
        return cls(
            name=data["name"],
            arguments=data.get("arguments"),
            raw_arguments=str(data.get("raw_arguments", "")),
            id=data.get("id"),
            parse_error=data.get("parse_error"),
        )
