"""A saved notebook holding a finished 5-model run, live widget and charts, stays under 1 MB."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

pytestmark = pytest.mark.slow

CONFIG = """
providers:
  local-sim:
    simulated: true
    api_base: http://127.0.0.1:8765/v1
    api_key: sim
    models:
      - {id: sim-fast}
      - {id: sim-medium}
      - {id: sim-slow}
      - {id: sim-reasoning}
      - {id: "sim:ttft=60,itl=3,tpc=2,out=96,role=1"}
"""


def test_five_model_run_saved_with_outputs_is_under_one_megabyte(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text(CONFIG)
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.cells = [
        nbformat.v4.new_code_cell(src)
        for src in (
            "import llmbench_jupyter as lj\n"
            "from llmbench_jupyter.sim import SimServer\n"
            "sim = SimServer(seed=0).start_in_thread()",
            "job = lj.bench(runs=4, warmup=0, max_tokens=64, sim_url=sim.base_url)",
            "result = await job\nresult",
            "result.summary()",
            "result.plot()",
            "lj.history()",
            "sim.stop_thread()",
        )
    ]
    env = {
        "LLMBENCH_DB_URL": f"sqlite:///{tmp_path / 'db.sqlite'}",
        "LLMBENCH_CONFIG": str(tmp_path / "config.yaml"),
    }
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        NotebookClient(
            nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
        ).execute()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    path = tmp_path / "five_models.ipynb"
    nbformat.write(nb, path)
    outputs = [o for c in nb.cells for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    mimes = {m for o in outputs for m in o.get("data", {})}
    assert "application/vnd.jupyter.widget-view+json" in mimes  # the live widget
    assert "application/vnd.plotly.v1+json" in mimes  # the static charts
    widget_state = str(nb.metadata.get("widgets", ""))
    assert "sim-reasoning" in widget_state or "sim-reasoning" in str(outputs)
    size = path.stat().st_size
    assert size < 1_000_000, f"{size} bytes"
