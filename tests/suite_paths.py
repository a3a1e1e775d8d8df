"""Where the suite tests find the shipped example suite, its sim rules and fixtures."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "llmbench_jupyter" / "evals" / "data"
EXAMPLE = DATA / "example_suite.yaml"
RULES = DATA / "example_sim_rules.yaml"
FIXTURES = Path(__file__).parent / "fixtures"
# CI lays shared/ beside the clone; a session's checkout sits beside it too (/work/shared)
_SHARED_CANDIDATES = [
    REPO.parent / "shared" / "data" / "predecessor_suite_example.json",
    Path("/work/shared/data/predecessor_suite_example.json"),
]
SHARED_EXAMPLE = next((p for p in _SHARED_CANDIDATES if p.exists()), _SHARED_CANDIDATES[0])
