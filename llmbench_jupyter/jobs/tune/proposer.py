"""The meta-model of a prompt search: it writes, mutates, crosses and repairs system prompts.

Every request it makes is booked against the search's budget like a trial's (its own
price), and its answer is read for ``<prompt>...</prompt>`` blocks: a tag survives any
model's habit of wrapping answers in prose or code fences, where JSON often does not.
Parents are passed whole (never truncated), and a reflection sees each failed case's
question, what was expected, what the model called and the error type.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp

from llmbench_jupyter.core.errors import LLMBenchError
from llmbench_jupyter.core.params import for_target
from llmbench_jupyter.core.pricing import Price
from llmbench_jupyter.core.targets import Target
from llmbench_jupyter.evals.chat import chat_completion, first_message
from llmbench_jupyter.evals.model import Suite
from llmbench_jupyter.evals.runner import CaseRun
from llmbench_jupyter.jobs.tune.budget import Meter

#: The proposer's answers are capped: a prompt is short, and the cap bounds its cost.
MAX_TOKENS = 2048
_BLOCK = re.compile(r"<prompt>(.*?)</prompt>", re.DOTALL | re.IGNORECASE)
#: First line of every request, so logs (and the simulated endpoint's rules) can tell them.
MARK = "llmbench prompt proposer"

SYSTEM = (
    "You improve the system prompt of an assistant that answers users by calling tools. "
    "Write each prompt you are asked for inside <prompt> and </prompt>, with nothing "
    "else inside the tags."
)


class ProposerError(LLMBenchError):
    """The proposer's answer held no usable prompt."""


@dataclass
class Proposal:
    prompt: str
    origin: str  # quick | mutation | crossover | reflection
    parents: tuple[int, ...] = ()
    generation: int = 0
    #: What the proposer's requests for this prompt cost (a batch's go to its first prompt).
    requests: int = 0
    cost_usd: float = 0.0


class Proposer:
    def __init__(self, target: Target, suite: Suite, meter: Meter, price: Price | None,
                 session: aiohttp.ClientSession, timeout_s: float = 120.0) -> None:  # fmt: skip
        self.target, self.suite, self.meter, self.price = target, suite, meter, price
        self.session, self.timeout_s = session, timeout_s

    # ---------------------------------------------------------------- requests
    async def _ask(self, task: str, text: str, n: int) -> list[str]:
        payload = {
            "model": self.target.api_model,
            "messages": [
                {"role": "system", "content": SYSTEM},
                {"role": "user", "content": f"{MARK}: {task}\n\n{text}"},
            ],
            **for_target(self.target, {"temperature": 0.9, "max_tokens": MAX_TOKENS}).payload,
        }
        ticket = self.meter.reserve(payload, self.price)  # may stop the search here
        body = None
        try:
            body = await chat_completion(self.session, self.target, payload, self.timeout_s)
        finally:
            self.meter.settle(ticket, body)
        content = str(first_message(body).get("content") or "")
        # a prompt is stored and sent on: no NUL (PostgreSQL text cannot hold it)
        found = [p.strip().replace("\x00", "\ufffd") for p in _BLOCK.findall(content)]
        found = [p for p in found if p]
        if not found:
            raise ProposerError(
                f"the proposer {self.target.key} answered without a <prompt> block "
                f"({len(str(content))} characters)"
            )
        return found[:n]

    def _context(self) -> str:
        tools = ", ".join(t["function"]["name"] for t in self.suite.tools)
        asks = [_last_user(c.messages) for c in self.suite.cases[:5]]
        shown = "\n".join(f"- {a}" for a in asks if a)
        return f"The assistant's tools: {tools}.\nTypical user requests:\n{shown}"

    # ---------------------------------------------------------------- operators
    async def variants(self, base: str, n: int) -> list[str]:
        task = f"quick: write {n} different improved versions of this system prompt."
        return await self._ask(task, f"{self._context()}\n\nSystem prompt:\n{_shown(base)}", n)

    async def mutate(self, parent: str) -> str:
        task = "mutation: rewrite this system prompt with one meaningful change."
        return (await self._ask(task, f"{self._context()}\n\nSystem prompt:\n{_shown(parent)}", 1))[
            0
        ]

    async def crossover(self, a: str, b: str) -> str:
        task = "crossover: combine the strengths of these two system prompts into one."
        text = f"{self._context()}\n\nFirst prompt:\n{_shown(a)}\n\nSecond prompt:\n{_shown(b)}"
        return (await self._ask(task, text, 1))[0]

    async def reflect(self, prompt: str, failures: Sequence[str]) -> str:
        task = (
            "reflection: the assistant failed these cases with this system prompt. Write "
            "one improved system prompt that fixes the failures without breaking the rest."
        )
        lines = [self._context(), "", "System prompt:", _shown(prompt), "", "Failures:"]
        lines += list(failures) or ["(none recorded)"]
        return (await self._ask(task, "\n".join(lines), 1))[0]


def _shown(prompt: str) -> str:
    return prompt if prompt.strip() else "(none: the model's default behaviour)"


def _last_user(messages: Sequence[dict[str, Any]]) -> str:
    for m in reversed(messages):
        if m.get("role") == "user" and isinstance(m.get("content"), str):
            return str(m["content"])
    return ""


#: Failed cases kept per trial for a reflection (the first ones, in case order).
MAX_FAILURES = 20


def failure_lines(suite: Suite, runs: Sequence[CaseRun]) -> list[str]:
    """What a reflection shows of a trial's failed cases, one line each."""
    return [failure_line(suite, r) for r in runs if not r.score.passed][:MAX_FAILURES]


def failure_line(suite: Suite, run: CaseRun) -> str:
    case = next((c for c in suite.cases if c.id == run.case_id), None)
    asked = _last_user(case.messages) if case is not None else run.case_id
    expected = [e.name for e in case.expected] if case is not None else []
    called = [f"{c.get('name')}({c.get('arguments')})" for c in run.calls]
    why = run.score.error_type or run.score.outcome
    extra = f"; API error: {run.error}" if run.error else ""
    return (
        f"- case {run.case_id} ({why}{extra}): user asked {asked!r}; expected calls "
        f"{expected}; the model called {called or 'nothing'}"
    )
