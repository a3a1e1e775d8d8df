"""A tuner's search space: what the user asks for, checked against what the target takes.

Written as ``{name: spec}``, canonical parameter names (``core.params``)::

    {"temperature": (0.0, 1.0),                 # a range: a tuple of two numbers,
     "top_k": "1..100",                         #   or "low..high" (YAML, the CLI)
     "top_p": {"low": 0.5, "high": 1.0, "step": 0.05},
     "max_tokens": [256, 512, 1024],            # choices: a list
     "tool_choice": ["auto", "required"],
     "seed": "default",                         # the registry's own domain for this target
     "extra.frequency_penalty": [0.0, 0.5, 1.0]}  # provider-specific, sent unchecked

Ranges are clipped to what the target accepts (temperature ≤ 1 where the provider caps
it); a parameter the target does not take is refused with the registry's reason, never
dropped silently. The grid sampler needs every dimension discrete: ranges need a
``step`` (integers are enumerated when there are at most 100 of them).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from llmbench_jupyter.core.errors import InputError
from llmbench_jupyter.core.params import EXTRA, PARAMS, space

if TYPE_CHECKING:
    from optuna.distributions import BaseDistribution

    from llmbench_jupyter.core.targets import Target

#: Most values an integer range may have to be enumerated for a grid without a step.
GRID_INT_MAX = 100


@dataclass
class SearchSpace:
    """Optuna distributions by parameter name, and what the registry said about them."""

    distributions: dict[str, BaseDistribution]
    notes: list[str] = field(default_factory=list)

    def grid(self) -> dict[str, list[Any]]:
        """Every dimension's values, for ``GridSampler``; InputError if one is continuous."""
        from optuna.distributions import (
            CategoricalDistribution,
            FloatDistribution,
            IntDistribution,
        )

        out: dict[str, list[Any]] = {}
        for name, dist in self.distributions.items():
            if isinstance(dist, CategoricalDistribution):
                out[name] = list(dist.choices)
            elif isinstance(dist, IntDistribution) and (
                (dist.high - dist.low) // dist.step < GRID_INT_MAX
            ):
                out[name] = list(range(dist.low, dist.high + 1, dist.step))
            elif isinstance(dist, FloatDistribution) and dist.step is not None:
                n = round((dist.high - dist.low) / dist.step)
                out[name] = [round(dist.low + i * dist.step, 12) for i in range(n + 1)]
            else:
                raise InputError(
                    f"space: {name} is a continuous range; the grid sampler needs a step "
                    f"(e.g. {{'low': .., 'high': .., 'step': ..}}) or a list of choices"
                )
        return out

    def size(self) -> int | None:
        """How many points the grid has (None when a dimension is continuous)."""
        try:
            return math.prod(len(v) for v in self.grid().values())
        except InputError:
            return None


def build_space(target: Target, given: Mapping[str, Any], *, has_tools: bool = True) -> SearchSpace:
    """Check ``given`` against the parameter registry for ``target`` and build it;
    ``has_tools=False`` for a bench workload, which offers no tools (tool parameters are
    refused with the registry's reason)."""
    from optuna.distributions import CategoricalDistribution

    if not isinstance(given, Mapping) or not given:
        raise InputError(
            "space: expected a non-empty dict of {parameter: range or choices}, e.g. "
            "{'temperature': (0.0, 1.0), 'max_tokens': [256, 512, 1024]}"
        )
    canonical = [n for n in given if not str(n).startswith(EXTRA)]
    allowed = space(
        target.provider,
        target.model,
        target.kind,
        [str(n) for n in canonical if n in PARAMS],
        skip_params=target.skip_params,
        max_output_tokens=target.max_output_tokens,
        has_tools=has_tools,
    )
    out = SearchSpace({}, notes=list(allowed.constraints))
    for name, spec in given.items():
        name, spec = str(name), _range_text(spec)
        where = f"space[{name!r}]"
        if name.startswith(EXTRA):
            out.distributions[name] = _passthrough(where, spec)
            out.notes.append(f"{name}: provider-specific, sent unchecked")
            continue
        if name not in PARAMS:
            raise InputError(
                f"{where}: unknown parameter (known: {', '.join(PARAMS)}; a provider-specific "
                f"one is written '{EXTRA}<name>' and sent unchecked)"
            )
        if name in allowed.excluded:
            raise InputError(f"{where}: {target.key} does not take it: {allowed.excluded[name]}")
        domain = allowed.params[name]
        if domain.type in ("float", "int"):
            out.distributions[name] = _numeric(where, spec, domain, target.key)
        else:
            choices = _choices(where, spec, domain.choices)
            for value in choices:
                if value not in domain.choices:
                    raise InputError(
                        f"{where}: {value!r} is not accepted by {target.key} "
                        f"(choices: {list(domain.choices)})"
                    )
            out.distributions[name] = CategoricalDistribution(choices)
    return out


