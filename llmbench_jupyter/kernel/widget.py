"""Live job widgets: anywidgets whose JS/CSS are files in ``static/`` next to this module.

One synced trait (``snapshot``) carries a job's whole progress, so every update is
exactly one comm message. Jobs already notify at most 10 times a second; the widget
enforces the same bound itself (a front-end must never see more) and delays, rather
than drops, an update that comes too soon, so the final state always arrives.
:class:`Throttle` holds that rule and :class:`BaseJobWidget` the parts every job widget
shares (throttled snapshot, one widget per job, cancel message, address-free repr);
:class:`RowsJobWidget` adds a second, slower trait for a job's table rows.
:class:`JobWidget` shows benchmarks, :class:`.eval_widget.EvalWidget` eval jobs and
:class:`.tune_widget.TuneWidget` parameter searches.

Importing this module installs the display hook: ``display(job)`` (and ``bench()`` in a
kernel) then shows the widget that fits the job's ``kind``. The widgets keep no metric
logic: they forward the snapshot that :mod:`llmbench_jupyter.jobs` built from
:mod:`llmbench_jupyter.stats`.
"""

from __future__ import annotations

import asyncio
import math
import pathlib
import threading
import time
from collections.abc import Callable
from typing import Any, ClassVar, Protocol, Self

import anywidget
import traitlets

from llmbench_jupyter.jobs import FINAL_STATES, set_display_hook

_STATIC = pathlib.Path(__file__).parent / "static"
#: Minimum seconds between two snapshot messages: never more than 10 a second.
MIN_INTERVAL_S = 0.1
#: Minimum seconds between two ``rows`` messages: never more than one a second.
ROWS_INTERVAL_S = 1.0

Snapshot = dict[str, Any]


def _static_text(*names: str) -> str:
    """Files of ``static/`` joined in order: a widget's one ES module or stylesheet.

    anywidget loads ``_esm`` as a single module from a blob URL, where a relative
    ``import`` of a sibling file cannot work. So what the widgets share (``common.js``,
    ``common.css``) goes in front of each widget's own file, once, when its class is defined.
    """
    return "\n".join((_STATIC / name).read_text(encoding="utf-8") for name in names)


class JobLike(Protocol):
    """What a widget needs from a job (bench and eval jobs alike)."""

    id: str
    kind: str

    @property
    def progress(self) -> Snapshot: ...

    def subscribe(self, callback: Callable[[Snapshot], None]) -> Callable[[], None]: ...

    def cancel(self) -> bool: ...


