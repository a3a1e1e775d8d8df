"""Credentials in a provider's ``api_base`` (user-info, query values) and ``extra_headers``
reach the endpoint but nothing persisted, displayed or logged: store tables, job records,
the audit log, widgets, HTML, log lines and the CLI's output.

Real HTTP against the simulated endpoint (subclassed only to note what each request
carried), a real store on SQLite and PostgreSQL, the real ``llmbench`` command.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml
from aiohttp import web
from suite_paths import RULES

import llmbench_jupyter as lj
from llmbench_jupyter.core.config import load_config
from llmbench_jupyter.core.errors import REDACTED
from llmbench_jupyter.core.redact import mask_url, redact_url
from llmbench_jupyter.core.targets import Target, adhoc, join_url
from llmbench_jupyter.core.workload import BenchSpec
from llmbench_jupyter.jobs import JobManager, reset_manager
from llmbench_jupyter.jobs.bench_run import arun
from llmbench_jupyter.kernel.widget import widget_for
from llmbench_jupyter.sim import SimServer
from llmbench_jupyter.store import open_store

PASSWORD = "pa55w0rd-SECRET"
TOKEN = "TOKEN-SECRET-123"
HEADER = "HEADER-SECRET-456"
#: What a basic-auth header carries: the user-info, base64-encoded.
BASIC = base64.b64encode(f"user:{PASSWORD}".encode()).decode()
SECRETS = (PASSWORD, TOKEN, HEADER, BASIC)


def assert_clean(text: str, where: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"{secret!r} leaked into {where}"


class RecordingSim(SimServer):
    """The simulated endpoint, noting the path, query and headers of every completion."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.seen: list[tuple[str, dict[str, str]]] = []

    async def _complete(self, request: web.Request, protocol: str) -> web.StreamResponse:
        self.seen.append((request.path_qs, dict(request.headers)))
        return await super()._complete(request, protocol)


@pytest.fixture(scope="module")
def sim() -> Iterator[RecordingSim]:
    srv = RecordingSim(rules=str(RULES)).start_in_thread()
    yield srv
    srv.stop_thread()


def secret_base(sim: SimServer, query: bool = True) -> str:
    base = f"http://user:{PASSWORD}@{sim.host}:{sim.port}/v1"
    return base + f"?token={TOKEN}" if query else base


def write_config(path: Path, api_base: str) -> Path:
    provider = {"api_base": api_base, "extra_headers": {"X-Custom": HEADER}}
    config = {"providers": {"secretive": {**provider, "models": [{"id": "sim-fast"}]}}}
    path.write_text(yaml.safe_dump(config))
    return path


def dump_store(store: Any) -> str:
    """Every row of every table of the store, every column, as text."""
    engine = store._engine
    meta = sa.MetaData()
    meta.reflect(engine)
    lines = []
    with engine.connect() as conn:
        for table in meta.sorted_tables:
            for row in conn.execute(sa.select(table)):
                lines.append(f"{table.name}: {tuple(row)!r}")
    return "\n".join(lines)


def assert_sent_with_credentials(
    sim: RecordingSim, query: bool = True, header: bool = True
) -> None:
    """The endpoint got the real URL and headers: redaction is for what we keep only."""
    assert sim.seen
    for path_qs, headers in sim.seen:
        assert path_qs.startswith("/v1/chat/completions")
        assert (f"token={TOKEN}" in path_qs) is query
        assert headers.get("Authorization") == f"Basic {BASIC}"
        assert (headers.get("X-Custom") == HEADER) is header


