"""A benchmark against endpoints that misbehave on purpose (``sim:hostile=<kind>``), over
real HTTP: nothing leaks, nothing crashes, nothing is lost. One test per finding of
issue 10 that concerns the measurement path (see docs/security.md)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from hostile_helpers import KEYS, hostile_config, leaked

import llmbench_jupyter as lj
from llmbench_jupyter.core.limits import KIB, MIB, Limits
from llmbench_jupyter.core.records import RequestRecord
from llmbench_jupyter.core.targets import Target, adhoc
from llmbench_jupyter.jobs.bench_run import run
from llmbench_jupyter.sim import SimServer
from llmbench_jupyter.store import open_store

NO_PREFIX = KEYS["no-prefix"]


def _target(sim: SimServer, kind: str, protocol: str = "openai", **changes: object) -> Target:
    target = adhoc(sim.base_url, f"sim:hostile={kind}", api_key=NO_PREFIX, kind=protocol)
    return dataclasses.replace(target, **changes)  # type: ignore[arg-type]


def _one(sim: SimServer, kind: str, protocol: str = "openai", **changes: object) -> RequestRecord:
    spec = lj.BenchSpec(targets=[_target(sim, kind, protocol, **changes)], runs=1, warmup=0)
    records = run(spec, save=False).records
    assert len(records) == 1
    return records[0]


@pytest.mark.parametrize("protocol", ["openai", "anthropic"])
def test_a_key_echoed_in_the_answer_and_tool_arguments_is_masked(
    sim: SimServer, protocol: str
) -> None:
    headers = (("X-Team-Token", KEYS["github"]),)
    record = _one(sim, "echo", protocol, headers=headers)
    assert record.status == "ok"
    text = record.output_text or ""
    assert "You sent" in text and "[REDACTED]" in text  # the echo arrived, masked
    assert leaked(text, [NO_PREFIX, KEYS["github"]]) == []
    if protocol == "openai":  # the tool call's arguments stay valid JSON after masking
        assert '"arguments": "{\\"echo\\": \\"You sent' in text


def test_url_credentials_echoed_back_are_masked(sim: SimServer) -> None:
    url = sim.base_url.replace("http://", "http://bench:Pw-9dK3mQ7xZ2@") + "?token=Tk-5hN8vB2cX7"
    target = dataclasses.replace(adhoc(url, "sim:hostile=echo"), api_key=None)
    record = run(lj.BenchSpec(targets=[target], runs=1, warmup=0), save=False).records[0]
    assert record.status == "ok" and "Basic [REDACTED]" in (record.output_text or "")
    assert leaked(record.output_text or "", ["Pw-9dK3mQ7xZ2", "Tk-5hN8vB2cX7"]) == []


def test_an_error_message_is_scrubbed_before_it_is_cut(sim: SimServer) -> None:
    record = _one(sim, "echo_error")
    assert (record.status, record.error_category, record.http_status) == ("error", "http_400", 400)
    message = record.error_message or ""
    assert message.startswith("HTTP 400: xxxx") and len(message) <= 500
    assert leaked(message, [NO_PREFIX]) == []  # not even the 13 characters before the cut


@pytest.mark.parametrize(
    ("kind", "category", "limits"),
    [
        ("endless_error", "http_500", Limits(error_body_bytes=64 * KIB)),
        ("endless_line", "response_too_large", Limits(event_bytes=256 * KIB)),
        ("endless_body", "response_too_large", Limits(response_bytes=2 * MIB)),
    ],
)
def test_endless_bodies_are_cut_at_their_limit_and_the_run_goes_on(
    sim: SimServer, kind: str, category: str, limits: Limits
) -> None:
    healthy = adhoc(sim.base_url, "sim:ttft=1,itl=0,out=8")
    spec = lj.BenchSpec(targets=[_target(sim, kind, limits=limits), healthy], runs=2, warmup=0)
    records = run(spec, save=False).records
    bad = [r for r in records if r.model.startswith("sim:hostile")]
    good = [r for r in records if r not in bad]
    assert [r.status for r in good] == ["ok", "ok"]
    assert {(r.status, r.error_category) for r in bad} == {("error", category)}
    message = bad[0].error_message or ""
    if category == "http_500":
        assert "error body cut at 65536 bytes, connection closed" in message
    else:
        assert "exceeded" in message and "the connection was closed" in message
    assert len(bad[0].output_text or "") <= 20_000


@pytest.mark.parametrize(
    ("kind", "why"),
    [
        ("bad_utf8", "not JSON"),
        ("scalar_choice", "unexpected shape"),
        ("deep_json", "nested too deeply"),
    ],
)
def test_malformed_chunks_become_malformed_records(sim: SimServer, kind: str, why: str) -> None:
    record = _one(sim, kind)
    assert (record.status, record.error_category) == ("error", "malformed")
    assert why in (record.error_message or "")


def test_non_finite_usage_is_treated_as_missing_and_every_record_is_stored(
    sim: SimServer, db_url: str
) -> None:
    store = open_store(db_url)
    target = adhoc(sim.base_url, "sim:hostile=nan_usage")
    result = run(lj.BenchSpec(targets=[target], runs=3, warmup=1), store=store)
    assert [r.status for r in result.records] == ["ok"] * 4 and result.store_errors == []
    rows = store.records(result.run_id)
    assert len(rows) == 4
    for row in rows:
        assert row.output_tokens_usage is None and row.input_tokens is not None
        assert row.output_tokens == row.output_tokens_tokenizer and row.output_tokens > 0
        assert row.output_tokens_source == "tokenizer (usage invalid)"
        assert row.input_tokens_source == "tokenizer (usage invalid)"


def test_limits_are_configurable_per_provider_and_checked(tmp_path: Path) -> None:
    from llmbench_jupyter.core.config import load_config
    from llmbench_jupyter.core.targets import from_config

    path = tmp_path / "c.yaml"
    path.write_text(
        "version: 1\nproviders:\n  p:\n    api_base: http://127.0.0.1:9/v1\n"
        "    limits: {response_bytes: 2097152}\n    models: [{id: m}]\n"
    )
    (target,) = from_config(load_config(path), ["p"])
    assert target.limits == Limits(response_bytes=2 * MIB)
    path.write_text(path.read_text().replace("2097152", "12"))
    with pytest.raises(lj.ConfigError, match=r"limits.*response_bytes"):
        load_config(path)


def test_url_credentials_and_a_bearer_key_clash_is_refused_up_front() -> None:
    with pytest.raises(lj.LLMBenchError, match=r"carries user:password and an API key") as err:
        adhoc("http://u:Secret-Pw-123@127.0.0.1:9/v1", "m", api_key="k" * 20)
    assert "Secret-Pw-123" not in str(err.value)
    # Anthropic sends its key as x-api-key: no clash with Basic credentials
    assert adhoc("http://u:Secret-Pw-123@127.0.0.1:9/v1", "m", "k" * 20, "anthropic").api_key


@pytest.mark.parametrize("kind", ["echo_error", "echo"])
def test_a_connection_check_never_shows_an_echoed_key(
    sim: SimServer, tmp_path: Path, kind: str
) -> None:
    """The newcomer's first request (``check_connection``) goes to an endpoint that quotes
    the key back, in an error or in its answer: neither the check nor its text holds it."""
    config = hostile_config(tmp_path, sim.base_url, [f"sim:hostile={kind}"], api_key=NO_PREFIX)
    check = lj.check_connection("hostile", config=config)
    shown = f"{check!r}\n{check.summary()}\n{dataclasses.asdict(check)}"
    assert leaked(shown, [NO_PREFIX]) == []
    if kind == "echo_error":
        assert not check.ok and (check.error_category, check.http_status) == ("http_400", 400)
        assert "Incorrect API key provided" in (check.error_message or "")
    else:
        assert check.ok
