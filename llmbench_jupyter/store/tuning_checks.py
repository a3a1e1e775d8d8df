"""Checks of what the tuning tables store: arguments named when wrong, JSON kept exact.

Each function takes ``what`` (the store method) and the argument's name or path, so an
error says which call and which value was wrong, and what was expected instead.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Mapping, Sequence
from numbers import Integral, Real
from typing import Any

from llmbench_jupyter.core.errors import InputError

_MAX_ID = 64


def check_id(what: str, label: str, value: object) -> None:
    if not isinstance(value, str) or not value or len(value) > _MAX_ID:
        raise InputError(
            f"{what}: {label} must be a non-empty string of at most {_MAX_ID} characters, "
            f"got {show(value)}"
        )


def check_count(what: str, label: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InputError(f"{what}: {label} must be a non-negative integer, got {value!r}")


def show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else f"{text[:60]}... ({len(str(value))} characters)"


def free_text(value: str) -> str:
    """Free text that must be stored whatever it holds (PostgreSQL text refuses NUL)."""
    return value.replace("\x00", "\ufffd")


def strings(what: str, label: str, value: object) -> list[str]:
    if isinstance(value, str) or not isinstance(value, Sequence) or not value:
        raise InputError(f"{what}: {label} must be a non-empty list of strings, got {value!r}")
    if not all(isinstance(v, str) for v in value):
        raise InputError(f"{what}: {label} must be a list of strings, got {list(value)!r}")
    return list(value)


def mapping(what: str, label: str, value: object) -> Mapping[Any, Any]:
    if not isinstance(value, Mapping):
        raise InputError(f"{what}: {label} must be a dict, got {type(value).__name__}")
    return value


def key(what: str, where: str, name: object) -> str:
    if not isinstance(name, str):
        raise InputError(
            f"{what}: {where} has key {name!r}; keys must be strings (JSON objects have "
            "string keys, so another key would not read back as written)"
        )
    return name


def finite(what: str, where: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, Real):
        raise InputError(f"{what}: {where} must be a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise InputError(
            f"{what}: {where} is {number}; only finite numbers are stored here (report a "
            "trial whose objective is undefined as 'fail' or 'pruned')"
        )
    return number


def case_scores(what: str, value: object) -> dict[str, float]:
    """``{case_id: score}`` with finite scores (None: no scores)."""
    given = mapping(what, "case_scores", {} if value is None else value)
    return {
        key(what, "case_scores", k): finite(what, f"case_scores[{k!r}]", v)
        for k, v in given.items()
    }


def intermediate(what: str, value: object) -> dict[str, float]:
    """``{step: value}`` with finite values, keyed by the step as a string (JSON keys are)."""
    out = {}
    for step, number in mapping(what, "intermediate", {} if value is None else value).items():
        if isinstance(step, bool) or not isinstance(step, Integral) or step < 0:
            raise InputError(
                f"{what}: intermediate steps must be non-negative integers, got {step!r}"
            )
        out[str(int(step))] = finite(what, f"intermediate[{step}]", number)
    return out


def finite_list(what: str, values: object) -> list[float]:
    if isinstance(values, str | bytes) or not isinstance(values, Sequence):
        raise InputError(f"{what}: values must be a list of numbers, got {values!r}")
    return [finite(what, f"values[{i}]", v) for i, v in enumerate(values)]


def json_data(what: str, where: str, value: Any, *, nan_as_null: bool = False) -> Any:
    """``value`` as plain JSON data (numpy numbers become Python ones).

    NaN and infinity are refused, or with ``nan_as_null`` stored as null.
    """
    if value is None or isinstance(value, str | bool):
        return value
    if isinstance(value, Integral):
        return int(value)
    if isinstance(value, Real):
        number = float(value)
        if math.isfinite(number):
            return number
        if nan_as_null:
            return None
        raise InputError(f"{what}: {where} is {number}; JSON has no NaN or infinity")
    if isinstance(value, Mapping):
        return {
            key(what, where, k): json_data(what, f"{where}[{k!r}]", v, nan_as_null=nan_as_null)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [
            json_data(what, f"{where}[{i}]", v, nan_as_null=nan_as_null)
            for i, v in enumerate(value)
        ]
    raise InputError(
        f"{what}: {where} is a {type(value).__name__}; expected JSON data (dicts with string "
        "keys, lists, strings, numbers, booleans, None)"
    )


def json_dict(
    what: str, label: str, value: object, *, optional: bool = False, nan_as_null: bool = False
) -> Any:
    """A dict argument as plain JSON data (see :func:`json_data`); ``optional``: None is {}."""
    if optional and value is None:
        return {}
    return json_data(what, label, mapping(what, label, value), nan_as_null=nan_as_null)


#: Longest name of a stored profile, experiment or other named thing of a user.
MAX_NAME = 200


def name(what: str, value: object) -> None:
    """A user-given name: one line of printable text, 1 to ``MAX_NAME`` characters."""
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_NAME:
        raise InputError(
            f"{what}: name must be a non-empty string of at most {MAX_NAME} characters, "
            f"got {show(value)}"
        )
    bad = next((c for c in value if unicodedata.category(c) == "Cc"), None)
    if bad is not None:
        raise InputError(
            f"{what}: name contains the control character U+{ord(bad):04X}; a name is one "
            f"line of printable text, got {show(value)}"
        )
