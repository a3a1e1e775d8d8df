"""Experiments: runs grouped with a baseline, compared by the test that fits, on both
backends; comparisons checked against scipy; real runs against the simulator."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

import llmbench_jupyter as lj
from llmbench_jupyter.core.errors import LLMBenchError
from llmbench_jupyter.core.targets import adhoc
from llmbench_jupyter.core.workload import BenchSpec
from llmbench_jupyter.jobs import JobManager, reset_manager
from llmbench_jupyter.jobs.bench_run import run as bench_run
from llmbench_jupyter.sim import SimServer
from llmbench_jupyter.store import open_store


def _bench(store: Any, owner: str, scenario: str, seed: int = 0) -> str:
    """A stored bench run of target p/m, served by a simulator where m is ``scenario``."""
    srv = SimServer(seed=seed, scenarios={"m": scenario}).start_in_thread()
    try:
        spec = BenchSpec(targets=[adhoc(srv.base_url, "m", label="p")], runs=12, warmup=0,
                         concurrency=4)  # fmt: skip
        return str(bench_run(spec, store=store, owner=owner).run_id)
    finally:
        srv.stop_thread()


def test_the_store_keeps_an_experiment_of_its_owners_runs(store, owner) -> None:  # type: ignore[no-untyped-def]
    a = _bench(store, owner, "sim:ttft=20,itl=1,out=4,jitter=0")
    b = _bench(store, owner, "sim:ttft=20,itl=1,out=4,jitter=0")
    made = store.create_experiment("exp", description="first", owner=owner)
    assert made["runs"] == [] and made["description"] == "first"
    with pytest.raises(LLMBenchError, match="already has an experiment"):
        store.create_experiment("exp", owner=owner)
    got = store.add_experiment_runs("exp", [a, b], baseline=a, owner=owner)
    assert [(r["run_id"], r["baseline"], r["kind"]) for r in got["runs"]] == [
        (a, True, "bench"), (b, False, "bench")]  # fmt: skip
    got = store.set_experiment_baseline("exp", b, owner=owner)
    assert [r["baseline"] for r in got["runs"]] == [False, True]  # one baseline at a time
    store.add_experiment_runs("exp", [a], owner=owner)  # again: nothing changes
    assert len(store.experiment("exp", owner=owner)["runs"]) == 2
    other = f"{owner}-other"
    theirs = _bench(store, other, "sim:ttft=20,itl=1,out=4,jitter=0")
    with pytest.raises(LLMBenchError, match="an experiment holds its owner's"):
        store.add_experiment_runs("exp", [theirs], owner=owner)
    with pytest.raises(LLMBenchError, match="no run"):
        store.add_experiment_runs("exp", ["0123456789abcdef"], owner=owner)
    store.remove_experiment_run("exp", a, owner=owner)
    assert [e["name"] for e in store.list_experiments(owner=owner)] == ["exp"]
    store.delete_experiment("exp", owner=owner)
    assert store.experiment("exp", owner=owner) is None
    assert store.get_run(a, owner=owner)["run_id"] == a  # the runs stay


@pytest.fixture
def manager(tmp_path) -> Iterator[Any]:  # type: ignore[no-untyped-def]
    mgr = JobManager(open_store(f"sqlite:///{tmp_path / 'exp.db'}"))
    reset_manager(mgr)
    yield mgr
    reset_manager(None)


def test_bench_runs_are_compared_by_median_difference_and_mann_whitney(manager) -> None:  # type: ignore[no-untyped-def]
    from scipy.stats import mannwhitneyu

    store = manager.store
    owner = store._owner(None)
    # a wide spread (30 ms ± 50%) next to which a loaded machine's few ms of drift between
    # two runs is no difference; the slow target is slower than every draw of it
    base = _bench(store, owner, "sim:ttft=30,itl=1,out=4,jitter=0.5", seed=1)
    same = _bench(store, owner, "sim:ttft=30,itl=1,out=4,jitter=0.5", seed=2)
    slow = _bench(store, owner, "sim:ttft=100,itl=1,out=4,jitter=0.1", seed=3)
    exp = lj.experiment("speed", store=store).add(base, baseline=True).add(same, slow)
    assert exp.baseline == base and "3 bench" in repr(exp)
    df = exp.compare("ttft_ms").set_index("run_id")
    assert df.loc[slow, "verdict"] == "worse" and df.loc[slow, "diff_ci_low"] > 20
    assert df.loc[slow, "effect"] == pytest.approx(1.0)  # every request slower: delta 1
    assert df.loc[same, "verdict"] == "no significant difference", df.loc[same, "p_value"]
    # the test is scipy's on the same requests
    a = store.records_df(base)["ttft_ms"].tolist()
    b = store.records_df(slow)["ttft_ms"].tolist()
    assert df.loc[slow, "p_value"] == pytest.approx(mannwhitneyu(b, a).pvalue)
    best = exp.best("ttft_ms")
    assert best.iloc[0]["run_id"] in (base, same) and best.iloc[0]["target"] == "p/m"
    decode = exp.compare("decode_tps").set_index("run_id")
    assert decode.loc[slow, "verdict"] in ("worse", "no significant difference")
    note = exp.compare("pass_rate")
    assert note["note"].str.contains("needs a eval baseline").all()
    side = lj.compare_runs([base, same[:10], slow], store=store)
    assert list(side.columns.get_level_values("run_id")[:3]) == [base, same, slow]
    p50 = side.loc[("p/m", 0), "ttft_ms"]
    assert p50[slow] > 1.5 * p50[base] and side.loc[("p/m", 0), ("requests", base)] == 12
    shown = exp._repr_html_()  # in a notebook: the runs and the TTFT comparison
    assert "against the baseline: ttft_ms" in shown and slow in shown


def test_eval_runs_are_compared_by_mcnemar_on_paired_cases(manager) -> None:  # type: ignore[no-untyped-def]
    from scipy.stats import binomtest

    from llmbench_jupyter.evals.suites import example_files

    srv = SimServer(rules=example_files("tuning-example")[1]).start_in_thread()
    try:
        lj.save_profile("metric", target="local-sim/sim-fast", params={"temperature": 0},
                        system_prompt="Report in metric units.", store=manager.store)  # fmt: skip
        plain = lj.evaluate("tuning-example", ["sim-fast"], sim_url=srv.base_url,
                            display=False).wait(60)  # fmt: skip
        metric = lj.evaluate("tuning-example", profile="metric", sim_url=srv.base_url,
                             display=False).wait(60)  # fmt: skip
    finally:
        srv.stop_thread()
    exp = lj.experiment("prompts", store=manager.store)
    exp.add(plain, baseline=True)
    exp.add(metric)
    row = exp.compare("pass_rate").iloc[0]
    # tickets 00-09 pass only with the metric prompt; the plain run passes none
    assert (row["baseline_value"], row["value"]) == (0.0, 0.5)
    assert row["verdict"] == "better" and row["effect"] == 10
    assert row["p_value"] == pytest.approx(binomtest(10, 10, 0.5).pvalue)  # 2/2^10
    assert row["note"] == "20 paired cases: 10 only this run passed, 0 only the baseline"
    assert exp.best("pass_rate").iloc[0]["run_id"] == metric.run_id
    notes = exp.compare("ttft_ms")["note"].tolist()
    assert notes == ["the baseline is a eval run; ttft_ms needs a bench baseline"]


def test_experiment_input_is_checked(manager) -> None:  # type: ignore[no-untyped-def]
    exp = lj.experiment("empty", store=manager.store)
    with pytest.raises(LLMBenchError, match="has no baseline"):
        exp.compare()
    with pytest.raises(lj.InputError, match="metric 'latency' unknown"):
        exp.compare("latency")
    with pytest.raises(LLMBenchError, match="no experiment 'nope'"):
        lj.experiment("nope", create=False, store=manager.store)


def test_the_experiment_report_embeds_plotly_once_and_stays_small(manager, tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = manager.store
    owner = store._owner(None)
    runs = [_bench(store, owner, f"sim:ttft={20 + 2 * i},itl=1,out=4,jitter=0.1", seed=i)
            for i in range(10)]  # fmt: skip
    exp = lj.experiment("ten", store=store).add(*runs)
    exp.set_baseline(runs[0])
    path = exp.report(str(tmp_path / "ten.html"))
    page = path.read_text()
    assert path.stat().st_size < 5 * 2**20, path.stat().st_size
    assert page.count("plotly.js v") == 1  # the library once, for ten figures
    assert len(re.findall(r'id="llmbench-figure-\d+"', page)) == 10  # one per run
    for metric in ("ttft_ms", "decode_tps"):  # each comparison's forest plot
        assert page.count(f'id="llmbench-figure-compare-{metric}"') == 1
    assert "Against the baseline" in page and "worse" in page  # the slowest runs
    assert runs[0] in page


def test_a_run_joins_its_experiment_when_it_ends(manager) -> None:  # type: ignore[no-untyped-def]
    srv = SimServer().start_in_thread()
    try:
        job = lj.bench(model="sim-fast", runs=2, warmup=0, sim_url=srv.base_url,
                       experiment="joined", display=False)  # fmt: skip
        result = job.wait(60)
        evaluated = lj.evaluate("example", ["sim-fast"], sim_url=srv.base_url,
                                experiment="joined", display=False).wait(60)  # fmt: skip
    finally:
        srv.stop_thread()
    runs = lj.experiment("joined", create=False, store=manager.store).runs()
    assert set(runs["run_id"]) == {result.run_id, evaluated.run_id}
    with pytest.raises(LLMBenchError, match="needs a stored run"):
        lj.bench(model="sim-fast", save=False, experiment="joined", display=False)


def test_the_cli_groups_shows_reports_and_deletes(manager, tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    from llmbench_jupyter.cli import main

    store = manager.store
    owner = store._owner(None)
    a = _bench(store, owner, "sim:ttft=30,itl=1,out=4,jitter=0.1", seed=1)
    b = _bench(store, owner, "sim:ttft=70,itl=1,out=4,jitter=0.1", seed=2)
    db = ["--db", store.url]
    assert main(["experiment", "add", "cli", a[:8], b, "--baseline", a, *db]) == 0
    assert f"baseline {a}" in capsys.readouterr().out
    assert main(["experiment", "show", "cli", *db]) == 0
    shown = capsys.readouterr().out
    assert "against the baseline" in shown and "worse" in shown
    html = tmp_path / "cli.html"
    assert main(["experiment", "report", "cli", "-o", str(html), *db]) == 0
    assert html.stat().st_size < 5 * 2**20
    assert main(["experiment", "list", *db]) == 0
    assert "cli: 2 runs" in capsys.readouterr().out
    assert main(["experiment", "delete", "cli", *db]) == 0
    assert main(["experiment", "show", "cli", *db]) == 2  # gone: a clear error
    assert "no experiment 'cli'" in capsys.readouterr().err
