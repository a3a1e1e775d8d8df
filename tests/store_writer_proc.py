"""A separate process that writes benchmark records through the project's writer thread.

``python store_writer_proc.py URL RUN_ID N SEED`` writes N records (N = 0: forever, until
killed) to the existing run RUN_ID through ``StoreWriter``, the background thread the
benchmark engine uses, then prints the writer's errors as JSON and exits 1 if there were
any. Used by tests/test_store_concurrency.py.
"""

from __future__ import annotations

import itertools
import json
import random
import sys
import uuid

from llmbench_jupyter.core.records import RequestRecord
from llmbench_jupyter.store import Store
from llmbench_jupyter.store.writer import StoreWriter

MODELS = ("m-fast", "m-slow")


def record(run_id: str, i: int, rng: random.Random) -> RequestRecord:
    ok = rng.random() > 0.05
    ttft = rng.uniform(20, 400)
    times = [ttft]
    for _ in range(29):
        times.append(times[-1] + rng.uniform(2, 40))
    return RequestRecord(
        request_id=uuid.uuid4().hex, run_id=run_id, provider="p", model=MODELS[i % 2],
        context_tier=(i // 2) % 2 * 1000, run_index=i, is_warmup=i % 50 == 0,
        started_at="2026-12-03T09:00:00+00:00", send_mono_ns=i,
        ttft_ms=ttft if ok else None, e2e_ms=times[-1] + 1 if ok else None,
        tpot_ms=(times[-1] - ttft) / 29 if ok else None,
        decode_tps=29000 / (times[-1] - ttft) if ok else None,
        chunk_times_ms=times if ok else [], chunk_kinds="a" * 30 if ok else "",
        itl_ms=[b - a for a, b in itertools.pairwise(times)] if ok else [],
        n_chunks=30 if ok else 0, output_tokens=30 if ok else None,
        cost_usd=0.0001 if ok else None, status="ok" if ok else "error",
        error_category=None if ok else "http_5xx", output_text="x" * 40 if ok else None,
    )  # fmt: skip


def main() -> int:
    url, run_id, n, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    store = Store(url)
    writer = StoreWriter(store, flush_s=0.05)
    rng = random.Random(seed)
    counter = itertools.count() if n == 0 else range(n)
    for i in counter:
        writer.put(record(run_id, i, rng))
        if n == 0 and i % 200 == 199:  # forever: keep the queue short, like a live run
            import time

            time.sleep(0.01)
    writer.close(timeout=600)
    print(json.dumps({"written": writer.written, "errors": writer.errors}))
    return 1 if writer.errors or writer.written != n else 0


if __name__ == "__main__":
    sys.exit(main())
