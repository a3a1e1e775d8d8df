"""Experiment tables: a named set of its owner's runs and tuning searches, one run the
baseline. Names are per owner, like profiles: an experiment's key is ``(owner, name)``."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, ForeignKeyConstraint, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from llmbench_jupyter.store.column_types import UTCDateTime
from llmbench_jupyter.store.models import Base


class ExperimentRow(Base):
    """A named experiment: a set of its owner's runs, one of them the baseline.

    Names are per owner, like profiles: the key is ``(owner, name)``.
    """

    __tablename__ = "experiments"

    owner: Mapped[str] = mapped_column(String, primary_key=True, index=True)
    name: Mapped[str] = mapped_column(String, primary_key=True)
    description: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ExperimentRunRow(Base):
    """A run in an experiment (at most one per experiment is its ``baseline``)."""

    __tablename__ = "experiment_runs"
    __table_args__ = (
        ForeignKeyConstraint(
            ["owner", "experiment"], ["experiments.owner", "experiments.name"],
            ondelete="CASCADE",
        ),
    )  # fmt: skip

    owner: Mapped[str] = mapped_column(String, primary_key=True)
    experiment: Mapped[str] = mapped_column(String, primary_key=True)
    run_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("runs.run_id", ondelete="CASCADE"), primary_key=True, index=True
    )
    baseline: Mapped[bool] = mapped_column(Boolean, default=False)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ExperimentStudyRow(Base):
    """A tuning search in an experiment: listed with its best trial, never its baseline
    (a search's trials are not one run's requests or cases)."""

    __tablename__ = "experiment_studies"
    __table_args__ = (
        ForeignKeyConstraint(
            ["owner", "experiment"], ["experiments.owner", "experiments.name"],
            ondelete="CASCADE",
        ),
    )  # fmt: skip

    owner: Mapped[str] = mapped_column(String, primary_key=True)
    experiment: Mapped[str] = mapped_column(String, primary_key=True)
    study_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("tune_studies.study_id", ondelete="CASCADE"), primary_key=True,
        index=True,
    )  # fmt: skip
    added_at: Mapped[datetime] = mapped_column(UTCDateTime())
