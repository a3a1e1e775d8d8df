"""Secret files created on first use by racing threads: every reader sees the whole secret.

Three spawns at once on a fresh hub once read the vault master-key file between its
creation and its first write, found it empty, and the spawns failed with HTTP 500.
"""

from __future__ import annotations

import stat
import threading
from pathlib import Path

from llmbench_jupyter.core.private_files import create_exclusive
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
