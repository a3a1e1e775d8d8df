"""The results store at scale (issue 12): ingest rate, size, query and load times.

Fresh stores filled with a realistic workload through ``Store.add_records``; every figure
is printed next to its target and a raw-SQL baseline from the same run (benchmarks/README.md).

    .venv/bin/python benchmarks/store_scale.py [--records 10000,100000[,1000000]]
        [--backend sqlite,postgresql] [--json out.json] [--quick] [--batch 5000]

Exit code 0 even when a target fails (a measurement, not a test); 2 when it cannot run.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import statistics
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
from _scale_backends import PG_HOST, Postgres, SQLite

from llmbench_jupyter.analysis.results import history, leaderboard
from llmbench_jupyter.core.records import RequestRecord
from llmbench_jupyter.stats import RELATIVE_ACCURACY, summarize
from llmbench_jupyter.store import Store
from llmbench_jupyter.store.codec import encode_times
from llmbench_jupyter.store.db import current_owner
from llmbench_jupyter.store.models import Run
from llmbench_jupyter.store.records_io import ROW_COLUMNS, record_rows
from llmbench_jupyter.store.writer import StoreWriter

PROVIDERS = {
    "openai": ("gpt-4o", "gpt-4o-mini", "gpt-4.1", "o4-mini"),
    "anthropic": ("claude-sonnet-4", "claude-haiku-3.5", "claude-opus-4", "claude-3.7"),
    "groq": ("llama-3.3-70b", "llama-3.1-8b", "qwen3-32b", "gemma2-9b"),
    "together": ("deepseek-v3", "mixtral-8x22b", "qwen2.5-72b", "llama-4-scout"),
    "mistral": ("mistral-large", "mistral-small", "codestral", "ministral-8b"),
}
PROVS = list(PROVIDERS)
N_RUNS, CHUNKS, SEED = 100, 30, 12
ERRORS = (("rate_limit", 429, "429 Too Many Requests"), ("timeout", None, "read timed out"),
          ("server_error", 500, "500 Internal Server Error"))  # fmt: skip
WORDS = "the model returns a short answer on latency tokens streaming cost and speed".split()  # noqa: SIM905
LEAN = ("provider", "model", "context_tier", "is_warmup", "status", "error_category",
        "ttft_ms", "tpot_ms", "decode_tps")  # fmt: skip


# ----------------------------------------------------------------------------- workload
def texts(rng: np.random.Generator, n: int = 400) -> list[str]:
    out = []
    for _ in range(n):
        words = " ".join(rng.choice(WORDS, 40).tolist()).capitalize()
        out.append(words[: int(rng.integers(120, 151))].rstrip() + ".")
    return out


def run_records(rng: np.random.Generator, pool: list[str], run_id: str, r: int, n: int,
                n_warm: int, t0: datetime) -> list[RequestRecord]:  # fmt: skip
    """``n`` records of run number ``r`` (the first ``n_warm`` are warm-ups, one per target)."""
    prov = PROVS[r % len(PROVS)]
    models = PROVIDERS[prov]
    tiers = (0, 1000) if r % 4 == 3 else (0,)
    cells = [(m, t) for t in tiers for m in models]
    ttft = np.clip(rng.lognormal(np.log(220), 0.55, n), 50, 800)
    gaps = np.clip(rng.uniform(4, 25, (n, 1)) * rng.lognormal(0, 0.3, (n, CHUNKS - 1)), 3, 40)
    times = np.round(ttft[:, None] + np.concatenate([np.zeros((n, 1)), gaps.cumsum(1)], 1), 3)
    tokens = rng.integers(CHUNKS, CHUNKS + 12, n).tolist()
    err = (rng.random(n) < 0.03).tolist()
    which = rng.integers(0, len(ERRORS), n).tolist()
    texts_at = rng.integers(0, len(pool), n).tolist()
    ids = rng.bytes(8 * n).hex()  # 16 hex digits, as core.records.new_id makes them
    resp = rng.bytes(12 * n).hex()
    times_l, gaps_l = times.tolist(), np.diff(times, axis=1).tolist()
    api = "aiohttp-anthropic" if prov == "anthropic" else "aiohttp-openai"
    out = []
    for i in range(n):
        warm = i < n_warm
        model, tier = (models[i % len(models)], 0) if warm else cells[i % len(cells)]
        sent = t0 + timedelta(hours=r, milliseconds=10 * i)
        rec = RequestRecord(
            request_id=ids[16 * i : 16 * i + 16], run_id=run_id, provider=prov, model=model,
            api_model=model, transport=api, context_tier=tier, run_index=i, is_warmup=warm,
            concurrency=8, started_at=sent.isoformat(timespec="microseconds"),
            send_mono_ns=1_000_000_000_000 + r * 3_600_000_000_000 + i * 10_000_000,
            input_tokens=42 + tier, input_tokens_source="usage", padding_tokens=tier or None,
            tokenizer="o200k_base",
        )  # fmt: skip
        if err[i] and not warm:
            cat, http, msg = ERRORS[which[i]]
            rec.status, rec.error_category, rec.http_status = "error", cat, http
            rec.error_message = msg
        else:
            ct, out_tok = times_l[i], tokens[i]
            e2e = ct[-1]
            rec.response_id = "chatcmpl-" + resp[24 * i : 24 * i + 24]
            rec.ttft_ms = rec.ttfat_ms = ct[0]
            rec.e2e_ms, rec.chunk_times_ms, rec.itl_ms = e2e, ct, gaps_l[i]
            rec.chunk_kinds, rec.n_chunks = "a" * CHUNKS, CHUNKS
            rec.tpot_ms = (e2e - ct[0]) / (out_tok - 1)
            rec.output_tokens = rec.output_tokens_usage = rec.output_tokens_tokenizer = out_tok
            rec.output_tokens_source, rec.output_tokens_chunks = "usage", CHUNKS
            rec.decode_tps = (out_tok - 1) / (e2e - ct[0]) * 1000
            rec.total_tps, rec.prefill_tps = out_tok / e2e * 1000, (42 + tier) / ct[0] * 1000
            rec.cost_usd, rec.cost_source = (42 + tier) * 2.5e-6 + out_tok * 1e-5, "litellm"
            rec.finish_reason, rec.output_text = "stop", pool[texts_at[i]]
        out.append(rec)
    return out


# ----------------------------------------------------------------------------- backends
# ----------------------------------------------------------------------------- measuring
def rss_mb() -> float:
    with contextlib.suppress(ImportError):
        import psutil

        return psutil.Process().memory_info().rss / 2**20
    with open("/proc/self/status") as fh:
        return int(next(ln for ln in fh if ln.startswith("VmRSS:")).split()[1]) / 1024


class PeakRSS:
    """Highest RSS seen while the ``with`` block runs, minus the RSS when it started."""

    def __enter__(self) -> PeakRSS:
        gc.collect()
        self.start = self.peak = rss_mb()
        self._stop, self._thread = threading.Event(), threading.Thread(target=self._run)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(0.01):
            self.peak = max(self.peak, rss_mb())

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.growth = max(self.peak, rss_mb()) - self.start


def median_ms(fn: Callable[[], Any], reps: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


class Table:
    def __init__(self, backend: str) -> None:
        self.backend = backend
        self.rows: list[dict[str, Any]] = []

    def add(self, figure: str, value: float, unit: str, target: float | None,
            baseline: float | None = None, op: str = "<") -> None:  # fmt: skip
        ok = None if target is None else {"<": value < target, "≤": value <= target}.get(
            op, value >= target)  # fmt: skip
        self.rows.append({"figure": figure, "value": value, "unit": unit, "op": op,
                          "target": target, "baseline": baseline, "pass": ok})  # fmt: skip

    def print(self) -> None:
        print(f"\n== {self.backend} ==")
        print(f"{'figure':<46}{'value':>16}{'target':>16}{'baseline':>16}{'ratio':>8}  verdict")
        for r in self.rows:
            u = r["unit"]
            tgt = "" if r["target"] is None else f"{r['op']} {fmt(r['target'], u)}"
            base = "" if r["baseline"] is None else fmt(r["baseline"], u)
            ratio = f"{r['value'] / r['baseline']:.2f}x" if r["baseline"] else ""
            verdict = {True: "PASS", False: "FAIL", None: ""}[r["pass"]]
            print(f"{r['figure']:<46}{fmt(r['value'], u):>16}{tgt:>16}{base:>16}{ratio:>8}"
                  f"  {verdict}")  # fmt: skip


def fmt(v: float, unit: str) -> str:
    if unit == "ms":
        return f"{v:.1f} ms" if v < 100 else f"{v:,.0f} ms"
    return f"{v:,.0f} {unit}" if abs(v) >= 100 or unit == "rec/s" else f"{v:.1f} {unit}"


# ----------------------------------------------------------------------------- phases
def ingest(store: Store | None, be: Any, batch: list[Any], clock: dict[str, float]) -> None:
    """``batch`` through ``add_records``, then the same rows (``records_io.record_rows``,
    the store's own row builder) through the bare driver into the plain table."""
    t = time.perf_counter()
    if store is not None:
        store.add_records(batch)
    t1 = time.perf_counter()
    rows = [tuple(row) for row in record_rows(batch, {})[0]]  # as the store builds them
    t2 = time.perf_counter()
    be.insert_plain(rows)
    for key, spent in (("store", t1 - t), ("rows", t2 - t1), ("driver", time.perf_counter() - t2)):
        clock[key] += spent


def report_ingest(table: Table, label: str, n: int, clock: dict[str, float]) -> None:
    base = clock["rows"] + clock["driver"]
    table.add(label, n / clock["store"], "rec/s", 20_000, n / base, "≥")
    print(f"  {label}: {1e6 * clock['store'] / n:.0f} µs/record; baseline "
          f"{1e6 * base / n:.0f} µs/record = rows built by record_rows "
          f"{1e6 * clock['rows'] / n:.0f} + driver {1e6 * clock['driver'] / n:.0f}")  # fmt: skip


def scale(make: Callable[[str], Any], n: int, args: argparse.Namespace, table: Table) -> None:
    """One store of ``n`` records: ingest, size, queries (and exactness up to 100k)."""
    rng = np.random.default_rng(SEED)
    pool, t0 = texts(rng), datetime(2025, 1, 1, tzinfo=UTC)
    be = make(f"{n}")
    store, conn = Store(be.url), be.connect()
    try:
        be.open_plain(conn)
        empty = _total(be, be.sizes(conn))  # the migrated schema, no data: not per record
        per_run, lean, sample = n // N_RUNS, [], None
        clock, n_batches, started = dict.fromkeys(("store", "rows", "driver"), 0.0), 0, time.time()
        for r in range(N_RUNS):
            prov = PROVS[r % len(PROVS)]
            targets = [{"provider": prov, "model": m} for m in PROVIDERS[prov]]
            run_id = store.create_run(name=f"scale-{r}", spec={"targets": targets},
                                      config_snapshot={}, versions={}, host={})  # fmt: skip
            recs = run_records(rng, pool, run_id, r, per_run, len(targets), t0)
            for i in range(0, len(recs), args.batch):  # a run's records, as its writer flushes
                ingest(store, be, recs[i : i + args.batch], clock)
                n_batches += 1
            store.finish_run(run_id, "done")
            if n <= 100_000:
                lean += [tuple(getattr(x, c) for c in LEAN) for x in recs]
            sample = sample or recs
        total = N_RUNS * per_run
        print(f"  {be.name} {total:,} records: ingest {time.time() - started:.0f} s wall, "
              f"{n_batches} batches of ≤ {args.batch:,} records (one run's each)")  # fmt: skip
        report_ingest(table, f"[{total:,}] ingest Store.add_records", total, clock)
        sizes(be, conn, total, sample or [], table, empty)
        queries(conn, store, total, args.reps, table)
        if lean:
            exactness(store, lean)
    finally:
        store.close()
        conn.close()
        be.drop()


def _total(be: Any, s: dict[str, int]) -> int:
    if be.name == "sqlite":
        return s["file"]
    return sum(v for k, v in s.items() if k not in ("plain", "file on disk"))


def sizes(be: Any, conn: Any, n: int, sample: list[RequestRecord], table: Table,
          empty: int) -> None:  # fmt: skip
    """Bytes per record: what the store grew by over the empty, migrated store (whose
    tables and indexes of every kind take a fixed ~200 KB on SQLite), divided by ``n``."""
    s = be.sizes(conn)
    total = _total(be, s) - empty
    print(f"  the empty store: {empty / 1024:.0f} KB, not counted per record (counted: "
          f"{(total + empty) / n:.0f} B per record)")  # fmt: skip
    table.add(f"[{n:,}] size, bytes per record", total / n, "B", 500, s["plain"] / n, "≤")
    table.add(f"[{n:,}] size, 1M records (×{1e6 / n:g})", total * 1e6 / n / 2**20, "MB", 600,
              s["plain"] * 1e6 / n / 2**20, "≤")  # fmt: skip
    parts = ", ".join(f"{k} {v / 2**20:.1f} MB" for k, v in s.items() if v > 2**16)
    ok = [r for r in sample if r.status == "ok"]
    text = statistics.mean(len(r.output_text or "") for r in ok)
    blob = statistics.mean(len(encode_times(r.chunk_times_ms)) for r in ok)
    as_json = statistics.mean(len(json.dumps([r.chunk_times_ms, r.itl_ms])) for r in ok)
    raw = statistics.mean(sum(len(v) if isinstance(v, str | bytes) else 8 * (v is not None)
                              for v in record_rows([r], {})[0][0]) for r in ok)  # fmt: skip
    print(f"  sizes: {parts}\n  a successful record: {len(ROW_COLUMNS)} columns, {raw:.0f} "
          f"bytes of values (numbers as 8): output_text {text:.0f} chars, request_id "
          f"{len(ok[0].request_id)}, response_id 33, run_id {len(ok[0].run_id)}, started_at as "
          f"an integer, {CHUNKS} chunk times in {blob:.0f} bytes "
          f"(as JSON with itl_ms: {as_json:.0f})")  # fmt: skip


def queries(conn: Any, store: Store, n: int, reps: int, table: Table) -> None:
    agg = ("count(*), sum(CASE WHEN status = 'ok' THEN 1 ELSE 0 END), avg(ttft_ms), avg(e2e_ms),"
           " avg(output_tokens), sum(cost_usd) FROM requests r JOIN request_labels l"
           " ON l.run_id = r.run_id AND l.label = r.label WHERE NOT is_warmup")  # fmt: skip
    key = "provider, model, context_tier"
    by_target = f"SELECT {key}, {agg} GROUP BY {key}"
    newest = "SELECT run_id FROM runs ORDER BY created_at DESC LIMIT 50"
    by_run = f"SELECT r.run_id, {agg} AND r.run_id IN ({newest}) GROUP BY r.run_id"
    calls = {  # name: (the store's call, the raw SQL over records it stands against)
        "leaderboard()": (lambda: leaderboard(store=store), by_target),
        "leaderboard(by='ttft_ms')": (lambda: leaderboard(by="ttft_ms", store=store), by_target),
        "history()": (lambda: history(store=store), by_run),
    }  # fmt: skip
    before = rss_mb()
    for fn, _ in calls.values():  # first calls: imports (pandas...), caches
        fn()
    print(f"  first query calls (imports, caches): RSS {rss_mb() - before:+.0f} MB")
    with PeakRSS() as mem:  # the figure: growth while they are called again and again
        timed = {name: median_ms(fn, reps) for name, (fn, _) in calls.items()}
    for name, (_, sql) in calls.items():
        raw = median_ms(lambda sql=sql: conn.execute(sql).fetchall(), reps)
        table.add(f"[{n:,}] {name}", timed[name], "ms", 200, raw)
    table.add(f"[{n:,}] RSS growth over those calls", mem.growth, "MB", 200)


def exactness(store: Store, lean: list[tuple[Any, ...]]) -> None:
    import pandas as pd

    metrics = ("ttft_ms", "tpot_ms", "decode_tps")
    exact = summarize(pd.DataFrame(lean, columns=list(LEAN)), metrics=metrics, n_boot=1)
    got = leaderboard(store=store, full=True)
    both = exact.merge(got, on=["provider", "model", "context_tier"], suffixes=("_x", ""))
    same = int((both["requests_x"] == both["requests"]).sum())
    rel = max(float((both[f"{m}_p50"] / both[f"{m}_p50_x"] - 1).abs().max()) for m in metrics)
    verdict = "agree" if same == len(exact) == len(got) and rel <= RELATIVE_ACCURACY else "DIFFER"
    print(f"  exactness: leaderboard vs stats.summarize over the {len(lean):,} records: "
          f"{same}/{len(exact)} groups with equal counts ({len(got)} leaderboard rows), "
          f"max relative error of p50s {rel:.4f} (α = {RELATIVE_ACCURACY}): {verdict}")  # fmt: skip


def small_runs(make: Callable[[str], Any], args: argparse.Namespace, table: Table) -> None:
    """One 10k-record run (through StoreWriter) to pandas; then 10k small runs: list, history."""
    import pandas as pd
    from sqlalchemy import create_engine, insert, text

    rng = np.random.default_rng(SEED + 1)
    pool, t0 = texts(rng), datetime(2025, 1, 1, tzinfo=UTC)
    be = make("runs")
    store, conn, engine = Store(be.url), be.connect(), create_engine(be.url)
    try:
        be.open_plain(conn)
        rid = store.create_run(name="big", spec={"targets": []}, config_snapshot={},
                               versions={}, host={})  # fmt: skip
        recs = run_records(rng, pool, rid, 0, 10_000, 4, t0)
        t = time.perf_counter()
        writer = StoreWriter(store)  # the engine's writer: put() each record, then close()
        for rec in recs:
            writer.put(rec)
        writer.close()
        clock = {"store": time.perf_counter() - t, "rows": 0.0, "driver": 0.0}
        ingest(None, be, recs, clock)  # the baseline only
        report_ingest(table, "StoreWriter put+close, one 10k-record run", len(recs), clock)
        store.finish_run(rid, "done")
        sql = text("SELECT * FROM requests WHERE run_id = :r ORDER BY send_mono_ns, request_id")
        df_ms = median_ms(lambda: store.records_df(rid), args.reps)
        with engine.connect() as c:
            raw_ms = median_ms(lambda: pd.read_sql(sql, c, params={"r": rid}), args.reps)
        table.add("one 10k-record run: Store.records_df", df_ms, "ms", 300, raw_ms)

        owner, n_runs = current_owner(), args.runs
        ids = [rng.bytes(8).hex() for _ in range(n_runs)]
        spec = {"targets": [{"provider": "openai", "model": "gpt-4o-mini"}]}
        runs = [{"run_id": run_id, "owner": owner, "kind": "bench", "name": f"small-{i}",
                 "status": "done", "created_at": t0 + timedelta(minutes=i),
                 "finished_at": t0 + timedelta(minutes=i, seconds=5), "spec": spec,
                 "config_snapshot": {}, "versions": {}, "host": {}, "n_requests": 0,
                 "n_errors": 0, "published": False} for i, run_id in enumerate(ids)]  # fmt: skip
        t = time.perf_counter()
        with engine.begin() as c:  # runs in bulk; their records through add_records
            c.execute(insert(Run), runs)
        small = [rec for i, run_id in enumerate(ids)
                 for rec in run_records(rng, pool, run_id, 5 * i, 2, 0, t0)]  # fmt: skip
        for i in range(0, len(small), 1000):
            store.add_records(small[i : i + 1000])
        print(f"  {be.name}: {n_runs:,} runs of 2 records stored in "
              f"{time.perf_counter() - t:.0f} s (records through add_records)")  # fmt: skip
        newest = "SELECT * FROM runs ORDER BY created_at DESC, run_id LIMIT 50"
        raw_ms = median_ms(lambda: conn.execute(newest).fetchall(), args.reps)
        ms = median_ms(lambda: store.list_runs(limit=50), args.reps)
        table.add(f"{n_runs:,} runs: Store.list_runs(limit=50)", ms, "ms", 300, raw_ms)
        ms = median_ms(lambda: history(store=store), args.reps)
        table.add(f"{n_runs:,} runs: history() (results list)", ms, "ms", 300, raw_ms)
    finally:
        store.close()
        conn.close()
        engine.dispose()
        be.drop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", default="10000,100000", help="record counts (1M opt-in)")
    parser.add_argument("--backend", default="sqlite,postgresql")
    parser.add_argument("--json", type=Path, help="also write every figure here")
    parser.add_argument("--quick", action="store_true", help="10k records, 1,000 small runs")
    parser.add_argument("--batch", type=int, default=5000, help="records per add_records")
    args = parser.parse_args()
    sizes_ = [int(float(s)) for s in args.records.split(",") if s.strip()]
    args.reps, args.runs, sizes_ = (3, 1_000, sizes_[:1]) if args.quick else (7, 10_000, sizes_)
    makers = {"sqlite": SQLite, "postgresql": Postgres}
    names = [b.strip() for b in args.backend.split(",") if b.strip()]
    if bad := [b for b in names if b not in makers] or [s for s in sizes_ if s < N_RUNS * 10]:
        print(f"unknown backend or record count below {N_RUNS * 10}: {bad}", file=sys.stderr)
        return 2
    if "postgresql" in names:
        try:
            psycopg.connect(f"{PG_HOST} dbname=postgres connect_timeout=5").close()
        except Exception as exc:
            print(f"PostgreSQL is not reachable at {PG_HOST}: {exc}".strip(), file=sys.stderr)
            return 2
    print(f"store_scale: records {sizes_}, backends {names}, {os.cpu_count()} CPUs, "
          f"Python {sys.version.split()[0]}, median of {args.reps} after a warm-up")  # fmt: skip
    started, tables = time.perf_counter(), []
    for name in names:
        table = Table(name)
        for n in sizes_:
            scale(makers[name], n, args, table)
        small_runs(makers[name], args, table)
        table.print()
        tables.append(table)
    print(f"\ntotal {time.perf_counter() - started:.0f} s")
    if args.json:
        args.json.write_text(json.dumps({t.backend: t.rows for t in tables}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
