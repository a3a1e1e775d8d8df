"""SQLAlchemy models of the results store.

The ``requests`` columns are named exactly like the fields of
:class:`~llmbench_jupyter.core.records.RequestRecord` so that no layer ever renames a
field (a test asserts the two sets are equal). Every user-owned table carries an
indexed ``owner``: on a hub, PostgreSQL row-level security keys on it (see
``llmbench_jupyter.hub.provision``, which covers every table that has one).

Schema changes go through a new Alembic revision in ``migrations/versions``; a test
checks that these models and the migrations agree.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
    func,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from llmbench_jupyter.store.column_types import UTCDateTime

#: Deterministic constraint and index names, so migrations can refer to them.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Run(Base):
    """One benchmark (or later: eval, tune) run: its spec, provenance and outcome."""

    __tablename__ = "runs"

    run_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner: Mapped[str] = mapped_column(String, index=True)
    kind: Mapped[str] = mapped_column(String, default="bench")
    name: Mapped[str | None] = mapped_column(String)
    status: Mapped[str] = mapped_column(String)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    config_snapshot: Mapped[dict[str, Any]] = mapped_column(JSON)
    versions: Mapped[dict[str, Any]] = mapped_column(JSON)
    host: Mapped[dict[str, Any]] = mapped_column(JSON)
    overhead: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    n_requests: Mapped[int] = mapped_column(default=0)
    n_errors: Mapped[int] = mapped_column(default=0)
    summary: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # eval runs: SuiteScore per target
    # On a hub, a published run (and its child rows) is readable by every user.
    published: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class Request(Base):
    """One request's record, in the narrowest form that reads back exactly.

    What a record holds once per run is not repeated per row: the target, tier and the
    outcome's labels (provider, model, status, finish reason...) are a ``label`` number
    into ``request_labels``. ``started_at`` is integer microseconds (``started_us``) and
    the text only when it would not read back the same from them. The rates (tpot,
    decode, total, prefill) are ``NULL`` with ``rates_derived`` when they are what
    ``core.measure.rates`` gives for the row's counts and times, which the engine's
    records always are. ``chunk_times_ms`` holds ``store.codec`` bytes (integer
    microseconds) and ``itl_ms`` is not stored: it is their gaps. The columns run from
    8-byte to 1-byte to variable width, so PostgreSQL pads none of them.

    ``seq`` (insertion order) is the key: a run's rows sit together, and no index on a
    random text id is kept (it cost ~45 bytes a record). On PostgreSQL not even ``seq``
    is indexed (migration 0009: nothing looks a request up by it, and its unique index
    cost ~25 bytes a record); the primary key here is the mapper's, and SQLite's rowid.
    ``store.records_io`` maps between these rows and ``RequestRecord``.
    """

    __tablename__ = "requests"

    seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), Identity(), primary_key=True
    )
    send_mono_ns: Mapped[int] = mapped_column(BigInteger)
    started_us: Mapped[int | None] = mapped_column(BigInteger)
    scheduled_ms: Mapped[float | None] = mapped_column(Float)
    send_lag_ms: Mapped[float] = mapped_column(Float)
    ttft_ms: Mapped[float | None] = mapped_column(Float)
    ttfat_ms: Mapped[float | None] = mapped_column(Float)
    e2e_ms: Mapped[float | None] = mapped_column(Float)
    tpot_ms: Mapped[float | None] = mapped_column(Float)
    decode_tps: Mapped[float | None] = mapped_column(Float)
    total_tps: Mapped[float | None] = mapped_column(Float)
    prefill_tps: Mapped[float | None] = mapped_column(Float)
    cost_usd: Mapped[float | None] = mapped_column(Float)
    label: Mapped[int] = mapped_column()
    run_index: Mapped[int] = mapped_column()
    n_chunks: Mapped[int] = mapped_column()
    output_tokens: Mapped[int | None] = mapped_column()
    output_tokens_usage: Mapped[int | None] = mapped_column()
    output_tokens_tokenizer: Mapped[int | None] = mapped_column()
    output_tokens_chunks: Mapped[int | None] = mapped_column()
    reasoning_tokens: Mapped[int | None] = mapped_column()
    input_tokens: Mapped[int | None] = mapped_column()
    padding_tokens: Mapped[int | None] = mapped_column()
    http_status: Mapped[int | None] = mapped_column()
    is_warmup: Mapped[bool] = mapped_column(Boolean)
    output_tokens_disagree: Mapped[bool] = mapped_column(Boolean)
    rates_derived: Mapped[bool] = mapped_column(Boolean)
    run_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("runs.run_id", ondelete="CASCADE"), index=True
    )
    # not indexed: row-level security checks the owner of each row found by run
    owner: Mapped[str] = mapped_column(String)
    request_id: Mapped[str] = mapped_column(String(64))
    response_id: Mapped[str | None] = mapped_column(String)
    started_at: Mapped[str | None] = mapped_column(String)  # only when not from started_us
    chunk_times_ms: Mapped[bytes] = mapped_column(LargeBinary)
    chunk_kinds: Mapped[str] = mapped_column(Text)  # store.codec.encode_kinds
    error_message: Mapped[str | None] = mapped_column(Text)
    output_text: Mapped[str | None] = mapped_column(Text)


class RequestLabel(Base):
    """The values a run's records share, once per distinct combination: a request row's
    ``label`` is the number of its combination within its run. A run has a few dozen
    (targets × tiers × outcomes); hostile endpoints inventing finish reasons make more,
    never wrong ones."""

    __tablename__ = "request_labels"

    run_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("runs.run_id", ondelete="CASCADE"), primary_key=True
    )
    label: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    owner: Mapped[str] = mapped_column(String)
    provider: Mapped[str] = mapped_column(String)
    model: Mapped[str] = mapped_column(String)
    api_model: Mapped[str] = mapped_column(String)
    transport: Mapped[str] = mapped_column(String)
    context_tier: Mapped[int] = mapped_column()
    concurrency: Mapped[int] = mapped_column()
    rate_rps: Mapped[float | None] = mapped_column(Float)
    time_origin: Mapped[str] = mapped_column(String)
    tokenizer: Mapped[str | None] = mapped_column(String)
    status: Mapped[str] = mapped_column(String)
    error_category: Mapped[str | None] = mapped_column(String)
    finish_reason: Mapped[str | None] = mapped_column(String)
    output_tokens_source: Mapped[str | None] = mapped_column(String)
    input_tokens_source: Mapped[str | None] = mapped_column(String)
    cost_source: Mapped[str | None] = mapped_column(String)


class RunSummary(Base):
    """What the leaderboard and history need of one run's measured requests to one
    target at one context tier, kept up to date in the same transaction as the records.

    Counts and sums are exact and add up across runs; percentiles across runs come from
    the mergeable sketches (``stats.Sketch``: bucket counts, within ``RELATIVE_ACCURACY``).
    Timing sketches count successful requests only, like ``stats.summarize``; costs follow
    its ``total_cost_usd`` and ``cost_per_1k_output_usd`` definitions.
    """

    __tablename__ = "run_summaries"

    run_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("runs.run_id", ondelete="CASCADE"), primary_key=True
    )
    provider: Mapped[str] = mapped_column(String, primary_key=True)
    model: Mapped[str] = mapped_column(String, primary_key=True)
    context_tier: Mapped[int] = mapped_column(primary_key=True)
    owner: Mapped[str] = mapped_column(String, index=True)
    requests: Mapped[int] = mapped_column(default=0)
    ok: Mapped[int] = mapped_column(default=0)
    errors: Mapped[int] = mapped_column(default=0)
    error_categories: Mapped[dict[str, int]] = mapped_column(JSON)
    total_cost_usd: Mapped[float | None] = mapped_column(Float)  # every known cost
    priced_cost_usd: Mapped[float] = mapped_column(Float, default=0.0)  # ok, cost and tokens
    priced_output_tokens: Mapped[int] = mapped_column(BigInteger, default=0)  # of those
    ttft_ms_sketch: Mapped[bytes | None] = mapped_column(LargeBinary)
    e2e_ms_sketch: Mapped[bytes | None] = mapped_column(LargeBinary)
    tpot_ms_sketch: Mapped[bytes | None] = mapped_column(LargeBinary)
    decode_tps_sketch: Mapped[bytes | None] = mapped_column(LargeBinary)


class JobRow(Base):
    """A background job (bench now; eval and tune later): its state machine, persisted.

    ``pid`` and ``host`` let a later process tell a job whose kernel died (interrupted)
    from one still running elsewhere.
    """

    __tablename__ = "jobs"

    job_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner: Mapped[str] = mapped_column(String, index=True)
    kind: Mapped[str] = mapped_column(String)
    name: Mapped[str | None] = mapped_column(String)
    state: Mapped[str] = mapped_column(String, index=True)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    run_id: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(Text)
    pid: Mapped[int] = mapped_column()
    host: Mapped[str] = mapped_column(String)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    queued_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # mirrored about twice a second by the job's process, for other processes (the panel)
    done: Mapped[int | None] = mapped_column(Integer)
    total: Mapped[int | None] = mapped_column(Integer)
    progress_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # set by another process (the panel); the job's process sees it and cancels the job
    cancel_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class SuiteRow(Base):
    """One version of a tool-calling suite. Saving changed content makes a new version."""

    __tablename__ = "suites"
    __table_args__ = (UniqueConstraint("owner", "name", "version"),)

    suite_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner: Mapped[str] = mapped_column(String, index=True)
    name: Mapped[str] = mapped_column(String)
    version: Mapped[int] = mapped_column()
    content_hash: Mapped[str] = mapped_column(String(64))
    n_cases: Mapped[int] = mapped_column()
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class EvalResult(Base):
    """One attempt of one case by one target in an eval run: verdict, calls and full trace."""

    __tablename__ = "eval_results"

    result_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    run_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("runs.run_id", ondelete="CASCADE"), index=True
    )
    owner: Mapped[str] = mapped_column(String, index=True)
    seq: Mapped[int] = mapped_column()  # completion order within the run
    provider: Mapped[str] = mapped_column(String)
    model: Mapped[str] = mapped_column(String)
    case_id: Mapped[str] = mapped_column(String)
    category: Mapped[str] = mapped_column(String)
    attempt: Mapped[int] = mapped_column()
    passed: Mapped[bool] = mapped_column(Boolean)
    outcome: Mapped[str] = mapped_column(String)
    error_type: Mapped[str | None] = mapped_column(String)
    tool_f1: Mapped[float | None] = mapped_column(Float)
    argument_accuracy: Mapped[float | None] = mapped_column(Float)
    latency_ms: Mapped[float | None] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(Text)
    error_category: Mapped[str | None] = mapped_column(String)  # core.errors categories
    score: Mapped[dict[str, Any]] = mapped_column(JSON)
    calls: Mapped[list[Any]] = mapped_column(JSON)
    transcript: Mapped[list[Any]] = mapped_column(JSON)
    final_state: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class JudgementRow(Base):
    """One judge call: exactly what was sent, what came back, and the parsed verdict."""

    __tablename__ = "judgements"

    judgement_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    run_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("runs.run_id", ondelete="CASCADE"), index=True
    )
    other_run_id: Mapped[str | None] = mapped_column(String(64))  # pairwise: the second run
    owner: Mapped[str] = mapped_column(String, index=True)
    kind: Mapped[str] = mapped_column(String)  # case | pairwise | report
    judge: Mapped[str] = mapped_column(String)
    case_id: Mapped[str | None] = mapped_column(String)
    status: Mapped[str] = mapped_column(String)
    messages: Mapped[list[Any]] = mapped_column(JSON)
    raw_output: Mapped[str | None] = mapped_column(Text)
    parsed: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    latency_ms: Mapped[float | None] = mapped_column(Float)
    subject: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class AuditRow(Base):
    """One security-relevant action (key set/deleted, run published...) by ``owner``.

    On a hub the database stamps ``created_at`` (users may not write that column) and
    users may add and read their own entries but never change or delete any.
    """

    __tablename__ = "audit_log"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # uuid4 hex: no shared counter
    owner: Mapped[str] = mapped_column(String, index=True)  # the actor
    action: Mapped[str] = mapped_column(String)
    target: Mapped[str | None] = mapped_column(String)
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), server_default=func.now(), index=True
    )


class ApiKeyRow(Base):
    """A provider API key of ``owner``, encrypted by the key vault (never stored in clear)."""

    __tablename__ = "api_keys"

    owner: Mapped[str] = mapped_column(String, primary_key=True)
    provider: Mapped[str] = mapped_column(String, primary_key=True)
    ciphertext: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class TuneStudy(Base):
    """One parameter or prompt tuning search: what it optimises and how far it got.

    ``spec`` is whatever the tuner needs to resume the search after an interruption;
    the store keeps it opaque (redacted like a run's spec). Its trials are in
    ``tune_trials``.
    """

    __tablename__ = "tune_studies"
    __table_args__ = (Index("ix_tune_studies_owner_name", "owner", "name"),)

    study_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner: Mapped[str] = mapped_column(String, index=True)
    name: Mapped[str] = mapped_column(String)
    kind: Mapped[str] = mapped_column(String)  # params | prompt
    target: Mapped[str] = mapped_column(String)  # "provider/model"
    suite: Mapped[str | None] = mapped_column(String)
    directions: Mapped[list[str]] = mapped_column(JSON)  # maximize | minimize, per objective
    objectives: Mapped[list[str]] = mapped_column(JSON)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String)
    stop_reason: Mapped[str | None] = mapped_column(Text)
    spent: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class TuneTrial(Base):
    """One trial of a study: the parameters (or prompt) tried and what they scored.

    Enough of Optuna's trial is kept (``params``, ``distributions``, ``system_attrs``,
    ``intermediate``) to rebuild it when a search resumes. ``intermediate`` maps the
    step (as a string: JSON keys are strings) to its reported value.
    """

    __tablename__ = "tune_trials"

    study_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("tune_studies.study_id", ondelete="CASCADE"), primary_key=True
    )
    number: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    # not indexed: row-level security checks the owner of each row found by study
    owner: Mapped[str] = mapped_column(String)
    state: Mapped[str] = mapped_column(String)  # running | complete | pruned | fail
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    distributions: Mapped[dict[str, Any]] = mapped_column(JSON)
    system_attrs: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    values: Mapped[list[float] | None] = mapped_column(JSON)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    case_scores: Mapped[dict[str, float]] = mapped_column(JSON, default=dict)
    intermediate: Mapped[dict[str, float]] = mapped_column(JSON, default=dict)
    planned_requests: Mapped[int] = mapped_column(default=0)
    n_requests: Mapped[int] = mapped_column(default=0)
    cost_usd: Mapped[float] = mapped_column(Float, default=0.0)
    prompt: Mapped[str | None] = mapped_column(Text)
    prompt_parent: Mapped[int | None] = mapped_column()  # the trial whose prompt it varies
    prompt_origin: Mapped[str | None] = mapped_column(String)
    resolved: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # registry decisions
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ModelProfile(Base):
    """The best request parameters and system prompt found for a model, saved by name.

    Each owner has their own namespace of names (the key is ``(owner, name)``); bench,
    evaluate and tune apply a profile by name. ``params`` maps canonical parameter names
    to values; ``source`` says where the profile came from (a study and trial, a verdict).
    """

    __tablename__ = "model_profiles"

    owner: Mapped[str] = mapped_column(String, primary_key=True, index=True)
    name: Mapped[str] = mapped_column(String, primary_key=True)
    target: Mapped[str] = mapped_column(String)  # "provider/model"
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    system_prompt: Mapped[str | None] = mapped_column(Text)
    source: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ScheduleRow(Base):
    """A benchmark or eval that runs on its cron expression (``jobs.scheduler``).

    ``running_since`` is the lock: set while a firing runs, so a second scheduler (or a
    second firing) never overlaps it. ``next_due_at`` is when it fires next.
    """

    __tablename__ = "schedules"

    owner: Mapped[str] = mapped_column(String, primary_key=True, index=True)
    name: Mapped[str] = mapped_column(String, primary_key=True)
    kind: Mapped[str] = mapped_column(String)  # bench | eval
    options: Mapped[dict[str, Any]] = mapped_column(JSON)
    cron: Mapped[str] = mapped_column(String)
    timezone: Mapped[str] = mapped_column(String)
    missed: Mapped[str] = mapped_column(String)  # skip | catch_up
    enabled: Mapped[bool] = mapped_column(Boolean)
    next_due_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    running_since: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_fired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_run_id: Mapped[str | None] = mapped_column(String(64))
    last_status: Mapped[str | None] = mapped_column(String)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


#: Column names of ``runs`` in table order: the keys of every run dict.
RUN_COLUMNS: tuple[str, ...] = tuple(c.name for c in Run.__table__.columns)
#: Column names of ``run_summaries``.
SUMMARY_COLUMNS: tuple[str, ...] = tuple(c.name for c in RunSummary.__table__.columns)
#: Column names of ``jobs``: the keys of every job dict.
JOB_COLUMNS: tuple[str, ...] = tuple(c.name for c in JobRow.__table__.columns)
#: Column names of ``eval_results``: the keys of every eval result dict and DataFrame.
EVAL_RESULT_COLUMNS: tuple[str, ...] = tuple(c.name for c in EvalResult.__table__.columns)
#: Column names of ``judgements``.
JUDGEMENT_COLUMNS: tuple[str, ...] = tuple(c.name for c in JudgementRow.__table__.columns)
#: Column names of ``suites``.
SUITE_COLUMNS: tuple[str, ...] = tuple(c.name for c in SuiteRow.__table__.columns)
#: Column names of ``audit_log``: the keys of every audit entry dict.
AUDIT_COLUMNS: tuple[str, ...] = tuple(c.name for c in AuditRow.__table__.columns)

#: Column names of ``tune_studies``: the keys of every study dict.
STUDY_COLUMNS: tuple[str, ...] = tuple(c.name for c in TuneStudy.__table__.columns)
#: Column names of ``tune_trials``: the keys of every trial dict.
TRIAL_COLUMNS: tuple[str, ...] = tuple(c.name for c in TuneTrial.__table__.columns)
#: Column names of ``model_profiles``: the keys of every profile dict.
PROFILE_COLUMNS: tuple[str, ...] = tuple(c.name for c in ModelProfile.__table__.columns)

# Experiments live in their own module (this one would pass 500 lines); importing them
# here registers their tables in Base.metadata wherever the models are loaded.
from llmbench_jupyter.store.experiment_models import ExperimentRow as ExperimentRow  # noqa: E402
from llmbench_jupyter.store.experiment_models import (  # noqa: E402
    ExperimentRunRow as ExperimentRunRow,
)
from llmbench_jupyter.store.experiment_models import (  # noqa: E402
    ExperimentStudyRow as ExperimentStudyRow,
)
