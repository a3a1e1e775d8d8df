"""Live medians and a bench job's running tallies: added one record at a time, they give
what a full recount gives (the stdlib median over successful measured records), so a
progress tick costs the same at the 10th record and the 100,000th."""

from __future__ import annotations

import math
import random
import statistics

from llmbench_jupyter.core.records import RequestRecord
from llmbench_jupyter.jobs.bench_tally import BenchTally
from llmbench_jupyter.stats import LiveMedians, live_medians


def _records(n: int, seed: int = 0) -> list[RequestRecord]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        status = "error" if rng.random() < 0.1 else "ok"
        record = RequestRecord(
            f"r{i}", run_id="x", provider=rng.choice(["p", "q"]), model=rng.choice("ab"),
            context_tier=rng.choice(["short", "long"]), status=status,
            is_warmup=rng.random() < 0.05,
            ttft_ms=rng.choice([None, math.nan, rng.uniform(1, 100)]),
            e2e_ms=rng.uniform(10, 1000),
        )  # fmt: skip
        out.append(record)
    return out


def _recount(records: list[RequestRecord]) -> dict[tuple[str, str, str], tuple]:
    groups: dict[tuple[str, str, str], list[RequestRecord]] = {}
    for r in records:
        if not r.is_warmup:
            groups.setdefault((r.provider, r.model, r.context_tier), []).append(r)
    out = {}
    for key, members in groups.items():
        ok = [r for r in members if r.status == "ok"]
        ttft = [r.ttft_ms for r in ok if r.ttft_ms is not None and not math.isnan(r.ttft_ms)]
        e2e = [r.e2e_ms for r in ok]
        out[key] = (len(members), len(ok), statistics.median(ttft) if ttft else None,
                    statistics.median(e2e) if e2e else None)  # fmt: skip
    return out


def test_one_at_a_time_gives_the_recount_at_every_step() -> None:
    records = _records(400)
    live = LiveMedians()
    for i, record in enumerate(records, 1):
        live.add(record)
        if i % 37 == 0 or i == len(records):
            got = {
                (row["provider"], row["model"], row["context_tier"]): (
                    row["n"], row["ok"], row["ttft_ms_p50"], row["e2e_ms_p50"])
                for row in live.rows()
            }  # fmt: skip
            assert got == _recount(records[:i])
    assert live.rows() == live_medians(records)


def test_warmups_errors_and_nan_never_move_a_median() -> None:
    ok = RequestRecord("a", run_id="x", provider="p", model="m", ttft_ms=5.0)
    noise = [
        RequestRecord("b", run_id="x", provider="p", model="m", ttft_ms=900.0, is_warmup=True),
        RequestRecord("c", run_id="x", provider="p", model="m", ttft_ms=900.0, status="error"),
        RequestRecord("d", run_id="x", provider="p", model="m", ttft_ms=math.nan),
    ]
    (row,) = live_medians([ok, *noise])
    assert (row["n"], row["ok"], row["errors"], row["ttft_ms_p50"]) == (3, 2, 1, 5.0)
    assert row["decode_tps_p50"] is None


def test_a_tally_catches_up_in_steps_as_a_fresh_one_does_at_once() -> None:
    records = _records(300, seed=3)
    stepped = BenchTally()
    for end in (0, 1, 50, 51, 299, 300):
        seen = stepped.catch_up(records[:end])
    again = stepped.catch_up(records)  # nothing new: the same tallies
    fresh = BenchTally().catch_up(records)
    assert seen == again == fresh
    assert fresh.per_tier == live_medians(records)
    assert sum(fresh.done.values()) == 300
    assert stepped.catch_up(records, medians=False).per_tier == []
    # following a different (shorter) list starts over rather than miscounting
    assert sum(stepped.catch_up(records[:10]).done.values()) == 10


def test_a_view_stays_whole_while_another_thread_takes_in_records() -> None:
    """A tick on the run's loop and a widget's repr on the kernel's thread both catch up;
    each gets a copy, so reading one never meets the other's half-added record."""
    import threading

    records = _records(2000, seed=5)
    growing: list[RequestRecord] = []
    tally = BenchTally()
    failures: list[BaseException] = []
    stop = threading.Event()

    def read() -> None:
        try:
            while not stop.is_set():
                view = tally.catch_up(growing)
                for row in view.per_tier:  # iterating copies: no "changed size" here
                    assert row["n"] >= row["ok"]
                assert sum(view.done.values()) >= sum(view.errors.values())
        except BaseException as e:  # reported by the main thread
            failures.append(e)

    reader = threading.Thread(target=read)
    reader.start()
    for r in records:
        growing.append(r)
        if len(growing) % 50 == 0:
            tally.catch_up(growing)
    stop.set()
    reader.join()
    assert not failures
    assert tally.catch_up(growing) == BenchTally().catch_up(records)
