"""Judge calibration: Cohen's kappa (plain and weighted) against hand-computed values, and
a stored eval's judge against human labels from a CSV, end to end on the simulator."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import llmbench_jupyter as lj
from llmbench_jupyter.core.errors import InputError
from llmbench_jupyter.jobs import JobManager, reset_manager
from llmbench_jupyter.sim import SimServer
from llmbench_jupyter.stats import StatsInputError, cohen_kappa
from llmbench_jupyter.store import open_store


# ------------------------------------------------------------------ kappa by hand
def test_cohen_kappa_matches_the_hand_computed_two_by_two() -> None:
    """Rows A, columns B: [[20, 5], [10, 15]] of 50. p_o = 35/50 = 0.7; p_e = 0.5 * 0.6 +
    0.5 * 0.4 = 0.5; kappa = (0.7 - 0.5) / 0.5 = 0.4."""
    a = ["y"] * 25 + ["n"] * 25
    b = ["y"] * 20 + ["n"] * 5 + ["y"] * 10 + ["n"] * 15
    got = cohen_kappa(a, b, categories=["y", "n"])
    assert got["kappa"] == pytest.approx(0.4)
    assert got["observed_agreement"] == pytest.approx(0.7)
    assert got["chance_agreement"] == pytest.approx(0.5)
    assert got["confusion"] == [[20, 5], [10, 15]]
    assert got["ci_low"] < 0.4 < got["ci_high"]


def test_quadratic_weighted_kappa_matches_the_hand_computed_value() -> None:
    """Scale 1..3, weights 1 - (d/2)^2: 1, 0.75, 0. Table [[1,1,0],[0,1,1],[0,0,2]] of 6:
    p_o = (1 + .75 + 1 + .75 + 2) / 6 = 11/12. Marginals A (1/3, 1/3, 1/3), B (1, 2, 3)/6:
    p_e = 1/3 * (2.5 + 5 + 4.5) / 6 = 2/3. kappa = (11/12 - 2/3) / (1/3) = 0.75.
    Linear weights 1 - d/2 (1, .5, 0): p_o = 5/6, p_e = 1/3 * (2 + 4 + 4) / 6 = 5/9,
    kappa = (5/6 - 5/9) / (4/9) = 5/8."""
    a, b = [1, 1, 2, 2, 3, 3], [1, 2, 2, 3, 3, 3]
    assert cohen_kappa(a, b, categories=[1, 2, 3], weights="quadratic")["kappa"] == (
        pytest.approx(0.75)
    )
    assert cohen_kappa(a, b, categories=[1, 2, 3], weights="linear")["kappa"] == pytest.approx(
        5 / 8
    )
    # unweighted: p_o = 4/6, p_e = (1/3)(1 + 2 + 3)/6 = 1/3, kappa = (2/3 - 1/3) / (2/3) = 0.5
    assert cohen_kappa(a, b, categories=[1, 2, 3])["kappa"] == pytest.approx(0.5)


def test_kappa_is_undefined_when_both_raters_used_one_category() -> None:
    got = cohen_kappa([True] * 5, [True] * 5, categories=[True, False])
    assert got["kappa"] is None and got["ci_low"] is None and got["observed_agreement"] == 1.0
    with pytest.raises(StatsInputError, match="not among"):
        cohen_kappa([1, 2], [1, 11], categories=[1, 2, 3])
    with pytest.raises(StatsInputError, match="pair them"):
        cohen_kappa([1, 2], [1])


# ------------------------------------------------------------------ a stored judge
@pytest.fixture(scope="module")
def judged(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """An eval of tuning-example where tickets 00-09 pass (a "metric units" system
    prompt), graded by the sim's judge: 9 and passed when the checker passed, else 2."""
    from llmbench_jupyter.evals.suites import example_files

    url = f"sqlite:///{tmp_path_factory.mktemp('cal') / 'cal.db'}"
    store = open_store(url)
    mgr = JobManager(store)
    reset_manager(mgr)
    srv = SimServer(rules=example_files("tuning-example")[1]).start_in_thread()
    try:
        lj.save_profile("metric", target="local-sim/sim-fast", params={"temperature": 0},
                        system_prompt="Report in metric units.", store=store)  # fmt: skip
        result = lj.evaluate("tuning-example", profile="metric", judge="local-sim/sim-medium",
                             sim_url=srv.base_url, display=False).wait(120)  # fmt: skip
        yield result, store
    finally:
        srv.stop_thread()
        reset_manager(None)


