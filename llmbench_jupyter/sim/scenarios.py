"""Timing and fault scenarios of simulated models, and the ``sim:key=val,...`` model-name syntax.

A scenario fully describes how one simulated model behaves, so a test or a benchmark can
name any behaviour it needs in the model string alone, without touching configuration.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import UTC, datetime

from llmbench_jupyter.core.errors import LLMBenchError
from llmbench_jupyter.sim.hostile import HOSTILE_KINDS

FAULT_KINDS = ("429", "500", "401", "cut", "malformed", "stall")
PARAM_RULES = ("chat", "reasoning")
_POSITIONAL_FAULTS = ("cut", "malformed", "stall")


class ScenarioError(LLMBenchError):
    """A model spec or scenario value is invalid; the message says which key and why."""


@dataclass(frozen=True)
class Fault:
    """A failure to inject: an HTTP error up front, or a stream fault after ``at`` chunks."""

    kind: str
    at: int = 0

    @property
    def is_http(self) -> bool:
        return self.kind in ("429", "500", "401")

    def __str__(self) -> str:
        return self.kind if self.is_http else f"{self.kind}@{self.at}"


def parse_fault(text: str) -> Fault:
    """Parse ``429``, ``500``, ``401``, ``cut@N``, ``malformed@N`` or ``stall@N``."""
    kind, sep, at_text = text.strip().partition("@")
    if kind not in FAULT_KINDS:
        raise ScenarioError(
            f"unknown fault {text!r}: expected one of 429, 500, 401, cut@N, malformed@N, stall@N"
        )
    if kind in _POSITIONAL_FAULTS:
        if not sep:
            at = 0
        else:
            try:
                at = int(at_text)
            except ValueError:
                raise ScenarioError(f"fault {text!r}: N in {kind}@N must be an integer") from None
            if at < 0:
                raise ScenarioError(f"fault {text!r}: N must be >= 0")
        return Fault(kind, at)
    if sep:
        raise ScenarioError(f"fault {text!r}: HTTP faults take no @N")
    return Fault(kind)


@dataclass(frozen=True)
class Scenario:
    """How a simulated model answers: timings in milliseconds, lengths in tokens.

    ``params`` picks the request-parameter rules (:mod:`llmbench_jupyter.sim.params`):
    ``chat``, or ``reasoning`` for OpenAI's reasoning-model rules on the OpenAI wire.
    ``role_first`` sends a content-free role chunk at request arrival, before TTFT: the
    trap a client must not count as its first token. ``jitter`` is a fraction of TTFT and
    ITL drawn from a per-request seeded RNG, so runs with the same seed are reproducible.
    """

    ttft_ms: float = 50.0
    itl_ms: float = 5.0
    tokens_per_chunk: int = 1
    output_tokens: int = 32
    role_first: bool = True
    reasoning_tokens: int = 0
    jitter: float = 0.0
    prefill_ms_per_1k_tokens: float = 0.0
    fault: Fault | None = None
    fault_rate: float = 1.0
    stall_s: float = 30.0
    hostile: str | None = None  # one of sim.hostile.HOSTILE_KINDS
    params: str = "chat"  # which request parameters it takes: PARAM_RULES, sim.params
    #: From this moment (epoch seconds, the server's clock) TTFT, ITL and prefill are
    #: ``slow_factor`` times longer: a provider that got slower, for change detection.
    slow_after: float | None = None
    slow_factor: float = 1.0
    #: Decode slots (a batch size): at most this many requests are served at once, the
    #: rest wait first come, first served (:mod:`llmbench_jupyter.sim.capacity`); 0: no limit.
    slots: int = 0
    #: Chunks already due are written together, up to this many per write (one syscall):
    #: with itl=0 the server then costs far less per chunk than any client, so a
    #: throughput benchmark measures the client. 1 = every chunk its own write.
    write_batch: int = 1

    def __post_init__(self) -> None:
        checks = [
            (self.ttft_ms >= 0, "ttft must be >= 0"),
            (self.itl_ms >= 0, "itl must be >= 0"),
            (self.tokens_per_chunk >= 1, "tokens per chunk (tpc) must be >= 1"),
            (self.output_tokens >= 0, "output tokens (out) must be >= 0"),
            (self.reasoning_tokens >= 0, "reasoning tokens (reason) must be >= 0"),
            (0 <= self.jitter < 1, "jitter must be in [0, 1)"),
            (self.prefill_ms_per_1k_tokens >= 0, "prefill must be >= 0"),
            (0 <= self.fault_rate <= 1, "fault_rate must be in [0, 1]"),
            (self.stall_s >= 0, "stall must be >= 0 seconds"),
            (
                self.hostile is None or self.hostile in HOSTILE_KINDS,
                f"hostile must be one of {', '.join(HOSTILE_KINDS)}",
            ),
            (self.params in PARAM_RULES, f"params must be one of {', '.join(PARAM_RULES)}"),
            (self.slow_factor > 0, "slow (the slow-down factor) must be > 0"),
            (self.slots >= 0, "slots must be >= 0 (0: no limit)"),
            (self.write_batch >= 1, "batch (chunks per write) must be >= 1"),
        ]
        for ok, message in checks:
            if not ok:
                raise ScenarioError(f"invalid scenario: {message}")

    def at(self, now: float) -> Scenario:
        """This scenario as it answers at ``now`` (slowed down once ``slow_after`` passed)."""
        if self.slow_after is None or now < self.slow_after or self.slow_factor == 1.0:
            return self
        f = self.slow_factor
        return dataclasses.replace(
            self, ttft_ms=self.ttft_ms * f, itl_ms=self.itl_ms * f,
            prefill_ms_per_1k_tokens=self.prefill_ms_per_1k_tokens * f, slow_after=None,
        )  # fmt: skip


# Prefill in ms per 1k prompt tokens, so context tiers show the TTFT growth real servers
# have: about 50k, 17k, 7k and 25k prompt tokens a second. (2 ms per 1k, before, made every
# context-tier chart flat.)
# A table: one simulated model per row reads better than one field per line.
# fmt: off
BUILTIN_SCENARIOS: dict[str, Scenario] = {
    "sim-fast": Scenario(ttft_ms=30, itl_ms=4, tokens_per_chunk=1, output_tokens=128,
                         jitter=0.1, prefill_ms_per_1k_tokens=20),
    "sim-medium": Scenario(ttft_ms=120, itl_ms=12, tokens_per_chunk=2, output_tokens=128,
                           jitter=0.1, prefill_ms_per_1k_tokens=60),
    "sim-slow": Scenario(ttft_ms=350, itl_ms=30, tokens_per_chunk=1, output_tokens=64,
                         jitter=0.1, prefill_ms_per_1k_tokens=150),
    "sim-reasoning": Scenario(ttft_ms=200, itl_ms=8, tokens_per_chunk=1, output_tokens=96,
                              reasoning_tokens=48, jitter=0.1, prefill_ms_per_1k_tokens=40,
                              params="reasoning"),
}
# fmt: on

# spec key -> (Scenario field, converter)
_KEYS: dict[str, tuple[str, type]] = {
    "ttft": ("ttft_ms", float),
    "itl": ("itl_ms", float),
    "tpc": ("tokens_per_chunk", int),
    "out": ("output_tokens", int),
    "role": ("role_first", bool),
    "reason": ("reasoning_tokens", int),
    "jitter": ("jitter", float),
    "prefill": ("prefill_ms_per_1k_tokens", float),
    "fault": ("fault", Fault),
    "fault_rate": ("fault_rate", float),
    "stall": ("stall_s", float),
    "hostile": ("hostile", str),
    "params": ("params", str),
    "slow_after": ("slow_after", datetime),
    "slow": ("slow_factor", float),
    "slots": ("slots", int),
    "batch": ("write_batch", int),
}
SPEC_PREFIX = "sim:"


def _convert(key: str, kind: type, raw: str) -> object:
    if kind is Fault:
        return parse_fault(raw)
    if kind is datetime:  # an ISO date or time, UTC unless it says otherwise: epoch seconds
        try:
            when = datetime.fromisoformat(raw)
        except ValueError:
            raise ScenarioError(
                f"model spec key {key!r}: expected an ISO date or time, got {raw!r}"
            ) from None
        return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()
    if kind is bool:
        if raw.lower() in ("1", "true", "yes", "on"):
            return True
        if raw.lower() in ("0", "false", "no", "off"):
            return False
        raise ScenarioError(f"model spec key {key!r}: expected 0 or 1, got {raw!r}")
    try:
        return kind(raw)
    except ValueError:
        raise ScenarioError(
            f"model spec key {key!r}: expected {kind.__name__}, got {raw!r}"
        ) from None


def parse_model_spec(name: str, base: Scenario | None = None) -> Scenario:
    """Build a scenario from ``sim:ttft=50,itl=2,tpc=3,out=30,role=1,reason=5,fault=cut@10``.

    Keys: ttft, itl, prefill (ms); tpc, out, reason (tokens); role (0/1); jitter and
    fault_rate (fractions); fault; stall (seconds); hostile (see ``sim.hostile``);
    slow_after (an ISO date or time) with slow (a factor): slower from then on; slots
    (decode slots: requests beyond them queue, see ``sim.capacity``); batch (chunks
    already due written together, up to N per write). Unset
    keys keep ``base`` (or defaults); params (chat or reasoning) picks the request-parameter
    rules.
    """
    if not name.startswith(SPEC_PREFIX):
        raise ScenarioError(f"model spec {name!r} must start with {SPEC_PREFIX!r}")
    body = name[len(SPEC_PREFIX) :].strip()
    changes: dict[str, object] = {}
    for item in filter(None, (part.strip() for part in body.split(","))):
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep:
            raise ScenarioError(f"model spec item {item!r}: expected key=value")
        if key not in _KEYS:
            raise ScenarioError(
                f"model spec key {key!r} is unknown: expected one of {', '.join(_KEYS)}"
            )
        field, kind = _KEYS[key]
        changes[field] = _convert(key, kind, raw.strip())
    return dataclasses.replace(base or Scenario(), **changes)  # type: ignore[arg-type]
