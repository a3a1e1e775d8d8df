"""Model discovery: the four list shapes from the simulated endpoint over real HTTP, the
config file edited with its comments kept, and endpoints that answer badly."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import web

import llmbench_jupyter as lj
from llmbench_jupyter.cli import main as cli_main
from llmbench_jupyter.core.config import ConfigError, load_config
from llmbench_jupyter.core.discovery import DiscoveryError
from llmbench_jupyter.core.errors import InputError
from llmbench_jupyter.jobs import discovery as disc
from llmbench_jupyter.sim import SimServer

KEY = "sk-discovery-secret-4242"
CONFIG = """# my own config: this comment must survive
providers:
  local-sim:
    kind: openai
    simulated: true
    api_base: http://127.0.0.1:9/v1   # replaced by the running simulator
    api_key: sim
    models:
      - id: sim-fast   # the one I use
        input_cost_per_mtok: 0.1
        output_cost_per_mtok: 0.4
  gone:
    kind: openai
    api_base: {base}
    api_key: {key}
    timeout_s: 2
    models:
      - id: old-model
defaults:
  runs: 2
"""


@pytest.fixture(scope="module")
def sim() -> Iterator[SimServer]:
    srv = SimServer(seed=0).start_in_thread()
    yield srv
    srv.stop_thread()


@pytest.fixture(scope="module")
def hostile() -> Iterator[str]:
    """An endpoint whose /models answers are wrong in every way a real one can be."""

    async def models(request: web.Request) -> web.StreamResponse:
        mode = request.match_info["mode"]
        if mode == "echo401":
            key = request.headers.get("Authorization", "")
            return web.json_response({"error": f"bad key {key}"}, status=401)
        if mode == "html":
            return web.Response(text="<html>not json</html>", content_type="text/html")
        if mode == "shape":
            return web.json_response({"models": "none here"})
        if mode == "together":  # a bare list, some entries without an id
            return web.json_response([{"id": "m-1", "context_length": 4096}, {"name": "x"}, 7])
        if mode == "huge":
            resp = web.StreamResponse()
            await resp.prepare(request)
            for _ in range(10):
                await resp.write(b"[" + b" " * 2**20)
            return resp
        if mode == "slow":
            await asyncio.sleep(5)
        return web.json_response({"data": []})

    app = web.Application()
    app.add_routes([web.get("/{mode}/v1/models", models)])
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app)
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0)
    loop.run_until_complete(site.start())
    port = runner.addresses[0][1]
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)


def write_config(tmp_path: Path, base: str = "http://127.0.0.1:9/ok/v1") -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG.format(base=base, key=KEY))
    return path


@pytest.mark.parametrize("shape", ["openai", "anthropic", "gemini", "ollama"])
def test_every_list_shape_of_the_sim_is_read_and_compared(sim, tmp_path, shape) -> None:  # type: ignore[no-untyped-def]
    path = write_config(tmp_path)
    found = lj.discover_models("local-sim", config=path, shape=shape, sim_url=sim.base_url)
    offered = {"sim-fast", "sim-medium", "sim-slow", "sim-reasoning"}
    assert {m.id for m in found.listing.models} == offered
    assert found.new == ["sim-medium", "sim-slow", "sim-reasoning"]
    df = found.to_pandas()
    assert df.set_index("id").loc["sim-fast", "status"] == "configured"
    if shape == "gemini":  # its token limits; the embedding-only model skipped
        assert found.listing.skipped == 1 and set(df["context_window"]) == {131_072}
    else:
        assert found.listing.skipped == 0


@pytest.mark.parametrize("shape", ["anthropic", "gemini"])
def test_paged_lists_are_followed_to_the_end(sim, tmp_path, shape) -> None:  # type: ignore[no-untyped-def]
    found = asyncio.run(disc.adiscover("local-sim", config=write_config(tmp_path), shape=shape,
                                       sim_url=sim.base_url, page_size=1))  # fmt: skip
    assert len(found.listing.models) == 4 and found.listing.pages >= 4


def test_new_models_are_added_to_the_config_with_its_comments_kept(sim, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = write_config(tmp_path)
    found = lj.discover_models("local-sim", config=path, shape="gemini", sim_url=sim.base_url)
    added = lj.add_models("local-sim", ["sim-medium", "sim-reasoning"], config=path,
                          discovery=found)  # fmt: skip
    assert added == ["sim-medium", "sim-reasoning"]
    text = path.read_text()
    assert "# my own config: this comment must survive" in text
    assert "- id: sim-fast   # the one I use" in text
    assert "# replaced by the running simulator" in text
    loaded = load_config(path)
    models = {m.id: m for m in loaded.provider("local-sim").models}
    assert list(models) == ["sim-fast", "sim-medium", "sim-reasoning"]
    assert models["sim-medium"].context_window == 131_072  # what the list said
    assert models["sim-medium"].max_output_tokens == 8_192
    assert loaded.defaults.runs == 2  # the rest of the file as it was
    # an added model is benchmarked like any configured one
    result = lj.bench(model="sim-medium", config=str(path), runs=1, warmup=0, save=False,
                      sim_url=sim.base_url, display=False).wait(60)  # fmt: skip
    assert [r.status for r in result.records] == ["ok"]
    with pytest.raises(InputError, match="already configured"):
        lj.add_models("local-sim", ["sim-medium"], config=path, discovery=found)
    with pytest.raises(InputError, match="not offered"):
        lj.add_models("local-sim", ["sim-huge"], config=path, discovery=found)


def test_the_config_shipped_in_the_package_is_never_written(sim, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    path = write_config(tmp_path)
    before = path.read_text()
    monkeypatch.setattr(disc, "_PACKAGE_DIR", tmp_path)
    with pytest.raises(ConfigError, match="shipped inside the package"):
        lj.add_models("local-sim", "new", config=path)
    assert path.read_text() == before


def test_the_cli_lists_and_adds_new_models(sim, tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    path = write_config(tmp_path)
    code = cli_main(["models", "discover", "-p", "local-sim", "--config", str(path), "--json"])
    out = capsys.readouterr()
    assert code == 0, out.err
    rows = json.loads(out.out)
    assert {r["id"]: r["status"] for r in rows}["sim-slow"] == "new"
    assert "4 offered, 3 new, 1 configured" in out.err
    code = cli_main(["models", "discover", "-p", "local-sim", "--config", str(path), "--add-new"])
    err = capsys.readouterr().err
    assert code == 0 and "added 3 model(s)" in err, err
    assert [m.id for m in load_config(path).provider("local-sim").models] == [
        "sim-fast", "sim-medium", "sim-slow", "sim-reasoning",
    ]  # fmt: skip


# ------------------------------------------------------------------ bad endpoints
@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ("echo401", "authentication failed (HTTP 401); check the key of provider 'gone'"),
        ("html", "the answer is not JSON"),
        ("shape", "not a openai model list: expected an object with a 'data' list"),
        ("huge", "the model list is over 8 MB"),
        ("slow", "no answer within 2 s"),
        ("missing", "no model list here (HTTP 404)"),
    ],
)
def test_bad_answers_are_clear_errors_without_the_key(hostile, tmp_path, mode, message) -> None:  # type: ignore[no-untyped-def]
    path = write_config(tmp_path, f"{hostile}/{mode}/v1" if mode != "missing" else hostile)
    with pytest.raises(DiscoveryError) as info:
        lj.discover_models("gone", config=path)
    text = str(info.value)
    assert message in text and KEY not in text
    assert text.startswith(f"{hostile}/")  # which URL answered


def test_a_bare_list_is_read_and_entries_without_an_id_are_skipped(hostile, tmp_path) -> None:  # type: ignore[no-untyped-def]
    found = lj.discover_models("gone", config=write_config(tmp_path, f"{hostile}/together/v1"))
    assert [(m.id, m.context_window) for m in found.listing.models] == [("m-1", 4096)]
    assert found.listing.skipped == 2
    by_status = {r["id"]: r["status"] for r in found.rows}
    assert by_status == {"m-1": "new", "old-model": "not offered"}
    assert "1 configured but not offered, 2 entries skipped" in repr(found)


def test_an_empty_or_flow_style_models_list_takes_new_entries(tmp_path: Path) -> None:
    from llmbench_jupyter.core.config._edit import add_models_to_file

    path = tmp_path / "c.yaml"
    path.write_text("providers:\n  p:\n    api_base: http://h/v1\n    models: [a]\n")
    add_models_to_file(path, "p", [{"id": "b: odd", "display_name": "B"}])
    assert [m.id for m in load_config(path).provider("p").models] == ["a", "b: odd"]
    with pytest.raises(ConfigError, match="no provider 'q'"):
        add_models_to_file(path, "q", [{"id": "x"}])
