"""eval_widget.js in headless Chromium: 1,000 case rows, filters, sorting, escaping, cancel.

The ESM is loaded in a plain page with a minimal fake anywidget model (see
widget_harness.py); every expectation is computed from the same rows in Python.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from widget_harness import (
    CATEGORIES,
    HOSTILE_CALL,
    HOSTILE_CASE_ID,
    TARGETS,
    eval_rows,
    eval_snapshot,
    open_widget_page,
)

pytestmark = pytest.mark.browser

N_ROWS = 1000
CHUNK = 200  # eval_widget.js lists the rows 200 at a time
ROWS = eval_rows(N_ROWS)
CASES = "[data-testid=llmbench-eval-cases] tbody tr[data-case]"

#: Every shown case row as [case_id text, passed attr, error-type cell classes, its text].
SHOWN_ROWS_JS = f"""() => [...document.querySelectorAll({CASES!r})].map(tr => {{
  const cell = tr.querySelector('td.lbe-etype');
  return [tr.querySelector('td.lbe-case').textContent, tr.dataset.passed,
          [...cell.classList].sort(), cell.textContent];
}})"""


@pytest.fixture(scope="module")
def eval_page(browser: Any) -> Iterator[Any]:
    """One page for the module with the 1,000-row widget mounted as window.mounted[0]."""
    pg = open_widget_page(browser)
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    index = pg.evaluate(
        "([snap, rows]) => window.mountWidget('eval', {snapshot: snap, rows})",
        [eval_snapshot(N_ROWS), ROWS],
    )
    assert index == 0
    yield pg
    pg.context.close()
    assert errors == [], errors


@pytest.fixture
def widget(eval_page: Any) -> Iterator[Any]:
    """The mounted widget's root, with its filters reset after each test."""
    root = eval_page.locator("[data-testid=llmbench-eval]").first
    yield root
    eval_page.evaluate(
        """() => {
      const el = window.mounted[0].el;
      const set = (id, prop, value) => {
        const node = el.querySelector(`[data-testid=llmbench-eval-filter-${id}]`);
        if (node[prop] !== value) { node[prop] = value; node.dispatchEvent(new Event('change')); }
      };
      set('target', 'value', ''); set('etype', 'value', ''); set('failures', 'checked', false);
      const s = el.querySelector('[data-testid=llmbench-eval-filter-search]');
      if (s.value) { s.value = ''; s.dispatchEvent(new Event('input')); }
    }"""
    )
    eval_page.wait_for_function(
        "() => document.querySelector('[data-testid=llmbench-eval-count]').dataset.shown"
        f" === '{N_ROWS}'"
    )


def shown_count(eval_page: Any) -> int:
    return int(eval_page.get_attribute("[data-testid=llmbench-eval-count]", "data-shown"))


def listed_count(eval_page: Any) -> int:
    return int(eval_page.get_attribute("[data-testid=llmbench-eval-count]", "data-listed"))


