"""The panel's REST endpoints in a real Jupyter Server (a subprocess, with the installed
server extension), over real HTTP, reading a real store that holds runs, an eval, an
experiment, a schedule and jobs; a job running in another process is cancelled through
the store from the panel's endpoint."""

from __future__ import annotations

import asyncio
import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jupyter_procs import Jupyter, JupyterStartError, start, stop

import llmbench_jupyter as lj
from llmbench_jupyter.core.targets import adhoc
from llmbench_jupyter.jobs import JobManager, reset_manager
from llmbench_jupyter.jobs.bench_run import arun
from llmbench_jupyter.jobs.specs import build_bench_spec
from llmbench_jupyter.sim import SimServer
from llmbench_jupyter.store import open_store

USER = "panel-user"


class Server:
    def __init__(self, jupyter: Jupyter) -> None:
        self.base, self.token, self.proc = jupyter.base_url, jupyter.token, jupyter.proc

    def call(self, path: str, method: str = "GET", token: bool = True) -> tuple[int, Any]:
        req = urllib.request.Request(f"{self.base}/llmbench/api/{path}", method=method,
                                     data=b"" if method == "POST" else None)  # fmt: skip
        if token:
            req.add_header("Authorization", f"token {self.token}")
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as err:
            body = err.read()
            try:
                return err.code, json.loads(body)
            except ValueError:
                return err.code, body.decode(errors="replace")


def _serve(tmp: Path, db_url: str) -> Iterator[Server]:
    env = {**os.environ, "LLMBENCH_DB_URL": db_url, "LLMBENCH_USER": USER,
           "JUPYTER_CONFIG_DIR": str(tmp / "cfg")}  # fmt: skip
    try:
        jupyter = start("server", tmp, env, tmp / "runtime", tmp / "server.log", timeout=60)
    except JupyterStartError as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield Server(jupyter)
    finally:
        stop(jupyter)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("panel")
    url = f"sqlite:///{tmp / 'panel.db'}"
    old = {k: os.environ.get(k) for k in ("LLMBENCH_USER", "LLMBENCH_DB_URL")}
    os.environ.update(LLMBENCH_USER=USER, LLMBENCH_DB_URL=url)
    store = open_store(url)
    sim = SimServer(seed=0).start_in_thread()
    manager = JobManager(store, owner=USER)
    reset_manager(manager)
    try:
        spec, _ = build_bench_spec(model=["sim-fast"], runs=3, warmup=0, max_tokens=16,
                                   name="panel bench")  # fmt: skip
        bench = asyncio.run(arun(spec, store=store, owner=USER, sim_url=sim.base_url))
        evaluated = lj.evaluate("example", ["sim-fast"], sim_url=sim.base_url, name="panel eval",
                                experiment="panel exp", display=False).wait(180)  # fmt: skip
        lj.experiment("panel exp", store=store).add(bench.run_id, baseline=True)
        lj.schedule("nightly", "0 6 * * *", model="sim-fast", runs=2)
        for server in _serve(tmp, url):
            yield {"server": server, "store": store, "sim": sim, "bench": bench,
                   "eval": evaluated, "manager": manager, "tmp": tmp}  # fmt: skip
    finally:
        sim.stop_thread()
        reset_manager(None)
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def test_status_runs_leaderboard_experiments_and_schedules(world: dict[str, Any]) -> None:
    server, bench, evaluated = world["server"], world["bench"], world["eval"]
    code, status = server.call("status")
    assert code == 200 and status["ok"] and status["owner"] == USER
    code, body = server.call("runs?limit=10")
    assert code == 200 and "quantile sketches" in body["source"]
    runs = {r["run_id"]: r for r in body["runs"]}
    mine = runs[bench.run_id]
    assert mine["mine"] and not mine["published"] and mine["kind"] == "bench"
    assert mine["requests"] == 3 and mine["ttft_ms_p50"] > 0
    graded = runs[evaluated.run_id]
    assert graded["kind"] == "eval" and 0 <= graded["pass_rate"] <= 1
    assert graded["pass_rates"] == {"local-sim/sim-fast": graded["pass_rate"]}
    code, board = server.call("leaderboard?by=ttft_ms&limit=5")
    assert code == 200 and board["rows"][0]["model"] == "sim-fast"
    assert board["rows"][0]["rank"] == 1
    code, exps = server.call("experiments")
    assert code == 200 and exps["experiments"] == [{
        "name": "panel exp", "description": None, "runs": 2, "studies": 0,
        "baseline": bench.run_id, "updated_at": exps["experiments"][0]["updated_at"]}]  # fmt: skip
    code, scheds = server.call("schedules")
    assert code == 200 and scheds["schedules"][0]["name"] == "nightly"
    assert scheds["schedules"][0]["cron"] == "0 6 * * *"


def test_bad_requests_are_specific_and_anonymous_ones_refused(world: dict[str, Any]) -> None:
    server = world["server"]
    assert server.call("runs?limit=0") == (
        400, {"ok": False, "error": "limit: found 0, expected an integer 1 to 500"})  # fmt: skip
    code, body = server.call("leaderboard?by=speed")
    assert code == 400 and "expected one of decode_tps, ttft_ms" in body["error"]
    code, _ = server.call("runs", token=False)
    assert code == 403
    code, body = server.call("jobs/0123456789abcdef/cancel", method="POST")
    assert code == 404 and "no job" in body["error"]


def test_a_job_in_another_process_is_followed_and_cancelled_from_the_panel(
    world: dict[str, Any],
) -> None:
    server, sim, store = world["server"], world["sim"], world["store"]
    slow = adhoc(sim.base_url, "sim:ttft=5,itl=20,out=100")
    job = lj.bench(api_base=sim.base_url, model=slow.model, runs=40, warmup=0,
                   name="long", display=False)  # fmt: skip
    deadline, row = time.monotonic() + 60, None
    while time.monotonic() < deadline:
        code, body = server.call("jobs?limit=5")
        row = next((j for j in body["jobs"] if j["job_id"] == job.id), None)
        if row and row["state"] == "running" and (row["done"] or 0) >= 2:
            break
        time.sleep(0.2)
    assert row and row["total"] == 40 and row["done"] >= 2, row
    asked = time.monotonic()
    assert server.call(f"jobs/{job.id}/cancel", method="POST") == (
        202, {"job_id": job.id, "cancel_requested": True})  # fmt: skip
    result = job.wait(30)
    assert job.state == "cancelled" and time.monotonic() - asked < 10
    kept = len(result.records)
    assert 2 <= kept < 40
    stored = store.records(job.run_id)
    assert len(stored) >= kept
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        code, body = server.call("jobs?limit=5")
        row = next(j for j in body["jobs"] if j["job_id"] == job.id)
        if row["state"] == "cancelled":
            break
        time.sleep(0.2)
    assert row["state"] == "cancelled" and row["cancel_requested"] and row["done"] == kept
    code, body = server.call(f"jobs/{job.id}/cancel", method="POST")
    assert code == 409 and "cancelled already" in body["error"]


def test_an_unreachable_store_says_so_without_its_password(tmp_path: Path) -> None:
    url = "postgresql+psycopg://panel:s3cr3t-pw@127.0.0.1:1/nowhere"
    for server in _serve(tmp_path, url):
        code, body = server.call("status")
        assert code == 503 and body["ok"] is False and "LLMBENCH_DB_URL" in body["hint"]
        assert "s3cr3t-pw" not in json.dumps(body)
