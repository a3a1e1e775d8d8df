"""Display a job in the running kernel: its live widget (installed by importing ``widget``)."""

from __future__ import annotations

from typing import Any


def show_job(job: Any) -> None:
    from IPython.display import display

    from llmbench_jupyter.kernel import widget  # noqa: F401  (installs the jobs display hook)

    display(job)
