"""Packaging rules: a light import, and a core that never imports Jupyter."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import llmbench_jupyter
from llmbench_jupyter.core.errors import scrub

PACKAGE = Path(llmbench_jupyter.__file__).parent
JUPYTER = (
    "IPython",
    "ipywidgets",
    "anywidget",
    "jupyter_server",
    "jupyterhub",
    "ipykernel",
    "notebook",
    "jupyterlab",
)
# surfaces that may import Jupyter later; everything else is core, store or engine
SURFACES = ("kernel", "server", "hub")


def test_import_loads_no_heavy_or_jupyter_modules() -> None:
    code = (
        "import sys, json, llmbench_jupyter; "
        "print(json.dumps(sorted(m.split('.')[0] for m in sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(json.loads(out.stdout))
    for heavy in ("litellm", "pandas", "plotly", "numpy", "sqlalchemy", "aiohttp", *JUPYTER):
        assert heavy not in loaded, heavy


def test_core_modules_never_import_jupyter() -> None:
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE)
        if rel.parts[0] in SURFACES:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            offenders += [f"{rel}: {n}" for n in names if n.split(".")[0] in JUPYTER]
    assert offenders == []


def test_lazy_public_api_resolves() -> None:
    assert llmbench_jupyter.BenchSpec.__name__ == "BenchSpec"
    assert callable(llmbench_jupyter.load_config)


def test_scrub_removes_every_known_key_shape() -> None:
    keys = [
        "sk-ant-api03-abcdefghijklmnopqrstuv",
        "sk-proj-abcdefghijklmnopqrstuvwx",
        "sk-abcdefghijklmnopqrstuvwxyz123456",
        "AIzaSyA1234567890abcdefghijklmnopqrs",
        "gsk_abcdefghijklmnopqrstuvwx",
        "xai-abcdefghijklmnopqrstuvwx",
        "sk-or-v1-abcdef0123456789abcdef",
    ]
    for key in keys:
        text = scrub(f"error calling api with key={key} and header Bearer {key}")
        assert key not in text and key[:12] not in text.replace("[REDACTED]", ""), text
    assert "hunter2pass" not in scrub("x hunter2pass y", ["hunter2pass"])


def test_the_wheel_alone_installs_the_lab_panel_and_its_server_extension(tmp_path: Path) -> None:
    """The built wheel in a clean venv: JupyterLab lists the prebuilt panel, the server its
    extension, both enabled; no node and no `jupyter labextension install` on that side."""
    import re

    from uv import find_uv_bin

    uv, root = find_uv_bin(), PACKAGE.parent
    dist, venv = tmp_path / "dist", tmp_path / "venv"
    for cmd in ([uv, "build", "--quiet", "--wheel", "--out-dir", str(dist), str(root)],
                [uv, "venv", "--quiet", "--python", sys.executable, str(venv)]):  # fmt: skip
        subprocess.run(cmd, check=True, capture_output=True, timeout=900)
    (wheel,) = dist.glob("*.whl")
    subprocess.run([uv, "pip", "install", "--quiet", "--python", str(venv / "bin" / "python"),
                    str(wheel)], check=True, capture_output=True, timeout=900)  # fmt: skip

    def listed(*args: str) -> str:
        out = subprocess.run([str(venv / "bin" / "jupyter"), *args], capture_output=True,
                             text=True, timeout=120, check=True)  # fmt: skip
        return re.sub(r"\x1b\[[0-9;]*m", "", out.stdout + out.stderr)

    assert re.search(r"@llmbench/jupyterlab v\S+ enabled +OK \(python, llmbench-jupyter\)",
                     listed("labextension", "list"))  # fmt: skip
    assert re.search(r"llmbench_jupyter\.server enabled", listed("server", "extension", "list"))
