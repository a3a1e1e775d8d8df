"""The provider parameter registry: renames, limits, conflicts, drops with reasons, errors,
litellm's part (offline), and the product's senders going through it to the simulator."""

from __future__ import annotations

import asyncio
import dataclasses
from importlib.resources import files
from typing import Any

import pytest

from llmbench_jupyter.core.errors import InputError, InputTypeError
from llmbench_jupyter.core.params import FAMILIES, PARAMS, SKIPPED, for_target, resolve, space
from llmbench_jupyter.core.targets import Target
from llmbench_jupyter.core.workload import BenchSpec, arun
from llmbench_jupyter.evals.runner import run_suite
from llmbench_jupyter.evals.suites import load_suite
from llmbench_jupyter.sim import BUILTIN_SCENARIOS, SimServer


def dropped(resolved: Any) -> dict[str, str]:
    return {d.param: d.reason for d in resolved.dropped}


def notes(resolved: Any) -> dict[str, str]:
    return {n.param: n.reason for n in resolved.notes}


# --- renames and reasoning models ----------------------------------------------------------


@pytest.mark.parametrize("model", ["o4-mini", "o3", "gpt-5-mini", "gpt-5.1"])
def test_openai_reasoning_models_take_max_completion_tokens_and_no_sampling(model: str) -> None:
    got = resolve("openai", model, "openai", {"max_tokens": 300, "temperature": 0.2, "top_p": 0.9})
    assert got.payload == {"max_completion_tokens": 300}
    assert "max_completion_tokens" in notes(got)["max_tokens"]
    why = dropped(got)
    assert set(why) == {"temperature", "top_p"}
    assert "default" in why["temperature"] and "(value 0.2)" in why["temperature"]


def test_openai_chat_models_keep_max_tokens_and_sampling() -> None:
    for model in ("gpt-4.1-mini", "gpt-4o-mini", "gpt-5-chat-latest"):
        got = resolve("openai", model, "openai", {"max_tokens": 300, "temperature": 0.2})
        assert got.payload == {"max_tokens": 300, "temperature": 0.2}, model
        assert got.dropped == []


def test_reasoning_effort_levels_depend_on_the_family() -> None:
    assert resolve("openai", "gpt-5-mini", "openai", {"reasoning_effort": "minimal"}).payload == {
        "reasoning_effort": "minimal"
    }
    with pytest.raises(InputError, match=r"reasoning_effort='minimal'.*low, medium, high"):
        resolve("openai", "o4-mini", "openai", {"reasoning_effort": "minimal"})
    got = resolve("openai", "gpt-4.1-mini", "openai", {"reasoning_effort": "high"})
    assert got.payload == {} and "not a reasoning model" in dropped(got)["reasoning_effort"]
    got = resolve("groq", "openai/gpt-oss-120b", "openai", {"reasoning_effort": "high"})
    assert got.payload == {"reasoning_effort": "high"}


def test_mistral_sends_seed_as_random_seed() -> None:
    got = resolve("mistral", "mistral-small-latest", "openai", {"seed": 42, "temperature": 0.3})
    assert got.payload == {"random_seed": 42, "temperature": 0.3}
    assert "random_seed" in notes(got)["seed"]


# --- Anthropic: cap, conflicts, wire shapes -----------------------------------------------


def test_anthropic_temperature_is_capped_at_1_with_a_specific_message() -> None:
    assert resolve("anthropic", "claude-haiku-4-5-20251001", "anthropic", {"temperature": 1.0})
    with pytest.raises(InputError) as info:
        resolve("anthropic", "claude-haiku-4-5-20251001", "anthropic", {"temperature": 1.5})
    message = str(info.value)
    assert "temperature=1.5" in message and "claude-haiku-4-5-20251001" in message
    assert "0 to 1" in message


@pytest.mark.parametrize(
    ("model", "one_only"),
    [
        ("claude-sonnet-4-5-20250929", True),
        ("claude-haiku-4-5-20251001", True),
        ("claude-opus-4-1-20250805", True),
        ("claude-opus-4-5-20251101", True),
        ("claude-sonnet-4-20250514", False),
        ("claude-opus-4-20250514", False),
        ("claude-3-5-haiku-20241022", False),
    ],
)
def test_temperature_with_top_p_only_where_the_model_allows_both(
    model: str, one_only: bool
) -> None:
    got = resolve("anthropic", model, "anthropic", {"temperature": 0.3, "top_p": 0.8})
    if one_only:
        assert got.payload == {"temperature": 0.3}
        assert "cannot both be specified" in dropped(got)["top_p"]
    else:
        assert got.payload == {"temperature": 0.3, "top_p": 0.8} and got.dropped == []


