"""Load sweeps over rate and concurrency: each step a stored run tagged with the sweep,
reloaded the same on SQLite and PostgreSQL; the CLI and the magic end to end. Real HTTP
to the simulator with a capacity model (``sim:slots=N``), the real engine and store."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import yaml
from IPython.core.interactiveshell import InteractiveShell

import llmbench_jupyter as lj
from llmbench_jupyter.cli import main as cli_main
from llmbench_jupyter.jobs import JobManager, reset_manager
from llmbench_jupyter.store import open_store

#: 4 slots held 20 + 3 · 20 = 80 ms: a knee of 50 req/s
MODEL = "sim:slots=4,ttft=20,itl=20,out=4,jitter=0"


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("cfg") / "config.yaml"
    provider = {"kind": "openai", "simulated": True, "api_base": "http://127.0.0.1:9/v1",
                "api_key": "sim", "models": [{"id": MODEL}]}  # fmt: skip
    path.write_text(yaml.safe_dump({"providers": {"local-sim": provider}}))
    return str(path)


@pytest.fixture
def manager(db_url: str) -> Iterator[JobManager]:
    mgr = JobManager(open_store(db_url), owner=f"sweep-{id(db_url)}")
    reset_manager(mgr)
    yield mgr
    reset_manager(None)


def test_rate_sweep_steps_are_stored_runs_and_reload(config: str, db_url: str,
                                                     manager: JobManager) -> None:  # fmt: skip
    job = lj.sweep(model=MODEL, config=config, loads="10,100", requests=30, warmup=0,
                   slo={"ttft_ms": 1000}, name="two steps", display=False)  # fmt: skip
    result = job.wait(120)
    assert [s["load"] for s in result.steps] == [10.0, 100.0]
    assert all(s["requests"] == 30 and s["batches"] == 1 for s in result.steps)
    assert result.known_knee_rps == pytest.approx(50.0)
    # past the knee (2x) the queue grows: TTFT far above the unloaded step's
    low, high = result.steps
    assert high["ttft_ms_p50"] > low["ttft_ms_p50"] + 40
    store = manager.store
    runs = store.sweep_runs(result.sweep_id, owner=manager.owner)
    assert [r["spec"]["sweep"]["load"] for r in runs] == [10.0, 100.0]
    assert all(r["status"] == "done" and r["kind"] == "bench" for r in runs)
    assert runs[1]["spec"]["rate"] == 100.0 and runs[1]["spec"]["sweep"]["step"] == 1
    listed = store.list_sweeps(owner=manager.owner)
    assert listed[0]["sweep_id"] == result.sweep_id and listed[0]["runs"] == 2
    again = lj.load_sweep(result.sweep_id, store=store, owner=manager.owner)
    cols = ["load", "decision", "requests", "ttft_ms_p50", "ttft_ms_p99", "goodput_rps"]
    assert again.to_pandas()[cols].equals(result.to_pandas()[cols])


def test_concurrency_sweep_is_closed_loop(config: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    reset_manager(JobManager(None))
    try:
        job = lj.sweep(model=MODEL, config=config, loads=[1, 8], mode="concurrency",
                       requests=16, warmup=0, save=False, display=False)  # fmt: skip
        result = job.wait(120)
    finally:
        reset_manager(None)
    one, eight = result.steps
    assert one["decision"] is None and result.limit is None  # no SLO: no verdicts
    # 8 streams on 4 slots: half of them queue one service time (80 ms)
    assert eight["ttft_ms_p99"] > one["ttft_ms_p99"] + 40
    assert "no SLO given" in repr(result)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--rates", "10", "--slo", "ttft_ms=-1"], "SLO ttft_ms: found -1.0"),
        (["--search", "--low", "5"], "an SLO search needs one"),
        (["--rate", "5"], "--rate is one load; give --rates"),
        ([], "give --rates, --concurrencies or --search"),
        (["--rates", "10,x"], "expected comma-separated numbers"),
        (["--concurrencies", "1.5"], "whole numbers of streams"),
    ],
)
def test_cli_bad_sweep_input_is_a_clear_error(
    config: str, argv: list[str], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli_main(["sweep", "--config", config, "--no-save", *argv])
    err = capsys.readouterr().err
    assert code == 2 and expected in err and "Traceback" not in err, err


def test_cli_sweep_prints_the_steps_and_the_limit(
    config: str,
    tmp_path,  # type: ignore[no-untyped-def]
    capsys: pytest.CaptureFixture[str],
) -> None:
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    code = cli_main(["sweep", "--config", config, "--rates", "10,100", "--requests", "30",
                     "--warmup", "0", "--slo", "ttft_ms=1000", "--db", db])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0, out
    assert "verdict" in out and "goodput" in out and "stored sweep" in out
    assert "limit:" in out or "no step met" in out


def test_magic_sweep_starts_a_job(config: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "llmbench_jupyter")
    reset_manager(JobManager(None))
    try:
        job = ip.run_line_magic(
            "llmbench", f"sweep --config {config} --rates 20 --requests 12 --warmup 0 "
            "--slo ttft_ms=1000 --no-save -o sw",
        )  # fmt: skip
        result = job.wait(120)
        assert ip.user_ns["sw"] is job and job.kind == "sweep"
        assert result.steps[0]["requests"] == 12
        from IPython.core.error import UsageError

        with pytest.raises(UsageError, match="--output is not available in a notebook"):
            ip.run_line_magic("llmbench", f"sweep --config {config} --rates 5 --output x")
    finally:
        reset_manager(None)
