"""A search's budgets: trials, requests, dollars and minutes, never exceeded.

Each limit is checked before a trial starts (is there room for one more?), and requests
and dollars are also booked before every single request: the request is booked at the
most it can cost (every byte of its payload as an input token, ``max_tokens`` as output)
and the booking is replaced by what its ``usage`` says once it answers. A request that
does not fit is not sent: the trial stops there, unfinished, and the search ends. So the
spent amounts can reach a limit but never pass it. Minutes are a deadline: nothing starts
after it, and requests still in flight are cancelled when it passes.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from llmbench_jupyter.core.errors import InputError
from llmbench_jupyter.core.pricing import Price
from llmbench_jupyter.evals.runner import StopSending

#: Output tokens booked per request when neither the trial nor the target caps them (a
#: dollar budget refuses to start then: ``TuneSpec`` checks; this only bounds the rest).
UNCAPPED_OUTPUT_TOKENS = 32_768


@dataclass(frozen=True)
class Budget:
    """Limits of one search; None means no limit of that kind."""

    trials: int | None = None
    requests: int | None = None
    dollars: float | None = None
    minutes: float | None = None

    @classmethod
    def of(cls, given: Budget | Mapping[str, Any] | None) -> Budget:
        if given is None:
            return cls()
        if isinstance(given, Budget):
            return given
        if not isinstance(given, Mapping):
            raise InputError(f"budget: expected a dict like {{'trials': 30}}, got {given!r}")
        bad = sorted(set(given) - {"trials", "requests", "dollars", "minutes"})
        if bad:
            raise InputError(
                f"budget: unknown key(s) {bad}; expected trials, requests, dollars, minutes"
            )
        out = {}
        for key, value in given.items():
            if value is None:
                continue
            whole = key in ("trials", "requests")
            ok = isinstance(value, int) if whole else isinstance(value, int | float)
            if isinstance(value, bool) or not ok or not math.isfinite(value) or value <= 0:
                kind = "a positive integer" if whole else "a positive number"
                raise InputError(f"budget: {key} must be {kind}, got {value!r}")
            out[key] = value
        return cls(**out)

    def describe(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


@dataclass
class Spent:
    """What a search has used so far (a resumed search starts from the stored amounts)."""

    trials: int = 0
    requests: int = 0
    dollars: float = 0.0
    seconds: float = 0.0
    #: Requests and dollars booked by requests still in flight.
    booked_requests: int = 0
    booked_dollars: float = 0.0

    def describe(self) -> dict[str, Any]:
        return {
            "trials": self.trials,
            "requests": self.requests,
            "dollars": round(self.dollars, 6),
            "seconds": round(self.seconds, 1),
        }


@dataclass
class Meter:
    """Books every request against the budget (a ``evals.runner.RequestMeter``)."""

    budget: Budget
    spent: Spent
    price: Price | None
    max_output_tokens: int | None
    started: float = field(default_factory=time.monotonic)
    already_s: float = 0.0  # seconds used before this process resumed the search
    stopped: str | None = None
    #: Requests kept for the held-out evaluation at the end, unusable by the search.
    held_back: int = 0

    def elapsed_s(self) -> float:
        return self.already_s + time.monotonic() - self.started

    def deadline_in_s(self) -> float | None:
        if self.budget.minutes is None:
            return None
        return self.budget.minutes * 60.0 - self.elapsed_s()

    def room_for_trial(self, min_requests: int) -> str | None:
        """Why no further trial may start (None: one may)."""
        b, s = self.budget, self.spent
        if b.trials is not None and s.trials >= b.trials:
            return f"trial budget reached ({s.trials} of {b.trials} trials)"
        if b.requests is not None and s.requests + min_requests + self.held_back > b.requests:
            kept = f", {self.held_back} kept for the held-out test" if self.held_back else ""
            return (
                f"request budget reached ({s.requests} of {b.requests} used{kept}; a trial "
                f"may need {min_requests})"
            )
        if b.dollars is not None and s.dollars >= b.dollars:
            return f"dollar budget reached (${s.dollars:.4f} of ${b.dollars:g})"
        left = self.deadline_in_s()
        if left is not None and left <= 0:
            return f"time budget reached ({self.elapsed_s() / 60:.1f} of {b.minutes:g} minutes)"
        return None

    def worst_cost(self, payload: Mapping[str, Any], price: Price | None = None) -> float:
        """The most one request can cost: each payload byte an input token (a byte-level
        BPE token is at least one byte), the output cap all output."""
        price = price or self.price
        if price is None:
            return 0.0
        cap = payload.get("max_tokens") or payload.get("max_completion_tokens")
        cap = cap or self.max_output_tokens or UNCAPPED_OUTPUT_TOKENS
        size = len(json.dumps(payload, ensure_ascii=False).encode())
        return (size * (price.input_per_mtok or 0.0) + cap * (price.output_per_mtok or 0.0)) / 1e6

    def reserve(self, payload: dict[str, Any], price: Price | None = None) -> Ticket:
        """Book one request (at ``price``, default the tuned model's), or StopSending."""
        b, s = self.budget, self.spent
        if self.stopped:
            raise StopSending(self.stopped)
        left = self.deadline_in_s()
        if left is not None and left <= 0:
            self.stopped = f"time budget reached ({b.minutes:g} minutes)"
            raise StopSending(self.stopped)
        if (
            b.requests is not None
            and s.requests + s.booked_requests + 1 + self.held_back > b.requests
        ):
            self.stopped = f"request budget reached ({b.requests} requests)"
            raise StopSending(self.stopped)
        price = price or self.price
        cost = self.worst_cost(payload, price)
        if b.dollars is not None and s.dollars + s.booked_dollars + cost > b.dollars:
            self.stopped = (
                f"dollar budget reached (${s.dollars:.4f} spent, the next request may cost "
                f"up to ${cost:.4f}, limit ${b.dollars:g})"
            )
            raise StopSending(self.stopped)
        s.booked_requests += 1
        s.booked_dollars += cost
        return Ticket(cost, price)

    def settle(self, ticket: Ticket, body: dict[str, Any] | None) -> None:
        s = self.spent
        s.booked_requests -= 1
        s.booked_dollars -= ticket.booked
        s.requests += 1
        s.dollars += actual_cost(ticket, body)

    def reserve_block(self, requests: int, dollars: float) -> str | None:
        """Book a whole bench trial at its most (``requests``, ``dollars``) before it starts,
        since the bench engine sends without asking; why it may not start, or None."""
        b, s = self.budget, self.spent
        left = self.deadline_in_s()
        if self.stopped or (left is not None and left <= 0):
            return self.stopped or f"time budget reached ({b.minutes:g} minutes)"
        if b.requests is not None and (
            s.requests + s.booked_requests + requests + self.held_back > b.requests
        ):
            kept = f", {self.held_back} kept for the confirmation" if self.held_back else ""
            return (
                f"request budget reached ({s.requests} of {b.requests} used{kept}; a trial "
                f"sends {requests})"
            )
        if b.dollars is not None and s.dollars + s.booked_dollars + dollars > b.dollars:
            return (
                f"dollar budget reached (${s.dollars:.4f} spent, the next trial may cost up "
                f"to ${dollars:.4f}, limit ${b.dollars:g})"
            )
        s.booked_requests += requests
        s.booked_dollars += dollars
        return None

    def settle_block(self, booked: tuple[int, float], used: tuple[int, float]) -> None:
        """Replace a block's booking by what it used."""
        s = self.spent
        s.booked_requests -= booked[0]
        s.booked_dollars -= booked[1]
        s.requests += used[0]
        s.dollars += used[1]


@dataclass(frozen=True)
class Ticket:
    """One booked request: what it may cost at most, at which price."""

    booked: float
    price: Price | None


def actual_cost(ticket: Ticket, body: dict[str, Any] | None) -> float:
    """What the response's ``usage`` says it cost; the booking when it does not say (a
    failed request may still be billed)."""
    if ticket.price is None:
        return 0.0
    usage = body.get("usage") if isinstance(body, dict) else None
    if not isinstance(usage, dict):
        return ticket.booked
    cost = ticket.price.cost(usage.get("prompt_tokens"), usage.get("completion_tokens"))
    return ticket.booked if cost is None else cost


@dataclass
class PricedMeter:
    """The search's meter for another model's requests (a judge's), at that model's price:
    the same budgets, the same books."""

    meter: Meter
    price: Price | None

    def reserve(self, payload: dict[str, Any]) -> Ticket:
        return self.meter.reserve(payload, self.price)

    def settle(self, ticket: Ticket, body: dict[str, Any] | None) -> None:
        self.meter.settle(ticket, body)
