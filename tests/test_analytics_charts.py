"""``lj.plot(df)``: the figure of each analytics frame draws that frame's numbers, says
where they came from, and shows names from data as plain text. Real runs against the
simulated endpoint (its clock set per run) in a real store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

import llmbench_jupyter as lj
from llmbench_jupyter.core.errors import InputError
from llmbench_jupyter.jobs.sim_history import simulate_history

END = datetime(2026, 11, 30, 12, tzinfo=UTC)
BASE = "sim:ttft=40,itl=2,out=8,jitter=0.2"
SLOWING = f"{BASE},slow_after={(END - timedelta(days=7)).isoformat()},slow=1.3"
HOSTILE = "<img src=x onerror=alert(1)>team"


@pytest.fixture
def history(store, owner):  # type: ignore[no-untyped-def]
    slow = simulate_history(store, SLOWING, days=14, seed=1, end=END, owner=owner,
                            provider="slowing")  # fmt: skip
    steady = simulate_history(store, BASE, days=14, seed=2, end=END, owner=owner,
                              provider=HOSTILE)  # fmt: skip
    return store, owner, slow, steady


def test_changes_and_trends_are_drawn_from_their_frames(history) -> None:  # type: ignore[no-untyped-def]
    store, owner, _slow, _steady = history
    found = lj.changes("ttft_ms", days=14, recent_days=7, store=store, owner=owner, now=END)
    fig = lj.plot(found)
    bar = fig.data[0]
    shown = found.dropna(subset=["ratio"])
    assert list(bar.x + 1) == pytest.approx(list(shown["ratio"]))
    colours = dict(zip(bar.y, bar.marker.color, strict=True))
    assert shown.iloc[0]["provider"] == "slowing" and shown.iloc[0]["flagged"]
    assert colours["slowing/" + shown.iloc[0]["model"]] == "#d32f2f"  # flagged, slower
    assert colours["team/" + shown.iloc[1]["model"]] == "#9e9e9e"  # steady: not flagged
    assert not any("<img" in label for label in bar.y)  # the hostile name, as plain text
    assert "Mann-Whitney" in fig.layout.title.text
    trend = lj.plot(lj.trends("ttft_ms", days=14, store=store, owner=owner, now=END))
    assert len(trend.data) == 2 and all("<img" not in t.name for t in trend.data)


def test_the_leaderboard_and_compared_runs_are_drawn(history, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    store, owner, slow, _steady = history
    monkeypatch.setenv("LLMBENCH_USER", owner)
    board = lj.leaderboard(store=store)  # this owner's runs only: one tier, no " @tier"
    mine = board[board["provider"].isin(["slowing", HOSTILE])]
    fig = lj.plot(board)
    points = dict(zip(fig.data[0].text, fig.data[0].x, strict=True))
    for _i, row in mine.iterrows():
        label = f"{'team' if row['provider'] == HOSTILE else 'slowing'}/{row['model']}"
        assert points[label] == pytest.approx(row["ttft_ms_p50"])
    assert "quantile sketches" in fig.layout.title.text
    side = lj.compare_runs([slow[0], slow[-1]], store=store)
    fig = lj.plot(side)
    assert len(fig.data) == 3 * 2  # three metrics, two runs
    assert list(fig.data[0].y) == pytest.approx(list(side[("ttft_ms", slow[0])]))


def test_anything_else_is_refused_with_what_was_expected(history) -> None:  # type: ignore[no-untyped-def]
    store, owner, *_ = history
    with pytest.raises(InputError, match="expected a DataFrame from one of trends, changes"):
        lj.plot(pd.DataFrame({"a": [1]}))
    with pytest.raises(InputError, match="the trends DataFrame is empty"):
        lj.plot(
            lj.trends("ttft_ms", days=1, store=store, owner=owner, now=END - timedelta(days=90))
        )