def _json_safe(value: Any) -> Any:
    """The snapshot with NaN/inf as None: widget state travels as strict JSON."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


class _Timer(Protocol):
    def cancel(self) -> None: ...


_NOTHING: Any = object()


def _nothing() -> None:
    return None


class Throttle:
    """Pass the newest value to ``send`` at most once per ``interval`` seconds.

    A value that comes too soon waits for the interval to pass (a newer one replaces it):
    delayed, never dropped, so the last value always goes out. ``send`` returns whether it
    really sent (an unchanged value costs no message and does not restart the interval).
    The delay runs on the caller's event loop, or on a timer thread when there is none.
    The state sent with the widget's comm_open counts as the first send. A final value
    goes through :meth:`now` instead.
    """

    def __init__(self, interval: float, send: Callable[[Any], bool]) -> None:
        self.interval = interval
        self._send = send
        self._last_sent = time.monotonic()
        self._pending: Any = _NOTHING
        self._timer: _Timer | None = None
        self._lock = threading.Lock()

    def offer(self, value: Any) -> None:
        with self._lock:
            wait = self._last_sent + self.interval - time.monotonic()
            if wait <= 0 and self._timer is None:
                self._pending = _NOTHING
                self._emit(value)
                return
            self._pending = value
            if self._timer is None:
                self._schedule(wait)

    def now(self, value: Any) -> None:
        """Send at once, replacing anything pending: for a job's final state. It comes
        once, and it must be out before ``await job`` returns: a timer left on the loop is
        dropped when a script's ``asyncio.run`` closes it, and an update sent after the
        cell ended is lost to a notebook run by nbconvert or nbclient (its widget state
        would keep a stale table)."""
        with self._lock:
            self._forget()
            self._emit(value)

    def cancel(self) -> None:
        """Forget a pending value (the widget is closing)."""
        with self._lock:
            self._forget()

    def _forget(self) -> None:
        self._pending = _NOTHING
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _schedule(self, wait: float) -> None:
        wait = max(wait, 0.0)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # plain code with no loop: a daemon timer thread
            timer = threading.Timer(wait, self._flush)
            timer.daemon = True
            timer.start()
            self._timer = timer
            return
        self._timer = loop.call_later(wait, self._flush)

    def _flush(self) -> None:
        with self._lock:
            self._timer = None
            if self._pending is _NOTHING:
                return
            wait = self._last_sent + self.interval - time.monotonic()
            if wait > 0:  # a timer may fire a hair early: never beat the interval
                self._schedule(wait)
                return
            value, self._pending = self._pending, _NOTHING
            self._emit(value)

    def _emit(self, value: Any) -> None:
        if self._send(value):
            self._last_sent = time.monotonic()


class BaseJobWidget(anywidget.AnyWidget):
    """What every live job widget shares. Subclasses set ``_esm``/``_css``; use :meth:`for_job`.

    The throttled ``snapshot`` trait, one widget per job (displaying a job twice shows
    the same model), the front end's ``{"type": "cancel"}`` message, ``close()`` and a
    text repr without an object address.
    """

    snapshot = traitlets.Dict().tag(sync=True)

    #: Live widgets by (class, job id). Not a per-class attribute: anywidget's
    #: ``add_traits`` turns every instance's class into a fresh subclass.
    _by_job: ClassVar[dict[tuple[type, str], Any]] = {}
    #: Re-entrant: creating a widget under the lock can run the garbage collector, which
    #: closes an orphaned widget from ``__del__`` on this same thread (a plain Lock hung
    #: the kernel there).
    _registry_lock: ClassVar[threading.RLock] = threading.RLock()

    def __init__(self, job: JobLike, **kwargs: Any) -> None:
        # the current state travels in the comm_open itself: a view has content at once
        super().__init__(snapshot=_json_safe(job.progress), **kwargs)
        self._job = job
        self._registry_key: tuple[type, str] | None = None  # set by for_job
        self._snapshot_throttle = Throttle(MIN_INTERVAL_S, self._send_snapshot)
        self.on_msg(self._on_front_end_msg)
        self._unsubscribe = job.subscribe(self._on_progress)

    @classmethod
    def for_job(cls, job: JobLike) -> Self:
        """The job's widget, created once: displaying a job twice shows the same model."""
        key = (cls, job.id)
        with cls._registry_lock:
            found: Self | None = cls._by_job.get(key)
        if found is not None:
            return found
        # built outside the lock: building starts a timer thread, and a thread start may
        # run the garbage collector, whose ``__del__`` of an old widget takes this lock
        made = cls(job)
        with cls._registry_lock:
            found = cls._by_job.get(key)
            if found is None:
                made._registry_key = key
                cls._by_job[key] = made
        if found is not None:  # another thread made it first: keep theirs
            made.close()
            return found
        return made

    @property
    def job(self) -> JobLike:
        return self._job

    # ---------------------------------------------------------------- updates
    def _on_progress(self, snapshot: Snapshot) -> None:
        """Job callback (on the job's loop thread): send now, or once the interval passed;
        a final state goes at once (a real job already spaced it from the one before:
        it waits out its own 100 ms throttle before its final notification)."""
        if snapshot.get("state") in FINAL_STATES:
            self._snapshot_throttle.now(snapshot)
        else:
            self._snapshot_throttle.offer(snapshot)

    def _send_snapshot(self, snapshot: Snapshot) -> bool:
        safe = _json_safe(snapshot)
        if safe == self.snapshot:
            return False  # an identical state (e.g. the final one notified twice) costs nothing
        self.snapshot = safe  # one trait: exactly one comm message
        return True

    # ----------------------------------------------------------- front end
    def _on_front_end_msg(self, _widget: Any, content: Any, _buffers: Any) -> None:
        if isinstance(content, dict) and content.get("type") == "cancel":
            self._job.cancel()

    def _stop_updates(self) -> None:
        self._snapshot_throttle.cancel()

    def close(self) -> None:
        """Stop listening to the job and close the comm (again: a no-op)."""
        unsubscribe, self._unsubscribe = self._unsubscribe, _nothing
        unsubscribe()
        self._stop_updates()
        key = self._registry_key
        with self._registry_lock:
            if key is not None and self._by_job.get(key) is self:
                del self._by_job[key]
        super().close()

    # ----------------------------------------------------------------- reprs
    def __repr__(self) -> str:
        # no object address: nbval compares text outputs between runs
        snap = self.snapshot or self._job.progress
        name = f" {snap['name']!r}" if snap.get("name") else ""
        return (
            f"{type(self).__name__}(job {self._job.id[:8]}{name}, {snap.get('state')} "
            f"{snap.get('done', 0)}/{snap.get('total', 0)}{self._repr_detail()})"
        )

    def _repr_detail(self) -> str:
        """What a subclass adds after "done/total" in the repr."""
        return ""


