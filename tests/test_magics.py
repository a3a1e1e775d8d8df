"""``%llmbench`` / ``%%llmbench`` on a real IPython shell, benchmarking the in-process sim."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

from llmbench_jupyter.analysis.bench_result import BenchResult
from llmbench_jupyter.jobs import Job, JobManager, reset_manager
from llmbench_jupyter.store import open_store


@pytest.fixture(scope="module")
def ip() -> Iterator[InteractiveShell]:
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "llmbench_jupyter")
    shell.run_line_magic("llmbench", "sim start")
    yield shell
    shell.run_line_magic("llmbench", "sim stop")


@pytest.fixture(scope="module")
def db_file(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('magics') / 'm.db'}"


@pytest.fixture(autouse=True)
def _session_store(db_file: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The kernel's jobs and the results subcommands share one temporary store."""
    monkeypatch.setenv("LLMBENCH_DB_URL", db_file)
    reset_manager(JobManager(open_store(db_file)))
    yield
    reset_manager(None)


def magics(ip: InteractiveShell) -> Any:
    return ip.magics_manager.registry["LLMBenchMagics"]


def line(ip: InteractiveShell, text: str) -> Any:
    return ip.run_line_magic("llmbench", text)


def test_load_ext_registers_line_and_cell_magic(ip: InteractiveShell) -> None:
    assert "llmbench" in ip.magics_manager.magics["line"]
    assert "llmbench" in ip.magics_manager.magics["cell"]


def test_importing_the_package_does_not_load_the_magics() -> None:
    code = (
        "import sys, llmbench_jupyter as lj; assert callable(lj.load_ipython_extension); "
        "print(sorted(m for m in sys.modules if m.startswith(('IPython', "
        "'llmbench_jupyter.kernel'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "give a subcommand"),
        ("nope", "unknown subcommand 'nope'"),
        ("bench --runs 0", "--runs/-n: found 0, expected an integer >= 1"),
        ("bench --bogus", "unrecognized arguments: --bogus"),
        ("bench --context-tiers a,b", "expected comma-separated token counts"),
        ("bench --db sqlite:///x.db", "--db is not available in a notebook"),
        ("bench --include-warmup", "only applies with --output"),
        ("bench -p nosuch", 'unknown provider "nosuch"'),
        ("cancel", "the following arguments are required: job_id"),
        ("cancel ffffffff", "no job 'ffffffff'"),
        ("leaderboard --by speed", "invalid choice: 'speed'"),
        ("results --limit 0", "--limit: found 0"),
        ("sim jump", "invalid choice: 'jump'"),
        ("jobs -o 1abc", "expected a Python variable name"),
        ('bench --name "unclosed', "cannot parse the line"),
    ],
)
def test_bad_input_is_a_usage_error_with_the_usage_line(
    ip: InteractiveShell, text: str, expected: str
) -> None:
    with pytest.raises(UsageError) as info:
        line(ip, text)
    message = str(info.value)
    assert expected in message
    assert "usage: %llmbench" in message


def test_a_bad_line_shows_no_traceback_in_a_cell(
    ip: InteractiveShell, capsys: pytest.CaptureFixture[str]
) -> None:
    result = ip.run_cell("%llmbench bench --runs zero")
    assert isinstance(result.error_in_exec, UsageError)
    err = capsys.readouterr()
    assert "UsageError" in err.err + err.out
    assert "Traceback" not in err.err + err.out


def test_help_prints_and_returns_nothing(
    ip: InteractiveShell, capsys: pytest.CaptureFixture[str]
) -> None:
    assert line(ip, "bench -h") is None
    assert "--context-tiers" in capsys.readouterr().out


def test_bench_returns_a_job_on_the_sim_and_stores_it_with_o(ip: InteractiveShell) -> None:
    job = line(ip, "bench -p local-sim -m sim-fast --runs 2 --warmup 0 --name magic -o j")
    assert isinstance(job, Job) and ip.user_ns["j"] is job
    result = job.wait(60)
    assert job.state == "done" and job.run_id
    assert isinstance(result, BenchResult) and len(result.measured) == 2
    # the requests went to the endpoint started by `%llmbench sim start`
    for record in result.records:
        assert magics(ip).sim.send_log(record.response_id) is not None
    assert "<Job " in repr(job) and " at 0x" not in repr(job)


def test_bench_job_runs_on_the_callers_event_loop(ip: InteractiveShell) -> None:
    """In a kernel the cell runs on the kernel's loop: the job must be a task there."""

    async def cell() -> tuple[BenchResult, str, int]:
        job = line(ip, "bench -m sim-fast --runs 2 --warmup 0")
        time.sleep(0.3)  # blocking this loop holds the job back: it is a task on it
        held = job.state
        ticks = 0

        async def other_cell() -> None:
            nonlocal ticks
            while not job.done():
                ticks += 1
                await asyncio.sleep(0.01)

        other = asyncio.ensure_future(other_cell())
        result = await job
        await other
        return result, held, ticks

    result, held, ticks = asyncio.run(cell())
    assert held == "pending"
    assert ticks > 1  # other code kept running on the loop while the job ran
    assert result.status == "done" and len(result.measured) == 2


