"""The one error of suite loading and validation, and how its messages are worded.

Every error names the file, the key path (``cases[3].expected[0].params.city``), what
was found and what was expected.
"""

from __future__ import annotations

from typing import Any

from llmbench_jupyter.evals.model import EvalModelError


class SuiteError(EvalModelError):
    """A suite (or an imported file) cannot be used; the message says where and why."""


def _fail(origin: str, path: str, problem: str) -> SuiteError:
    return SuiteError(f"{origin}: {path}: {problem}" if path else f"{origin}: {problem}")


def _tname(value: Any) -> str:
    return "null" if value is None else type(value).__name__
