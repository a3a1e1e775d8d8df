"""The hub's dask-gateway, for real: ``hub_config/dask_gateway_config.py`` served by
dask-gateway-server, a cluster started from Python as a user would from a notebook, and a
benchmark fanned out to its workers.

Without a hub here, the config's test switches are used (simple auth, clusters as the
gateway's own user); the deployment's JupyterHub auth and per-user backend are what the
hub sets up (``LLMBENCH_HUB_DASK_GATEWAY=1``), checked below as configuration.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from dask_gateway import BasicAuth, Gateway

import llmbench_jupyter as lj
from llmbench_jupyter.jobs import JobManager, reset_manager
from llmbench_jupyter.sim import SimServer
from llmbench_jupyter.store import open_store

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "hub_config" / "dask_gateway_config.py"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    state = tmp_path_factory.mktemp("gateway")
    # three ports the OS has just handed out (the private API's default, the API port + 1,
    # may be someone's ephemeral port on a busy machine)
    api, sched, private = _free_port(), _free_port(), _free_port()
    env = {
        **os.environ,
        "LLMBENCH_DASK_GATEWAY_AUTH": "simple",
        "LLMBENCH_DASK_GATEWAY_BACKEND": "unsafe",
        "LLMBENCH_HUB_USERS_BIN": str(Path(sys.executable).parent),
        "LLMBENCH_HUB_STATE": str(state),
        "LLMBENCH_DASK_GATEWAY_PORT": str(api),
        "LLMBENCH_DASK_GATEWAY_SCHEDULER_PORT": str(sched),
        "LLMBENCH_DASK_GATEWAY_PRIVATE_PORT": str(private),
    }
    server = Path(sys.executable).parent / "dask-gateway-server"
    log = (state / "gateway.log").open("w")
    proc = subprocess.Popen([str(server), "-f", str(CONFIG)], env=env, stdout=log, stderr=log)
    gw = Gateway(f"http://127.0.0.1:{api}", proxy_address=f"gateway://127.0.0.1:{sched}",
                 auth=BasicAuth("alice", ""))  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                gw.list_clusters()
                break
            except Exception:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError((state / "gateway.log").read_text()[-2000:]) from None
                time.sleep(0.3)
        yield gw
    finally:
        gw.close()
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def test_a_gateway_cluster_runs_a_benchmark(
    gateway: Gateway, sim: SimServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'g.db'}"
    monkeypatch.setenv("LLMBENCH_DB_URL", url)
    reset_manager(JobManager(open_store(url)))
    cluster = gateway.new_cluster()
    try:
        cluster.scale(2)
        client: Any = cluster.get_client()
        client.wait_for_workers(2, timeout=120)
        job = lj.bench(api_base=sim.base_url, model="sim:ttft=10,itl=1,out=8", runs=12,
                       warmup=2, concurrency=4, cluster=client, display=False)  # fmt: skip
        result = job.wait(180)
        assert job.state == "done" and result.ok_count == 12 and len(result.records) == 14
        assert result.overhead["workers"]["count"] == 2
        assert all(sim.send_log(r.response_id or "") is not None for r in result.records)
        assert open_store(url).get_run(job.run_id)["status"] == "done"
        client.close()
    finally:
        cluster.shutdown()
        reset_manager(None)
    assert gateway.list_clusters() == []


def test_the_hub_wires_the_gateway_for_every_user() -> None:
    source = (REPO / "hub_config" / "jupyterhub_config.py").read_text()
    compile(source, "jupyterhub_config.py", "exec")
    assert 'env("LLMBENCH_HUB_DASK_GATEWAY") == "1"' in source
    assert '"DASK_GATEWAY__AUTH__TYPE": "jupyterhub"' in source
    gateway_source = CONFIG.read_text()
    assert "JupyterHubAuthenticator" in gateway_source and "backends.local.LocalBackend" in (
        gateway_source
    )
    values = yaml.safe_load((REPO / "hub_config" / "helm" / "values.yaml").read_text())
    assert "dask-gateway" in values["hub"]["services"]
    assert values["singleuser"]["extraEnv"]["DASK_GATEWAY__AUTH__TYPE"] == "jupyterhub"
    chart = yaml.safe_load((REPO / "hub_config" / "helm" / "dask-gateway-values.yaml").read_text())
    assert chart["gateway"]["auth"]["type"] == "jupyterhub"
    assert chart["gateway"]["backend"]["worker"]["threads"] == 1
