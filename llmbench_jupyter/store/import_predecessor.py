"""Importing the predecessor's exported benchmark results (llm-benchmark-studio's CSVs).

Two of its exports are read: the history (``benchmark_history.csv``: ``timestamp, prompt,
model, provider, tokens_per_second, ttft_ms, cost, context_tokens, output_tokens``, one
row per measurement, a run per timestamp) and one run (``benchmark_run_<id>.csv``:
``model, provider, tokens_per_second, ttft_ms, cost, context_tokens, output_tokens,
input_tokens``, its time given by the caller). Each row becomes one request record of a
bench run stored at the run's own time.

What the predecessor measured is kept under our names only where it means the same:
its ``tokens_per_second`` counted the time to first token in (output tokens over the
whole request), which is our ``total_tps``, never ``decode_tps``; its TTFT was taken at
the first chunk of any kind, so the run says so (``spec["imported"]["caveats"]``).
A row without a TTFT is a failed request (the export gives no reason). Importing the
same file again is refused run by run (the run ids derive from the file's content).
A JSON file is its tool-eval export (:mod:`.import_predecessor_evals`); its tool-eval
history CSV is refused, with the reason.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from llmbench_jupyter.core.errors import InputError, LLMBenchError
from llmbench_jupyter.core.records import RequestRecord

SOURCE = "llm-benchmark-studio"
HISTORY = ("timestamp", "prompt", "model", "provider", "tokens_per_second", "ttft_ms", "cost",
           "context_tokens", "output_tokens")  # fmt: skip
RUN = ("model", "provider", "tokens_per_second", "ttft_ms", "cost", "context_tokens",
       "output_tokens", "input_tokens")  # fmt: skip
CAVEATS = (
    "TTFT was taken at the first chunk of any kind (a role-only chunk counted)",
    "tokens_per_second included the time to first token: stored as total_tps; no decode_tps",
)


def _number(row: dict[str, str], key: str, where: str, kind: type = float) -> Any:
    text = (row.get(key) or "").strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise InputError(f"{where}: {key} {text!r} is not a number") from None
    if value != value or value in (float("inf"), float("-inf")) or value < 0:
        raise InputError(f"{where}: {key} {text!r} is not a finite number >= 0")
    return int(value) if kind is int else value


def _when(text: str, where: str) -> datetime:
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InputError(f"{where}: timestamp {text!r} is not an ISO date and time") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def read_predecessor_csv(text: str, source: str, when: datetime | None = None
                         ) -> list[tuple[datetime, str, list[dict[str, Any]]]]:  # fmt: skip
    """``[(time, prompt, rows)]``, one per run, rows as record fields; InputError names
    the row and column of anything unreadable."""
    reader = csv.DictReader(io.StringIO(text))
    cols = tuple(c.strip() for c in reader.fieldnames or ())
    history = set(HISTORY) <= set(cols)
    if not history and not set(RUN) <= set(cols):
        raise InputError(
            f"{source}: not a {SOURCE} export: expected the columns {list(HISTORY)} (history) "
            f"or {list(RUN)} (one run), found {list(cols)}"
        )
    if not history and when is None:
        raise InputError(f"{source}: a one-run export has no timestamp: give when=")
    runs: dict[tuple[datetime, str], list[dict[str, Any]]] = {}
    for i, raw in enumerate(reader):
        row = {str(k).strip(): (v or "") for k, v in raw.items() if k is not None}
        where = f"{source}, row {i + 2}"
        at = _when(row["timestamp"], where) if history else when
        assert at is not None
        model, provider = row["model"].strip(), row["provider"].strip()
        if not model or not provider:
            raise InputError(f"{where}: model and provider must not be empty")
        fields = {
            "provider": provider,
            "model": model,
            "api_model": model,
            "ttft_ms": _number(row, "ttft_ms", where),
            "total_tps": _number(row, "tokens_per_second", where),
            "cost_usd": _number(row, "cost", where),
            "context_tier": _number(row, "context_tokens", where, int) or 0,
            "output_tokens": _number(row, "output_tokens", where, int),
            "input_tokens": _number(row, "input_tokens", where, int),
        }
        runs.setdefault((at, row.get("prompt", "")), []).append(fields)
    if not runs:
        raise InputError(f"{source}: no rows")
    return [(at, prompt, rows) for (at, prompt), rows in sorted(runs.items())]


def import_predecessor(
    store: Any,
    path: str | Path,
    *,
    when: datetime | None = None,
    owner: str | None = None,
    targets: Mapping[str, str] | None = None,
) -> dict[str, list[str]]:
    """Store each run of the export at ``path``; ``{"imported": ids, "skipped": ids}``
    (skipped: already imported from this very file). The format is told by the content:
    a bench CSV, or a tool-eval JSON (``targets``: its model ids to our ``provider/model``,
    see :mod:`.import_predecessor_evals`); its tool-eval history CSV is refused."""
    p = Path(path).expanduser()
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise InputError(f"import: cannot read {p} ({exc.strerror})") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(f"import: {p} is not UTF-8 text") from None
    digest = hashlib.sha256(data).hexdigest()
    if text.lstrip().startswith(("{", "[")):
        return _import_json(store, text, p, digest, when, owner, targets)
    _refuse_eval_history(text, p)
    out: dict[str, list[str]] = {"imported": [], "skipped": []}
    me = store._owner(owner, write=True)
    for at, prompt, rows in read_predecessor_csv(text, str(p), when):
        # the importer's name is in the id: two users may import the same file into one
        # store; the id without it is what stores imported before (skipped too)
        key = f"{digest}:{at.isoformat()}:{prompt}"
        run_id = hashlib.sha256(f"{me}:{key}".encode()).hexdigest()[:16]
        legacy = hashlib.sha256(key.encode()).hexdigest()[:16]
        done = next((rid for rid in (run_id, legacy) if _mine(store, rid, me)), None)
        if done is not None:
            out["skipped"].append(done)
            continue
        pairs = sorted({(r["provider"], r["model"]) for r in rows})
        spec = {
            "targets": [{"provider": pv, "model": m} for pv, m in pairs], "prompt": prompt,
            "imported": {"source": SOURCE, "file": p.name, "sha256": digest,
                         "rows": len(rows), "caveats": list(CAVEATS)},
        }  # fmt: skip
        store.create_run(run_id=run_id, owner=me, name=f"imported: {prompt[:60]}".strip(),
                         spec=spec, config_snapshot={}, versions={}, host={},
                         created_at=at)  # fmt: skip
        store.add_records(_records(run_id, at, rows))
        store.finish_run(run_id, "done")
        out["imported"].append(run_id)
    return out


def _mine(store: Any, run_id: str, owner: str) -> bool:
    """Whether ``owner`` has the run ``run_id`` already (another user's is not theirs)."""
    try:
        return bool(store.get_run(run_id, owner=owner)["owner"] == owner)
    except LLMBenchError:
        return False


def _import_json(
    store: Any,
    text: str,
    p: Path,
    digest: str,
    when: datetime | None,
    owner: str | None,
    targets: Mapping[str, str] | None,
) -> dict[str, list[str]]:
    from llmbench_jupyter.store.import_predecessor_eval_store import store_eval_export
    from llmbench_jupyter.store.import_predecessor_evals import looks_like_eval_export

    try:
        data = json.loads(text)
    except ValueError as exc:
        raise InputError(f"{p}: not valid JSON ({exc})") from None
    if not looks_like_eval_export(data):
        found = sorted(data)[:8] if isinstance(data, dict) else type(data).__name__
        raise InputError(
            f"{p}: not a {SOURCE} export: a JSON export must be a tool-eval run "
            f"(GET /api/export/eval/<id>: an object with 'eval_id', 'suite_name', 'timestamp', "
            f"'results' and 'summary'); found {found}"
        )
    return store_eval_export(store, data, p, digest, when=when, owner=owner, targets=targets)


def _refuse_eval_history(text: str, p: Path) -> None:
    """Its tool-eval history CSV holds one row of averages per model and run: stored as an
    eval run it would load with no cases, pair with nothing and (in its newer format,
    where ``cases_passed`` counted calls without an API error) even misstate passes."""
    header = {c.strip() for c in (next(csv.reader(io.StringIO(text)), None) or [])}
    if {"suite_name", "tool_accuracy_pct", "cases_passed"} <= header:
        raise InputError(
            f"{p}: this is {SOURCE}'s tool-eval history CSV (averages per model and run, no "
            "cases): an eval run here is its cases' verdicts, which the averages cannot "
            "give back, so it is not imported. Export each eval run as JSON instead (GET "
            "/api/export/eval/<eval_id>, its eval-<id>.json) and import those files."
        )


def _records(run_id: str, at: datetime, rows: Sequence[dict[str, Any]]) -> list[RequestRecord]:
    from llmbench_jupyter.core.records import new_id

    seen: dict[tuple[str, str, int], int] = {}
    out = []
    for i, r in enumerate(rows):
        key = (r["provider"], r["model"], r["context_tier"])
        seen[key] = seen.get(key, -1) + 1
        ok = r["ttft_ms"] is not None
        out.append(RequestRecord(
            request_id=new_id(), run_id=run_id, run_index=seen[key], send_mono_ns=i,
            started_at=at.astimezone(UTC).isoformat(), transport="imported",
            status="ok" if ok else "error", error_category=None if ok else "unknown",
            error_message=None if ok else f"failed in {SOURCE} (its export gives no reason)",
            cost_source="imported" if r["cost_usd"] is not None else None, **r,
        ))  # fmt: skip
    return out


def import_results(path: str | Path, *, when: datetime | None = None, store: Any = None,
                   targets: Mapping[str, str] | None = None) -> dict[str, list[str]]:  # fmt: skip
    """Import the predecessor's exported results into your store: benchmark results
    (``benchmark_history.csv``, or one run's ``benchmark_run_<id>.csv`` with ``when=`` its
    time) or one tool-eval run (``eval-<id>.json``; ``targets`` maps its model ids to
    your ``provider/model``); the run ids imported and those skipped as already imported."""
    from llmbench_jupyter.store import open_store

    return import_predecessor(store or open_store(), path, when=when, targets=targets)
