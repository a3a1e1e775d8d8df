"""The architecture holds: the layer contract, the public API, one error hierarchy, file sizes.

The contract itself lives in pyproject.toml ([tool.importlinter]); docs/architecture.md
explains it. These tests run it, prove that it catches an upward import hidden inside a
function, and keep the public surface to the curated set.
"""

from __future__ import annotations

import inspect
import os
import pkgutil
import shutil
import subprocess
import sys
from importlib import import_module
from pathlib import Path

import pytest

import llmbench_jupyter as lj
from llmbench_jupyter.core.errors import LLMBenchError

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "llmbench_jupyter"
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"

#: Files allowed over MAX_LINES, each with its reason (migrations are exempt as a class:
#: they are history, never edited).
MAX_LINES = 500
LONG_FILE_EXCEPTIONS: dict[str, str] = {}


def _lint_imports(cwd: Path, pythonpath: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(pythonpath)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_layer_contract_holds() -> None:
    out = _lint_imports(ROOT, ROOT)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Contracts: 2 kept, 0 broken." in out.stdout


@pytest.mark.parametrize(
    ("module", "upward", "expected"),
    [
        # the engine opening the store: the core must not know the store exists
        ("core/records.py", "llmbench_jupyter.store", "llmbench_jupyter.core.records ->"),
        # one surface importing another
        ("kernel/magics.py", "llmbench_jupyter.cli", "llmbench_jupyter.kernel.magics ->"),
    ],
)
def test_contract_catches_an_upward_import_inside_a_function(
    tmp_path: Path, module: str, upward: str, expected: str
) -> None:
    copy = tmp_path / "src"
    shutil.copytree(
        PACKAGE, copy / "llmbench_jupyter", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy(ROOT / "pyproject.toml", copy / "pyproject.toml")
    target = copy / "llmbench_jupyter" / module
    target.write_text(
        target.read_text() + f"\n\ndef _sneaky() -> None:\n    import {upward}  # noqa\n"
    )
    out = _lint_imports(copy, copy)
    assert out.returncode == 1, out.stdout + out.stderr
    assert "BROKEN" in out.stdout and expected in out.stdout, out.stdout
    assert f"{upward} (l." in out.stdout or upward in out.stdout.split(expected, 1)[1]


#: Directories of generated or third-party files (and migrations: history, never edited).
BUILT = frozenset({"node_modules", "migrations", "coverage", "_labextension"})


def _source_files() -> list[Path]:
    found: list[Path] = []
    for base, patterns in (
        (PACKAGE, ("*.py", "*.js", "*.css")),
        (ROOT / "tests", ("*.py",)),
        (ROOT / "benchmarks", ("*.py",)),
        (ROOT / "hub_config", ("*.py",)),
        (ROOT / "labextension", ("*.ts", "*.tsx", "*.js", "*.css")),
    ):
        for pattern in patterns:
            found += [
                p
                for p in base.rglob(pattern)
                if not BUILT.intersection(p.parts) and "lib" not in p.relative_to(base).parts[:1]
            ]
    return found


def test_no_source_file_over_500_lines() -> None:
    over = {
        str(p.relative_to(ROOT)): n
        for p in _source_files()
        if (n := len(p.read_text().splitlines())) > MAX_LINES
    }
    unexplained = {p: n for p, n in over.items() if p not in LONG_FILE_EXCEPTIONS}
    assert unexplained == {}, f"files over {MAX_LINES} lines: {unexplained}"
    stale = set(LONG_FILE_EXCEPTIONS) - set(over)
    assert not stale, f"listed as long but no longer are: {stale}"


PUBLIC = {
    "bench",
    "evaluate",
    "target",
    "selftest",
    "BenchSpec",
    "arun",
    "load_config",
    "load",
    "history",
    "leaderboard",
    "publish",
    "audit_log",
    "load_eval",
    "eval_history",
    "export_html",
    "load_suite",
    "keys",
    "tune",
    "tune_prompts",
    "load_tune",
    "sweep",
    "slo_search",
    "load_sweep",
    "save_profile",
    "load_profile",
    "profiles",
    "delete_profile",
    "discover_models",
    "add_models",
    "check_connection",
    "onboarding",
    "calibrate_judge",
    "trends",
    "changes",
    "plot",
    "experiment",
    "import_results",
    "compare_runs",
    "experiment_widget",
    "schedule",
}


def test_public_api_is_the_curated_set() -> None:
    names = set(lj.__all__) - {"__version__"}
    errors = {n for n in names if n.endswith("Error") or n == "RequestFailed"}
    assert names - errors == PUBLIC
    for name in lj.__all__:
        assert getattr(lj, name) is not None, name
    assert callable(lj.keys.set) and callable(lj.keys.list)
    with pytest.raises(AttributeError, match="has no attribute 'run'"):
        _ = lj.run  # type: ignore[attr-defined]
    assert (PACKAGE / "py.typed").is_file()


def test_evals_exports_its_public_functions() -> None:
    from llmbench_jupyter import evals

    assert set(evals.__all__) == {
        "import_bfcl",
        "load_suite",
        "dump_suite",
        "parse_tool_calls",
        "score_case",
        "score_suite",
    }
    for name in evals.__all__:
        assert callable(getattr(evals, name)), name


def _all_exception_classes() -> dict[str, type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for info in pkgutil.walk_packages([str(PACKAGE)], "llmbench_jupyter."):
        if ".migrations" in info.name or info.name.endswith("__main__"):
            continue
        module = import_module(info.name)
        for name, obj in vars(module).items():
            if (
                inspect.isclass(obj)
                and issubclass(obj, BaseException)
                and obj.__module__ == info.name
            ):
                found[f"{info.name}.{name}"] = obj
    return found


#: Exceptions that never reach a user: control flow inside one module.
INTERNAL_EXCEPTIONS = {
    "llmbench_jupyter.sim.engine.RequestError": "the simulated endpoint turns it into an "
    "HTTP error response right where it is raised",
    "llmbench_jupyter.kernel.magics._HelpShown": "`-h` printed the help; caught by the "
    "magic that raised it",
    "llmbench_jupyter.store.evals_repo._VersionTaken": "a concurrent save took a suite "
    "version; save_suite catches it and reads again",
    "llmbench_jupyter.evals.runner.StopSending": "a tuner's budget stops a case before a "
    "request; the trial runner catches it and ends the trial",
}


def test_one_error_hierarchy_importable_from_the_top_level() -> None:
    classes = _all_exception_classes()
    public = {k: v for k, v in classes.items() if k not in INTERNAL_EXCEPTIONS}
    assert public, "no exception classes found"
    for qualname, cls in public.items():
        assert issubclass(cls, LLMBenchError), f"{qualname} is not an LLMBenchError"
        assert getattr(lj, cls.__name__, None) is cls, f"{qualname} not exported by lj"


def test_user_input_errors_are_never_bare_type_or_value_errors() -> None:
    from llmbench_jupyter.core.padding import build_prompt
    from llmbench_jupyter.evals import parse_tool_calls

    with pytest.raises(lj.InputError):
        parse_tool_calls(42)  # type: ignore[arg-type]
    with pytest.raises(lj.InputError):
        build_prompt("x", -1, None, None)  # type: ignore[arg-type]
