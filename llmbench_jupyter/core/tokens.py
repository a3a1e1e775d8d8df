"""Offline token counting: tiktoken encodings shipped inside litellm, or a regex fallback.

Token counts size context padding and back up output token counts, so a tokenizer says
whether it is exact for the model (``exact``) and its name says when it is only an
approximation. tiktoken normally downloads its encodings; litellm ships cl100k and
o200k, so we point ``TIKTOKEN_CACHE_DIR`` there and never touch the network.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import threading
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from llmbench_jupyter.core.errors import LLMBenchError

REGEX_NAME = "regex-approx"
_BLOB = "https://openaipublic.blob.core.windows.net/encodings/{}.tiktoken"
_KNOWN = ("o200k_base", "cl100k_base", "p50k_base", "r50k_base")

# Model families and their own encoding, checked in order (first match wins).
_FAMILIES: list[tuple[re.Pattern[str], str]] = [
    (
        re.compile(r"^(gpt-4o|chatgpt-4o|gpt-4\.1|gpt-4\.5|gpt-5|gpt-oss|o1|o3|o4)(\b|[-.:_]|$)"),
        "o200k_base",
    ),
    (
        re.compile(r"^(gpt-4|gpt-3\.5|gpt-35|text-embedding-3|text-embedding-ada-002)"),
        "cl100k_base",
    ),
]
_APPROX_ENCODING = "cl100k_base"
#: Names accepted as a tokenizer hint (config ``tokenizer:``).
TOKENIZER_NAMES = (*_KNOWN, REGEX_NAME)


class Tokenizer:
    """A tokenizer: ``encode``/``decode``/``count``; ``exact`` is True only for the model's own."""

    def __init__(self, name: str, encoding: str, exact: bool):
        self.name = name
        self.encoding = encoding  # what the token ids mean; equal encodings share caches
        self.exact = exact

    def encode(self, text: str) -> list[int]:
        raise NotImplementedError

    def decode(self, ids: list[int]) -> str:
        raise NotImplementedError

    def count(self, text: str) -> int:
        return len(self.encode(text))

    def __repr__(self) -> str:
        return f"Tokenizer({self.name!r}, exact={self.exact})"


class TiktokenTokenizer(Tokenizer):
    def __init__(self, encoding: Any, exact: bool):
        name = encoding.name if exact else f"{encoding.name} (approximation)"
        super().__init__(name, encoding.name, exact)
        self._enc = encoding

    def encode(self, text: str) -> list[int]:
        # Special-token text such as "<|endoftext|>" is counted as plain text, never rejected.
        return list(self._enc.encode_ordinary(text))

    def decode(self, ids: list[int]) -> str:
        return str(self._enc.decode(ids))


# Pieces shaped like BPE pre-tokens: short words with their leading space, digit groups,
# punctuation runs, newlines and other whitespace. Long words are split into chunks because
# BPE vocabularies split them too. Every character falls in some piece, so decode(encode(t))
# gives t back.
_PIECE = re.compile(
    r"'(?:s|t|re|ve|m|ll|d)\b"
    r"| ?[^\W\d_]{1,7}"
    r"| ?\d{1,3}"
    r"| ?[^\w\s]{1,3}"
    r"|\n+"
    r"|[^\S\n]+"
    r"|_+"
    r"|.",
    re.DOTALL,
)


class RegexTokenizer(Tokenizer):
    """Fallback when no tiktoken encoding is available offline; never exact."""

    def __init__(self) -> None:
        super().__init__(REGEX_NAME, REGEX_NAME, exact=False)
        self._ids: dict[str, int] = {}
        self._pieces: list[str] = []
        self._lock = threading.Lock()

    def encode(self, text: str) -> list[int]:
        ids = self._ids
        out: list[int] = []
        for piece in _PIECE.findall(text):
            i = ids.get(piece)
            if i is None:
                with self._lock:
                    i = ids.setdefault(piece, len(self._pieces))
                    if i == len(self._pieces):
                        self._pieces.append(piece)
            out.append(i)
        return out

    def decode(self, ids: list[int]) -> str:
        pieces = self._pieces
        return "".join(pieces[i] for i in ids)

    def count(self, text: str) -> int:
        return len(_PIECE.findall(text))


def ensure_tiktoken_cache() -> str | None:
    """Point tiktoken at litellm's bundled encodings unless the user chose a cache dir.

    Uses ``find_spec`` so that litellm (slow to import) is located but not imported.
    """
    current = os.environ.get("TIKTOKEN_CACHE_DIR")
    if current:
        return current
    try:
        spec = importlib.util.find_spec("litellm")
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "litellm_core_utils" / "tokenizers"
        if candidate.is_dir():
            os.environ["TIKTOKEN_CACHE_DIR"] = str(candidate)
            return str(candidate)
    return None


