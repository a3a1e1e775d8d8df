"""The experiment widget on real stored runs (simulated endpoint over real HTTP): what it
shows is what ``Experiment`` computes, and its controls change the stored experiment."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import llmbench_jupyter as lj
from llmbench_jupyter.core.targets import adhoc
from llmbench_jupyter.core.workload import BenchSpec
from llmbench_jupyter.jobs.bench_run import run as bench_run
from llmbench_jupyter.kernel.experiment_widget import ExperimentWidget
from llmbench_jupyter.sim import SimServer
from llmbench_jupyter.store import open_store


def _bench(store: Any, scenario: str, seed: int) -> str:
    srv = SimServer(seed=seed, scenarios={"m": scenario}).start_in_thread()
    try:
        spec = BenchSpec(targets=[adhoc(srv.base_url, "m", label="p")], runs=12, warmup=0,
                         concurrency=4)  # fmt: skip
        return str(bench_run(spec, store=store).run_id)
    finally:
        srv.stop_thread()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    store = open_store(f"sqlite:///{tmp_path_factory.mktemp('expw') / 'exp.db'}")
    runs = {
        "base": _bench(store, "sim:ttft=30,itl=1,out=4,jitter=0.1", 1),
        "same": _bench(store, "sim:ttft=30,itl=1,out=4,jitter=0.1", 2),
        "slow": _bench(store, "sim:ttft=60,itl=1,out=4,jitter=0.1", 3),
        "fast": _bench(store, "sim:ttft=10,itl=1,out=4,jitter=0.1", 4),
    }
    yield {"store": store, **runs}
    store.close()


def test_the_widget_shows_what_the_experiment_computes(world: dict[str, Any]) -> None:
    store, base, same, slow = world["store"], world["base"], world["same"], world["slow"]
    exp = lj.experiment("speed", store=store).add(base, baseline=True).add(same, slow)
    widget = lj.experiment_widget("speed", store=store)
    assert isinstance(widget, ExperimentWidget) and repr(widget) == "ExperimentWidget('speed')"
    assert "3 bench; baseline" in widget.header.value and widget.metric.value == "ttft_ms"
    for run in (base, same, slow):
        assert f'data-run="{run}"' in widget.runs_html.value
    table = exp.compare("ttft_ms").set_index("run_id")
    shown = widget.compare_html.value
    assert table.loc[slow, "verdict"] == "worse"
    assert f'<tr data-run="{slow}" style="color:#d32f2f">' in shown  # worse, in red
    assert f"<td>{table.loc[slow, 'diff']:.4g}</td>" in shown
    assert f'<tr data-run="{same}">' in shown  # no significant difference: uncoloured
    # the forest plot: one point per compared row, its interval from the same table
    fig = widget.figure
    points = {trace.name: trace for trace in fig.data}
    assert points["worse"].x == (pytest.approx(table.loc[slow, "diff"]),)
    assert points["worse"].error_x.array == (
        pytest.approx(table.loc[slow, "diff_ci_high"] - table.loc[slow, "diff"]),)  # fmt: skip
    assert "source: Experiment.compare" in fig.layout.title.text
    best = exp.best("ttft_ms")
    assert f'data-run="{best.loc[0, "run_id"]}"' in widget.best_html.value
    # another metric: redrawn from compare(metric)
    widget.metric.value = "decode_tps"
    assert "Against the baseline: decode_tps" in widget.compare_html.value
    assert "higher is better" in widget.compare_html.value


def test_the_controls_change_the_stored_experiment(world: dict[str, Any], tmp_path: Path) -> None:
    store, base, slow, fast = world["store"], world["base"], world["slow"], world["fast"]
    exp = lj.experiment("controls", store=store).add(base, baseline=True).add(slow)
    widget = lj.experiment_widget(exp)
    widget.add_text.value = fast[:10]  # a prefix, as a person types it
    widget.add_button.click()
    assert "added run" in widget.status.value and fast in set(exp.runs()["run_id"])
    assert f'data-run="{fast}" style="color:#388e3c"' in widget.compare_html.value  # better
    widget.run_choice.value = slow
    widget.baseline_button.click()
    assert exp.baseline == slow and f"run {slow[:8]} is the baseline now" in widget.status.value
    widget.run_choice.value = base
    widget.remove_button.click()
    assert base not in set(exp.runs()["run_id"]) and "the run itself is kept" in (
        widget.status.value)  # fmt: skip
    # bad input: said plainly, nothing changed
    widget.add_text.value = "ffffffffffff"
    widget.add_button.click()
    assert "#b00020" in widget.status.value and len(exp.runs()) == 2
    widget.add_text.value = "  "
    widget.add_button.click()
    assert "type a run id" in widget.status.value
    # the offline report, written where asked
    widget.report_path.value = str(tmp_path / "controls.html")
    widget.report_button.click()
    written = tmp_path / "controls.html"
    assert written.is_file() and written.stat().st_size < 5e6
    assert f"wrote {written}" in widget.status.value


def test_runs_added_elsewhere_appear_on_refresh(world: dict[str, Any]) -> None:
    store, base, same = world["store"], world["base"], world["same"]
    exp = lj.experiment("later", store=store)
    widget = lj.experiment_widget(exp)
    assert "no runs" in widget.header.value and widget.figure is None
    assert "has no baseline" in widget.compare_html.value
    assert widget.run_choice.value is None
    widget.baseline_button.click()
    assert "has no runs yet" in widget.status.value
    exp.add(base, baseline=True).add(same)  # e.g. a job started with experiment="later"
    widget.refresh_button.click()
    assert f'data-run="{same}"' in widget.runs_html.value and widget.figure is not None
    with pytest.raises(lj.LLMBenchError, match="no experiment 'nope'"):
        lj.experiment_widget("nope", store=store)