def _truth(result: Any) -> dict[str, bool]:
    return {r.case_id: bool(r.score.passed) for r in result.runs}


def test_labels_that_agree_give_kappa_one(judged, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result, store = judged
    truth = _truth(result)
    assert sum(truth.values()) == 10 and len(truth) == 20
    path = tmp_path / "labels.csv"
    path.write_text("case_id,verdict\n" + "".join(
        f"{c},{'pass' if v else 'fail'}\n" for c, v in truth.items()))  # fmt: skip
    cal = lj.calibrate_judge(path, result.run_id, store=store)
    assert cal.kind == "verdict" and cal.kappa == pytest.approx(1.0)
    assert cal.result["n"] == 20 and cal.unjudged == [] and cal.unlabelled == []
    assert cal.judge == "local-sim/sim-medium" and cal.target == "local-sim/sim-fast"


def test_disagreeing_verdicts_give_the_hand_computed_kappa(judged, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Humans fail 2 cases the judge passed and pass 1 it failed; 2 cases unlabelled.
    Of 18 labelled: judge pass 9 / fail 9 (one of each side unlabelled); table rows human
    (pass, fail) x judge (pass, fail) = [[7, 1], [2, 8]]. p_o = 15/18; p_e = (8*9 + 10*9)
    / 18^2 = 0.5; kappa = (15/18 - 0.5) / 0.5 = 2/3."""
    result, store = judged
    truth = _truth(result)
    passed = sorted(c for c, v in truth.items() if v)
    failed = sorted(c for c, v in truth.items() if not v)
    labels: dict[str, Any] = {c: v for c, v in truth.items()}
    for c in passed[:2]:
        labels[c] = False
    labels[failed[0]] = True
    del labels[passed[-1]], labels[failed[-1]]
    cal = lj.calibrate_judge(labels, result.run_id, store=store)
    assert cal.confusion().values.tolist() == [[7, 1], [2, 8]]
    assert cal.kappa == pytest.approx(2 / 3)
    assert sorted(cal.unlabelled) == sorted([passed[-1], failed[-1]])
    assert "Cohen's kappa 0.667" in repr(cal)


def test_scores_use_quadratic_weighted_kappa_on_the_judges_scale(judged) -> None:  # type: ignore[no-untyped-def]
    """Humans score 8 where the checker passed and 3 where it failed; the judge 9 and 2.
    Weights 1 - ((i - j)/9)^2: p_o = .5 * (1 - 1/81) * 2 = 80/81. Marginals: human half 8,
    half 3; judge half 9, half 2. p_e = .25 * (w(8,9) + w(8,2) + w(3,9) + w(3,2)) =
    .25 * ((1 - 1/81) + (1 - 36/81) + (1 - 36/81) + (1 - 1/81)) = 1 - 37/162.
    kappa = (80/81 - 1 + 37/162) / (37/162) = 35/37."""
    result, store = judged
    labels = {c: 8 if v else 3 for c, v in _truth(result).items()}
    cal = lj.calibrate_judge(labels, result.run_id, store=store)
    assert cal.kind == "score" and cal.result["weights"] == "quadratic"
    assert cal.kappa == pytest.approx(35 / 37)
    assert cal.confusion().loc["8", "9"] == 10 and cal.confusion().loc["3", "2"] == 10


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("id,verdict\nx,pass\n", "no 'case_id' column"),
        ("case_id,verdict,score\nx,pass,3\n", "one of the columns 'verdict' or 'score'"),
        ("case_id,verdict\nx,maybe\n", "row 2: verdict 'maybe' is neither pass nor fail"),
        ("case_id,score\nx,11\n", "row 2: score '11' is not an integer from 1 to 10"),
        ("case_id,verdict\nx,pass\nx,fail\n", "row 3: case 'x' is labelled twice"),
    ],
)
def test_bad_label_files_say_what_and_where(
    judged, tmp_path: Path, text: str, message: str
) -> None:  # type: ignore[no-untyped-def]
    result, store = judged
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(InputError, match=message):
        lj.calibrate_judge(path, result.run_id, store=store)


def test_the_cli_calibrates_from_a_labels_file(judged, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    from llmbench_jupyter.cli import main

    result, store = judged
    path = tmp_path / "labels.csv"
    path.write_text("case_id,verdict\n" + "".join(
        f"{r.case_id},{'pass' if r.score.passed else 'fail'}\n" for r in result.runs))  # fmt: skip
    assert main(["eval-calibrate", result.run_id[:10], "--labels", str(path),
                 "--db", store.url]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "Cohen's kappa 1.000" in out and "confusion" in out
