"""``make demo``: the main job on the embedded defaults, and JupyterLab on copies of the
notebooks, so the tracked notebooks stay clean (JupyterLab saves outputs into what it opens)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def _tracked_notebooks_status() -> str:
    return subprocess.run(
        ["git", "status", "--porcelain", "--", "notebooks"], cwd=ROOT, capture_output=True,
        text=True, check=True,
    ).stdout  # fmt: skip


def test_demo_benchmarks_then_opens_copies_of_the_notebooks(tmp_path: Path) -> None:
    demo = tmp_path / "demo"
    before = _tracked_notebooks_status()
    marker = tmp_path / "lab-ran-in"
    proc = subprocess.run(
        ["make", "demo", f"DEMO_DIR={demo}", f"LAB=pwd > {marker} && echo"],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
        env={**os.environ, "LLMBENCH_DB_URL": f"sqlite:///{tmp_path / 'demo.db'}"},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "local-sim/sim-fast" in proc.stdout  # the benchmark ran and printed its table
    assert marker.read_text().strip() == str(demo)  # the lab starts in the copies' folder
    assert sorted(p.name for p in demo.glob("*.ipynb")) == sorted(
        p.name for p in (ROOT / "notebooks").glob("*.ipynb")
    )
    (demo / "quickstart.ipynb").write_text("my edits")
    subprocess.run(
        ["make", "demo", f"DEMO_DIR={demo}", "LAB=true"], cwd=ROOT, capture_output=True,
        timeout=600, check=True,
        env={**os.environ, "LLMBENCH_DB_URL": f"sqlite:///{tmp_path / 'demo.db'}"},
    )  # fmt: skip
    assert (demo / "quickstart.ipynb").read_text() == "my edits"  # a user's copy is kept
    assert _tracked_notebooks_status() == before
