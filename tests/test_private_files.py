"""Private files: secrets created once, and every other file written whole and 0600.

Three spawns at once on a fresh hub once read the vault master-key file between its
creation and its first write, found it empty, and the spawns failed with HTTP 500.
``write_atomic`` is what exports, reports and ``--output`` go through (test_safe_writes.py
attacks them through the public surfaces).
"""

from __future__ import annotations

import stat
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from llmbench_jupyter.core.errors import InputError
from llmbench_jupyter.core.private_files import create_exclusive, write_atomic
from llmbench_jupyter.hub.secret_files import read_lines, read_or_create


def _race(n: int, fn) -> list[object]:  # type: ignore[no-untyped-def]
    start = threading.Barrier(n)
    out: list[object] = []

    def run() -> None:
        start.wait()
        try:
            out.append(fn())
        except Exception as exc:  # collected: the assertion shows what went wrong
            out.append(exc)

    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def test_racing_creators_all_read_the_same_whole_secret(tmp_path: Path) -> None:
    for round_no in range(20):
        directory = tmp_path / f"s{round_no}"
        directory.mkdir(mode=0o700)
        got = _race(12, lambda d=directory: read_lines(d, "vault_master_keys"))
        assert all(isinstance(g, list) for g in got), got
        assert len({tuple(g) for g in got}) == 1  # type: ignore[arg-type]
        (key,) = got[0]  # type: ignore[misc]
        assert len(key) == 64
        assert read_or_create(directory, "vault_master_keys") == key
        assert stat.S_IMODE((directory / "vault_master_keys").stat().st_mode) == 0o600
        assert sorted(p.name for p in directory.iterdir()) == ["vault_master_keys"]  # no temps


def test_create_exclusive_keeps_the_first_content(tmp_path: Path) -> None:
    path = tmp_path / "key"
    assert create_exclusive(path, b"first")
    assert not create_exclusive(path, b"second")
    assert path.read_bytes() == b"first"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.parametrize(
    ("content", "kw", "expected"),
    [
        ("text ✓\n", {}, "text ✓\n".encode()),
        (b"\x00bytes", {}, b"\x00bytes"),
        (lambda fh: fh.write("a\nb\n"), {"newline": "\r\n"}, b"a\r\nb\r\n"),
        (lambda fh: fh.write(b"raw"), {"binary": True}, b"raw"),
        ("latin", {"encoding": "latin-1", "mode": 0o640}, b"latin"),
    ],
)
def test_write_atomic_content_kinds(
    tmp_path: Path, content: str | bytes | Callable[[Any], None], kw: dict[str, Any], expected
) -> None:
    out = write_atomic(tmp_path / "sub" / "f", content, **kw)  # parents are created
    assert out == tmp_path / "sub" / "f"
    assert out.read_bytes() == expected
    assert stat.S_IMODE(out.stat().st_mode) == kw.get("mode", 0o600)
    assert [p.name for p in out.parent.iterdir()] == ["f"]


def test_write_atomic_writer_error_leaves_the_old_file_and_no_temp(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("before")

    def boom(fh: Any) -> None:
        fh.write("half")
        fh.flush()
        raise RuntimeError("writer failed")

    with pytest.raises(RuntimeError, match="writer failed"):
        write_atomic(tmp_path / "f", boom)
    assert (tmp_path / "f").read_text() == "before"
    assert [p.name for p in tmp_path.iterdir()] == ["f"]


def test_write_atomic_replaces_links_and_refuses_directories(tmp_path: Path) -> None:
    victim_dir, victim = tmp_path / "victim_dir", tmp_path / "victim"
    victim_dir.mkdir()
    victim.write_text("untouched")
    for name, target in (("to_file", victim), ("to_dir", victim_dir), ("dangling", "nowhere")):
        link = tmp_path / name
        link.symlink_to(target)
        write_atomic(link, "mine")
        assert not link.is_symlink() and link.read_text() == "mine"
        assert stat.S_IMODE(link.stat().st_mode) == 0o600
    assert victim.read_text() == "untouched" and list(victim_dir.iterdir()) == []
    assert not (tmp_path / "nowhere").exists()
    with pytest.raises(InputError, match=r"victim_dir'?: it is a directory; expected a file"):
        write_atomic(victim_dir, "x")
    assert list(victim_dir.iterdir()) == []