def test_output_flag_writes_jsonl_when_the_job_ends(ip: InteractiveShell, tmp_path: Path) -> None:
    out = tmp_path / "records.jsonl"
    job = line(ip, f"bench -m sim-fast --runs 2 --warmup 1 --output {out}")
    job.wait(60)
    deadline = time.monotonic() + 10
    while not out.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.1)
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(rows) == 2 and not any(r["is_warmup"] for r in rows)


def test_cell_magic_takes_a_yaml_spec(ip: InteractiveShell) -> None:
    body = "model: [sim-fast, sim-medium]\nruns: 1\nwarmup: 0\nmax_tokens: 16\nname: from-yaml\n"
    assert ip.run_cell_magic("llmbench", "-o yjob", body) is ip.user_ns["yjob"]
    result = ip.user_ns["yjob"].wait(60)
    assert {r.model for r in result.records} == {"sim-fast", "sim-medium"}
    assert result.spec["name"] == "from-yaml" and result.spec["max_tokens"] == 16


def test_cell_magic_context_tiers_list_and_dashed_keys(ip: InteractiveShell) -> None:
    body = "model: sim-fast\nruns: 1\nwarmup: 0\ncontext-tiers: [0, 64]\nno_save: true\n"
    result = ip.run_cell_magic("llmbench", "bench", body).wait(60)
    assert sorted({r.context_tier for r in result.records}) == [0, 64]
    assert result.run_id is None


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("runz: 1\nwarmpu: 0\n", "unknown option(s) runz, warmpu; valid options: config, provider"),
        ("- runs\n", "must be a YAML mapping"),
        ("runs: [1\n", "not valid YAML"),
        ("runs: 0\n", "--runs/-n: found 0"),
        ("no_save: maybe\n", "no_save: found 'maybe', expected true or false"),
    ],
)
def test_cell_magic_bad_yaml(ip: InteractiveShell, body: str, expected: str) -> None:
    with pytest.raises(UsageError) as info:
        ip.run_cell_magic("llmbench", "", body)
    assert expected in str(info.value)


def test_jobs_and_cancel(ip: InteractiveShell, capsys: pytest.CaptureFixture[str]) -> None:
    quick = line(ip, "bench -m sim-fast --runs 1 --warmup 0")
    quick.wait(60)
    slow = line(ip, "bench -m sim-slow --runs 50 --warmup 0")
    table = line(ip, "jobs -o jobs_df")
    assert isinstance(table, pd.DataFrame) and ip.user_ns["jobs_df"] is table
    assert {quick.id, slow.id} <= set(table["job_id"])
    assert table.set_index("job_id").loc[quick.id, "state"] == "done"
    assert line(ip, f"cancel {slow.id[:8]}") is None
    assert "cancelling job" in capsys.readouterr().out
    slow_result = slow.wait(60)
    assert slow.state == "cancelled" and slow_result.status == "cancelled"
    line(ip, f"cancel {quick.id} -o was_cancelled")
    assert "already finished (done)" in capsys.readouterr().out
    assert ip.user_ns["was_cancelled"] is False


def test_results_and_leaderboard(ip: InteractiveShell) -> None:
    done = line(ip, "bench -m sim-fast -m sim-medium --runs 2 --warmup 0 --name lb").wait(60)
    history = line(ip, "results")
    assert isinstance(history, pd.DataFrame)
    assert done.run_id in set(history["run_id"])
    one = line(ip, f"results {done.run_id[:12]} -o loaded")
    assert isinstance(one, BenchResult) and one.run_id == done.run_id
    assert ip.user_ns["loaded"] is one
    board = line(ip, "leaderboard --by ttft_ms -o lb")
    assert ip.user_ns["lb"] is board
    assert board.index.name == "rank" and list(board.columns)[:2] == ["provider", "model"]
    models = list(board[board["context_tier"] == 0]["model"])
    assert models.index("sim-fast") < models.index("sim-medium")
    only = line(ip, f"leaderboard --runs {done.run_id[:8]}")
    assert set(only["n_runs"]) == {1}