def _cached_offline(name: str) -> bool:
    """Whether tiktoken can load ``name`` without downloading it."""
    cache_dir = ensure_tiktoken_cache()
    if not cache_dir or name not in _KNOWN:
        return False
    key = hashlib.sha1(_BLOB.format(name).encode()).hexdigest()
    return (Path(cache_dir) / key).is_file()


@cache
def _tiktoken_encoding(name: str) -> Any | None:
    if not _cached_offline(name):
        return None
    try:
        import tiktoken

        encoding = tiktoken.get_encoding(name)
        _loaded_encodings.add(name)
        return encoding
    except Exception:  # a corrupt cache file or an old tiktoken: use the fallback
        return None


@cache
def _tokenizer(encoding: str, exact: bool) -> Tokenizer:
    enc = _tiktoken_encoding(encoding)
    if enc is None:
        return _regex_tokenizer()
    return TiktokenTokenizer(enc, exact)


@lru_cache(maxsize=1)
def _regex_tokenizer() -> RegexTokenizer:
    return RegexTokenizer()


def model_encoding(model_id: str) -> str | None:
    """The tiktoken encoding a model really uses, if we know it (OpenAI families only)."""
    name = model_id.strip().lower()
    if name.startswith("ft:"):
        name = name[3:]
    name = name.rsplit("/", 1)[-1]
    for pattern, encoding in _FAMILIES:
        if pattern.match(name):
            return encoding
    return None


class LazyTokenizer(Tokenizer):
    """An approximate tiktoken tokenizer that loads its encoding when first asked to count.

    Loading an encoding takes ~0.1 s of CPU. A run that pads no context only counts with
    an approximate tokenizer when a response lacks usage, which most servers send, so the
    encoding is often never needed; when it is, the first such response loads it (once
    per process). The name is the one the loaded tokenizer has, known without loading.
    """

    def __init__(self, encoding: str) -> None:
        super().__init__(f"{encoding} (approximation)", encoding, exact=False)
        self._loaded: Tokenizer | None = None

    @property
    def loaded(self) -> bool:
        return self._loaded is not None

    def _get(self) -> Tokenizer:
        if self._loaded is None:
            self._loaded = _tokenizer(self.encoding, exact=False)
            self.name, self.encoding = self._loaded.name, self._loaded.encoding
        return self._loaded

    def encode(self, text: str) -> list[int]:
        return self._get().encode(text)

    def decode(self, ids: list[int]) -> str:
        return self._get().decode(ids)

    def count(self, text: str) -> int:
        return self._get().count(text)


def get_tokenizer(model_id: str, hint: str | None = None, *, lazy: bool = False) -> Tokenizer:
    """The best offline tokenizer for ``model_id``.

    ``hint`` (a tiktoken encoding name, e.g. from the config's ``tokenizer``) wins over
    inference. Models outside the OpenAI families get cl100k_base, named as an
    approximation. Without the encoding files, a regex tokenizer (``regex-approx``).
    Never returns None; the Optional-free type is a convenience for callers.
    ``lazy``: an approximation not loaded yet comes as a :class:`LazyTokenizer` (an exact
    tokenizer checks every response's usage, so it is always loaded at once).
    """
    own = model_encoding(model_id)
    if hint:
        if hint not in TOKENIZER_NAMES:
            raise LLMBenchError(
                f"unknown tokenizer {hint!r} for model {model_id!r}; "
                f"expected one of {', '.join(TOKENIZER_NAMES)}"
            )
        if hint == REGEX_NAME:
            return _regex_tokenizer()
        return _maybe_lazy(hint, exact=(hint == own), lazy=lazy)
    if own is not None:
        return _tokenizer(own, exact=True)
    return _maybe_lazy(_APPROX_ENCODING, exact=False, lazy=lazy)


def _maybe_lazy(encoding: str, exact: bool, lazy: bool) -> Tokenizer:
    if exact or not lazy or encoding in _loaded_encodings:
        return _tokenizer(encoding, exact)
    if not _cached_offline(encoding) or importlib.util.find_spec("tiktoken") is None:
        return _regex_tokenizer()  # what loading would give: no need to wait for it
    return LazyTokenizer(encoding)


#: Encodings whose tiktoken tables this process has loaded.
_loaded_encodings: set[str] = set()
