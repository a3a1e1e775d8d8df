"""Filler words, the sim's own tokenisation of output, and prompt token counting.

Output tokens are words (one word with its leading space = one token) so the sim knows
exactly how many tokens it sent. Prompt tokens are counted with cl100k when tiktoken can
load it offline, else with a word/punctuation regex.
"""

from __future__ import annotations

import importlib.util
import os
import random
import re
from collections.abc import Iterator
from typing import Any

_WORD_LIST = """
the of and to in is that it for was on are as with his they at be this from have or by one
had not but what all were when we there can an your which their said if do will each about
how up out them then she many some so these would other into has more her two like him see
time could no make than first been its who now people my made over did down only way find
use may water long little very after words called just where most know get through back
much before go good new write our used me man too any day same right look think also around
another came come work three word must because does part even place well such here take why
things help put years different away again off went old number great tell men say small every
found still between name should home big give air line set own under read last never us left
end along while might next sound below saw something thought both few those always looked show
large often together asked house world going want school important until form food keep children
feet land side without boy once animals life enough took sometimes four head above kind began
almost live page got earth need far hand high year mother light parts country father let night
following picture being study second eyes soon times story boys since white days ever paper hard
near sentence better best across during today others however sure means knew its try told young
"""
WORDS = tuple(_WORD_LIST.split())

_WORD_RE = re.compile(r"\s*\S+")
_REGEX_TOKEN = re.compile(r"\w+|[^\w\s]")


def filler_words(rng: random.Random, n: int) -> Iterator[str]:
    """Yield ``n`` deterministic filler tokens (`` word``) from ``rng``."""
    choice = rng.choice
    for _ in range(n):
        yield " " + choice(WORDS)


_SPACED = tuple(" " + w for w in WORDS)


#: Filler tokens by byte value: a bulk draw is one random byte per word (of the first 256).
_BY_BYTE = _SPACED[:256]


def filler_word_lists(rng: random.Random, n: int, size: int = 256) -> Iterator[list[str]]:
    """``n`` filler tokens as lists of up to ``size``, one RNG call each and no Python
    step per word: for ``batch=N`` scenarios, where the server must cost far less per
    chunk than a client (a different draw from :func:`filler_words`)."""
    pick = _BY_BYTE.__getitem__
    left = n
    while left > 0:
        k = min(size, left)
        yield list(map(pick, rng.randbytes(k)))
        left -= k


def filler_words_bulk(rng: random.Random, n: int, size: int = 256) -> Iterator[str]:
    """Like :func:`filler_words` (a different draw): :func:`filler_word_lists`, one by one."""
    for words in filler_word_lists(rng, n, size):
        yield from words


def split_tokens(text: str) -> list[str]:
    """Split scripted text into the sim's tokens: each word with the whitespace before it."""
    return _WORD_RE.findall(text)


_encoder: Any = None
_encoder_failed = False


def _tokenizer_dir() -> str | None:
    """litellm ships tiktoken's BPE files; find them without importing litellm (slow)."""
    try:
        spec = importlib.util.find_spec("litellm")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for root in spec.submodule_search_locations:
        path = os.path.join(root, "litellm_core_utils", "tokenizers")
        if os.path.isdir(path):
            return path
    return None


def get_encoder() -> Any:
    """The cached cl100k encoder, or None when tiktoken cannot load it offline."""
    global _encoder, _encoder_failed
    if _encoder is not None or _encoder_failed:
        return _encoder
    if not os.environ.get("TIKTOKEN_CACHE_DIR"):
        path = _tokenizer_dir()
        if path:
            os.environ["TIKTOKEN_CACHE_DIR"] = path
    try:
        import tiktoken

        _encoder = tiktoken.get_encoding("cl100k_base")
    except Exception:  # offline without the BPE file, or tiktoken missing: fall back
        _encoder_failed = True
    return _encoder


def count_tokens(text: str) -> int:
    """Prompt tokens of ``text``: cl100k if available, else words and punctuation."""
    if not text:
        return 0
    enc = get_encoder()
    if enc is not None:
        return len(enc.encode_ordinary(text))
    return len(_REGEX_TOKEN.findall(text))


def content_text(content: Any) -> str:
    """Text of an OpenAI/Anthropic message content: a string or a list of parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, dict):
                for key in ("text", "content", "thinking"):
                    value = part.get(key)
                    if isinstance(value, str):
                        parts.append(value)
                    elif isinstance(value, list):
                        parts.append(content_text(value))
        return "\n".join(parts)
    return ""
