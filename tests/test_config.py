"""Config loading: the shipped file, strict validation, precise errors, path resolution."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from llmbench_jupyter.core.config import ConfigError, default_config_path, load_config
from llmbench_jupyter.core.config import _loader as config_mod

REPO_CONFIG = Path(__file__).resolve().parent.parent / "config.yaml"
SECRET = "sk-proj-THISISASECRETVALUE1234567890abcd"

REQUIRED_PROVIDERS = {
    "openai",
    "anthropic",
    "gemini",
    "groq",
    "deepseek",
    "mistral",
    "xai",
    "openrouter",
    "together",
    "vllm",
    "lmstudio",
    "ollama",
    "local-sim",
}

MINIMAL = """
providers:
  p:
    api_base: http://127.0.0.1:9/v1
    models:
      - id: m
"""


def write(tmp_path: Path, text: str, name: str = "config.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def error_of(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text))
    return str(info.value)


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LLMBENCH_CONFIG", raising=False)


# ------------------------------------------------------------------ the shipped config


def test_shipped_config_loads_with_every_required_provider() -> None:
    cfg = load_config(REPO_CONFIG)
    assert set(cfg.providers) >= REQUIRED_PROVIDERS
    assert any(p.kind == "litellm" for p in cfg.providers.values())
    for name, prov in cfg.providers.items():
        assert len(prov.models) >= 1, name
        assert prov.api_base or prov.kind == "litellm", name
    assert cfg.source == str(REPO_CONFIG)
    assert cfg.defaults.max_tokens == 256
    assert cfg.defaults.temperature == 0
    assert cfg.defaults.context_tiers == [0]
    assert (cfg.defaults.runs, cfg.defaults.warmup) == (3, 1)


def test_shipped_config_details() -> None:
    cfg = load_config(REPO_CONFIG)
    sim = cfg.provider("local-sim")
    assert sim.simulated and sim.kind == "openai" and sim.api_key == "sim"
    assert [m.id for m in sim.models] == ["sim-fast", "sim-medium", "sim-slow", "sim-reasoning"]
    assert all(m.context_window == 131072 and m.input_cost_per_mtok for m in sim.models)
    assert cfg.provider("openai").api_key_env == "OPENAI_API_KEY"
    assert cfg.provider("anthropic").kind == "anthropic"
    assert cfg.provider("vllm").api_key == "EMPTY"
    assert cfg.provider("ollama").api_key == "ollama"
    # some OpenAI reasoning model skips temperature
    assert any("temperature" in m.skip_params for m in cfg.provider("openai").models)
    assert {"short", "long_answer", "code", "summarize"} <= set(cfg.defaults.prompts)
    # no real-looking key anywhere in the shipped file
    text = REPO_CONFIG.read_text()
    assert "sk-" not in text and "AIza" not in text


def test_snapshot_has_no_api_key_values(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = write(
        tmp_path,
        f"""
        providers:
          a:
            api_base: https://example.com/v1
            api_key: {SECRET}
            api_key_env: SOME_KEY
            extra_headers: {{Authorization: "Bearer {SECRET}", X-Title: bench}}
            models: [{{id: m}}]
    """,
    )
    snap = load_config(path).snapshot()
    dumped = json.dumps(snap)
    assert SECRET not in dumped
    assert "api_key" not in snap["providers"]["a"]
    assert snap["providers"]["a"]["api_key_env"] == "SOME_KEY"
    # every header value is masked, whatever its name: any header may carry a credential
    assert snap["providers"]["a"]["extra_headers"] == {
        "Authorization": "[REDACTED]",
        "X-Title": "[REDACTED]",
    }
    assert snap["source"] == str(path)

    shipped = load_config(REPO_CONFIG).snapshot()
    for prov in shipped["providers"].values():
        assert "api_key" not in prov
    assert '"EMPTY"' not in json.dumps(shipped)


def test_api_key_resolution(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    cfg = load_config(
        write(
            tmp_path,
            """
        providers:
          env:
            api_base: https://example.com/v1
            api_key_env: LLMBENCH_TEST_KEY
            model_id_prefix: "acct/"
            models: [{id: m}]
          inline:
            api_base: http://127.0.0.1:8000/v1
            api_key: EMPTY
            api_key_env: LLMBENCH_TEST_KEY
            models: [{id: m}]
    """,
        )
    )
    monkeypatch.delenv("LLMBENCH_TEST_KEY", raising=False)
    assert cfg.provider("env").resolve_api_key() is None
    monkeypatch.setenv("LLMBENCH_TEST_KEY", "k-123")
    assert cfg.provider("env").resolve_api_key() == "k-123"
    assert cfg.provider("inline").resolve_api_key() == "EMPTY"
    env = cfg.provider("env")
    assert env.api_model(env.models[0]) == "acct/m"


# ------------------------------------------------------------------ malformed configs


def test_yaml_syntax_error_has_line_and_column(tmp_path: Path) -> None:
    msg = error_of(tmp_path, "providers:\n  a:\n    models: [\n  b: 1\n")
    assert "config.yaml" in msg and "line" in msg and "column" in msg
    assert "Traceback" not in msg


def test_yaml_syntax_error_position_is_right(tmp_path: Path) -> None:
    msg = error_of(tmp_path, "defaults:\n  max_tokens: 5\n  prompt: a: b\n")
    assert "line 3" in msg


def test_duplicate_yaml_key_is_an_error(tmp_path: Path) -> None:
    msg = error_of(tmp_path, MINIMAL + "  p:\n    models: [{id: x}]\n")
    assert "duplicate key 'p'" in msg and "line" in msg


def test_unknown_keys_are_errors_with_suggestions(tmp_path: Path) -> None:
    msg = error_of(
        tmp_path,
        """
        defaults:
          max_token: 10
        providers:
          p:
            api_base: http://127.0.0.1:9/v1
            modles: []
            models:
              - id: m
                context_windw: 5
    """,
    )
    lines = msg.splitlines()
    assert any("defaults.max_token: unknown key" in ln and "max_tokens" in ln for ln in lines)
    assert any("providers.p.modles: unknown key" in ln and "models" in ln for ln in lines)
    assert any("providers.p.models[0].context_windw: unknown key" in ln for ln in lines)
    assert len(lines) == 3  # every problem reported at once


def test_wrong_types_are_precise(tmp_path: Path) -> None:
    msg = error_of(
        tmp_path,
        """
        defaults:
          temperature: 3
          max_tokens: 0
          context_tiers: [0, -1, "8k"]
          runs: "3"
        providers:
          openai:
            kind: openia
            api_base: api.openai.com
            models:
              - id: a
              - id: b
              - id: c
                context_window: abc
                input_cost_per_mtok: -1
    """,
    )
    expected = [
        'providers.openai.models[2].context_window (model "c"): found "abc" (str), '
        "expected a positive integer",
        'providers.openai.models[2].input_cost_per_mtok (model "c"): found -1 (int)',
        'providers.openai.kind: found "openia" (str), expected one of',
        'providers.openai.api_base: found "api.openai.com" (str), expected an http(s) URL',
        "defaults.temperature: found 3 (int), expected a number between 0 and 2",
        "defaults.max_tokens: found 0 (int), expected a positive integer",
        "defaults.context_tiers[1]: found -1 (int)",
        'defaults.context_tiers[2]: found "8k" (str)',
        'defaults.runs: found "3" (str), expected a positive integer',
    ]
    for part in expected:
        assert part in msg, part
    assert all(line.startswith(str(tmp_path)) for line in msg.splitlines())


def test_duplicate_model_ids(tmp_path: Path) -> None:
    msg = error_of(
        tmp_path,
        """
        providers:
          p:
            api_base: http://127.0.0.1:9/v1
            models: [{id: m}, {id: n}, {id: m}]
    """,
    )
    assert 'providers.p.models[2].id: found duplicate id "m" (also models[0])' in msg


def test_missing_and_empty_values(tmp_path: Path) -> None:
    msg = error_of(
        tmp_path,
        """
        providers:
          p:
            api_base: http://127.0.0.1:9/v1
            models: [{display_name: x}, {id: ""}]
          q:
            api_base: http://127.0.0.1:9/v1
    """,
    )
    assert "providers.p.models[0].id: missing" in msg
    assert "providers.p.models[1].id" in msg
    assert "providers.q.models: missing" in msg


def test_api_key_value_never_in_error_text(tmp_path: Path) -> None:
    msg = error_of(
        tmp_path,
        f"""
        providers:
          p:
            api_base: http://127.0.0.1:9/v1
            api_key: [{SECRET}]
            apikey: {SECRET}
            extra_headers: {{Authorization: [{SECRET}]}}
            models:
              - id: m
                api_key: {SECRET}
          q: {SECRET}
    """,
    )
    assert SECRET not in msg
    assert "providers.p.api_key" in msg and "providers.p.apikey: unknown key" in msg
    assert "providers.p.models[0].api_key: unknown key" in msg


def test_empty_file_and_non_mapping(tmp_path: Path) -> None:
    assert "empty" in error_of(tmp_path, "")
    assert "expected a mapping" in error_of(tmp_path, "- a\n- b\n")


def test_litellm_model_only_for_litellm_kind(tmp_path: Path) -> None:
    msg = error_of(tmp_path, MINIMAL + "        litellm_model: bedrock/x\n")
    assert "litellm_model" in msg and "kind is 'litellm'" in msg
    ok = load_config(
        write(
            tmp_path,
            """
        providers:
          br:
            kind: litellm
            model_id_prefix: "bedrock/"
            models: [{id: a}, {id: b, litellm_model: "vertex_ai/b"}]
    """,
            "ok.yaml",
        )
    )
    br = ok.provider("br")
    assert br.api_model(br.models[0]) == "bedrock/a"
    assert br.api_model(br.models[1]) == "vertex_ai/b"


# ------------------------------------------------------------------ lookups and prompts


def test_unknown_provider_and_model_suggest_close_names() -> None:
    cfg = load_config(REPO_CONFIG)
    with pytest.raises(ConfigError) as info:
        cfg.provider("opneai")
    assert "did you mean 'openai'" in str(info.value) and "anthropic" in str(info.value)
    with pytest.raises(ConfigError) as info:
        cfg.model("local-sim", "sim-fats")
    assert "did you mean 'sim-fast'" in str(info.value)
    assert cfg.model("local-sim", "sim-slow").display_name == "Sim Slow"


def test_prompt_templates(tmp_path: Path) -> None:
    cfg = load_config(
        write(
            tmp_path,
            MINIMAL
            + """
