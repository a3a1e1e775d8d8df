"""Start and stop a real Jupyter server (Jupyter Server, JupyterLab or Notebook 7) from this
venv on a free loopback port with token auth, in one place: the panel's REST tests, the
browser tests and ``benchmarks/panel_*.py`` all serve the same way.

No pytest here (the benchmarks import it too): a server that does not come up raises
:class:`JupyterStartError` with the tail of its log.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: ``python -m <module>`` of each application.
APPS = {"server": "jupyter_server", "lab": "jupyterlab", "notebook": "notebook"}
#: Flags of the browser apps: the app object in ``window.jupyterapp``, no news or update
#: checks (no network).
LAB_FLAGS = [
    "--LabApp.expose_app_in_browser=True",
    "--LabApp.news_url=",
    "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
]
NOTEBOOK_FLAGS = ["--JupyterNotebookApp.expose_app_in_browser=True"]


class JupyterStartError(RuntimeError):
    """The server exited or did not answer ``/api/status`` in time (the message has its log)."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Jupyter:
    """A running server: where it is, how to log in, its process and its log."""

    base_url: str
    token: str
    root_dir: Path
    proc: subprocess.Popen[bytes]
    log_path: Path
    runtime_dir: Path
    db_url: str = ""  # the store it serves ($LLMBENCH_DB_URL), when the caller set one

    def url(self, path: str) -> str:
        sep = "&" if "?" in path else "?"
        return f"{self.base_url}{path}{sep}token={self.token}"

    def api(self, path: str, method: str = "GET", timeout: float = 10) -> Any:
        req = urllib.request.Request(
            f"{self.base_url}{path}",
            method=method,
            data=b"" if method == "POST" else None,
            headers={"Authorization": f"token {self.token}"},
        )
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            body = resp.read()
        return json.loads(body) if body else None

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


def start(
    app: str,
    root_dir: Path,
    env: dict[str, str],
    runtime_dir: Path,
    log_path: Path,
    extra: list[str] | None = None,
    timeout: float = 120.0,
) -> Jupyter:
    """``app`` (a key of :data:`APPS`) serving ``root_dir``, in its own session (so
    :func:`stop` can end its whole process group), once it answers ``/api/status``."""
    port, token = free_port(), secrets.token_hex(24)
    cmd = [sys.executable, "-m", APPS[app], "--no-browser", "--ip=127.0.0.1", f"--port={port}",
           "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
           f"--ServerApp.root_dir={root_dir}", *(extra or [])]  # fmt: skip
    if os.geteuid() == 0:
        cmd.append("--allow-root")
    env = {**env, "JUPYTER_RUNTIME_DIR": str(runtime_dir)}
    with open(log_path, "wb") as log_file:
        proc = subprocess.Popen(cmd, cwd=root_dir, env=env, stdout=log_file,
                                stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    server = Jupyter(f"http://127.0.0.1:{port}", token, root_dir, proc, log_path, runtime_dir,
                     env.get("LLMBENCH_DB_URL", ""))  # fmt: skip
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise JupyterStartError(
                f"{APPS[app]} exited with code {proc.returncode} before answering:\n"
                f"{server.log_tail()}"
            )
        try:
            server.api("/api/status", timeout=2)
            return server
        except (OSError, urllib.error.URLError, ValueError):
            pass
        if time.monotonic() > deadline:
            stop(server)
            raise JupyterStartError(
                f"{APPS[app]} did not answer /api/status within {timeout:.0f} s:\n"
                f"{server.log_tail()}"
            )
        time.sleep(0.25)


def _kernel_pids(runtime_dir: Path) -> list[int]:
    """PIDs of kernels the server started (their connection file is in its runtime dir)."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if str(runtime_dir) in cmdline and "ipykernel" in cmdline:
            pids.append(int(proc.name))
    return pids


def stop(server: Jupyter, timeout: float = 20.0) -> None:
    """Shut down gracefully (the server stops its kernels), then kill what is left: the
    server's own process group, then by pid any kernel it started (kernels have their own
    sessions)."""
    kernels = _kernel_pids(server.runtime_dir)
    if server.proc.poll() is None:
        with contextlib.suppress(OSError, urllib.error.URLError, ValueError):
            server.api("/api/shutdown", method="POST")
        with contextlib.suppress(subprocess.TimeoutExpired):
            server.proc.wait(timeout=timeout)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(server.proc.pid, sig)
        except ProcessLookupError:
            break
        time.sleep(0.5)
    server.proc.wait(timeout=timeout)
    for pid in {*kernels, *_kernel_pids(server.runtime_dir)}:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
