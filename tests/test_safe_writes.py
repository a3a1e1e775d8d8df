"""Every file the package writes: never through a planted link, 0600, whole or not at all.

On a shared hub one user saw another's kernel PID in /proc and planted a symlink at the
temporary name the export would use (``.{name}.{pid}.tmp``) in /tmp; the export then
wrote the victim's records into the attacker's file. Here an attacker plants links in
advance (at that old name and at the destination) and also, through an audit hook, at
whatever name the writer is about to open in that directory, just before it opens it:
the race won at any name.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import signal
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from llmbench_jupyter.analysis.bench_result import BenchResult
from llmbench_jupyter.analysis.report import export_html
from llmbench_jupyter.core.errors import InputError, LLMBenchError
from llmbench_jupyter.evals.suites import dump_suite, load_suite
from llmbench_jupyter.jobs.bench_run import arun
from llmbench_jupyter.jobs.specs import build_bench_spec
from llmbench_jupyter.sim import SimServer
from llmbench_jupyter.store import Store, open_store

VICTIM = b"the attacker's own file\n"
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


# ---------------------------------------------------------------- the attacker
@dataclass
class Attacker:
    """Links planted in ``shared`` pointing at files of the attacker's (mode 0666)."""

    shared: Path
    lair: Path
    links: dict[Path, Path] = field(default_factory=dict)  # link -> its victim file
    raced: list[Path] = field(default_factory=list)  # names planted just before an open
    race_budget: int = 0

    def plant(self, name: str) -> Path:
        link = self.shared / name
        victim = self.lair / f"victim-{len(self.links)}"
        victim.write_bytes(VICTIM)
        victim.chmod(0o666)
        link.symlink_to(victim)
        self.links[link] = victim
        return link

    def on_open(self, path: Any, mode: Any, flags: Any) -> None:
        """Audit hook: a write-open of a new name in ``shared`` finds a link there first."""
        if self.race_budget <= 0 or isinstance(path, int):
            return
        writes = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
            isinstance(flags, int) and mode is None and flags & WRITE_FLAGS
        )
        target = Path(os.path.abspath(os.fsdecode(path)))
        if writes and target.parent == self.shared and not os.path.lexists(target):
            self.race_budget -= 1
            self.raced.append(self.plant(target.name))

    def assert_nothing_written_through(self) -> None:
        for link, victim in self.links.items():
            assert victim.read_bytes() == VICTIM, f"written through the link at {link.name}"
            assert stat.S_IMODE(victim.stat().st_mode) == 0o666

    def leftovers(self, *expected: Path) -> list[str]:
        """Names in ``shared`` other than the planted links still in place and ``expected``."""
        still_links = {p for p in self.links if p.is_symlink()}
        return sorted(p.name for p in self.shared.iterdir() if p not in still_links | set(expected))


_ACTIVE: list[Attacker] = []


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if event == "open" and _ACTIVE:
        _ACTIVE[-1].on_open(*args)


sys.addaudithook(_audit)  # hooks cannot be removed: it acts only while an attacker races


@pytest.fixture
def attacker(tmp_path: Path) -> Attacker:
    shared, lair = tmp_path / "shared", tmp_path / "lair"
    shared.mkdir()
    lair.mkdir()
    return Attacker(shared, lair)


@contextmanager
def racing(attacker: Attacker, opens: int = 3) -> Iterator[None]:
    """The attacker wins the race on the next ``opens`` write-opens of new names."""
    attacker.race_budget = opens
    _ACTIVE.append(attacker)
    try:
        yield
    finally:
        _ACTIVE.remove(attacker)
        attacker.race_budget = 0


def assert_private_file(path: Path) -> None:
    info = path.lstat()
    assert stat.S_ISREG(info.st_mode), f"{path} is not a regular file"
    assert stat.S_IMODE(info.st_mode) == 0o600
    assert info.st_uid == os.geteuid()


