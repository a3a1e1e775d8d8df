"""What a judge call produces: one ``Judgement``, a ``PairVerdict``, a ``PairwiseReport``.

Each keeps the exact messages sent and the raw reply beside the validated verdict, for
the caller to store and for anyone to audit; ``JudgeError`` is a request refused before
anything is sent.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from llmbench_jupyter.core.errors import LLMBenchError

JUDGE_KINDS = ("case", "pairwise", "report")
JUDGE_STATUSES = ("ok", "invalid", "api_error")


class JudgeError(LLMBenchError, ValueError):
    """A judge request we refuse before sending anything: says what, where and what was expected."""


@dataclass
class Judgement:
    """One judge call: what was sent, what came back, and the validated verdict (if any)."""

    kind: str  # "case" | "pairwise" | "report"
    judge: str  # judge target key "provider/model"
    case_id: str | None
    status: str  # one of JUDGE_STATUSES
    messages: list[dict[str, Any]]  # exactly what was sent
    raw_output: str | None
    parsed: dict[str, Any] | None  # validated verdict; None unless status == "ok"
    error: str | None
    latency_ms: float | None
    subject: dict[str, Any] = field(default_factory=dict)
    usage: dict[str, Any] | None = None  # the judge's token usage, when the server reports it

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class PairVerdict:
    """One case compared in both orders; ``winner`` is in terms of runs, not positions."""

    case_id: str
    forward: Judgement  # first run shown as A
    backward: Judgement  # first run shown as B
    winner: str  # "first" | "second" | "tie" | "invalid"
    consistent: bool | None  # None when either side is invalid/api_error

    def to_dict(self) -> dict[str, Any]:
        return {
            "case_id": self.case_id,
            "winner": self.winner,
            "consistent": self.consistent,
            "forward": self.forward.to_dict(),
            "backward": self.backward.to_dict(),
        }


@dataclass
class PairwiseReport:
    """Every pair's verdict and the summary (counts, win rate, position consistency, unpaired)."""

    verdicts: list[PairVerdict]
    summary: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"verdicts": [v.to_dict() for v in self.verdicts], "summary": self.summary}
