"""The provider parameter registry: what each provider and model accepts, and how to send it.

- :mod:`.definitions`: the canonical parameters (name, type, widest range);
- :mod:`.table`: the one table of per-provider, per-model-family rules;
- :mod:`.derive`: what litellm's ``get_supported_openai_params`` adds, offline and cached;
- :mod:`.wire`: the shapes that differ between the OpenAI and Anthropic request bodies;
- :mod:`.resolver`: :func:`resolve` (canonical parameters to a payload, every drop and
  rename recorded) and :func:`space` (what a search may range over).

docs/parameters.md describes the table in prose, with its sources.
"""

from llmbench_jupyter.core.params.definitions import API_KINDS, PARAMS, ParamDef, Range
from llmbench_jupyter.core.params.resolver import (
    EXTRA,
    SKIPPED,
    Domain,
    Record,
    Resolved,
    Space,
    for_target,
    resolve,
    space,
)
from llmbench_jupyter.core.params.table import FAMILIES, Family, family_for

__all__ = [
    "API_KINDS",
    "EXTRA",
    "FAMILIES",
    "PARAMS",
    "SKIPPED",
    "Domain",
    "Family",
    "ParamDef",
    "Range",
    "Record",
    "Resolved",
    "Space",
    "family_for",
    "for_target",
    "resolve",
    "space",
]
