"""Run the built-in simulated endpoint in its own process for the duration of a benchmark.

A separate process keeps the server's CPU out of the client's event loop, so numbers
measured against the simulator mean the same as numbers measured against a real server.
"""

from __future__ import annotations

import contextlib
import queue
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator

from llmbench_jupyter.core.errors import LLMBenchError

START_TIMEOUT_S = 30.0


@contextlib.contextmanager
def sim_process(seed: int = 0, rules: str | None = None) -> Iterator[str]:
    """Start ``python -m llmbench_jupyter.sim`` on a free loopback port; yield its base URL."""
    cmd = [
        sys.executable,
        "-m",
        "llmbench_jupyter.sim",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--seed",
        str(seed),
    ]
    if rules:
        cmd += ["--rules", rules]
    # a file, not a pipe: a chatty server never blocks; closed in the finally below
    errlog = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=errlog, text=True)
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    try:
        try:
            first = lines.get(timeout=START_TIMEOUT_S).strip()
        except queue.Empty:
            first = ""
        if not first.startswith("http"):
            proc.kill()
            errlog.seek(0)
            err = errlog.read()[-500:]
            raise LLMBenchError(
                f"the simulated endpoint did not start: {first or err or 'no output'}"
            )
        yield first
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        errlog.close()
