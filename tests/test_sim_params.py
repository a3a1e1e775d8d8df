"""The parameter registry against the simulated endpoint's own limits, over real HTTP.

The sim checks request parameters with its own code (sim/params.py), written from the
providers' references, not from the registry's table. So: every value the registry's
``space()`` calls valid, resolved by ``resolve()``, must be accepted (200), and every raw
value the registry refuses or drops must be refused by the sim (400 naming the parameter).
A wrong table entry fails one side or the other.
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import aiohttp
import pytest

from llmbench_jupyter.core.errors import InputError
from llmbench_jupyter.core.params import PARAMS, Domain, resolve, space
from llmbench_jupyter.sim import BUILTIN_SCENARIOS, SimServer

PROVIDER = "local-sim"
USER = [{"role": "user", "content": "hello world"}]
OPENAI_TOOL = {
    "type": "function",
    "function": {"name": "get_time", "parameters": {"type": "object", "properties": {}}},
}
ANTHROPIC_TOOL = {"name": "get_time", "input_schema": {"type": "object", "properties": {}}}
#: Every built-in simulated model, plus spec models with each parameter profile: reasoning
#: tokens alone (reason=3) keep the chat rules; params=reasoning switches to OpenAI's
#: reasoning-model rules.
MODELS = [
    *BUILTIN_SCENARIOS,
    "sim:ttft=0,itl=0,out=3,reason=3",
    "sim:ttft=0,itl=0,out=3,reason=2,params=reasoning",
]
KINDS = ["openai", "anthropic"]
#: A plausible value of each parameter, to send raw where the registry drops it.
TYPICAL: dict[str, Any] = {
    "temperature": 0.5,
    "top_p": 0.5,
    "top_k": 40,
    "max_tokens": 64,
    "seed": 7,
    "tool_choice": "auto",
    "parallel_tool_calls": True,
    "reasoning_effort": "low",
}
#: Values outside every API's range or of the wrong type: (parameter, value).
BAD_VALUES: list[tuple[str, Any]] = [
    ("temperature", -0.1),
    ("temperature", 2.5),
    ("temperature", "hot"),
    ("top_p", 1.5),
    ("top_p", -0.1),
    ("top_k", 0),
    ("top_k", 2.5),
    ("max_tokens", 0),
    ("max_tokens", "64"),
    ("seed", 2**63),
    ("seed", 1.5),
    ("tool_choice", "sometimes"),
    ("parallel_tool_calls", "yes"),
    ("reasoning_effort", "extreme"),
]
#: Big enough for every thinking budget, so reasoning_effort can be tried alone.
BASE_MAX_TOKENS = 8192


def _zero_timing() -> dict[str, Any]:
    """The built-in scenarios with their parameter rules but no waiting."""
    return {
        name: dataclasses.replace(
            sc, ttft_ms=0, itl_ms=0, prefill_ms_per_1k_tokens=0, jitter=0, output_tokens=3
        )
        for name, sc in BUILTIN_SCENARIOS.items()
    }


async def _post(
    srv: SimServer, s: aiohttp.ClientSession, kind: str, model: str, fields: dict[str, Any]
) -> tuple[int, dict[str, Any]]:
    openai = kind == "openai"
    path, tool = ("/chat/completions", OPENAI_TOOL) if openai else ("/messages", ANTHROPIC_TOOL)
    body = {"model": model, "messages": USER, "tools": [tool], **fields}
    async with s.post(srv.base_url + path, json=body) as resp:
        return resp.status, await resp.json()


def _names(kind: str, reply: dict[str, Any], param: str) -> bool:
    """Does an error body name ``param`` (OpenAI: its ``param`` field; Anthropic: text)?"""
    error = reply.get("error") or {}
    if kind == "openai":
        return error.get("param") == param and param in error.get("message", "")
    return reply.get("type") == "error" and param in error.get("message", "")


def _samples(domain: Domain) -> list[Any]:
    if domain.choices:
        return list(domain.choices)
    assert domain.low is not None and domain.high is not None
    if domain.type == "int":
        return sorted({int(domain.low), int((domain.low + domain.high) // 2), int(domain.high)})
    return [domain.low, (domain.low + domain.high) / 2, domain.high]


def _serve(body: Any) -> Any:
    async def main() -> Any:
        async with (
            SimServer(scenarios=_zero_timing()) as srv,
            aiohttp.ClientSession() as session,
        ):
            return await body(srv, session)

    return asyncio.run(main())


def test_every_value_space_calls_valid_is_accepted_once_resolved() -> None:
    trials: list[tuple[str, str, dict[str, Any]]] = []
    for model in MODELS:
        for kind in KINDS:
            found = space(PROVIDER, model, kind, has_tools=True)
            assert found.params, (model, kind)
            for name, domain in found.params.items():
                for value in _samples(domain):
                    params = {name: value}
                    if name != "max_tokens":
                        params["max_tokens"] = BASE_MAX_TOKENS
                    trials.append((model, kind, params))
            # everything at once: the registry must settle the conflicts itself
            for pick in (0, -1):
                together = {n: _samples(d)[pick] for n, d in found.params.items()}
                together["max_tokens"] = BASE_MAX_TOKENS
                trials.append((model, kind, together))

    async def body(srv: SimServer, s: aiohttp.ClientSession) -> list[str]:
        async def one(model: str, kind: str, params: dict[str, Any]) -> str | None:
            resolved = resolve(PROVIDER, model, kind, params, has_tools=True)
            status, reply = await _post(srv, s, kind, model, {"stream": False, **resolved.payload})
            return None if status == 200 else f"{model} {kind} {resolved.payload}: {reply}"

        results = await asyncio.gather(*(one(*t) for t in trials))
        return [r for r in results if r is not None]

    assert len(trials) > 150
    assert _serve(body) == []


def test_what_the_registry_drops_the_sim_refuses_naming_it() -> None:
    cases: list[tuple[str, str, str]] = []  # model, kind, parameter sent raw
    for model in MODELS:
        for kind in KINDS:
            found = space(PROVIDER, model, kind, has_tools=True)
            cases += [(model, kind, name) for name in found.excluded]
            # a renamed parameter is refused under its canonical name
            resolved = resolve(PROVIDER, model, kind, {"max_tokens": 64})
            if "max_tokens" not in resolved.payload:
                assert any(n.param == "max_tokens" for n in resolved.notes)
                cases.append((model, kind, "max_tokens"))
    kinds_seen = {
        (m.startswith("sim-reasoning") or "params=reasoning" in m, k) for m, k, _ in cases
    }
    assert len(kinds_seen) == 4  # chat and reasoning profiles, both wires, all had drops

    async def body(srv: SimServer, s: aiohttp.ClientSession) -> list[str]:
        async def one(model: str, kind: str, name: str) -> str | None:
            base = resolve(PROVIDER, model, kind, {"max_tokens": 64}).payload
            status, reply = await _post(srv, s, kind, model, {**base, name: TYPICAL[name]})
            if status == 400 and _names(kind, reply, name):
                return None
            return f"{model} {kind} raw {name}: {status} {reply}"

        results = await asyncio.gather(*(one(*c) for c in cases))
        return [r for r in results if r is not None]

    assert _serve(body) == []


@pytest.mark.parametrize(("name", "value"), BAD_VALUES)
def test_values_the_registry_refuses_the_sim_refuses_too(name: str, value: Any) -> None:
    tried: list[tuple[str, str]] = []

    async def body(srv: SimServer, s: aiohttp.ClientSession) -> list[str]:
        problems = []
        for model in MODELS:
            for kind in KINDS:
                if name in space(PROVIDER, model, kind, has_tools=True).excluded:
                    continue  # dropped whatever its value: the test above covers it
                with pytest.raises(InputError, match=name):
                    resolve(PROVIDER, model, kind, {name: value})
                base = resolve(PROVIDER, model, kind, {"max_tokens": 64}).payload
                wire = name if name != "max_tokens" else next(iter(base))
                status, reply = await _post(srv, s, kind, model, {**base, wire: value})
                tried.append((model, kind))
                if not (status == 400 and _names(kind, reply, wire)):
                    problems.append(f"{model} {kind} raw {wire}={value!r}: {status} {reply}")
        return problems

    assert _serve(body) == []
    assert tried, f"no simulated model accepts {name} at all"


def test_registry_conflict_rules_match_the_sims() -> None:
    """Each conflict the registry settles by dropping one side is a 400 when sent raw."""
    model = "sim-fast"
    conflicts = [
        ({"temperature": 0.5, "top_p": 0.9}, "top_p"),
        ({"reasoning_effort": "low", "temperature": 0.5}, "temperature"),
        ({"reasoning_effort": "low", "top_k": 5}, "top_k"),
        ({"reasoning_effort": "low", "top_p": 0.5}, "top_p"),
        ({"reasoning_effort": "low", "tool_choice": "required"}, "reasoning_effort"),
    ]

    async def body(srv: SimServer, s: aiohttp.ClientSession) -> None:
        for params, loser in conflicts:
            resolved = resolve(PROVIDER, model, "anthropic", {**params, "max_tokens": 4000})
            assert [d.param for d in resolved.dropped] == [loser], resolved.dropped
            status, _ = await _post(srv, s, "anthropic", model, resolved.payload)
            assert status == 200
            raw = {"max_tokens": 4000, "thinking": {"type": "enabled", "budget_tokens": 1024}}
            raw |= {k: v for k, v in params.items() if k != "reasoning_effort"}
            if "reasoning_effort" not in params:
                raw.pop("thinking")
            if raw.get("tool_choice") == "required":
                raw["tool_choice"] = {"type": "any"}
            status, reply = await _post(srv, s, "anthropic", model, raw)
            assert status == 400, (params, reply)
        # a thinking budget must stay below max_tokens: the registry refuses, so does the sim
        with pytest.raises(InputError, match=r"budget_tokens=4096.*max_tokens=4000"):
            resolve(PROVIDER, model, "anthropic", {"reasoning_effort": "high", "max_tokens": 4000})
        thinking = {"type": "enabled", "budget_tokens": 4096}
        status, reply = await _post(
            srv, s, "anthropic", model, {"max_tokens": 4000, "thinking": thinking}
        )
        assert status == 400 and "max_tokens" in reply["error"]["message"]

    _serve(body)


def test_tool_parameters_without_tools_are_dropped_and_refused_raw() -> None:
    async def body(srv: SimServer, s: aiohttp.ClientSession) -> None:
        for kind, raw in (("openai", "auto"), ("anthropic", {"type": "auto"})):
            params = {"tool_choice": "auto", "max_tokens": 9}
            resolved = resolve(PROVIDER, "sim-fast", kind, params, has_tools=False)
            assert [d.param for d in resolved.dropped] == ["tool_choice"]
            path = "/chat/completions" if kind == "openai" else "/messages"
            base = {"model": "sim-fast", "messages": USER, **resolved.payload}
            async with s.post(srv.base_url + path, json=base) as resp:
                assert resp.status == 200
            async with s.post(srv.base_url + path, json={**base, "tool_choice": raw}) as resp:
                assert resp.status == 400
                assert "tool_choice" in (await resp.json())["error"]["message"]

    _serve(body)


def test_every_canonical_parameter_is_covered_by_the_cross_checks() -> None:
    covered = {n for n, _ in BAD_VALUES} | set(TYPICAL)
    assert covered == set(PARAMS)
