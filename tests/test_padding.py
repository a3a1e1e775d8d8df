"""Offline tokenizers, the padding corpus, and exact, cache-busting context padding."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from importlib import resources

import pytest

from llmbench_jupyter.core import corpus
from llmbench_jupyter.core.errors import LLMBenchError
from llmbench_jupyter.core.padding import build_padding, build_prompt
from llmbench_jupyter.core.tokens import RegexTokenizer, Tokenizer, get_tokenizer

SIZES = [1, 2, 3, 7, 50, 333, 1000, 4096, 20000, 32000]


def _run_offline(code: str, env: dict[str, str] | None = None) -> str:
    """Run ``code`` in a fresh interpreter where any network connection raises."""
    guard = (
        "import socket\n"
        "def _no(*a, **k): raise RuntimeError('network used')\n"
        "socket.socket.connect = _no\n"
        "socket.create_connection = _no\n"
        "socket.getaddrinfo = _no\n"
    )
    full_env = {k: v for k, v in os.environ.items() if k != "TIKTOKEN_CACHE_DIR"}
    full_env.update(env or {})
    done = subprocess.run(
        [sys.executable, "-c", guard + code],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


# ------------------------------------------------------------------ tokenizers


def test_tiktoken_encodings_load_offline_without_importing_litellm() -> None:
    out = _run_offline(
        "import sys\n"
        "from llmbench_jupyter.core.tokens import get_tokenizer\n"
        "a = get_tokenizer('gpt-4o'); b = get_tokenizer('gpt-4')\n"
        "print(a.name, a.exact, a.count('hello world'), b.name, b.exact,"
        " b.count('hello world'), 'litellm' in sys.modules)\n"
    )
    assert out == "o200k_base True 2 cl100k_base True 2 False"


def test_regex_fallback_when_no_encoding_files(tmp_path) -> None:
    out = _run_offline(
        "from llmbench_jupyter.core.tokens import get_tokenizer\n"
        "t = get_tokenizer('gpt-4o')\n"
        "s = 'Hello, world! 12345\\n\\n  naive cafe'\n"
        "print(t.name, t.exact, t.decode(t.encode(s)) == s, t.count(s) > 3)\n",
        env={"TIKTOKEN_CACHE_DIR": str(tmp_path)},
    )
    assert out == "regex-approx False True True"


@pytest.mark.parametrize(
    ("model", "name", "exact"),
    [
        ("gpt-4o-mini", "o200k_base", True),
        ("gpt-4.1-nano", "o200k_base", True),
        ("gpt-5-mini", "o200k_base", True),
        ("o1", "o200k_base", True),
        ("o3-mini", "o200k_base", True),
        ("o4-mini", "o200k_base", True),
        ("openai/gpt-oss-120b", "o200k_base", True),
        ("ft:gpt-4o-mini:acme::abc", "o200k_base", True),
        ("gpt-4", "cl100k_base", True),
        ("gpt-4-turbo", "cl100k_base", True),
        ("gpt-3.5-turbo", "cl100k_base", True),
        ("claude-sonnet-4-5", "cl100k_base (approximation)", False),
        ("llama3.2:3b", "cl100k_base (approximation)", False),
    ],
)
def test_model_families(model: str, name: str, exact: bool) -> None:
    tok = get_tokenizer(model)
    assert (tok.name, tok.exact) == (name, exact)


def test_hint_wins_and_is_exact_only_for_the_models_own_encoding() -> None:
    assert get_tokenizer("gpt-oss:20b", hint="o200k_base").encoding == "o200k_base"
    assert get_tokenizer("my-local-model", hint="o200k_base").exact is False
    assert "approximation" in get_tokenizer("my-local-model", hint="o200k_base").name
    assert get_tokenizer("gpt-4o", hint="o200k_base").exact is True
    assert get_tokenizer("gpt-4o", hint="cl100k_base").exact is False
    assert get_tokenizer("x", hint="regex-approx").name == "regex-approx"
    with pytest.raises(LLMBenchError, match="unknown tokenizer"):
        get_tokenizer("x", hint="bogus_base")


def test_tokenizers_are_cached() -> None:
    assert get_tokenizer("gpt-4o") is get_tokenizer("gpt-4o-mini")


def test_special_token_text_is_counted_not_rejected() -> None:
    tok = get_tokenizer("gpt-4o")
    assert tok.count("a <|endoftext|> b") > 3


# ------------------------------------------------------------------ corpus


def test_corpus_is_large_varied_and_labelled() -> None:
    paras = corpus.paragraphs()
    assert sum(len(p) for p in paras) >= 60_000
    assert len(paras) >= 200
    files = {f.name for f in resources.files(corpus.__name__).iterdir() if f.name.endswith(".txt")}
    assert files == {s.file for s in corpus.SOURCES}
    for source in corpus.SOURCES:
        header, body = corpus.read_source(source.file)
        assert header["Title"] == source.title
        assert header["Author"] == source.author
        assert header["Year"] == source.year
        assert "Public domain" in header
        assert len(body) > 1000, source.file
    text = "\n".join(paras)
    for phrase in (
        "We hold these truths to be self-evident",
        "Four score and seven years",
        "In the beginning God created",
        "Quoth the Raven",
        "Call me Ishmael",
        "It was the best of times",
        "a truth universally acknowledged",
    ):
        assert phrase in text


# ------------------------------------------------------------------ padding


@pytest.mark.parametrize("model", ["gpt-4o", "gpt-4", "claude-x"])
def test_padding_has_exact_token_counts(model: str) -> None:
    tok = get_tokenizer(model)
    rng = random.Random(7)
    for n in SIZES:
        for _ in range(3):
            text, count = build_padding(n, tok, rng)
            assert count == n
            assert tok.count(text) == n


def test_padding_exact_with_regex_tokenizer() -> None:
    tok = RegexTokenizer()
    rng = random.Random(3)
    for n in SIZES:
        text, count = build_padding(n, tok, rng)
        assert count == tok.count(text) == n


def test_zero_padding_and_bad_sizes() -> None:
    tok = get_tokenizer("gpt-4o")
    assert build_padding(0, tok, random.Random(1)) == ("", 0)
    for bad in (-1, 1.5, "10", True):
        with pytest.raises(ValueError, match="non-negative integer"):
            build_padding(bad, tok, random.Random(1))  # type: ignore[arg-type]


def test_same_size_paddings_differ_and_seeds_reproduce() -> None:
    tok = get_tokenizer("gpt-4o")
    texts = {build_padding(2000, tok, random.Random(seed))[0] for seed in range(8)}
    assert len(texts) >= 7
    rng = random.Random(11)
    a = build_padding(2000, tok, rng)[0]
    b = build_padding(2000, tok, rng)[0]
    assert a != b
    assert build_padding(2000, tok, random.Random(5)) == build_padding(2000, tok, random.Random(5))


def test_prompt_layout_nonce_first_and_unique() -> None:
    tok = get_tokenizer("gpt-4o")
    rng = random.Random(1)
    question = "What is the capital of France?"
    text, count = build_prompt(question, 500, tok, rng)
    assert count == 500
    assert text.startswith("[request ")
    assert text.endswith("\n\n" + question)
    first_line = text.split("\n", 1)[0]
    assert len(first_line) > len("[request ]") + 8

    # the nonce is fresh per call, even with identically seeded rngs
    lines = {
        build_prompt(question, 100, tok, random.Random(42))[0].split("\n", 1)[0] for _ in range(20)
    }
    assert len(lines) == 20

    text0, count0 = build_prompt(question, 0, tok, rng, nonce="abc")
    assert (text0, count0) == (f"[request abc]\n\n{question}", 0)
    text1, _ = build_prompt(question, 50, tok, random.Random(2), nonce="abc")
    padding, _ = build_padding(50, tok, random.Random(2))
    assert text1 == f"[request abc]\n\n{padding}\n\n{question}"


def test_150k_tier_is_exact_and_fast() -> None:
    tok = get_tokenizer("gpt-4o")
    build_padding(10, tok, random.Random(0))  # warm the per-tokenizer corpus cache
    start = time.perf_counter()
    text, count = build_prompt("Summarize.", 150_000, tok, random.Random(9))
    elapsed = time.perf_counter() - start
    assert count == 150_000
    padding = text.split("\n\n", 1)[1].rsplit("\n\n", 1)[0]
    assert tok.count(padding) == 150_000
    # longer than the corpus: it wrapped around, so some paragraph appears twice
    assert padding.count("Call me Ishmael") >= 2
    assert elapsed < 10  # generous sanity bound on a shared 2-core machine (typically ~0.1 s)


def test_custom_tokenizer_subclass_works() -> None:
    class Chars(Tokenizer):
        def __init__(self) -> None:
            super().__init__("chars", "chars", exact=False)

        def encode(self, text: str) -> list[int]:
            return [ord(c) for c in text]

        def decode(self, ids: list[int]) -> str:
            return "".join(chr(i) for i in ids)

    text, count = build_padding(777, Chars(), random.Random(0))
    assert count == len(text) == 777
