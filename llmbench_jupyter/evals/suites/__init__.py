"""Load, validate, save and hash tool-calling suites (YAML or JSON).

Validation is strict because a typo in a suite silently changes verdicts; every error
(:class:`SuiteError`) names the file, the key path, what was found and what was
expected. The shipped example suite lives in ``evals/data``.
"""

from llmbench_jupyter.evals.suites._errors import SuiteError
from llmbench_jupyter.evals.suites._files import (
    EXAMPLES,
    dump_suite,
    example_files,
    load_suite,
    read_data_file,
    suite_hash,
)
from llmbench_jupyter.evals.suites._schemas import check_tools

__all__ = [
    "EXAMPLES",
    "SuiteError",
    "check_tools",
    "dump_suite",
    "example_files",
    "load_suite",
    "read_data_file",
    "suite_hash",
]
