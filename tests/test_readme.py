"""The README's Python snippets run as written: the notebook ones in a real kernel, in
order, against one store; the script one in a plain interpreter."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

README = Path(__file__).resolve().parents[1] / "README.md"
pytestmark = pytest.mark.slow


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_the_readme_has_notebook_and_script_snippets() -> None:
    blocks = _python_blocks()
    assert sum("await " in b for b in blocks) >= 2 and any("asyncio.run(" in b for b in blocks)


@pytest.mark.timeout(600)
def test_notebook_snippets_run_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMBENCH_DB_URL", f"sqlite:///{tmp_path / 'readme.db'}")
    snippets = [b for b in _python_blocks() if "await " in b]
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(code) for code in snippets]
    NotebookClient(
        nb, kernel_name="python3", timeout=300, resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    errors = [o for c in nb.cells for o in c.outputs if o.get("output_type") == "error"]
    assert errors == []
    assert all(c.outputs for c in nb.cells)  # each snippet ends by showing something


def test_script_snippet_runs_as_written(tmp_path: Path) -> None:
    (script,) = [b for b in _python_blocks() if "asyncio.run(" in b]
    path = tmp_path / "snippet.py"
    path.write_text(script + "\nprint(result.summary()[['model', 'requests']].to_string())\n")
    env = {**os.environ, "LLMBENCH_DB_URL": f"sqlite:///{tmp_path / 'script.db'}"}
    proc = subprocess.run(
        [sys.executable, str(path)], capture_output=True, text=True, env=env, timeout=300,
        cwd=tmp_path, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "sim-fast" in proc.stdout
