"""The lab panel's REST API on the hub of conftest.py: each user's panel lists only that
user's jobs and runs, plus the runs others published.

A and B each run a benchmark in their own server; B publishes one of two. Then each
asks their own single-user server's /llmbench/api/ through the hub's proxy with their own
token, as the panel does, and A's panel itself is opened in Chromium after A signs in on
the hub's login form. A job A leaves running cannot be cancelled by B: B's server finds
no such job, and the hub refuses B at A's server. Each run has a model no other hub test
benchmarks before this one (they use sim-fast), so the leaderboard's rows can be told
apart; the runs are removed at the end (test_hub_e2e_store.py counts every user's runs).
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from chromium_flags import CHROMIUM, CHROMIUM_ARGS
from hub_browser import ARTIFACTS, PANEL, open_lab_as, open_panel, panel_rows, set_rows_shown
from hub_harness import HubUser
from hub_world import World, _ok

pytestmark = [pytest.mark.hub, pytest.mark.slow, pytest.mark.timeout(420)]

RUN = """
import llmbench_jupyter as lj
job = lj.bench(provider="local-sim", model={model!r}, runs=2, warmup=0, max_tokens=16,
               display=False, name={name!r})
result = await job
print(json.dumps({{"job_id": job.id, "run_id": result.run_id, "status": result.status}}))
"""

# A long job left running (the cell returns at once: jobs are tasks on the kernel's loop).
START_LONG = """
import llmbench_jupyter as lj
long = lj.bench(provider="local-sim", model="sim-slow", runs=30,
                warmup=0, display=False, name={name!r})
print(json.dumps({{"job_id": long.id}}))
"""

END_LONG = """
result = await long
print(json.dumps({"state": long.state, "kept": len(result.records)}))
"""


def _get(user: HubUser, path: str, server_of: str | None = None) -> Any:
    resp = user.server("GET", f"llmbench/api/{path}", user=server_of)
    assert resp.status_code == 200, (user.name, path, resp.status_code, resp.text[:300])
    return resp.json()


@pytest.fixture(scope="module")
def panel_runs(world: World) -> Iterator[dict[str, Any]]:
    """A's run, B's private and B's published run, each on its own model; removed after."""
    tag = uuid.uuid4().hex[:6]
    plan = {
        "a": ("a", "sim-medium", f"panel-a-{tag}"),
        "b_private": ("b", "sim-reasoning", f"panel-b-private-{tag}"),
        "b_public": ("b", "sim-slow", f"panel-b-public-{tag}"),
    }
    made: dict[str, Any] = {}
    try:
        for key, (who, model, name) in plan.items():
            out = world.kernels[who].execute(RUN.format(model=model, name=name)).json()
            assert out["status"] == "done", out
            made[key] = {**out, "model": model, "name": name}
        publish = "from llmbench_jupyter.store import open_store\nopen_store().publish({!r})"
        _ok(world.kernels["b"].execute(publish.format(made["b_public"]["run_id"])))
        yield made
    finally:
        _remove(world, [f"panel-{who}-{tag}" for who in ("a", "b-private", "b-public")])


def _remove(world: World, names: list[str]) -> None:
    """This test's runs (their records go with them) and jobs, as the superuser."""
    engine = world.superuser_engine("llmbench")
    try:
        with engine.begin() as conn:
            params = {"names": names}
            conn.execute(sa.text("DELETE FROM jobs WHERE name = ANY(:names)"), params)
            conn.execute(sa.text("DELETE FROM runs WHERE name = ANY(:names)"), params)
    finally:
        engine.dispose()


def _truth(world: World) -> dict[str, Any]:
    """Owners of every run and job, and which runs are published, read as the superuser."""
    engine = world.superuser_engine("llmbench")
    try:
        with engine.connect() as conn:
            runs = conn.execute(sa.text("SELECT run_id, owner, published FROM runs")).all()
            jobs = conn.execute(sa.text("SELECT job_id, owner FROM jobs")).all()
    finally:
        engine.dispose()
    return {
        "run_owner": {r[0]: r[1] for r in runs},
        "published": {r[0] for r in runs if r[2]},
        "job_owner": {j[0]: j[1] for j in jobs},
    }


def test_each_panel_lists_only_its_users_jobs_and_runs_plus_published(
    world: World, panel_runs: dict[str, Any]
) -> None:
    truth = _truth(world)
    roles = {k: world.whoami[k]["db_role"] for k in ("a", "b")}
    mine = {
        "a": {panel_runs["a"]["run_id"]},
        "b": {panel_runs["b_private"]["run_id"], panel_runs["b_public"]["run_id"]},
    }
    public = panel_runs["b_public"]["run_id"]
    ours = {m["run_id"] for m in panel_runs.values()}
    for key, user in (("a", world.a), ("b", world.b)):
        role = roles[key]
        assert _get(user, "status")["owner"] == role

        jobs = _get(user, "jobs?limit=500")["jobs"]
        owners = {truth["job_owner"][j["job_id"]] for j in jobs}
        assert owners == {role}, (key, owners)  # this user's jobs, nobody else's
        every_own_job = {j for j, o in truth["job_owner"].items() if o == role}
        assert {j["job_id"] for j in jobs} == every_own_job
        own_panel_jobs = {m["job_id"] for m in panel_runs.values() if m["run_id"] in mine[key]}
        assert own_panel_jobs <= every_own_job

        rows = _get(user, "runs?limit=500")["runs"]
        listed = {r["run_id"] for r in rows}
        for row in rows:  # each row is this user's own or a published one
            own = truth["run_owner"][row["run_id"]] == role
            assert own or row["run_id"] in truth["published"], (key, row["run_id"])
            assert row["mine"] is own
        assert listed & ours == mine[key] | {public}, key
        assert {r["run_id"] for r in rows if r["published"] and r["mine"]} >= (
            {public} if key == "b" else set()
        )

        board = _get(user, "leaderboard?limit=500")["rows"]
        models = {r["model"] for r in board} & {m["model"] for m in panel_runs.values()}
        expected = {m["model"] for m in panel_runs.values() if m["run_id"] in mine[key]}
        assert models == expected | {panel_runs["b_public"]["model"]}, key


