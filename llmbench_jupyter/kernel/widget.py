"""The live job widget: an anywidget whose JS/CSS are files next to this module.

One synced trait (``snapshot``) carries the job's whole progress, so every update is
exactly one comm message. Jobs already notify at most 10 times a second; the widget
enforces the same bound itself (a front-end must never see more) and delays, rather
than drops, an update that comes too soon, so the final state always arrives.

Importing this module installs the display hook: ``display(job)`` (and ``bench()`` in a
kernel) then shows the job's widget. The widget keeps no metric logic: it forwards the
snapshot that :mod:`llmbench_jupyter.jobs` built from :mod:`llmbench_jupyter.stats`.
"""

from __future__ import annotations

import asyncio
import math
import pathlib
import threading
import time
from typing import Any, ClassVar

import anywidget
import traitlets

from ..jobs import Job, set_display_hook

_STATIC = pathlib.Path(__file__).parent / "static"
#: Minimum seconds between two snapshot messages: never more than 10 a second.
MIN_INTERVAL_S = 0.1


def _json_safe(value: Any) -> Any:
    """The snapshot with NaN/inf as None: widget state travels as strict JSON."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


class JobWidget(anywidget.AnyWidget):
    """Live progress, medians and a cancel button for one job. Use :meth:`for_job`."""

    _esm = _STATIC / "job_widget.js"
    _css = _STATIC / "job_widget.css"
    snapshot = traitlets.Dict().tag(sync=True)

    _by_job: ClassVar[dict[str, JobWidget]] = {}
    _registry_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, job: Job, **kwargs: Any) -> None:
        # the current state travels in the comm_open itself: a view has content at once
        super().__init__(snapshot=_json_safe(job.progress), **kwargs)
        self._job = job
        self._last_sent = time.monotonic()
        self._pending: dict[str, Any] | None = None
        self._flush_handle: asyncio.TimerHandle | None = None
        self._lock = threading.Lock()
        self.on_msg(self._on_front_end_msg)
        self._unsubscribe = job.subscribe(self._on_progress)

    @classmethod
    def for_job(cls, job: Job) -> JobWidget:
        """The job's widget, created once: displaying a job twice shows the same model."""
        with cls._registry_lock:
            widget = cls._by_job.get(job.id)
            if widget is None:
                widget = cls._by_job[job.id] = cls(job)
            return widget

    @property
    def job(self) -> Job:
        return self._job

    # ---------------------------------------------------------------- updates
    def _on_progress(self, snapshot: dict[str, Any]) -> None:
        """Job callback (on the job's loop thread): send now, or once the interval passed."""
        with self._lock:
            wait = self._last_sent + MIN_INTERVAL_S - time.monotonic()
            if wait <= 0:
                self._pending = None
                self._send_snapshot(snapshot)
                return
            self._pending = snapshot
            if self._flush_handle is not None:
                return  # already scheduled: it will send the newest pending snapshot
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:  # no loop to delay on (a call from plain code): send now
                self._pending = None
                self._send_snapshot(snapshot)
                return
            self._flush_handle = loop.call_later(wait, self._flush)

    def _flush(self) -> None:
        with self._lock:
            self._flush_handle = None
            pending, self._pending = self._pending, None
            if pending is not None:
                self._send_snapshot(pending)

    def _send_snapshot(self, snapshot: dict[str, Any]) -> None:
        safe = _json_safe(snapshot)
        if safe == self.snapshot:
            return  # an identical state (e.g. the final one notified twice) costs nothing
        self._last_sent = time.monotonic()
        self.snapshot = safe  # one trait: exactly one comm message

    # ----------------------------------------------------------- front end
    def _on_front_end_msg(self, _widget: Any, content: Any, _buffers: Any) -> None:
        if isinstance(content, dict) and content.get("type") == "cancel":
            self._job.cancel()

    def close(self) -> None:
        """Stop listening to the job and close the comm."""
        self._unsubscribe()
        with self._lock:
            if self._flush_handle is not None:
                self._flush_handle.cancel()
                self._flush_handle = None
        with self._registry_lock:
            if self._by_job.get(self._job.id) is self:
                del self._by_job[self._job.id]
        super().close()

    # ----------------------------------------------------------------- reprs
    def __repr__(self) -> str:
        # no object address: nbval compares text outputs between runs
        snap = self.snapshot or self._job.progress
        name = f" {snap['name']!r}" if snap.get("name") else ""
        return (
            f"JobWidget(job {self._job.id[:8]}{name}, {snap.get('state')} "
            f"{snap.get('done', 0)}/{snap.get('total', 0)})"
        )


def job_bundle(job: Job) -> dict[str, Any]:
    """The job's display data: the widget view plus a text fallback (no metadata)."""
    bundle: Any = JobWidget.for_job(job)._repr_mimebundle_()
    if isinstance(bundle, tuple):  # anywidget returns (data, metadata)
        bundle = bundle[0]
    return dict(bundle or {})


set_display_hook(job_bundle)
