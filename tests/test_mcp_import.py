"""MCP import against a real SDK server over stdio and streamable HTTP, and its errors.

The demo server (tests/fixtures/mcp_demo_server.py) runs as a subprocess; listings the
SDK refuses to send come from the same file's hand-written JSON-RPC mode. HTTP failures
are produced by real sockets: a closed port, a listener that never answers, a plain
web server, and the demo server's header check.
"""

from __future__ import annotations

import asyncio
import http.server
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from llmbench_jupyter.core.errors import REDACTED, LLMBenchError
from llmbench_jupyter.evals.importers import (
    MCPImportError,
    describe_mcp_source,
    import_mcp_tools,
    list_mcp_tools,
    suite_from_mcp,
)
from llmbench_jupyter.evals.model import Case, ExpectedCall, ParamMatcher
from llmbench_jupyter.evals.suites import SuiteError, check_tools, dump_suite, load_suite

DEMO = Path(__file__).parent / "fixtures" / "mcp_demo_server.py"
# Test-only value for the demo server's header check (not a credential anywhere).
TOKEN = "demo-header-value-5f1c9a"
HEADERS = {"X-Demo-Token": TOKEN}


def demo_cmd(*extra: str) -> list[str]:
    return [sys.executable, str(DEMO), "stdio", *extra]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def tools_by_name(tools: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {t["function"]["name"]: t["function"] for t in tools}


@pytest.fixture(scope="module")
def stdio_tools() -> list[dict[str, Any]]:
    return import_mcp_tools(demo_cmd(), timeout_s=60)


@pytest.fixture(scope="module", autouse=True)
def demo_http() -> Iterator[tuple[subprocess.Popen[bytes], int, Any]]:
    """The demo server over streamable HTTP on a free port; needs the X-Demo-Token header.

    Started when the module starts so it boots while the stdio tests run.
    """
    port = free_port()
    with tempfile.TemporaryFile() as errlog:
        proc = subprocess.Popen(
            [
                sys.executable,
                str(DEMO),
                "http",
                "--port",
                str(port),
                "--require-header",
                f"X-Demo-Token={TOKEN}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=errlog,
        )
        try:
            yield proc, port, errlog
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture(scope="module")
def http_url(demo_http: tuple[subprocess.Popen[bytes], int, Any]) -> str:
    """The demo server's URL, once it accepts connections."""
    proc, port, errlog = demo_http
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            errlog.seek(0)
            pytest.fail(f"demo MCP server exited: {errlog.read().decode()[-2000:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return f"http://127.0.0.1:{port}/mcp"
        except OSError:
            if time.monotonic() > deadline:
                pytest.fail("demo MCP server did not accept connections within 60 s")
            time.sleep(0.05)


class _HtmlHandler(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = b"<html><body>a blog</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def html_site() -> Iterator[str]:
    """A plain web server (not MCP) answering every request with an HTML page."""
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _HtmlHandler)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}/mcp"
    srv.shutdown()
    srv.server_close()


# --- conversion ----------------------------------------------------------------------------
def test_stdio_import_converts_names_descriptions_and_schemas(
    stdio_tools: list[dict[str, Any]],
) -> None:
    assert [t["type"] for t in stdio_tools] == ["function"] * 3
    fns = tools_by_name(stdio_tools)
    assert list(fns) == ["search_flights", "schedule_meeting", "count_words"]
    # only OpenAI's keys: MCP title/annotations would be sent verbatim to providers
    assert all(set(fn) == {"name", "description", "parameters"} for fn in fns.values())
    assert fns["search_flights"]["description"] == "Search flights between two airports."
    assert fns["schedule_meeting"]["description"] == "Book a meeting for a list of attendees."
    assert fns["count_words"]["description"] == ""

    flights = fns["search_flights"]["parameters"]
    assert flights["type"] == "object"
    assert flights["required"] == ["origin", "destination"]
    props = flights["properties"]
    assert {k: v["type"] for k, v in props.items()} == {
        "origin": "string",
        "destination": "string",
        "max_stops": "integer",
        "cabin": "string",
    }
    assert props["max_stops"]["default"] == 1
    assert props["cabin"]["enum"] == ["economy", "premium", "business"]
    assert props["cabin"]["default"] == "economy"

    meeting = fns["schedule_meeting"]["parameters"]
    assert meeting["required"] == ["title", "slot", "attendees"]
    assert meeting["properties"]["attendees"]["type"] == "array"
    assert meeting["properties"]["attendees"]["items"] == {"type": "string"}
    # the nested object stays as the server wrote it: a local $ref into $defs
    assert meeting["properties"]["slot"] == {"$ref": "#/$defs/Slot"}
    slot = meeting["$defs"]["Slot"]
    assert slot["type"] == "object"
    assert slot["required"] == ["date", "hour"]
    assert slot["properties"]["date"]["type"] == "string"
    assert (slot["properties"]["hour"]["minimum"], slot["properties"]["hour"]["maximum"]) == (0, 23)

    words = fns["count_words"]["parameters"]
    assert words["required"] == ["text"]
    assert words["properties"]["ignore_case"] == {
        "default": True,
        "title": "Ignore Case",
        "type": "boolean",
    }
    assert sorted(check_tools(stdio_tools, "imported")) == sorted(fns)


def test_http_import_yields_the_same_tools_as_stdio(
    http_url: str, stdio_tools: list[dict[str, Any]]
) -> None:
    assert import_mcp_tools(http_url, headers=HEADERS) == stdio_tools


def test_async_api_and_sync_wrapper_inside_a_running_loop(
    http_url: str, stdio_tools: list[dict[str, Any]]
) -> None:
    async def in_a_notebook_cell() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        awaited = await list_mcp_tools(http_url, headers=HEADERS, timeout_s=30)
        # a blocking call while this thread's loop runs (what a kernel cell does)
        blocking = import_mcp_tools(http_url, headers=HEADERS)
        return awaited, blocking

    awaited, blocking = asyncio.run(in_a_notebook_cell())
    assert awaited == stdio_tools
    assert blocking == stdio_tools


def test_minimal_listing_gets_defaults_and_valid_names(tmp_path: Path) -> None:
    tools = import_mcp_tools(
        demo_cmd("--variant", "minimal"), env={"MCP_DEMO_EXTRA_TOOL": "from_env"}, cwd=tmp_path
    )
    assert tools.pop()["function"]["name"] == "from_env"
    assert tools == [
        {
            "type": "function",
            "function": {
                "name": "ping",
                "description": "",
                "parameters": {"type": "object", "properties": {}},
            },
        },
        {
            "type": "function",
            "function": {
                "name": "files_read",  # MCP allows dots, OpenAI does not
                "description": "Read a file.",
                "parameters": {"type": "object", "properties": {"path": {"type": "string"}}},
            },
        },
    ]


# --- suites --------------------------------------------------------------------------------
def test_suite_from_mcp_round_trips_with_and_without_cases(
    http_url: str, stdio_tools: list[dict[str, Any]], tmp_path: Path
) -> None:
    empty = suite_from_mcp(http_url, headers=HEADERS)
    assert empty.name == "llmbench-demo"
    assert empty.cases == []
    assert empty.tools == stdio_tools
    assert empty.description == f"Tools imported from MCP server 'llmbench-demo' ({http_url})."
    assert load_suite(dump_suite(empty, tmp_path / "empty.yaml")).to_dict() == empty.to_dict()

    case = {
        "id": "flight-1",
        "prompt": "Find a business-class flight from SFO to JFK.",
        "expected": [
            {
                "name": "search_flights",
                "params": {"origin": "SFO", "destination": "JFK", "cabin": "business"},
            }
        ],
    }
    suite = suite_from_mcp(http_url, name="flights", cases=[case], headers=HEADERS, timeout_s=60)
    assert suite.name == "flights"
    assert [c.id for c in suite.cases] == ["flight-1"]
    call = suite.cases[0].expected[0]
    assert call.name == "search_flights"
    assert call.params["cabin"] == ParamMatcher(kind="exact", value="business")

    suite.cases.append(
        Case(
            id="meeting-1",
            messages=[{"role": "user", "content": "Book standup on 2025-03-14 at 9 with Ann."}],
            expected=[
                ExpectedCall(
                    name="schedule_meeting",
                    params={
                        "slot": ParamMatcher(value={"date": "2025-03-14", "hour": 9}),
                        "attendees": ParamMatcher(kind="unordered", value=["Ann"]),
                    },
                    allow_extra_params=True,
                )
            ],
        )
    )
    for fmt in ("json", "yaml"):
        path = dump_suite(suite, tmp_path / f"suite.{fmt}")
        loaded = load_suite(path)
        assert loaded.to_dict() == suite.to_dict()
        assert [c.id for c in loaded.cases] == ["flight-1", "meeting-1"]


def test_suite_from_mcp_validates_cases_against_imported_tools(http_url: str) -> None:
    bad = {"id": "x", "prompt": "hi", "expected": [{"name": "book_hotel"}]}
    with pytest.raises(SuiteError, match=r"unknown tool 'book_hotel'.*'search_flights'"):
        suite_from_mcp(http_url, headers=HEADERS, cases=[bad])


# --- errors from servers -------------------------------------------------------------------
def _secret_free(message: str, *secrets: str) -> None:
    for s in secrets:
        assert s not in message


def test_command_not_found_masks_secret_flags() -> None:
    key = "sk-test-0123456789abcdefghij"
    with pytest.raises(MCPImportError) as err:
        import_mcp_tools(f"no-such-mcp-server-4d2 --api-key {key} --port 9")
    msg = str(err.value)
    assert msg == (
        f"MCP server command no-such-mcp-server-4d2 --api-key '{REDACTED}' --port 9: "
        "cannot start 'no-such-mcp-server-4d2': command not found; expected an executable "
        "on PATH or a path to one"
    )
    assert isinstance(err.value, LLMBenchError)
    assert err.value.__cause__ is None and err.value.__suppress_context__


def test_server_that_exits_reports_its_stderr() -> None:
    code = "import sys; print('not json'); print('cannot read config.toml', file=sys.stderr)"
    with pytest.raises(MCPImportError) as err:
        import_mcp_tools([sys.executable, "-c", code + "; sys.exit(3)"])
    msg = str(err.value)
    assert "the server closed the connection before listing its tools" in msg
    assert "expected an MCP server speaking over stdin/stdout" in msg
    assert msg.endswith("--- server stderr (last lines) ---\ncannot read config.toml")
    assert "Traceback" not in msg


def test_silent_stdio_server_times_out() -> None:
    with pytest.raises(MCPImportError) as err:
        import_mcp_tools([sys.executable, "-c", "import sys; sys.stdin.read()"], timeout_s=1)
    assert "timed out after 1 s waiting to connect, complete the MCP handshake" in str(err.value)


@pytest.mark.parametrize(
    ("variant", "expected"),
    [
        (
            "duplicates",
            "lists tool 'search_flights' twice (tools[0] and tools[3]); expected unique tool names",
        ),
        (
            "clash",
            "tools 'files.read' and 'files_read' both become 'files_read' once made a valid "
            "function name",
        ),
        (
            "bad-schema",
            "its tools/list reply does not follow the MCP schema: tools[2].inputSchema.type: "
            "Input should be 'object' (found 'string'); expected each tool's inputSchema to be "
            "a JSON Schema with type 'object'",
        ),
        (
            "no-schema",
            "its tools/list reply does not follow the MCP schema: tools[2].inputSchema: "
            "Field required (tool 'echo_text')",
        ),
    ],
)
def test_bad_listings_are_rejected_with_the_tool_named(variant: str, expected: str) -> None:
    with pytest.raises(MCPImportError) as err:
        import_mcp_tools(demo_cmd("--variant", variant), timeout_s=60)
    msg = str(err.value)
    assert msg.startswith(f"MCP server command {sys.executable} ")
    assert expected in msg


def test_refused_connection_masks_url_and_header_secrets() -> None:
    port = free_port()
    url = f"https://ann-user-x1:pw-91b7e2@127.0.0.1:{port}/mcp?api_key=q-77d1e0&region=eu"
    with pytest.raises(MCPImportError) as err:
        import_mcp_tools(
            url.replace("https", "http", 1), headers={"Authorization": "Bearer zz-4f0"}
        )
    msg = str(err.value)
    assert msg.startswith(
        f"MCP server http://{REDACTED}@127.0.0.1:{port}/mcp?api_key={REDACTED}&region={REDACTED}"
        ": cannot connect ("
    )
    assert msg.endswith("is the server running at this address?")
    _secret_free(msg, "ann-user-x1", "pw-91b7e2", "q-77d1e0", "zz-4f0")
    assert describe_mcp_source(url) == (
        f"https://{REDACTED}@127.0.0.1:{port}/mcp?api_key={REDACTED}&region={REDACTED}"
    )


def test_missing_or_wrong_credentials_name_the_status_not_the_header(http_url: str) -> None:
    with pytest.raises(MCPImportError) as err:
        import_mcp_tools(http_url)
    assert str(err.value) == (
        f"MCP server {http_url}: answered HTTP 401: the server wants credentials: "
        "pass them with headers={...}"
    )
    wrong = "wrong-value-3e8a11"
    with pytest.raises(MCPImportError) as err:
        import_mcp_tools(http_url, headers={"X-Demo-Token": wrong})
    assert "answered HTTP 401" in str(err.value)
    _secret_free(str(err.value), wrong)


def test_web_page_is_not_an_mcp_server(html_site: str) -> None:
    with pytest.raises(MCPImportError) as err:
        import_mcp_tools(html_site)
    assert str(err.value) == (
        f"MCP server {html_site}: is not an MCP server: unexpected content type: text/html; "
        "expected a streamable-HTTP MCP endpoint (usually ending in /mcp)"
    )


def test_wrong_path_on_an_mcp_server(http_url: str) -> None:
    url = http_url.replace("/mcp", "/api")
    with pytest.raises(MCPImportError) as err:
        import_mcp_tools(url, headers=HEADERS)
    assert str(err.value) == (
        f"MCP server {url}: answered HTTP 404 (text/plain; charset=utf-8): nothing is "
        "served at this path; "
        "expected a streamable-HTTP MCP endpoint (usually ending in /mcp)"
    )


def test_http_server_that_never_answers_times_out() -> None:
    with socket.socket() as listener:  # accepts TCP connections, never replies
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/mcp"
        with pytest.raises(MCPImportError) as err:
            import_mcp_tools(url, timeout_s=1)
    assert str(err.value) == (
        f"MCP server {url}: timed out after 1 s waiting to connect, complete the MCP "
        "handshake and list its tools; expected an answer"
    )


# --- bad sources ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("source", "kw", "expected"),
    [
        ("ftp://example.org/mcp", {}, "unsupported URL scheme 'ftp'; expected an http(s) URL"),
        ("http:///mcp", {}, "the URL has no host"),
        ("   ", {}, "the command is empty"),
        ([], {}, "the command is empty"),
        ("python 'server.py", {}, "cannot split the command (No closing quotation)"),
        (["python", 3], {}, "argv items must be strings, found 3"),
        (42, {}, "found int, expected an http(s) URL, a command string or an argv list"),
        ("python s.py", {"headers": {"A": "b"}}, "'headers' apply to http(s) URLs only"),
        ("http://127.0.0.1:1/mcp", {"env": {"A": "b"}}, "'env' and 'cwd' apply to stdio"),
        ("python s.py", {"cwd": "/no/such/dir-7c"}, "working directory '/no/such/dir-7c'"),
        ("python s.py", {"timeout_s": 0}, "timeout_s=0; expected seconds > 0"),
    ],
)
def test_bad_sources_and_options(source: Any, kw: dict[str, Any], expected: str) -> None:
    with pytest.raises(MCPImportError) as err:
        import_mcp_tools(source, **kw)
    assert expected in str(err.value)


def test_env_values_never_appear_in_errors() -> None:
    secret = "env-secret-value-81ac"
    with pytest.raises(MCPImportError) as err:
        import_mcp_tools(["no-such-mcp-server-4d2", secret], env={"TOKEN": secret})
    assert REDACTED in str(err.value)
    _secret_free(str(err.value), secret)


def test_importing_the_module_does_not_load_the_sdk() -> None:
    code = (
        "import sys, json, llmbench_jupyter.evals.importers; "
        "print(json.dumps(sorted(m.split('.')[0] for m in sys.modules)))"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    loaded = set(json.loads(out.stdout))
    assert {"mcp", "httpx2", "anyio", "pydantic"}.isdisjoint(loaded)
