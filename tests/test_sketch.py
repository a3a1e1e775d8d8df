"""The quantile sketch behind history() and leaderboard(): its documented error bound."""

from __future__ import annotations

import numpy as np
import pytest
from ddsketch import DDSketch

from llmbench_jupyter.stats import RELATIVE_ACCURACY, Sketch, sketch_quantile

QS = (0.0, 0.01, 0.25, 0.5, 0.9, 0.95, 0.99, 1.0)


def _samples(seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [
        rng.lognormal(4, 1.5, int(rng.integers(1, 300))),  # latencies over decades
        rng.uniform(20, 21, int(rng.integers(1, 300))),  # a tight cluster
        np.repeat(rng.uniform(1, 1000), 7),  # ties
        rng.integers(1, 50, 101).astype(float),  # integer-valued rates
    ]


@pytest.mark.parametrize("seed", range(20))
def test_merged_percentiles_are_within_the_documented_bound(seed: int) -> None:
    for sample in _samples(seed):
        parts = np.array_split(sample, min(len(sample), 1 + seed % 5))
        blobs = [Sketch.of(p.tolist()).to_bytes() for p in parts if len(p)]  # type: ignore[union-attr]
        merged = Sketch.merge(blobs)
        assert merged is not None and merged.n == len(sample)
        for q in QS:
            exact = float(np.percentile(sample, q * 100))
            assert merged.quantile(q) == pytest.approx(exact, rel=RELATIVE_ACCURACY), q


def test_the_bound_is_not_loose_by_much() -> None:
    """The worst error over many samples comes close to α: the bound is the real one."""
    worst = 0.0
    for seed in range(20):
        for sample in _samples(seed):
            s = Sketch.of(sample.tolist())
            assert s is not None
            for q in QS:
                exact = float(np.percentile(sample, q * 100))
                worst = max(worst, abs(s.quantile(q) - exact) / exact)  # type: ignore[operator]
    assert RELATIVE_ACCURACY / 2 < worst <= RELATIVE_ACCURACY


def test_buckets_are_ddsketchs_and_so_is_the_lower_order_statistic() -> None:
    rng = np.random.default_rng(7)
    sample = rng.lognormal(3, 1, 1001)
    ours = Sketch.of(sample.tolist())
    reference = DDSketch(RELATIVE_ACCURACY)
    for v in sample:
        reference.add(float(v))
    assert ours is not None
    for q in (0.1, 0.5, 0.9):  # at q(n-1) integral both return the bucket value
        rank = q * (len(sample) - 1)
        assert rank == int(rank)
        assert ours.quantile(q) == pytest.approx(reference.get_quantile_value(q), rel=1e-12)


def test_merging_is_exact_whatever_the_order() -> None:
    rng = np.random.default_rng(1)
    parts = [rng.lognormal(2, 1, 50).tolist() for _ in range(6)]
    one = Sketch.of([v for p in parts for v in p])
    a = Sketch.merge([Sketch.of(p) for p in parts])
    b = Sketch.merge([Sketch.merge([Sketch.of(p) for p in parts[3:]]), *map(Sketch.of, parts[:3])])
    assert one is not None and a is not None and b is not None
    for s in (a, b):
        assert (s.min_key, s.counts.tolist(), s.zeros) == (one.min_key, one.counts.tolist(), 0)


def test_missing_values_zeros_and_empty_sketches() -> None:
    assert Sketch.of([]) is None and Sketch.of([None, float("nan")]) is None
    s = Sketch.of([0.0, 0.0, 10.0, None, float("inf")])
    assert s is not None and (s.n, s.zeros) == (3, 2)
    assert s.quantile(0) == 0.0 and s.quantile(1) == pytest.approx(10, rel=RELATIVE_ACCURACY)
    back = Sketch.from_bytes(s.to_bytes())
    assert (back.min_key, back.counts.tolist(), back.zeros) == (s.min_key, s.counts.tolist(), 2)
    assert sketch_quantile([], 0.5) is None and sketch_quantile([None, None], 0.5) is None
    with pytest.raises(ValueError, match="within"):
        s.quantile(1.5)
    with pytest.raises(ValueError, match="unknown sketch format"):
        Sketch.from_bytes(b"\x09" + s.to_bytes()[1:])


def test_thirty_values_take_a_few_hundred_bytes() -> None:
    s = Sketch.of([100 + i for i in range(30)])
    assert s is not None and len(s.to_bytes()) < 4 * 40 + 16


def test_the_stored_form_is_small_for_few_values_and_for_many() -> None:
    few = Sketch.of([12.0, 480.0, 9000.0])  # three values over three decades
    assert few is not None and len(few.to_bytes()) <= 10 + 3 * 3
    many = Sketch.of(np.random.default_rng(0).lognormal(4, 0.3, 100_000).tolist())
    assert many is not None and len(many.to_bytes()) <= 10 + 2 * many.counts.size
    heavy = Sketch(5, np.array([70_000, 0, 3], dtype=np.int64), zeros=1)  # > uint16 counts
    for s in (few, many, heavy):
        back = Sketch.from_bytes(s.to_bytes())
        assert (back.min_key, back.counts.tolist(), back.zeros) == (
            s.min_key,
            s.counts.tolist(),
            s.zeros,
        )


def test_counts_take_the_narrowest_width_and_earlier_layouts_still_read() -> None:
    import struct

    few = Sketch.of([12.0, 480.0, 9000.0])
    assert few is not None and len(few.to_bytes()) == 10 + 3 * 3  # uint16 offset, uint8 count
    run = Sketch.of(np.random.default_rng(1).lognormal(5.4, 0.5, 300).tolist())
    assert run is not None and len(run.to_bytes()) <= 10 + run.counts.size  # a byte a bucket
    # sketches written before the uint8 layouts (codes 0-2) read back the same
    counts = np.array([3, 0, 70_000, 1], dtype=np.int64)
    head = struct.pack("<BBiI", 2, 0, -7, 4)
    old = {
        0: head[:1] + b"\x00" + head[2:] + np.array([3, 0, 7, 1], "<u2").tobytes(),
        1: head[:1] + b"\x01" + head[2:] + counts.astype("<u4").tobytes(),
        2: head[:1] + b"\x02" + head[2:] + np.array([0, 2, 3], "<u2").tobytes()
        + np.array([3, 70_000, 1], "<u4").tobytes(),
    }  # fmt: skip
    want = {0: [3, 0, 7, 1], 1: counts.tolist(), 2: counts.tolist()}
    for code, blob in old.items():
        back = Sketch.from_bytes(blob)
        assert (back.min_key, back.counts.tolist(), back.zeros) == (-7, want[code], 4)
        again = Sketch.from_bytes(back.to_bytes())
        assert again.counts.tolist() == want[code]


def test_merging_thousands_of_stored_sketches_at_once_equals_merging_them_one_by_one() -> None:
    """The leaderboard's path (all bytes: gathered with numpy in one go) against the
    decode-each path, over every stored layout: few and many values, wide counts, values
    only at zero, empty and missing sketches, negative keys, the earlier layouts."""
    import struct

    rng = np.random.default_rng(7)
    sketches: list[Sketch | None] = []
    for i in range(3000):
        n = int(rng.choice([1, 3, 30, 300, 3000]))
        values = rng.lognormal(float(rng.uniform(-3, 9)), float(rng.uniform(0.05, 2)), n)
        sketches.append(Sketch.of([*values.tolist(), *([0.0] * (i % 3))]))
    sketches += [Sketch.of([0.0, 0.0]), None, Sketch.of([]),
                 Sketch(5, np.array([70_000, 0, 3], dtype=np.int64), 1),  # uint32 counts
                 Sketch(-40, np.array([300, 2], dtype=np.int64), 0),
                 Sketch(-9, np.array([300] + [0] * 998 + [500], dtype=np.int64), 2)]  # fmt: skip
    blobs: list[bytes | None] = [s.to_bytes() if s is not None else None for s in sketches]
    head = struct.pack("<BBiI", 2, 2, -7, 4)  # an earlier sparse uint32 layout
    blobs.append(head + np.array([0, 2], "<u2").tobytes() + np.array([3, 9], "<u4").tobytes())
    sketches.append(Sketch.from_bytes(blobs[-1]))  # type: ignore[arg-type]
    layouts = {b[1] for b in blobs if b is not None}
    assert layouts == {0, 1, 2, 3, 4, 5}, layouts  # the test covers what it claims
    fast, slow = Sketch.merge(blobs), Sketch.merge(sketches)
    assert fast is not None and slow is not None
    assert (fast.n, fast.zeros) == (slow.n, slow.zeros)
    for q in (0.0, 0.001, 0.1, 0.5, 0.9, 0.99, 1.0):
        assert fast.quantile(q) == slow.quantile(q), q
    assert Sketch.merge([Sketch.of([0.0]).to_bytes()] * 9).n == 9  # type: ignore[union-attr]
    assert Sketch.merge([Sketch(0, np.zeros(0, dtype=np.int64), 0).to_bytes()] * 9) is None
    with pytest.raises(ValueError, match="unknown sketch format"):
        Sketch.merge([b"\x09" + blobs[0][1:]] * 9)  # type: ignore[index]