def _numeric(where: str, spec: Any, domain: Any, key: str) -> BaseDistribution:
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    is_int = domain.type == "int"
    low, high, step, log = domain.low, domain.high, None, domain.log
    if spec == "default":
        pass
    elif _is_pair(spec):
        low, high = spec[0], spec[1]
    elif isinstance(spec, Mapping):
        bad = sorted(set(spec) - {"low", "high", "step", "log", "choices"})
        if bad:
            raise InputError(f"{where}: unknown key(s) {bad}; expected low, high, step, log")
        if "choices" in spec:
            return CategoricalDistribution(_checked_values(where, spec["choices"], domain, key))
        low, high = spec.get("low", low), spec.get("high", high)
        step, log = spec.get("step"), bool(spec.get("log", log and step is None))
    elif isinstance(spec, list | tuple):
        return CategoricalDistribution(_checked_values(where, spec, domain, key))
    else:
        raise InputError(
            f"{where}: expected (low, high), a list of values, a dict with low/high/step, "
            f"or 'default'; got {spec!r}"
        )
    for label, value in (("low", low), ("high", high), ("step", step)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise InputError(f"{where}: {label} must be a number, got {value!r}")
    if not low < high:
        raise InputError(f"{where}: low must be below high, got {low!r} and {high!r}")
    if low < domain.low or high > domain.high:
        raise InputError(
            f"{where}: {key} accepts {domain.low:g} to {domain.high:g}, got {low:g} to {high:g}"
        )
    if step is not None and step <= 0:
        raise InputError(f"{where}: step must be positive, got {step!r}")
    if log and (low <= 0 or step is not None):
        log = False  # a log scale needs positive bounds and no step; fall back to linear
    if is_int:
        return IntDistribution(int(low), int(high), step=int(step or 1), log=log)
    return FloatDistribution(float(low), float(high), step=step, log=log)


def _checked_values(where: str, values: Any, domain: Any, key: str) -> tuple[Any, ...]:
    values = _choices(where, values, ())
    for v in values:
        ok = isinstance(v, int) if domain.type == "int" else isinstance(v, int | float)
        if isinstance(v, bool) or not ok:
            raise InputError(
                f"{where}: {v!r} is not a{'n integer' if domain.type == 'int' else ' number'}"
            )
        if not domain.low <= v <= domain.high:
            raise InputError(f"{where}: {key} accepts {domain.low:g} to {domain.high:g}, got {v!r}")
    return values


def _choices(where: str, spec: Any, default: tuple[Any, ...]) -> tuple[Any, ...]:
    if spec == "default":
        values: Any = default
    elif isinstance(spec, Mapping) and set(spec) == {"choices"}:
        values = spec["choices"]
    else:
        values = spec
    if isinstance(values, str) or not isinstance(values, list | tuple) or not values:
        raise InputError(f"{where}: expected a non-empty list of choices, got {spec!r}")
    for v in values:
        if not isinstance(v, str | int | float | bool) and v is not None:
            raise InputError(f"{where}: choices must be strings, numbers or booleans, got {v!r}")
    return tuple(dict.fromkeys(values))


def _passthrough(where: str, spec: Any) -> BaseDistribution:
    from optuna.distributions import CategoricalDistribution, FloatDistribution

    if _is_pair(spec):
        low, high = float(spec[0]), float(spec[1])
        if not low < high:
            raise InputError(f"{where}: low must be below high, got {spec!r}")
        return FloatDistribution(low, high)
    return CategoricalDistribution(_choices(where, spec, ()))


def _is_pair(spec: Any) -> bool:
    return (
        isinstance(spec, tuple)
        and len(spec) == 2
        and all(isinstance(v, int | float) and not isinstance(v, bool) for v in spec)
    )


def _range_text(spec: Any) -> Any:
    """``"0..1"`` as ``(0.0, 1.0)`` (``"1..100"`` as ints); anything else unchanged."""
    if not isinstance(spec, str) or spec.count("..") != 1:
        return spec
    parts = [p.strip() for p in spec.split("..")]
    try:
        values = tuple(int(p) if p.lstrip("-").isdigit() else float(p) for p in parts)
    except ValueError:
        return spec
    return values