def test_anthropic_shapes_tool_choice_parallel_calls_and_thinking() -> None:
    got = resolve(
        "anthropic",
        "claude-sonnet-4-5-20250929",
        "anthropic",
        {"tool_choice": {"name": "get_time"}, "parallel_tool_calls": False, "seed": 1},
    )
    assert got.payload == {
        "tool_choice": {"type": "tool", "name": "get_time", "disable_parallel_tool_use": True}
    }
    assert "no seed" in dropped(got)["seed"]
    got = resolve(
        "anthropic",
        "claude-sonnet-4-5-20250929",
        "anthropic",
        {"reasoning_effort": "medium", "max_tokens": 5000},
    )
    assert got.payload == {
        "max_tokens": 5000,
        "thinking": {"type": "enabled", "budget_tokens": 2048},
    }
    got = resolve("openai", "gpt-4.1-mini", "openai", {"tool_choice": "required"})
    assert got.payload == {"tool_choice": "required"}
    older = resolve(
        "anthropic", "claude-3-5-haiku-20241022", "anthropic", {"reasoning_effort": "low"}
    )
    assert "3.7" in dropped(older)["reasoning_effort"]


# --- skip_params, passthrough, errors -----------------------------------------------------


def test_skip_params_from_config_are_recorded_drops() -> None:
    target = Target(
        "openai", "gpt-4.1-mini", api_model="gpt-4.1-mini", skip_params=("temperature", "seed")
    )
    got = for_target(target, {"temperature": 0.7, "seed": 3, "max_tokens": 10})
    assert got.payload == {"max_tokens": 10}
    assert dropped(got) == {"temperature": f"{SKIPPED} (value 0.7)", "seed": f"{SKIPPED} (value 3)"}
    # a skip naming the wire name is honoured too
    reasoning = Target("openai", "o4-mini", skip_params=("max_completion_tokens",))
    got = for_target(reasoning, {"max_tokens": 10})
    assert got.payload == {}
    assert dropped(got)["max_tokens"] == f"{SKIPPED} (as max_completion_tokens) (value 10)"


def test_passthrough_is_sent_unchecked_and_noted_but_cannot_shadow_a_parameter() -> None:
    got = resolve("vllm", "my-model", "openai", {"top_k": 20}, passthrough={"min_p": 0.05})
    assert got.payload == {"top_k": 20, "min_p": 0.05}
    assert notes(got)["min_p"] == "passed through unchecked"
    with pytest.raises(InputError, match="registry parameter"):
        resolve("vllm", "my-model", "openai", {}, passthrough={"temperature": 5})
    with pytest.raises(InputError, match="collides"):
        resolve(
            "openai",
            "o4-mini",
            "openai",
            {"max_tokens": 5},
            passthrough={"max_completion_tokens": 9},
        )


def test_bad_input_errors_say_what_where_and_what_was_expected() -> None:
    with pytest.raises(InputTypeError, match=r"temperature for openai/gpt-4.1-mini.*number.*str"):
        resolve("openai", "gpt-4.1-mini", "openai", {"temperature": "0.5"})
    with pytest.raises(InputTypeError, match=r"max_tokens.*integer.*bool"):
        resolve("openai", "gpt-4.1-mini", "openai", {"max_tokens": True})
    with pytest.raises(InputError, match=r"temperature=3 .*out of range: expected 0 to 2"):
        resolve("openai", "gpt-4.1-mini", "openai", {"temperature": 3})
    with pytest.raises(InputError) as info:
        resolve("openai", "gpt-4.1-mini", "openai", {"temprature": 0.5})
    message = str(info.value)
    assert "unknown parameter 'temprature'" in message and "did you mean 'temperature'" in message
    assert all(name in message for name in PARAMS)
    with pytest.raises(InputError, match=r"api_kind 'litellm'.*openai, anthropic"):
        resolve("bedrock", "x", "litellm", {})
    with pytest.raises(InputError, match="tool_choice"):
        resolve("openai", "gpt-4.1-mini", "openai", {"tool_choice": 3})
    # an unsupported parameter with an impossible value is still a mistake, not a drop
    with pytest.raises(InputError, match="temperature=9"):
        resolve("openai", "o4-mini", "openai", {"temperature": 9})


def test_none_means_unset_and_is_not_recorded() -> None:
    got = resolve("openai", "gpt-4.1-mini", "openai", {"temperature": None, "max_tokens": 5})
    assert got.payload == {"max_tokens": 5} and got.dropped == []


# --- litellm's part ----------------------------------------------------------------------


def test_litellm_narrows_a_model_it_knows_offline() -> None:
    got = resolve("openai", "o4-mini", "openai", {"parallel_tool_calls": True, "seed": 1})
    source = notes(got)["*"]
    assert (
        "narrowed by litellm" in source and "get_supported_openai_params(openai/o4-mini)" in source
    )
    # the table row accepts parallel_tool_calls; litellm's list for o4-mini does not
    row = next(f for f in FAMILIES if f.label == got.family)
    assert "parallel_tool_calls" in row.accepts
    assert "does not list parallel_tool_calls" in dropped(got)["parallel_tool_calls"]
    assert got.payload == {"seed": 1}
    assert "parallel_tool_calls" in space("openai", "o4-mini", "openai").excluded


