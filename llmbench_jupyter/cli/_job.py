"""What ``bench`` and ``eval`` share on the command line: exit codes and the job set-up.

Both run through the same job runner as notebooks; :func:`job_setup` prepares the
consoles, the store (unless ``--no-save``) and the progress bar the job reports to.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from llmbench_jupyter.cli._tables import _console

EXIT_ALL_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 1, 2, 130


def _job_progress(err: Any, label: str) -> tuple[Any, Callable[[dict[str, Any]], None]]:
    """A transient progress bar on stderr, and the job subscriber that drives it."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[errors]} errors"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        refresh_per_second=4,  # the refresh thread shares the GIL with the timing loop
    )
    task = progress.add_task(label, total=None, errors=0)

    def update(snap: dict[str, Any]) -> None:
        progress.update(
            task,
            total=snap["total"] or None,
            completed=snap["done"],
            errors=snap["errors"],
            description=f"{label} {snap['run_id'][:8]}" if snap["run_id"] else snap["state"],
        )

    return progress, update


def job_setup(args: argparse.Namespace, label: str) -> tuple[Any, Any, Any, Any, Any]:
    """Consoles (stdout, stderr), the store unless ``--no-save``, and the progress bar with
    the job subscriber that drives it: ``(out, err, store, progress, show_progress)``."""
    out, err = _console(), _console(stderr=True)
    store = None
    if not args.no_save:
        from llmbench_jupyter.store import open_store

        store = open_store(args.db)
    progress, show_progress = _job_progress(err, label)
    return out, err, store, progress, show_progress