class RowsJobLike(JobLike, Protocol):
    """A job with a table (eval cases, tune trials): a job, plus its rows."""

    def case_rows(self) -> list[dict[str, Any]]:
        """Every row so far. Called (≤1/s) from the thread that notifies subscribers,
        so it must not wait for a lock the job holds while notifying."""
        ...


class RowsJobWidget(BaseJobWidget):
    """A job widget whose table rows travel in their own trait, ``rows``.

    The rows are far too big for the snapshot's rate: they are refreshed from
    ``job.case_rows()`` only when the snapshot's ``rows_version`` moved, at most once a
    second while the job runs, delayed rather than dropped; the final rows go at once
    with the final state (asked once more even without a version bump), so they are
    there when ``await job`` returns.
    """

    rows: traitlets.List[Any] = traitlets.List().tag(sync=True)

    def __init__(self, job: RowsJobLike, **kwargs: Any) -> None:
        # ready before the base class subscribes: subscribing calls back at once
        self._rows_throttle = Throttle(ROWS_INTERVAL_S, self._send_rows)
        progress = job.progress
        self._rows_version = progress.get("rows_version")
        # a job that already finished sends its final rows with the comm_open
        self._final_rows_offered = progress.get("state") in FINAL_STATES
        self._rows_job = job
        super().__init__(job, rows=_json_safe(job.case_rows()), **kwargs)

    def _on_progress(self, snapshot: Snapshot) -> None:
        super()._on_progress(snapshot)
        version = snapshot.get("rows_version")
        final = snapshot.get("state") in FINAL_STATES
        moved, self._rows_version = version != self._rows_version, version
        if final and not self._final_rows_offered:
            # at once, like the final snapshot; asking even without a version bump is
            # cheap (unchanged rows send nothing) and makes sure the final rows are shown
            self._final_rows_offered = True
            self._rows_throttle.now(version)
        elif moved:
            self._rows_throttle.offer(version)

    def _send_rows(self, _version: Any) -> bool:
        rows = _json_safe(self._rows_job.case_rows())
        if rows == self.rows:
            return False
        self.rows = rows  # one trait: one comm message
        return True

    def _stop_updates(self) -> None:
        super()._stop_updates()
        self._rows_throttle.cancel()


class JobWidget(BaseJobWidget):
    """Live progress, medians and a cancel button for one benchmark job."""

    _esm = _static_text("common.js", "job_widget.js")
    _css = _static_text("common.css", "job_widget.css")


def widget_for(job: JobLike) -> BaseJobWidget:
    """The widget that fits the job's kind (created once per job)."""
    kind = getattr(job, "kind", "bench")
    if kind == "eval":
        from llmbench_jupyter.kernel.eval_widget import EvalWidget

        return EvalWidget.for_job(job)
    if kind == "tune":
        from llmbench_jupyter.kernel.tune_widget import TuneWidget

        return TuneWidget.for_job(job)
    return JobWidget.for_job(job)


def job_bundle(job: JobLike) -> dict[str, Any]:
    """The job's display data: the widget view plus a text fallback (no metadata)."""
    bundle: Any = widget_for(job)._repr_mimebundle_()
    if isinstance(bundle, tuple):  # anywidget returns (data, metadata)
        bundle = bundle[0]
    return dict(bundle or {})


set_display_hook(job_bundle)
