"""What litellm knows: ``get_supported_openai_params`` for models in its model map.

litellm answers for any model name, known or not (an unknown OpenAI model gets the
generic OpenAI list), so its answer is used only when the model is in litellm's bundled
model map; otherwise, or when litellm is missing or fails, the table alone decides and
the resolver says so. litellm is imported lazily and offline
(:func:`~llmbench_jupyter.core.transports.litellm.load_litellm`), and answers are cached:
asking costs ~4 s once (the import), then nothing.
"""

from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass

#: Canonical parameters litellm can speak about, with the OpenAI names that mean "accepted".
#: top_k has no OpenAI name, so litellm never says anything about it.
OPENAI_NAMES: dict[str, tuple[str, ...]] = {
    "temperature": ("temperature",),
    "top_p": ("top_p",),
    "max_tokens": ("max_tokens", "max_completion_tokens"),
    "seed": ("seed",),
    "tool_choice": ("tool_choice",),
    "parallel_tool_calls": ("parallel_tool_calls",),
    "reasoning_effort": ("reasoning_effort",),
}


@dataclass(frozen=True)
class Support:
    """litellm's answer for one model: ``params`` None means it had no answer (``why``)."""

    params: frozenset[str] | None
    why: str

    def lacks(self, name: str) -> bool:
        names = OPENAI_NAMES.get(name)
        if self.params is None or names is None:
            return False
        return not any(n in self.params for n in names)


@functools.lru_cache(maxsize=512)
def litellm_support(provider: str, model: str) -> Support:
    """litellm's supported OpenAI params for ``provider``/``model``, never raising."""
    label = f"{provider}/{model}"
    try:
        from llmbench_jupyter.core.transports.litellm import load_litellm

        litellm = load_litellm()
    except Exception as exc:  # not installed, or broken: the table decides
        return Support(None, f"litellm unavailable ({type(exc).__name__}: {exc})"[:200])
    try:
        # get_model_info guesses for unknown names (o-series patterns); the map itself doesn't
        cost_map = litellm.model_cost
        known = model in cost_map or label in cost_map
    except Exception:
        known = False
    if not known:
        return Support(None, f"litellm's model map does not know {label}")
    try:
        with warnings.catch_warnings():  # its provider modules load pydantic schemas noisily
            warnings.simplefilter("ignore")
            found = litellm.get_supported_openai_params(model=model, custom_llm_provider=provider)
    except Exception as exc:
        return Support(None, f"litellm failed on {label} ({type(exc).__name__})")
    if not found:
        return Support(None, f"litellm has no parameter list for {label}")
    version = getattr(litellm, "__version__", "") or _version()
    return Support(
        frozenset(str(p) for p in found),
        f"litellm {version} get_supported_openai_params({label})".replace("  ", " "),
    )


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("litellm")
    except Exception:
        return ""