@contextmanager
def disk_full_after(nbytes: int) -> Iterator[None]:
    """Writes past ``nbytes`` fail with EFBIG, as on a full disk (also for root)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (nbytes, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous)


# ---------------------------------------------------------------- a real run
@pytest.fixture(scope="module")
def stored(sim: SimServer, tmp_path_factory: pytest.TempPathFactory) -> tuple[Store, BenchResult]:
    store = open_store(f"sqlite:///{tmp_path_factory.mktemp('safe') / 's.db'}")
    spec, _ = build_bench_spec(model=["sim-fast"], runs=3, warmup=0, max_tokens=16, name="mine")
    result = asyncio.run(arun(spec, store=store, owner="victim-user", sim_url=sim.base_url))
    assert result.run_id and len(result.records) == 3
    return store, result


# ---------------------------------------------------------------- exports
@pytest.mark.parametrize("fmt", ["csv", "json", "jsonl"])
def test_export_never_writes_through_planted_links(
    stored: tuple[Store, BenchResult], attacker: Attacker, fmt: str
) -> None:
    store, result = stored
    name = f"runs.{fmt}"
    dest = attacker.plant(name)
    attacker.plant(f".{name}.{os.getpid()}.tmp")  # the old code's predictable name
    with racing(attacker):
        assert store.export(result.run_id or "", dest, fmt) == 3
    attacker.assert_nothing_written_through()
    assert attacker.raced, "the writer opened no new name in the shared directory"
    assert_private_file(dest)
    text = dest.read_text(encoding="utf-8")
    assert result.records[0].request_id in text
    assert attacker.leftovers(dest) == []  # no temporary file left


@pytest.mark.parametrize("fmt", ["csv", "json", "jsonl"])
def test_failed_export_keeps_the_old_file_and_leaves_no_temp(
    stored: tuple[Store, BenchResult], tmp_path: Path, fmt: str
) -> None:
    store, result = stored
    dest = tmp_path / f"runs.{fmt}"
    dest.write_text("the previous export\n")
    with disk_full_after(64), pytest.raises(LLMBenchError, match=r"export to .* failed"):
        store.export(result.run_id or "", dest, fmt)
    assert dest.read_text() == "the previous export\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == [dest.name]


def test_export_over_a_wider_file_is_private(stored: tuple[Store, BenchResult], tmp_path: Path):
    store, result = stored
    dest = tmp_path / "runs.csv"
    dest.write_text("old")
    dest.chmod(0o644)
    store.export(result.run_id or "", dest)
    assert_private_file(dest)


def test_export_to_a_directory_is_refused(stored: tuple[Store, BenchResult], tmp_path: Path):
    store, result = stored
    (tmp_path / "runs.csv").mkdir()
    with pytest.raises(InputError, match=r"runs\.csv'?: it is a directory; expected a file"):
        store.export(result.run_id or "", tmp_path / "runs.csv")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runs.csv"]


# ---------------------------------------------------------------- report
def test_report_never_writes_through_planted_links(
    stored: tuple[Store, BenchResult], attacker: Attacker
) -> None:
    _, result = stored
    dest = attacker.plant("report.html")
    attacker.plant(f".report.html.{os.getpid()}.tmp")
    with racing(attacker):
        assert export_html(result, dest) == dest
    attacker.assert_nothing_written_through()
    assert attacker.raced
    assert_private_file(dest)
    assert "<!doctype html>" in dest.read_text(encoding="utf-8")
    assert attacker.leftovers(dest) == []


def test_failed_report_keeps_the_old_file_and_leaves_no_temp(
    stored: tuple[Store, BenchResult], tmp_path: Path
) -> None:
    _, result = stored
    dest = tmp_path / "report.html"
    dest.write_text("the previous report")
    with disk_full_after(4096), pytest.raises(LLMBenchError, match="cannot write"):
        export_html(result, dest)
    assert dest.read_text() == "the previous report"
    assert sorted(p.name for p in tmp_path.iterdir()) == [dest.name]
    (tmp_path / "dir.html").mkdir()
    with pytest.raises(InputError, match=r"dir\.html'?: it is a directory"):
        export_html(result, tmp_path / "dir.html")


# ---------------------------------------------------------------- magics --output
@pytest.fixture(scope="module")
def ip(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "llmbench_jupyter")
    shell.run_line_magic("llmbench", "sim start")
    yield shell
    shell.run_line_magic("llmbench", "sim stop")


def _magic_output(ip: Any, dest: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from llmbench_jupyter.jobs import JobManager, reset_manager

    db = f"sqlite:///{tmp_path / 'magics.db'}"
    monkeypatch.setenv("LLMBENCH_DB_URL", db)
    reset_manager(JobManager(open_store(db)))
    try:
        args = f"bench -m sim-fast --runs 2 --warmup 0 --output {dest}"
        job = ip.run_line_magic("llmbench", args)
        job.wait(60)
        for thread in threading.enumerate():
            if thread.name == "llmbench-output":
                thread.join(60)
    finally:
        reset_manager(None)


def test_magics_output_never_writes_through_planted_links(
    ip: Any, attacker: Attacker, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    dest = attacker.plant("records.jsonl")
    attacker.plant(f".records.jsonl.{os.getpid()}.tmp")
    with racing(attacker):
        _magic_output(ip, dest, monkeypatch, tmp_path)
    attacker.assert_nothing_written_through()
    assert attacker.raced
    assert_private_file(dest)
    rows = [json.loads(x) for x in dest.read_text().splitlines()]
    assert len(rows) == 2
    assert attacker.leftovers(dest) == []


def test_magics_output_to_a_directory_is_reported_not_written(
    ip: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    dest = tmp_path / "out"
    dest.mkdir()
    _magic_output(ip, dest, monkeypatch, tmp_path)
    assert list(dest.iterdir()) == []
    assert any("it is a directory" in r.getMessage() for r in caplog.records)


# ---------------------------------------------------------------- CLI and suites
def test_cli_output_replaces_a_planted_link(sim: SimServer, attacker: Attacker) -> None:
    dest = attacker.plant("cli.jsonl")
    argv = ["bench", "--api-base", sim.base_url, "--model", "sim:ttft=2,itl=1,out=4",
            "--runs", "2", "--output", str(dest), "--no-save"]  # fmt: skip
    proc = subprocess.run(
        [sys.executable, "-m", "llmbench_jupyter", *argv],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stderr
    attacker.assert_nothing_written_through()
    assert_private_file(dest)
    assert len(dest.read_text().splitlines()) == 2
    assert attacker.leftovers(dest) == []


def test_dump_suite_never_writes_through_planted_links(attacker: Attacker) -> None:
    suite = load_suite("example")
    dest = attacker.plant("suite.yaml")
    with racing(attacker):
        dump_suite(suite, dest)
    attacker.assert_nothing_written_through()
    assert_private_file(dest)
    assert load_suite(dest) == suite