ROWS = 200  # the panel's "Rows shown" for A: every run and job of the session fits
COUNT_JS = "([sel, n]) => document.querySelectorAll(sel).length >= n"


def test_as_seen_in_chromium_a_panel_lists_its_users_rows_plus_published(
    world: World, panel_runs: dict[str, Any]
) -> None:
    """A signs in on the hub's form and opens the panel: its run rows are exactly A's runs
    and the published ones (none of B's private runs), its job rows exactly A's jobs; what
    each user owns and what is published is read from the store as the superuser."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"Chromium is missing at {CHROMIUM}: apt-get install -y chromium")
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright

    set_rows_shown(world.a, ROWS)
    truth = _truth(world)
    role_a, role_b = world.whoami["a"]["db_role"], world.whoami["b"]["db_role"]
    owner, published = truth["run_owner"], truth["published"]
    want_runs = {r for r, o in owner.items() if o == role_a or r in published}
    b_private = {r for r, o in owner.items() if o == role_b and r not in published}
    want_jobs = {j for j, o in truth["job_owner"].items() if o == role_a}
    public = panel_runs["b_public"]["run_id"]
    assert {panel_runs["a"]["run_id"], public} <= want_runs
    assert panel_runs["b_private"]["run_id"] in b_private
    assert len(want_runs) < ROWS and len(want_jobs) < ROWS

    errors: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
            page.on("pageerror", lambda exc: errors.append(f"[pageerror] {exc}"))
            page.on("console", lambda msg: msg.type == "error" and errors.append(msg.text))
            open_lab_as(page, world.a)
            open_panel(page)
            # the rows setting may come after the first answers: wait for the longer lists
            for testid, n in (("run", len(want_runs)), ("job", len(want_jobs))):
                try:
                    sel = f"[data-testid=llmbench-panel-{testid}]"
                    page.wait_for_function(COUNT_JS, arg=[sel, n], timeout=30_000)
                except PlaywrightTimeout:
                    pass  # the comparison below says what is missing
            rows = panel_rows(page)
            tag = page.locator(
                f"[data-testid=llmbench-panel-run][data-run-id='{public}'] "
                "[data-testid=llmbench-panel-published]"
            )
            tag_title = tag.get_attribute("title", timeout=10_000)
            shown = page.locator(PANEL).inner_text()
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=ARTIFACTS / "hub-panel-a.png")
        finally:
            browser.close()

    runs, jobs = set(rows["runs"]), set(rows["jobs"])
    assert len(runs) == len(rows["runs"]) and len(jobs) == len(rows["jobs"]), rows
    assert not runs & b_private, ("B's private runs in A's panel", runs & b_private)
    assert runs == want_runs, {"missing": want_runs - runs, "extra": runs - want_runs}
    assert jobs == want_jobs, {"missing": want_jobs - jobs, "extra": jobs - want_jobs}
    assert tag_title == f"Published by {role_b}", tag_title
    assert "undefined" not in shown and "NaN" not in shown, shown
    assert errors == [], errors


def test_another_users_job_cannot_be_cancelled_from_the_panel(
    world: World, panel_runs: dict[str, Any]
) -> None:
    name = f"panel-long-{uuid.uuid4().hex[:6]}"
    job_id = world.kernels["a"].execute(START_LONG.format(name=name)).json()["job_id"]
    cancel = f"llmbench/api/jobs/{job_id}/cancel"
    try:
        # B's own server, B's own store role: there is no such job of B's
        resp = world.b.server("POST", cancel)
        assert resp.status_code == 404, (resp.status_code, resp.text[:300])
        assert job_id not in {j["job_id"] for j in _get(world.b, "jobs?limit=500")["jobs"]}
        # B at A's server: the hub refuses B's token there (API and panel alike)
        for method, path in (("POST", cancel), ("GET", "llmbench/api/jobs")):
            resp = world.b.server(method, path, user=world.a.name)
            assert resp.status_code == 403, (method, path, resp.status_code, resp.text[:300])
        # B's browser session (the hub's cookie, no token), through the OAuth redirects
        resp = world.b.session.get(f"{world.base}/user/{world.a.name}/llmbench/api/jobs")
        assert resp.status_code == 403 and job_id not in resp.text, resp.status_code

        # A's panel still shows it running, with no cancel request recorded
        row = next(j for j in _get(world.a, "jobs")["jobs"] if j["job_id"] == job_id)
        assert row["state"] in ("queued", "running") and row["cancel_requested"] is False, row
        # the control: A's own panel can cancel it (so B's 404 is not a broken endpoint)
        resp = world.a.server("POST", cancel)
        assert resp.status_code == 202, (resp.status_code, resp.text[:300])
        ended = world.kernels["a"].execute(END_LONG).json()
        assert ended["state"] == "cancelled" and ended["kept"] < 30, ended
        deadline = time.monotonic() + 30
        while True:
            row = next(j for j in _get(world.a, "jobs")["jobs"] if j["job_id"] == job_id)
            if row["state"] == "cancelled" or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert row["state"] == "cancelled", row
    finally:
        world.kernels["a"].execute("long.cancel()")
        _remove(world, [name])
