"""After a hostile bench and a hostile eval, no secret is anywhere the project writes.

The endpoint (``sim:hostile=echo`` and ``echo_error``) sends back every header, the URL
and the bare key. The user's key has no known prefix; twelve more keys of known shapes
ride in extra headers; the api_base carries a password and a ``?token=``. Everything runs
in a real notebook kernel with widgets displayed, and then the scan reads: every table of
the store, every export format of both runs (API and CLI), the HTML report, the saved
notebook with its widget state, the log file, and the CLI's own output.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import subprocess
import sys
from importlib.resources import files
from pathlib import Path

import nbformat
import pytest
import sqlalchemy as sa
from hostile_helpers import KEYS, hostile_config, leaked
from nbclient import NotebookClient

from llmbench_jupyter.evals.suites import dump_suite, load_suite
from llmbench_jupyter.sim import SimServer
from llmbench_jupyter.store.models import Base

URL_PASSWORD, URL_TOKEN = "Pw-9dK3mQ7xZ2", "Tk-5hN8vB2cX7"
#: As sent: the password also travels inside "Authorization: Basic base64(user:password)".
BASIC = base64.b64encode(f"bench:{URL_PASSWORD}".encode()).decode()
SECRETS = [*KEYS.values(), URL_PASSWORD, URL_TOKEN, BASIC]
RULES = str(files("llmbench_jupyter.evals") / "data" / "example_sim_rules.yaml")
MODELS = ["sim:hostile=echo", "sim:hostile=echo_error"]
#: In the notebook: both providers' echo models, and the key-quoting error of the first.
BENCHED = ["hostile/sim:hostile=echo", "hostile/sim:hostile=echo_error", "proxied/sim:hostile=echo"]

NOTEBOOK = """
import logging, llmbench_jupyter as lj
logging.basicConfig(filename={log!r}, level=logging.DEBUG, force=True)
bench = lj.bench(["hostile", "proxied"], {models!r}, config={config!r}, runs=2, warmup=1,
                 name="hostile bench")
await bench
---
bench.result()
---
ev = lj.evaluate({suite!r}, ["sim:hostile=echo"], provider="hostile", config={config!r},
                 judge="hostile/sim:hostile=echo", name="hostile eval")
await ev
---
ev.result()
---
from llmbench_jupyter.store import open_store
store = open_store()
for fmt in ("csv", "json", "jsonl"):
    store.export(bench.run_id, {out!r} + "/bench." + fmt)
lj.export_html(bench.result(), {out!r} + "/report.html")
print(bench.run_id, ev.run_id)
---
lj.eval_history()
"""


def _scan_text(path: Path) -> str:
    return path.read_bytes().decode("utf-8", "replace")


@pytest.mark.timeout(600)
def test_no_secret_survives_a_hostile_bench_and_eval(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "store.db"
    monkeypatch.setenv("LLMBENCH_DB_URL", f"sqlite:///{db}")
    out = tmp_path / "out"
    out.mkdir()
    suite = load_suite("example")
    small = dataclasses.replace(
        suite,
        cases=[c for c in suite.cases if c.id in ("single-weather-paris", "mt-bedroom-night")],
    )
    suite_path = dump_suite(small, tmp_path / "suite.yaml")
    headers = {f"X-Key-{name}": key for name, key in KEYS.items() if name != "no-prefix"}
    srv = SimServer(rules=RULES).start_in_thread()
    try:
        basic = srv.base_url.replace("http://", f"http://bench:{URL_PASSWORD}@")
        proxy = {"api_base": basic, "models": [{"id": "sim:hostile=echo"}]}
        config = hostile_config(
            tmp_path,
            f"{srv.base_url}?token={URL_TOKEN}",
            MODELS,
            more={"proxied": proxy},
            api_key=KEYS["no-prefix"],
            extra_headers=headers,
        )
        log = tmp_path / "llmbench.log"
        source = NOTEBOOK.format(
            log=str(log), models=BENCHED, config=str(config), suite=str(suite_path), out=str(out)
        )
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_code_cell(c.strip()) for c in source.split("---")]
        client = NotebookClient(
            nb, kernel_name="python3", timeout=300, store_widget_state=True,
            resources={"metadata": {"path": str(tmp_path)}},
        )  # fmt: skip
        client.execute()
        saved = tmp_path / "hostile.ipynb"
        nbformat.write(nb, saved)
        printed = next(o["text"] for o in nb.cells[4].outputs if o.get("name") == "stdout").split()
        bench_id, eval_id = printed[0], printed[1]

        cli_out = []
        env = {**os.environ, "LLMBENCH_DB_URL": f"sqlite:///{db}"}
        for run_id, name in ((bench_id, "bench-cli"), (eval_id, "eval-cli")):
            for fmt in ("csv", "json", "jsonl"):
                proc = subprocess.run(
                    [sys.executable, "-m", "llmbench_jupyter", "results", "export", run_id,
                     "--output", str(out / f"{name}.{fmt}"), "--format", fmt],
                    capture_output=True, text=True, env=env, check=False, timeout=120,
                )  # fmt: skip
                assert proc.returncode == 0, proc.stderr
                cli_out.append(proc.stdout + proc.stderr)
        proc = subprocess.run(
            [sys.executable, "-m", "llmbench_jupyter", "bench", "--config", str(config),
             "--provider", "hostile", "--runs", "1", "--warmup", "0", "-v"],
            capture_output=True, text=True, env=env, check=False, timeout=120,
        )  # fmt: skip
        cli_out.append(proc.stdout + proc.stderr)
    finally:
        srv.stop_thread()

    # what was written, and proof that the endpoint really echoed into it
    engine = sa.create_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        tables = {
            t.name: json.dumps([list(r) for r in conn.execute(sa.select(t))], default=str)
            for t in Base.metadata.sorted_tables
        }
    engine.dispose()
    assert tables["requests"].count("You sent") >= 4 and tables["eval_results"].count("You sent")
    assert "Incorrect API key provided: [REDACTED]" in tables["requests"]
    assert "You sent" in tables["judgements"]
    files_written = sorted(p for p in out.iterdir())
    assert [p.name for p in files_written] == sorted(
        [f"{n}.{f}" for n in ("bench", "bench-cli", "eval-cli") for f in ("csv", "json", "jsonl")]
        + ["report.html"]
    )
    notebook = _scan_text(saved)
    assert "application/vnd.jupyter.widget-state+json" in notebook and "You sent" in notebook
    logs = _scan_text(log)
    assert logs.strip(), "the log file is empty: nothing was scanned"

    scanned = {f"table {name}": text for name, text in tables.items()}
    scanned |= {f"file {p.name}": _scan_text(p) for p in files_written}
    scanned |= {"notebook": notebook, "log": logs, "cli output": "\n".join(cli_out)}
    found = {where: leaked(text, SECRETS) for where, text in scanned.items()}
    assert {where: keys for where, keys in found.items() if keys} == {}
    assert len(SECRETS) == 16 and len(scanned) >= 20
    assert "Basic [REDACTED]" in tables["requests"]  # the proxied provider's echo was masked