def test_a_model_litellm_does_not_know_falls_back_to_the_table_and_says_so() -> None:
    got = resolve("openai", "o9-preview-2031", "openai", {"parallel_tool_calls": True})
    assert got.family == "OpenAI o-series reasoning model"
    assert got.payload == {"parallel_tool_calls": True}
    source = notes(got)["*"]
    assert "only" in source and "does not know openai/o9-preview-2031" in source
    # the same for a provider litellm is never asked about
    sim = resolve("local-sim", "sim-fast", "openai", {"temperature": 0.1})
    assert "litellm not consulted" in notes(sim)["*"]


# --- space() ------------------------------------------------------------------------------


def test_space_gives_ranges_choices_exclusions_and_constraints() -> None:
    found = space("anthropic", "claude-sonnet-4-5-20250929", "anthropic", max_output_tokens=64000)
    assert (found.params["temperature"].low, found.params["temperature"].high) == (0.0, 1.0)
    assert found.params["max_tokens"].high == 64000 and found.params["max_tokens"].log
    assert found.params["reasoning_effort"].choices == ("low", "medium", "high")
    assert "no seed" in found.excluded["seed"]
    assert any("only one is sent" in c for c in found.constraints)
    assert any("budget" in c for c in found.constraints)
    reasoning = space("openai", "o4-mini", "openai", ["temperature", "max_tokens"])
    assert list(reasoning.params) == ["max_tokens"] and "temperature" in reasoning.excluded
    skipped = space("openai", "gpt-4.1-mini", "openai", skip_params=["top_p"], has_tools=False)
    assert skipped.excluded["top_p"] == SKIPPED
    assert "tool_choice" in skipped.excluded and "no tools" in skipped.excluded["tool_choice"]
    with pytest.raises(InputError, match="unknown parameter"):
        space("openai", "gpt-4.1-mini", "openai", ["temp"])


def test_first_matching_row_wins_and_every_kind_has_a_catch_all() -> None:
    for kind in ("openai", "anthropic"):
        got = resolve("someone-elses-proxy", "whatever-model", kind, {"max_tokens": 5})
        assert got.payload == {"max_tokens": 5}
    # the same model name means different rules under different providers
    assert resolve("openai", "o4-mini", "openai", {"max_tokens": 5}).payload == {
        "max_completion_tokens": 5
    }
    assert resolve("openrouter", "o4-mini", "openai", {"max_tokens": 5}).payload == {
        "max_tokens": 5
    }


# --- the product's senders go through the registry (real HTTP to the simulator) -----------

_FAST = {
    name: dataclasses.replace(sc, ttft_ms=1, itl_ms=0, prefill_ms_per_1k_tokens=0, jitter=0)
    for name, sc in BUILTIN_SCENARIOS.items()
}


def _sim_target(model: str, kind: str = "openai", **kw: Any) -> Target:
    return Target("local-sim", model, kind=kind, api_model=model, simulated=True, **kw)


def test_bench_on_the_reasoning_sim_without_skip_params_succeeds_and_records_drops() -> None:
    async def main() -> Any:
        async with SimServer(scenarios=_FAST) as srv:
            targets = [
                _sim_target("sim-reasoning").with_api_base(srv.base_url),
                _sim_target("sim-fast", kind="anthropic").with_api_base(srv.base_url),
            ]
            spec = BenchSpec(targets=targets, runs=2, warmup=0, max_tokens=64, temperature=0.4)
            return await arun(spec)

    result = asyncio.run(main())
    assert [r.status for r in result.records] == ["ok"] * 4, [
        r.error_message for r in result.records
    ]
    params = result.spec["plan"]["params"]
    reasoning = params["local-sim/sim-reasoning"]
    assert reasoning["payload"] == {"max_completion_tokens": 64}
    assert [d["param"] for d in reasoning["dropped"]] == ["temperature"]
    assert params["local-sim/sim-fast"]["payload"] == {"max_tokens": 64, "temperature": 0.4}


def test_bench_refuses_a_value_the_target_caps_before_sending_anything() -> None:
    target = _sim_target("sim-fast", kind="anthropic", api_base="http://127.0.0.1:9/v1")
    spec = BenchSpec(targets=[target], runs=1, warmup=0, temperature=1.5)
    with pytest.raises(InputError, match=r"temperature=1.5 .*local-sim/sim-fast.*0 to 1"):
        asyncio.run(arun(spec))


def test_tool_eval_on_the_reasoning_sim_without_skip_params_gets_answers() -> None:
    data = files("llmbench_jupyter.evals") / "data"
    suite = load_suite(str(data / "example_suite.yaml"))
    suite = dataclasses.replace(suite, cases=suite.cases[:4])

    async def main() -> Any:
        rules = str(data / "example_sim_rules.yaml")
        async with SimServer(scenarios=_FAST, rules=rules) as srv:
            target = _sim_target("sim-reasoning").with_api_base(srv.base_url)
            return await run_suite([target], suite)

    runs = asyncio.run(main())
    assert len(runs) == 4
    assert [r.error for r in runs] == [None] * 4