@pytest.fixture
def manager(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[JobManager]:
    monkeypatch.setenv("LLMBENCH_DB_URL", db_url)
    mgr = JobManager(open_store(db_url))
    reset_manager(mgr)
    yield mgr
    reset_manager(None)


def shown(job: Any, result: Any) -> str:
    """What the notebook shows of a job and its result: widget state, reprs, HTML."""
    widget = widget_for(job)
    try:
        parts = [
            json.dumps(widget.get_state(), default=str),
            repr(widget),
            repr(job),
            json.dumps(job.progress, default=str),
            str(job.error),
            repr(result),
            result._repr_html_(),
            result.summary().to_string(),
            result.plot().to_json(),
        ]
    finally:
        widget.close()
    return "\n".join(parts)


def test_bench_sends_credentials_but_keeps_none(
    sim: RecordingSim,
    manager: JobManager,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    config = write_config(tmp_path / "config.yaml", secret_base(sim))
    sim.seen.clear()
    configured = lj.bench("secretive", runs=2, warmup=0, config=str(config), display=False)
    result = configured.wait(120)
    assert result.ok_count == 2 and configured.state == "done"
    assert_sent_with_credentials(sim)
    sim.seen.clear()
    ad_hoc = lj.bench(model="sim-fast", api_base=secret_base(sim), runs=1, warmup=0, display=False)
    adhoc_result = ad_hoc.wait(120)
    assert adhoc_result.ok_count == 1 and ad_hoc.state == "done"
    assert_sent_with_credentials(sim, header=False)  # ad hoc: no extra headers
    assert adhoc_result.records[0].provider == f"{sim.host}:{sim.port}"

    store = manager.store
    dump = dump_store(store)
    assert result.run_id in dump and adhoc_result.run_id in dump
    assert f"{REDACTED}@{sim.host}:{sim.port}/v1?token={REDACTED}" in dump
    assert_clean(dump, "the store")
    assert_clean(shown(configured, result) + shown(ad_hoc, adhoc_result), "the notebook")
    loaded = lj.load(result.run_id)
    page = lj.export_html([loaded], tmp_path / "report.html")
    assert_clean(Path(page).read_text(), "the HTML report")
    assert_clean(lj.history().to_string() + lj.audit_log().to_string(), "history/audit")
    assert_clean(repr(lj.target("secretive/sim-fast", config=str(config))), "a Target's repr")
    assert_clean(caplog.text, "the log")
    out = capsys.readouterr()
    assert_clean(out.out + out.err, "the output")


@pytest.mark.parametrize("query", [False, True], ids=["user-info", "user-info+query"])
def test_eval_sends_credentials_but_keeps_none(
    sim: RecordingSim,
    manager: JobManager,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    query: bool,
) -> None:
    caplog.set_level(logging.DEBUG)
    config = write_config(tmp_path / "config.yaml", secret_base(sim, query))
    sim.seen.clear()
    configured = lj.evaluate("example", ["secretive/sim-fast"], config=str(config), display=False)
    results = [configured.wait(180)]
    sent = list(sim.seen)
    sim.seen.clear()
    ad_hoc = lj.evaluate("example", ["sim-fast"], api_base=secret_base(sim, query), display=False)
    results.append(ad_hoc.wait(180))
    dump = dump_store(manager.store)
    assert_clean(dump, "the store")
    text = "".join(shown(job, r) for job, r in zip((configured, ad_hoc), results, strict=True))
    assert_clean(text + lj.eval_history().to_string() + lj.audit_log().to_string(), "notebook")
    assert_clean(caplog.text, "the log")
    for result in results:
        assert result.status == "done" and len(result.runs) == 44
        assert not [r.error for r in result.runs if r.error]
    assert_sent_with_credentials(sim, query, header=False)
    sim.seen[:] = sent
    assert_sent_with_credentials(sim, query)


def llmbench(*args: str, db: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LLMBENCH_DB_URL": f"sqlite:///{db}"}
    return subprocess.run(
        [sys.executable, "-m", "llmbench_jupyter", *args],
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
    )


def test_cli_sends_credentials_but_prints_and_stores_none(
    sim: RecordingSim, tmp_path: Path
) -> None:
    config = write_config(tmp_path / "config.yaml", secret_base(sim))
    eval_config = write_config(tmp_path / "eval.yaml", secret_base(sim, query=False))
    db = tmp_path / "cli.db"
    out = tmp_path / "out.jsonl"
    common = ("--runs", "2", "--warmup", "0", "-v", "--output", str(out))
    procs = [
        llmbench("bench", "--config", str(config), "-p", "secretive", *common, db=db),
        llmbench("bench", "--api-base", secret_base(sim), "-m", "sim-fast", *common, db=db),
        llmbench("eval", "--config", str(eval_config), "-m", "secretive/sim-fast", db=db),
    ]
    assert [p.returncode for p in procs] == [0, 0, 0], [p.stderr for p in procs]
    store = open_store(f"sqlite:///{db}")
    runs = store.list_runs(limit=10, all_owners=True)
    assert len(runs) == 3 and all(r["status"] == "done" for r in runs)
    for args in (("list",), ("audit",), *(("show", r["run_id"]) for r in runs)):
        procs.append(llmbench("results", *args, db=db))
        assert procs[-1].returncode == 0, procs[-1].stderr
    shows = "".join(p.stdout for p in procs[-3:])
    assert shows.count("sim-fast") >= 3 and f"{sim.host}:{sim.port}" in shows
    assert_clean("".join(p.stdout + p.stderr for p in procs), "the CLI's output")
    assert_clean(out.read_text(), "--output")
    assert_clean(dump_store(store), "the CLI's store")
    assert_clean(db.read_bytes().decode("latin-1"), "the CLI's database file")


def test_an_endpoint_echoing_the_credentials_gets_them_masked() -> None:
    """A hostile endpoint repeats the URL and headers it got in its error body."""

    async def echo(request: web.Request) -> web.Response:
        return web.Response(status=400, text=f"{request.path_qs} {dict(request.headers)}")

    async def main() -> Any:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", echo)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        target = Target(
            provider="hostile",
            model="m",
            api_base=f"http://user:{PASSWORD}@127.0.0.1:{port}/v1?token={TOKEN}",
            api_model="m",
            headers=(("X-Custom", HEADER),),
        )
        try:
            return await arun(BenchSpec(targets=[target], runs=1, warmup=0), save=False)
        finally:
            await runner.cleanup()

    result = asyncio.run(main())
    (record,) = result.records
    assert record.status == "error" and record.http_status == 400
    assert "/v1/chat/completions" in record.error_message
    assert_clean(json.dumps(record.to_dict()), "a request record")


def test_config_snapshot_masks_url_credentials_and_every_header(tmp_path: Path) -> None:
    base = f"http://user:{PASSWORD}@api.example.com:8443/v1?token={TOKEN}&region=eu"
    path = tmp_path / "config.yaml"
    raw = {
        "providers": {
            "secretive": {
                "api_base": base,
                "api_key": "sk-inline-key-123456",
                "extra_headers": {"X-Custom": HEADER, "Authorization": "Bearer abcdefgh123"},
                "models": [{"id": "m"}],
            },
            "plain": {"api_base": "https://api.example.org/v1", "models": [{"id": "m"}]},
        }
    }
    path.write_text(yaml.safe_dump(raw))
    snapshot = load_config(path).snapshot()
    text = json.dumps(snapshot)
    assert_clean(text, "the config snapshot")
    assert "sk-inline-key-123456" not in text and "abcdefgh123" not in text
    secretive = snapshot["providers"]["secretive"]
    assert secretive["api_base"] == (
        f"http://{REDACTED}@api.example.com:8443/v1?token={REDACTED}&region={REDACTED}"
    )
    assert secretive["extra_headers"] == {"X-Custom": REDACTED, "Authorization": REDACTED}
    assert snapshot["providers"]["plain"]["api_base"] == "https://api.example.org/v1"
    # the loaded config itself keeps the real values: requests need them
    assert load_config(path).provider("secretive").api_base == base


def test_an_ad_hoc_target_is_named_by_host_and_port_only() -> None:
    target = adhoc(f"http://user:{PASSWORD}@[::1]:8000/v1/?token={TOKEN}", "m")
    assert target.provider == "[::1]:8000" and target.key == "[::1]:8000/m"
    assert target.api_base == f"http://user:{PASSWORD}@[::1]:8000/v1/?token={TOKEN}"
    assert adhoc("https://api.example.com/v1", "m").provider == "api.example.com"
    assert_clean(json.dumps(target.describe()) + repr(target), "a Target")
    with pytest.raises(lj.LLMBenchError) as err:
        adhoc(f"ftp://user:{PASSWORD}@host/v1?token={TOKEN}", "m")
    assert_clean(str(err.value), "an error message")


def test_join_url_puts_the_path_before_the_query() -> None:
    assert join_url("http://h:1/v1", "/chat/completions") == "http://h:1/v1/chat/completions"
    assert join_url("http://h/v1/", "/messages") == "http://h/v1/messages"
    assert (
        join_url(f"http://u:p@h/v1?token={TOKEN}&a=b", "/chat/completions")
        == f"http://u:p@h/v1/chat/completions?token={TOKEN}&a=b"
    )
    assert join_url("http://h/v1", "") == "http://h/v1"


def test_masking_a_masked_url_changes_nothing() -> None:
    masked = redact_url(f"http://user:{PASSWORD}@[::1]:8000/v1?token={TOKEN}#frag")
    assert masked == f"http://{REDACTED}@[::1]:8000/v1?token={REDACTED}#{REDACTED}"
    assert redact_url(masked) == masked and mask_url(masked)[1] == []


def test_the_store_masks_urls_and_headers_its_callers_left_in(db_url: str) -> None:
    """The store's second line: whatever a caller hands it, URLs and headers are masked."""
    store = open_store(db_url)
    url = f"http://user:{PASSWORD}@h:1/v1?token={TOKEN}"
    leaky = {"targets": [{"api_base": url, "headers": {"X-Custom": HEADER}}]}
    owner = f"leaky-{id(store)}-{os.getpid()}"
    run_id = store.create_run(
        owner=owner,
        spec=leaky,
        config_snapshot={"providers": {"p": {"api_base": url, "extra_headers": {"X": HEADER}}}},
        versions={},
        host={},
    )
    store.create_job(job_id=run_id, kind="bench", spec=leaky, pid=1, host="h", owner=owner)
    store.audit("job.start", run_id, {"spec": leaky})
    run = store.get_run(run_id, owner=owner)
    rows = [run["spec"], run["config_snapshot"], store.get_job(run_id)["spec"]]
    rows += [e["details"] for e in store.audit_log(all_owners=True) if e["target"] == run_id]
    assert len(rows) == 4
    assert_clean(json.dumps(rows), "the store")
    assert run["spec"]["targets"][0] == {
        "api_base": f"http://{REDACTED}@h:1/v1?token={REDACTED}",
        "headers": {"X-Custom": REDACTED},
    }


class _LeakyWork:
    """Work whose failure names its endpoint in full, as a library's exception may."""

    kind = "bench"
    name = None
    unit = "requests"

    def __init__(self, target: Target) -> None:
        self.target = target

    def describe(self) -> dict[str, Any]:
        return {"targets": [self.target.describe()]}

    async def run(self, job: Any) -> Any:
        raise RuntimeError(f"cannot reach {self.target.api_base} with {dict(self.target.headers)}")

    def snapshot(self, job: Any) -> dict[str, Any]:
        return {"done": 0, "total": 1}

    def partial(self, job: Any, status: str) -> Any:
        return None

    def failure(self, result: Any) -> str | None:
        return None

    def planned_requests(self) -> int:
        return 1

    def secrets(self) -> tuple[str, ...]:
        return self.target.secrets()


def test_a_failed_job_names_its_endpoint_without_credentials(tmp_path: Path) -> None:
    from llmbench_jupyter.jobs.bench_work import BenchWork
    from llmbench_jupyter.jobs.eval_work import EvalSpec, EvalWork

    url = f"http://user:{PASSWORD}@h:1/v1?token={TOKEN}"
    target = Target(provider="p", model="m", api_base=url, headers=(("X-Custom", HEADER),))
    manager = JobManager(open_store(f"sqlite:///{tmp_path / 'jobs.db'}"))
    job = manager.submit(_LeakyWork(target))
    with pytest.raises(lj.JobError):
        job.wait(60)
    assert job.state == "failed" and "cannot reach http://" in str(job.error)
    stored = json.dumps(manager.store.get_job(job.id), default=str)
    assert_clean(str(job.error) + stored + dump_store(manager.store), "a failed job")
    # the real works know their endpoints' secrets too
    bench = BenchWork(BenchSpec(targets=[target]), save=False, config_snapshot=None, sim_url=None)
    suite = lj.load_suite(str(RULES.parent / "example_suite.yaml"))
    ev = EvalWork(EvalSpec(suite=suite, targets=[target]), save=False)
    for work in (bench, ev):
        assert set(work.secrets()) >= {PASSWORD, TOKEN, HEADER, BASIC}
