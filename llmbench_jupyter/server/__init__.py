"""The Jupyter Server extension behind the JupyterLab panel: REST endpoints that read the
results store as the current user (``handlers``), from plain data functions (``data``).

Enabled by the ``jupyter_server_config.d`` file the wheel installs; ``jupyter server
extension list`` shows it.
"""

from __future__ import annotations

from typing import Any


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "llmbench_jupyter.server"}]


def _load_jupyter_server_extension(serverapp: Any) -> None:
    from llmbench_jupyter.server.handlers import setup_handlers

    setup_handlers(serverapp.web_app)
    serverapp.log.info("llmbench: panel endpoints at /llmbench/api/")
