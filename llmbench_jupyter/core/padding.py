"""Context padding: fill a prompt with exactly N tokens of public-domain text.

Why it is built this way:
- a fresh nonce comes first, so a provider's prefix cache cannot serve a repeated run
  (the predecessor sent byte-identical padding and measured its cache, not prefill);
- the text starts at a random paragraph and wraps around the corpus, so requests differ
  beyond the nonce as well;
- the size is exact under the given tokenizer (measured, not estimated), and the corpus
  is tokenized once per tokenizer, so a 150K-token tier costs one slice and one check.
"""

from __future__ import annotations

import random
import threading
import uuid
from dataclasses import dataclass
from typing import Any

from llmbench_jupyter.core.corpus import paragraphs
from llmbench_jupyter.core.errors import InputError
from llmbench_jupyter.core.tokens import TiktokenTokenizer, Tokenizer

_SEPARATOR = "\n\n"
_MAX_ADJUST = 12


@dataclass(frozen=True)
class _TokenizedCorpus:
    ids: list[int]  # the whole corpus, paragraphs joined by blank lines, as one cycle
    starts: list[int]  # token index where each paragraph begins


_cache: dict[Any, _TokenizedCorpus] = {}
_lock = threading.Lock()


def _cache_key(tokenizer: Tokenizer) -> Any:
    # Tokenizers over the same tiktoken encoding produce the same ids: share one copy.
    if isinstance(tokenizer, TiktokenTokenizer):
        return ("tiktoken", tokenizer.encoding)
    return tokenizer


def _corpus(tokenizer: Tokenizer) -> _TokenizedCorpus:
    key = _cache_key(tokenizer)
    cached = _cache.get(key)
    if cached is not None:
        return cached
    with _lock:
        cached = _cache.get(key)
        if cached is None:
            ids: list[int] = []
            starts: list[int] = []
            for para in paragraphs():
                starts.append(len(ids))
                ids.extend(tokenizer.encode(para + _SEPARATOR))
            cached = _TokenizedCorpus(ids, starts)
            _cache[key] = cached
    return cached


def _window(ids: list[int], start: int, length: int) -> list[int]:
    """``length`` ids of the cyclic sequence ``ids`` from ``start``, wrapping around."""
    out: list[int] = []
    pos = start
    while len(out) < length:
        take = min(length - len(out), len(ids) - pos)
        out.extend(ids[pos : pos + take])
        pos = 0
    return out


def build_padding(n_tokens: int, tokenizer: Tokenizer, rng: random.Random) -> tuple[str, int]:
    """Public-domain text of exactly ``n_tokens`` tokens under ``tokenizer``, and its count.

    The start paragraph is drawn from ``rng``. Token boundaries can merge when a slice of
    ids is decoded and re-encoded, so the slice length is corrected until the measured
    count matches; the count returned is always the measured one.
    """
    if isinstance(n_tokens, bool) or not isinstance(n_tokens, int) or n_tokens < 0:
        raise InputError(f"padding size must be a non-negative integer, got {n_tokens!r}")
    if n_tokens == 0:
        return "", 0
    corpus = _corpus(tokenizer)
    start = corpus.starts[rng.randrange(len(corpus.starts))]
    length = n_tokens
    text = ""
    count = -1
    for _ in range(_MAX_ADJUST):
        text = tokenizer.decode(_window(corpus.ids, start, length))
        count = tokenizer.count(text)
        if count == n_tokens:
            return text, count
        length = max(1, length + (n_tokens - count))
    return _trim_to(text, count, n_tokens, tokenizer)


def _trim_to(text: str, count: int, n_tokens: int, tokenizer: Tokenizer) -> tuple[str, int]:
    """Last resort: cut characters until the count is at most ``n_tokens``."""
    while count > n_tokens and text:
        ids = tokenizer.encode(text)[:n_tokens]
        shorter = tokenizer.decode(ids)
        text = shorter if len(shorter) < len(text) else text[:-1]
        count = tokenizer.count(text)
    return text, count


def make_nonce() -> str:
    """A fresh request marker; random per call, independent of any seeded rng."""
    return uuid.uuid4().hex[:16]


def build_prompt(
    prompt: str,
    n_tokens: int,
    tokenizer: Tokenizer,
    rng: random.Random,
    nonce: str | None = None,
) -> tuple[str, int]:
    """``[request <nonce>]``, then ``n_tokens`` of padding, then ``prompt``.

    Returns the full text and the padding's measured token count (0 without padding).
    """
    head = f"[request {nonce if nonce is not None else make_nonce()}]"
    padding, count = build_padding(n_tokens, tokenizer, rng)
    if not padding:
        return f"{head}{_SEPARATOR}{prompt}", count
    return f"{head}{_SEPARATOR}{padding}{_SEPARATOR}{prompt}", count