def list_all(eval_page: Any) -> None:
    """Press "Show more" until every row passing the filters is in the DOM.

    The click is dispatched on the button rather than simulated with the mouse: a mouse
    click first scrolls the button into view, which itself lists the next chunk and
    replaces the button, so the pointer can keep missing it on a slow machine.
    """
    more = eval_page.locator("[data-testid=llmbench-eval-more]")
    for _ in range(N_ROWS // CHUNK + 2):
        if more.count() == 0:
            break
        before = listed_count(eval_page)
        more.dispatch_event("click")
        eval_page.wait_for_function(
            "(n) => Number(document.querySelector('[data-testid=llmbench-eval-count]')"
            ".dataset.listed) > n",
            arg=before,
            timeout=10_000,
        )
    assert more.count() == 0
    assert eval_page.locator(CASES).count() == listed_count(eval_page) == shown_count(eval_page)


def test_all_1000_case_rows_are_counted_and_scrolling_reveals_the_last(
    eval_page: Any, widget: Any
) -> None:
    count = eval_page.locator("[data-testid=llmbench-eval-count]")
    assert shown_count(eval_page) == N_ROWS
    assert count.get_attribute("data-total") == str(N_ROWS)
    assert listed_count(eval_page) == CHUNK == eval_page.locator(CASES).count()
    more = f"first {CHUNK} listed, scroll for more"
    assert count.text_content() == f"{N_ROWS} of {N_ROWS} rows · {more}"
    # scrolling the case box with the mouse wheel lists the next chunks, up to the last row
    eval_page.locator(".lbe-case-box").hover()
    for _ in range(N_ROWS // CHUNK + 2):
        listed = listed_count(eval_page)
        if listed == N_ROWS:
            break
        eval_page.mouse.wheel(0, 50_000)
        eval_page.wait_for_function(
            "(n) => Number(document.querySelector('[data-testid=llmbench-eval-count]')"
            ".dataset.listed) > n",
            arg=listed,
        )
    assert listed_count(eval_page) == N_ROWS == eval_page.locator(CASES).count()
    assert count.text_content() == f"{N_ROWS} of {N_ROWS} rows"
    last = eval_page.locator(CASES).last
    assert last.locator("td.lbe-case").text_content() == ROWS[-1]["case_id"]
    assert last.is_visible()
    ids = eval_page.locator(f"{CASES} td.lbe-case").all_text_contents()
    assert ids == [r["case_id"] for r in ROWS]


def test_failures_only_shows_exactly_the_failing_rows(eval_page: Any, widget: Any) -> None:
    failing = sum(1 for r in ROWS if not r["passed"])
    assert failing == 334
    widget.get_by_label("Show failures only").check()
    assert shown_count(eval_page) == failing
    assert eval_page.locator(CASES).count() == CHUNK  # a new filter lists from the top
    list_all(eval_page)
    assert eval_page.locator(CASES).count() == failing
    assert {row[1] for row in eval_page.evaluate(SHOWN_ROWS_JS)} == {"false"}


def test_error_type_class_and_label_are_on_the_right_cells(eval_page: Any, widget: Any) -> None:
    list_all(eval_page)
    shown = eval_page.evaluate(SHOWN_ROWS_JS)
    assert len(shown) == N_ROWS
    for row, (case_id, passed, classes, text) in zip(ROWS, shown, strict=True):
        assert case_id == row["case_id"]
        assert passed == ("true" if row["passed"] else "false")
        if row["error_type"] is None:
            assert classes == ["lbe-etype"], (case_id, classes)
            assert text == "—"
        else:
            assert classes == sorted(["lbe-etype", "lbe-err", f"lbe-err-{row['error_type']}"])
            assert text == row["error_type"].replace("_", " ").replace("api", "API")


def test_error_type_filter_and_its_counts(eval_page: Any, widget: Any) -> None:
    by_type = Counter(r["error_type"] for r in ROWS if r["error_type"])
    select = widget.get_by_label("Filter cases by error type")
    options = select.locator("option").all_text_contents()
    assert options[0] == "All error types"
    assert f"wrong value ({by_type['wrong_value']})" in options
    select.select_option("wrong_value")
    assert shown_count(eval_page) == by_type["wrong_value"] == 37
    cells = eval_page.locator(f"{CASES} td.lbe-etype")
    assert cells.count() == 37
    assert set(cells.evaluate_all("cs => cs.map(c => c.className)")) == {
        "lbe-etype lbe-err lbe-err-wrong_value"
    }


def test_target_filter_and_search(eval_page: Any, widget: Any) -> None:
    key = TARGETS[1][0]
    widget.get_by_label("Filter cases by target").select_option(key)
    assert shown_count(eval_page) == sum(1 for r in ROWS if r["target"] == key)
    widget.get_by_label("Filter cases by target").select_option("")
    widget.get_by_label("Search case id").fill("case-0004")
    expected = [r["case_id"] for r in ROWS if "case-0004" in r["case_id"]]
    assert len(expected) == 10
    eval_page.wait_for_function(
        "() => document.querySelector('[data-testid=llmbench-eval-count]').dataset.shown === '10'"
    )
    assert eval_page.locator(f"{CASES} td.lbe-case").all_text_contents() == expected


def test_hostile_text_is_shown_as_text_and_never_runs(eval_page: Any, widget: Any) -> None:
    row = eval_page.locator(CASES).nth(7)
    assert row.locator("td.lbe-case").text_content() == HOSTILE_CASE_ID
    assert row.get_attribute("data-case") == HOSTILE_CASE_ID
    assert HOSTILE_CALL in row.locator("td.lbe-calls").nth(1).text_content()
    table = eval_page.locator("[data-testid=llmbench-eval-cases]")
    assert table.locator("script").count() == 0
    assert table.locator("img").count() == 0
    assert eval_page.evaluate("window.__xss") is None


def test_sorting_by_clicking_headers(eval_page: Any, widget: Any) -> None:
    header = eval_page.locator("[data-testid=llmbench-eval-cases] th[data-key=attempt]")
    header.get_by_role("button").click()
    assert header.get_attribute("aria-sort") == "ascending"
    attempts = eval_page.locator(f"{CASES} td:nth-child(4)").all_text_contents()
    assert attempts == sorted(attempts, key=int) and attempts[0] == "1"
    header.get_by_role("button").click()
    assert header.get_attribute("aria-sort") == "descending"
    list_all(eval_page)
    attempts = eval_page.locator(f"{CASES} td:nth-child(4)").all_text_contents()
    assert attempts == sorted(attempts, key=int, reverse=True) and attempts[0] == "4"
    # stable: within one attempt value the original order is kept
    first_fours = eval_page.locator(f"{CASES} td.lbe-case").all_text_contents()[:3]
    assert first_fours == [r["case_id"] for r in ROWS if r["attempt"] == 4][:3]
    case_header = eval_page.locator("[data-testid=llmbench-eval-cases] th[data-key=case_id]")
    case_header.get_by_role("button").click()
    assert header.get_attribute("aria-sort") == "none"
    ids = eval_page.locator(f"{CASES} td.lbe-case").all_text_contents()
    assert ids[0] == HOSTILE_CASE_ID  # "<" sorts before letters
    assert ids[1:4] == ["case-00000", "case-00001", "case-00002"]


def test_summary_and_category_tables(eval_page: Any, widget: Any) -> None:
    summary = eval_page.locator("[data-testid=llmbench-eval-targets]")
    first = summary.locator(f"tr[data-target='{TARGETS[0][0]}']")
    assert first.locator("td.lbe-rate").text_content() == "72% [60–81%]"
    assert first.locator("td").nth(5).text_content() == "70% [58–80%]"  # macro
    assert "0.88" in first.text_content() and "0.91" in first.text_content()  # F1, arg acc
    assert summary.locator("th", has_text="Judge mean").count() == 1
    assert summary.locator("[role=img][aria-label^='pass rate 72%']").count() == len(TARGETS)

    cats = eval_page.locator("[data-testid=llmbench-eval-categories]")
    headers = cats.locator("thead th").all_text_contents()
    assert headers == ["Target", *CATEGORIES]
    last = cats.locator(f"tr[data-target='{TARGETS[-1][0]}'] td")
    texts = last.all_text_contents()
    assert texts[-1] == "N/A" and "0%" not in texts[-1]
    assert texts[0] == "70% [40–89%]"
    assert "lbe-na" in (last.last.get_attribute("class") or "")


def test_cancel_sends_the_message_and_hides_when_finished(eval_page: Any, widget: Any) -> None:
    cancel = widget.locator("[data-testid=llmbench-cancel]")
    assert cancel.is_visible() and cancel.is_enabled()
    cancel.click()
    assert eval_page.evaluate("window.mounted[0].model.sent") == [{"type": "cancel"}]
    assert cancel.is_disabled() and cancel.text_content() == "Cancelling…"
    final = eval_snapshot(N_ROWS, state="cancelled")
    kept = eval_page.evaluate(
        """(snap) => {
      const first = () => document.querySelector('[data-testid=llmbench-eval-cases] tbody tr');
      const before = first();
      window.mounted[0].model.set('snapshot', snap);
      return first() === before;
    }""",
        final,
    )
    assert kept, "a snapshot alone must not rebuild the case table"
    assert widget.get_attribute("data-state") == "cancelled"
    assert cancel.is_hidden()
    assert eval_page.evaluate("window.mounted[0].model.sent") == [{"type": "cancel"}]


def test_new_rows_keep_the_filters(eval_page: Any, widget: Any) -> None:
    widget.get_by_label("Show failures only").check()
    more = eval_rows(N_ROWS + 30)
    eval_page.evaluate("(rows) => window.mounted[0].model.set('rows', rows)", more)
    failing = sum(1 for r in more if not r["passed"])
    assert shown_count(eval_page) == failing == 344
    assert listed_count(eval_page) == CHUNK
    assert widget.get_by_label("Show failures only").is_checked()
    eval_page.evaluate("(rows) => window.mounted[0].model.set('rows', rows)", ROWS)
    assert shown_count(eval_page) == 334


def test_cleanup_removes_the_model_listeners(browser: Any) -> None:
    pg = open_widget_page(browser)
    try:
        counts = pg.evaluate(
            """([snap, rows]) => {
          const i = window.mountWidget('eval', {snapshot: snap, rows});
          const m = window.mounted[i];
          const before = [m.model.listenerCount('change:snapshot'),
                          m.model.listenerCount('change:rows')];
          m.cleanup();
          return [...before, m.model.listenerCount('change:snapshot'),
                  m.model.listenerCount('change:rows')];
        }""",
            [eval_snapshot(3), eval_rows(3)],
        )
        assert counts == [1, 1, 0, 0]
    finally:
        pg.context.close()
