"""Public-domain texts used to pad prompts to a context size.

The texts ship inside the package so padding works offline and is the same on every
machine. Each ``.txt`` file starts with a header (Title, Author, Year, "Public domain")
ended by a ``===`` line; paragraphs are separated by blank lines.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import NamedTuple


class Source(NamedTuple):
    title: str
    author: str
    year: str
    file: str


SOURCES: tuple[Source, ...] = (
    Source(
        "The Declaration of Independence",
        "Thomas Jefferson and the Second Continental Congress",
        "1776",
        "declaration_of_independence.txt",
    ),
    Source(
        "The Constitution of the United States",
        "The Constitutional Convention",
        "1787",
        "us_constitution.txt",
    ),
    Source(
        "The Bill of Rights (Amendments I-X to the Constitution of the United States)",
        "The First United States Congress",
        "1791",
        "bill_of_rights.txt",
    ),
    Source(
        "The Gettysburg Address and the Second Inaugural Address",
        "Abraham Lincoln",
        "1863-1865",
        "lincoln_speeches.txt",
    ),
    Source(
        "The First Book of Moses, called Genesis, chapters 1-3 (King James Version)",
        "Translated by the King James translators",
        "1611",
        "genesis_1_3_kjv.txt",
    ),
    Source(
        "Selected Psalms: 1, 8, 19, 23, 90, 100, 121 (King James Version)",
        "Translated by the King James translators",
        "1611",
        "psalms_kjv.txt",
    ),
    Source(
        "Sonnets and Speeches (Sonnets 18, 29, 30, 73, 116, 130; speeches from Hamlet, "
        "Macbeth, As You Like It, The Merchant of Venice, Richard III, Henry V)",
        "William Shakespeare",
        "1597-1623",
        "shakespeare.txt",
    ),
    Source("The Raven", "Edgar Allan Poe", "1845", "poe_the_raven.txt"),
    Source(
        "Pride and Prejudice, Chapter 1",
        "Jane Austen",
        "1813",
        "austen_pride_and_prejudice_ch1.txt",
    ),
    Source(
        "A Tale of Two Cities, Book the First, Chapter I: The Period",
        "Charles Dickens",
        "1859",
        "dickens_tale_of_two_cities_ch1.txt",
    ),
    Source(
        "Moby-Dick; or, The Whale, Chapter 1: Loomings (opening)",
        "Herman Melville",
        "1851",
        "melville_moby_dick_ch1.txt",
    ),
)

HEADER_END = "==="


def read_source(file: str) -> tuple[dict[str, str], str]:
    """The header fields and the body text of one corpus file."""
    text = resources.files(__name__).joinpath(file).read_text(encoding="utf-8")
    head, sep, body = text.partition(f"\n{HEADER_END}\n")
    if not sep:
        raise ValueError(f"corpus file {file} has no '{HEADER_END}' header end line")
    header: dict[str, str] = {}
    for line in head.splitlines():
        key, colon, value = line.partition(":")
        header[key.strip() if colon else line.strip()] = value.strip() if colon else ""
    return header, body


@cache
def _paragraphs() -> tuple[str, ...]:
    out: list[str] = []
    for source in SOURCES:
        _, body = read_source(source.file)
        for block in body.replace("\r\n", "\n").split("\n\n"):
            block = block.strip("\n").rstrip()
            if block.strip():
                out.append(block)
    return tuple(out)


def paragraphs() -> list[str]:
    """All paragraphs of all sources, in a fixed order (read once, then cached)."""
    return list(_paragraphs())