def test_sim_start_twice_stop_and_restart(
    ip: InteractiveShell, capsys: pytest.CaptureFixture[str]
) -> None:
    url = magics(ip).sim.base_url
    assert line(ip, "sim start -o again") is None
    assert ip.user_ns["again"] == url
    assert f"already running at {url}" in capsys.readouterr().out
    line(ip, "sim stop")
    assert magics(ip).sim is None and f"stopped the simulated endpoint at {url}" in (
        capsys.readouterr().out
    )
    line(ip, "sim stop")
    assert "no simulated endpoint is running" in capsys.readouterr().out
    line(ip, "sim start -o url")
    assert ip.user_ns["url"].startswith("http://127.0.0.1:")
    assert ip.user_ns["url"] in capsys.readouterr().out


def test_eval_runs_the_example_suite_and_results_loads_it(ip: InteractiveShell) -> None:
    from llmbench_jupyter.analysis.eval_result import EvalResult

    job = line(ip, "eval -m sim-fast --name magic-eval -o ej")
    assert isinstance(job, Job) and job.kind == "eval" and ip.user_ns["ej"] is job
    result = job.wait(120)
    assert isinstance(result, EvalResult)
    assert result.scores()["local-sim/sim-fast"].n_passed == 30
    again = line(ip, f"results {result.run_id[:10]}")
    assert isinstance(again, EvalResult) and again.run_id == result.run_id
    assert len(again.runs) == 44


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("eval --k 0", "expected an integer >= 1"),
        ("eval --db sqlite:///x.db", "--db is not available in a notebook"),
        ("eval --report", "judge_report"),
        ("eval -m nope", "not configured"),
        ("eval --suite /no/such/suite.yaml", "suite.yaml"),
    ],
)
def test_eval_bad_input_is_a_usage_error(ip: InteractiveShell, text: str, expected: str) -> None:
    with pytest.raises(UsageError) as info:
        line(ip, text)
    assert expected in str(info.value)


def test_tune_searches_with_cli_flags_and_load_tune_reads_it(ip: InteractiveShell) -> None:
    import llmbench_jupyter as lj
    from llmbench_jupyter.analysis.tune_result import TuneResult

    job = line(
        ip, "tune -m sim-fast --space temperature=0..1 --space top_p=0.5,0.95 --trials 3 "
        "--name magic-tune -o tj",
    )  # fmt: skip
    assert isinstance(job, Job) and job.kind == "tune" and ip.user_ns["tj"] is job
    result = job.wait(120)
    assert isinstance(result, TuneResult) and len(result.trials) == 3
    assert set(result.trials[1]["params"]) == {"temperature", "top_p"}
    stored = lj.load_tune("magic-tune")
    assert stored.study_id == result.study_id and stored.status == "done"


def test_tune_searches_a_bench_workload_with_cli_flags(ip: InteractiveShell) -> None:
    job = line(
        ip, "tune --workload -m sim-reasoning --space reasoning_effort=low,high "
        "--objective ttfat_ms --runs 2 --warmup 0 --concurrency 2 --trials 2 --no-confirm "
        "--no-save -o wj",
    )  # fmt: skip
    assert isinstance(job, Job) and ip.user_ns["wj"] is job
    result = job.wait(120)
    assert result.study["kind"] == "bench" and result.objectives == ["ttfat_ms"]
    assert [r["n_requests"] for r in result.trials] == [2, 2]
    assert result.verdict == "not tested: no confirmation run"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("tune -m sim-fast", "space= is required"),
        ("tune -m sim-fast --space temperature", "expected NAME="),
        ("tune -m sim-fast --space temperature=a..b", "a range needs two numbers"),
        ("tune -m sim-fast --space temperature=0..1 --sampler grid", "needs a step"),
        ("tune --space temperature=0..1", "a search tunes one model"),
        ("tune -m sim-fast --space temperature=0..1 --db sqlite:///x.db", "not available"),
    ],
)
def test_tune_bad_input_is_a_usage_error(ip: InteractiveShell, text: str, expected: str) -> None:
    with pytest.raises(UsageError) as info:
        line(ip, text)
    assert expected in str(info.value)


def test_publish_marks_a_run_and_is_audited(
    ip: InteractiveShell, capsys: pytest.CaptureFixture[str]
) -> None:
    import llmbench_jupyter as lj

    job = line(ip, "bench -p local-sim -m sim-fast --runs 1 --warmup 0 --name to-share")
    job.wait(60)
    assert line(ip, f"publish {job.run_id[:10]}") is None
    assert f"run {job.run_id[:8]} is published" in capsys.readouterr().out
    store = open_store()
    assert store.get_run(job.run_id)["published"] is True
    line(ip, f"publish {job.run_id} --undo")
    assert store.get_run(job.run_id)["published"] is False
    actions = lj.audit_log(limit=20)["action"].tolist()
    assert actions[:2] == ["run.unpublish", "run.publish"]
    with pytest.raises(UsageError, match="no run id starts with 'zz'"):
        line(ip, "publish zz")