defaults:
  prompt: "plain {not_a_placeholder"
  prompts:
    code: 'Write {language} code for {task}. Return JSON like {{"ok": true}} or {"x": 1}.'
""",
        )
    )
    assert cfg.prompt() == "plain {not_a_placeholder"
    text = cfg.prompt("code", language="Rust", task="sorting")
    assert text.startswith("Write Rust code for sorting.")
    assert '{"ok": true}' in text and '{"x": 1}' in text
    with pytest.raises(ConfigError, match="needs values for: task"):
        cfg.prompt("code", language="Rust")
    with pytest.raises(ConfigError, match="did you mean 'code'"):
        cfg.prompt("cod")


def test_shipped_prompts_fill() -> None:
    cfg = load_config(REPO_CONFIG)
    assert cfg.prompt("short")
    assert "Python" in cfg.prompt("code", language="Python", task="reverses a list")


# ------------------------------------------------------------------ path resolution


def test_path_resolution_order(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    explicit = write(tmp_path, MINIMAL, "explicit.yaml")
    env_file = write(tmp_path, MINIMAL, "env.yaml")
    cwd = tmp_path / "work"
    cwd.mkdir()
    local = write(cwd, MINIMAL)
    pkg = tmp_path / "pkg" / "llmbench_jupyter"
    pkg.mkdir(parents=True)
    monkeypatch.setattr(config_mod, "_PKG_DIR", pkg)
    monkeypatch.chdir(cwd)

    monkeypatch.setenv("LLMBENCH_CONFIG", str(env_file))
    assert default_config_path(explicit) == explicit
    assert default_config_path() == env_file
    assert load_config().source == str(env_file)

    monkeypatch.delenv("LLMBENCH_CONFIG")
    assert default_config_path() == cwd / "config.yaml" == local

    local.unlink()
    repo_root = write(pkg.parent, MINIMAL)  # editable install: next to the package
    assert default_config_path() == repo_root
    packaged = write(pkg, MINIMAL)  # wheel: inside the package, preferred
    assert default_config_path() == packaged

    packaged.unlink()
    repo_root.unlink()
    with pytest.raises(ConfigError) as info:
        default_config_path()
    assert str(cwd / "config.yaml") in str(info.value)
    assert str(pkg / "config.yaml") in str(info.value)


def test_missing_explicit_or_env_path_is_an_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")
    monkeypatch.setenv("LLMBENCH_CONFIG", str(tmp_path / "gone.yaml"))
    with pytest.raises(ConfigError, match="LLMBENCH_CONFIG"):
        load_config()


def test_default_resolution_finds_the_repo_config(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)  # no ./config.yaml here
    assert default_config_path().resolve() == REPO_CONFIG


def test_non_string_names_are_reported(tmp_path: Path) -> None:
    msg = error_of(
        tmp_path,
        """
        providers:
          1:
            models: [{id: 2}]
    """,
    )
    assert "providers: found key 1 (int), expected a string name" in msg
