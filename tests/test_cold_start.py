"""Cold start: a command imports only what it uses (checked on ``sys.modules``, never on time).

The timings themselves are measured by ``benchmarks/cold_start.py``; these tests pin the
behaviour that keeps them low: a ``--no-save`` bench never loads the store, Alembic,
pandas, litellm or tiktoken (the simulated endpoint sends usage, so its approximate
tokenizer is never needed), and a store on a current database does not load Alembic.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from llmbench_jupyter.core.overhead import OverheadMonitor
from llmbench_jupyter.core.tokens import LazyTokenizer, get_tokenizer
from llmbench_jupyter.sim import SimServer
from llmbench_jupyter.store.db import alembic_config, schema_heads

#: Never imported by ``llmbench bench --no-save`` against an endpoint that sends usage.
HEAVY = ("sqlalchemy", "alembic", "pandas", "litellm", "tiktoken", "llmbench_jupyter.store.db")

_PROBE = """
import json, sys
from llmbench_jupyter.cli import main
code = main(sys.argv[1:])
print(json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""


def _probe(*args: str, env: dict[str, str] | None = None) -> tuple[int, set[str], str]:
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE, *args],
        capture_output=True, text=True, timeout=180, check=False, env=env,
    )  # fmt: skip
    last = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else "{}"
    try:
        found = json.loads(last)
    except ValueError:
        found = {}
    assert "modules" in found, f"probe failed: {proc.stdout[-500:]}\n{proc.stderr[-2000:]}"
    return found["code"], set(found["modules"]), proc.stderr


def _loaded(modules: set[str], name: str) -> bool:
    return name in modules or any(m.startswith(name + ".") for m in modules)


def test_no_save_bench_imports_nothing_it_does_not_use(sim: SimServer, tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    code, modules, stderr = _probe(
        "bench", "--api-base", sim.base_url, "--model", "sim:ttft=1,itl=0,out=4",
        "--runs", "2", "--warmup", "1", "--no-save", "--output", str(out),
    )  # fmt: skip
    assert code == 0, stderr
    assert len(out.read_text().splitlines()) == 2  # it really ran
    assert [m for m in HEAVY if _loaded(modules, m)] == []
    record = json.loads(out.read_text().splitlines()[0])
    assert record["output_tokens_source"] == "usage"
    # the tokenizer is named as the loaded one would be, though it was never loaded
    assert record["tokenizer"] == "cl100k_base (approximation)"


def test_store_on_a_current_database_does_not_import_alembic(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'current.db'}"
    env = {**os.environ, "LLMBENCH_DB_URL": url}
    code = (
        "import sys; from llmbench_jupyter.store import open_store; s = open_store(); "
        "s.close(); print('alembic' in sys.modules)"
    )

    def opened() -> str:
        proc = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True, text=True, timeout=120, check=True, env=env,
        )  # fmt: skip
        return proc.stdout.strip()

    assert opened() == "True"  # a new database: migrated, with Alembic
    assert opened() == "False"  # now current: one query, no Alembic


def test_head_revision_without_alembic_matches_alembic() -> None:
    from alembic.script import ScriptDirectory

    assert schema_heads() == set(ScriptDirectory.from_config(alembic_config()).get_heads())


def test_an_approximate_tokenizer_loads_when_first_used() -> None:
    eager = get_tokenizer("some-model")
    lazy = get_tokenizer("some-model", lazy=True)
    text = "Cold starts should cost what the requests cost."
    if isinstance(lazy, LazyTokenizer):  # not loaded yet in this process
        assert not lazy.loaded and lazy.name == eager.name
    assert lazy.count(text) == eager.count(text) and lazy.name == eager.name
    exact = get_tokenizer("gpt-4o", lazy=True)  # checks usage on every response: loaded now
    assert not isinstance(exact, LazyTokenizer) and exact.exact


def test_overhead_counts_from_the_first_send() -> None:
    """Start-up that blocks the loop before the first request is not the client's load."""

    async def run() -> dict[str, object]:
        monitor = OverheadMonitor()
        monitor.start()
        await asyncio.sleep(0.02)
        time.sleep(0.3)  # start-up blocking the loop (an import, opening a connection)
        await asyncio.sleep(0)
        monitor.begin()
        await asyncio.sleep(0.1)
        await monitor.stop()
        return monitor.report()

    report = asyncio.run(run())
    lag = report["loop_lag_ms"]
    assert isinstance(lag, dict) and lag["n"] >= 1
    assert lag["max"] < 300  # the 300 ms block came before the window
    assert isinstance(report["wall_s"], float) and report["wall_s"] < 0.3
    assert isinstance(report["client_cpu_s"], float) and report["client_cpu_s"] < 0.3


def test_a_bench_result_repr_does_not_print_its_records() -> None:
    """``asyncio.run`` formats its main task on exit, result included: a repr of every record
    cost ~0.1 s per 640 records at the end of each CLI run."""
    from llmbench_jupyter.analysis.bench_result import BenchResult
    from llmbench_jupyter.core.records import RequestRecord

    records = [
        RequestRecord(request_id=f"r{i}", run_id=None, provider="p", model="m") for i in range(50)
    ]
    result = BenchResult(
        run_id=None, spec={}, records=records, skipped=[], overhead={}, status="done"
    )
    text = repr(result)
    assert "r49" not in text and len(text) < 200
    assert "50 measured requests" in text
