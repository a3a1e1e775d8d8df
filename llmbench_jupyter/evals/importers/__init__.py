"""Import suites from other formats, and export them back.

BFCL entries and the predecessor app's suite JSON convert both ways without losing
what our model cannot express (it is kept in ``case.source``); an MCP server's tools
(stdio command or streamable-HTTP URL) become a suite's tools.
"""

from llmbench_jupyter.evals.importers._bfcl import (
    BfclImport,
    export_bfcl,
    import_bfcl,
    import_bfcl_entries,
)
from llmbench_jupyter.evals.importers._mcp import import_mcp_tools, list_mcp_tools, suite_from_mcp
from llmbench_jupyter.evals.importers._mcp_source import MCPImportError, describe_mcp_source
from llmbench_jupyter.evals.importers._predecessor import export_predecessor, import_predecessor

__all__ = [
    "BfclImport",
    "MCPImportError",
    "describe_mcp_source",
    "export_bfcl",
    "export_predecessor",
    "import_bfcl",
    "import_bfcl_entries",
    "import_mcp_tools",
    "import_predecessor",
    "list_mcp_tools",
    "suite_from_mcp",
]
