"""The key vault: local file and hub database backends, rotation, scrubbing, the widget.

Keys here are fake but key-shaped in ways the scrubber's patterns do not know, so a
masked key proves the exact-value registry works, not a regular expression.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import stat
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.fernet import Fernet, InvalidToken
from hub_pg import HubDB, hub_database

from llmbench_jupyter.core import errors, targets
from llmbench_jupyter.core.config import load_config
from llmbench_jupyter.core.errors import LLMBenchError
from llmbench_jupyter.store import Store, keys, open_store
from llmbench_jupyter.store.vault import (
    VAULT_KEYS_ENV,
    HubVault,
    LocalVault,
    VaultError,
    default_vault_dir,
    derive_user_key,
    open_vault,
    rotate_keys,
)


def _fake_key(tag: str = "") -> str:
    """A key no scrubber pattern recognises (so only exact-value masking can hide it)."""
    return f"QzX{tag}{secrets.token_hex(12)}Wv"


@pytest.fixture(autouse=True)
def _no_vault_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(VAULT_KEYS_ENV, raising=False)
    monkeypatch.delenv("LLMBENCH_DB_MIGRATE", raising=False)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# ------------------------------------------------------------------- local vault
def test_local_vault_round_trip_and_file_modes(tmp_path: Path) -> None:
    vault = LocalVault(tmp_path / "v")
    assert vault.get("openai") is None and vault.list() == []
    assert not (tmp_path / "v").exists()  # reading never creates anything
    key = _fake_key()
    vault.set("openai", key)
    assert vault.get("openai") == key
    assert _mode(tmp_path / "v") == 0o700
    assert _mode(tmp_path / "v" / "vault.key") == 0o600
    assert _mode(tmp_path / "v" / "vault.json") == 0o600
    raw = (tmp_path / "v" / "vault.json").read_text()
    assert key not in raw and "openai" in raw  # encrypted at rest
    first = vault.list()
    assert [(r["provider"], r["backend"]) for r in first] == [("openai", "local")]
    assert set(first[0]) == {"provider", "created_at", "updated_at", "backend"}
    key2 = _fake_key()
    vault.set("openai", key2)
    vault.set("groq", _fake_key())
    assert vault.get("openai") == key2
    again = {r["provider"]: r for r in vault.list()}
    assert again["openai"]["created_at"] == first[0]["created_at"]
    assert again["openai"]["updated_at"] >= first[0]["updated_at"]
    assert vault.delete("openai") is True and vault.delete("openai") is False
    assert vault.get("openai") is None and [r["provider"] for r in vault.list()] == ["groq"]
    # Another vault object (another kernel) reads the same file with the same key file.
    assert LocalVault(tmp_path / "v").get("groq") is not None


def test_local_vault_tightens_loose_modes_and_explains_broken_files(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    vault = LocalVault(tmp_path / "v")
    key = _fake_key()
    vault.set("openai", key)
    os.chmod(tmp_path / "v" / "vault.key", 0o644)
    os.chmod(tmp_path / "v" / "vault.json", 0o644)
    with caplog.at_level(logging.DEBUG):
        assert vault.get("openai") == key
    assert _mode(tmp_path / "v" / "vault.key") == 0o600
    assert _mode(tmp_path / "v" / "vault.json") == 0o600
    assert "had mode 0644" in caplog.text and key not in caplog.text
    (tmp_path / "v" / "vault.key").write_bytes(Fernet.generate_key())  # key file replaced
    with pytest.raises(VaultError, match="cannot be decrypted") as err:
        vault.get("openai")
    assert key not in str(err.value)
    (tmp_path / "v" / "vault.key").unlink()
    with pytest.raises(VaultError, match=r"key file .* is missing"):
        vault.get("openai")
    (tmp_path / "v" / "vault.json").write_text("[1, 2]")
    with pytest.raises(VaultError, match="not a vault file"):
        vault.get("openai")


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("", "is empty"),
        ("sk-abc def", "contains whitespace"),
        ("sk-abc\n", "contains whitespace"),
        ("sk-äbc", "not printable ASCII"),
        ("sk-\x00bc", "not printable ASCII"),
        ("k" * 5000, "longer than 4096"),
        (12345, "expected a string, got int"),
    ],
)
def test_bad_keys_get_clear_errors_that_never_echo_them(
    tmp_path: Path, key: object, message: str
) -> None:
    with pytest.raises(VaultError, match=message) as err:
        LocalVault(tmp_path).set("openai", key)  # type: ignore[arg-type]
    text = str(err.value)
    assert "'openai'" in text
    if isinstance(key, str) and key.strip():
        assert key.strip() not in text and "abc" not in text
    assert not (tmp_path / "vault.json").exists()


@pytest.mark.parametrize("provider", ["", "has space", "../etc", "x" * 65, None])
def test_bad_provider_names_are_refused(tmp_path: Path, provider: object) -> None:
    with pytest.raises(VaultError, match="provider name"):
        LocalVault(tmp_path).set(provider, _fake_key())  # type: ignore[arg-type]


# ------------------------------------------------------------------- keys API
def test_keys_api_uses_the_local_vault_and_audits(caplog: pytest.LogCaptureFixture) -> None:
    key = _fake_key()
    with caplog.at_level(logging.DEBUG):
        assert isinstance(keys.vault(), LocalVault)
        keys.set("openai", key)
        assert keys.get("openai") == key
        listed = keys.list()
        assert [r["provider"] for r in listed] == ["openai"]
        keys.delete("openai")
        with pytest.raises(LLMBenchError, match="no stored API key for 'openai'"):
            keys.delete("openai")
    assert keys.get("openai") is None
    assert (default_vault_dir() / "vault.json").exists()
    log = open_store().audit_log()
    assert [(e["action"], e["target"]) for e in log] == [
        ("key.delete", "openai"),
        ("key.set", "openai"),
    ]
    assert key not in json.dumps(log, default=str) and key not in repr(listed)
    assert key not in caplog.text


def test_stored_and_loaded_keys_are_scrubbed_by_exact_value(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    key = _fake_key()
    assert errors.scrub(f"boom {key}") == f"boom {key}"  # no pattern knows this shape
    keys.set("custom-llm", key)
    assert errors.scrub(f"upstream said: bad key {key}!") == "upstream said: bad key [REDACTED]!"
    monkeypatch.setattr(errors, "_REGISTERED", set())  # a fresh process: nothing known yet
    assert key in errors.scrub(key)
    assert keys.get("custom-llm") == key  # loading registers it again
    assert errors.scrub(key) == "[REDACTED]"


def test_stored_key_takes_precedence_over_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(
        textwrap.dedent(
            """
            providers:
              acme:
                api_base: https://api.acme.test/v1
                api_key_env: LLMBENCH_TEST_ACME_KEY
                models: [{id: m1}, {id: m2}]
              local:
                api_base: http://127.0.0.1:8000/v1
                api_key: EMPTY
                models: [{id: m}]
            """
        )
    )
    cfg = load_config(path)
    monkeypatch.setenv("LLMBENCH_TEST_ACME_KEY", "from-env")
    assert {t.api_key for t in targets.from_config(cfg, ["acme"], stored_keys=keys.lookup)} == {
        "from-env"
    }
    stored = _fake_key()
    keys.set("acme", stored)
    resolved = targets.from_config(cfg, ["acme", "local"], stored_keys=keys.lookup)
    assert {t.key: t.api_key for t in resolved} == {
        "acme/m1": stored,
        "acme/m2": stored,
        "local/m": "EMPTY",
    }
    assert stored not in repr(resolved) and stored not in json.dumps(resolved[0].describe())
    keys.delete("acme")
    assert {t.api_key for t in targets.from_config(cfg, ["acme"], stored_keys=keys.lookup)} == {
        "from-env"
    }


def test_derived_user_keys() -> None:
    master = secrets.token_hex(32).encode()  # the hub's secret-file format: hex text
    alice = derive_user_key(master, "alice")
    assert alice == derive_user_key(master, "alice")
    assert alice != derive_user_key(master, "bob")
    assert alice != derive_user_key(secrets.token_hex(32).encode(), "alice")
    Fernet(alice)  # a valid Fernet key
    with pytest.raises(VaultError, match="at least 32 bytes"):
        derive_user_key(b"short", "alice")


def test_vault_env_keys_must_be_fernet_keys(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(VAULT_KEYS_ENV, "not-a-key")
    with pytest.raises(VaultError, match="vault key #1: not a Fernet key") as err:
        HubVault(None, [b"not-a-key"])  # type: ignore[arg-type]
    assert "not-a-key" not in str(err.value)
    # With a SQLite store the local vault is used even if keys are set.
    assert isinstance(open_vault(open_store(f"sqlite:///{tmp_path / 'x.db'}")), LocalVault)


# ------------------------------------------------------------------- the widget
def test_widget_saves_a_key_and_keeps_none_in_its_state() -> None:
    import ipywidgets as w

    from llmbench_jupyter.kernel.keys_widget import KeysWidget

    key = _fake_key()
    form = KeysWidget(["openai", "groq"])
    assert repr(form) == "KeysWidget(providers=2)"
    assert "no stored keys" in form.stored.value
    form.provider.value = "groq"
    form.password.value = key
    form.save_button.click()
    assert keys.get("groq") == key
    assert form.password.value == ""
    assert "saved the key for groq" in form.status.value and "groq" in form.stored.value
    state = json.dumps(w.Widget.get_manager_state(drop_defaults=False), default=str)
    assert key not in state
    # A bad key: error shown, field emptied, key nowhere in the state.
    bad = "two parts " + _fake_key()
    form.password.value = bad
    form.save_button.click()
    assert "contains whitespace" in form.status.value and form.password.value == ""
    assert bad.split()[-1] not in json.dumps(w.Widget.get_manager_state(), default=str)
    form.delete_button.click()
    assert keys.get("groq") is None and "deleted the key for groq" in form.status.value
    form.delete_button.click()
    assert "no stored API key for &#x27;groq&#x27;" in form.status.value


# ------------------------------------------------------------------- hub vault
@dataclass
class Hub:
    db: HubDB
    master: bytes


@pytest.fixture(scope="module")
def hub() -> Iterator[Hub]:
    with hub_database({"alice": False, "bob": False}) as db:
        yield Hub(db, secrets.token_hex(32).encode())


def _hub_vault(hub: Hub, user: str, *masters: bytes) -> HubVault:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LLMBENCH_DB_MIGRATE", "0")
        store = Store(hub.db.urls[user])
    return HubVault(store, [derive_user_key(m, user) for m in masters or (hub.master,)])


@pytest.mark.postgres
def test_keys_api_on_a_hub_uses_the_database(hub: Hub, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMBENCH_DB_URL", hub.db.urls["alice"])
    monkeypatch.setenv("LLMBENCH_DB_MIGRATE", "0")
    monkeypatch.setenv(VAULT_KEYS_ENV, derive_user_key(hub.master, "alice").decode())
    key = _fake_key("A")
    vault = keys.vault()
    assert isinstance(vault, HubVault)
    assert "keys=1" in repr(vault) and hub.db.urls["alice"] not in repr(vault)
    keys.set("openai", key)
    assert keys.get("openai") == key
    assert [(r["provider"], r["backend"]) for r in keys.list()] == [("openai", "hub")]
    with hub.db.connect() as su:
        owner, token = su.execute("SELECT owner, ciphertext FROM api_keys").fetchone()
        actions = su.execute(
            "SELECT owner, action, target, details::text FROM audit_log WHERE action LIKE 'key.%'"
        ).fetchall()
    assert owner == hub.db.role("alice") and key not in token
    assert actions == [(hub.db.role("alice"), "key.set", "openai", '{"backend": "hub"}')]
    assert not (default_vault_dir() / "vault.json").exists()  # nothing written locally
    keys.delete("openai")
    assert keys.get("openai") is None


@pytest.mark.postgres
def test_bob_cannot_read_or_decrypt_alices_key(hub: Hub) -> None:
    alice, bob = _hub_vault(hub, "alice"), _hub_vault(hub, "bob")
    key = _fake_key("B")
    alice.set("anthropic", key)
    try:
        assert bob.get("anthropic") is None and bob.list() == []
        # The superuser copies alice's ciphertext into a row of bob's: it still does not
        # decrypt under bob's derived key.
        with hub.db.connect() as su:
            (token,) = su.execute(
                "SELECT ciphertext FROM api_keys WHERE owner = %s", (hub.db.role("alice"),)
            ).fetchone()
            su.execute(
                "INSERT INTO api_keys VALUES (%s, 'anthropic', %s, now(), now())",
                (hub.db.role("bob"), token),
            )
        with pytest.raises(InvalidToken):
            Fernet(derive_user_key(hub.master, "bob")).decrypt(token.encode())
        with pytest.raises(VaultError, match="cannot be decrypted") as err:
            bob.get("anthropic")
        assert key not in str(err.value) and key not in repr(bob)
        assert alice.get("anthropic") == key
    finally:
        alice.delete("anthropic")
        bob.delete("anthropic")
        alice.store.close()
        bob.store.close()


@pytest.mark.postgres
def test_rotation_re_encrypts_and_old_master_stops_working(hub: Hub) -> None:
    old, new = hub.master, secrets.token_hex(32).encode()
    alice, bob = _hub_vault(hub, "alice", old), _hub_vault(hub, "bob", old)
    ka, kb = _fake_key("C"), _fake_key("D")
    alice.set("openai", ka)
    bob.set("openai", kb)

    def tokens() -> dict[str, str]:
        with hub.db.connect() as su:
            return dict(su.execute("SELECT owner, ciphertext FROM api_keys").fetchall())

    before = tokens()
    with pytest.raises(VaultError, match="nothing changed: 2 key"):
        rotate_keys(hub.db.admin_url, [secrets.token_hex(32).encode()], new)  # wrong old key
    assert tokens() == before
    assert rotate_keys(hub.db.admin_url, [old], new) == 2
    after = tokens()
    assert set(after) == set(before) and all(after[o] != before[o] for o in before)
    # The hub now gives users only their new derived key.
    assert _hub_vault(hub, "alice", new).get("openai") == ka
    assert _hub_vault(hub, "bob", new).get("openai") == kb
    with pytest.raises(VaultError, match="cannot be decrypted"):
        _hub_vault(hub, "alice", old).get("openai")
    # During a transition a server holding both keys (newest first) reads either form.
    assert _hub_vault(hub, "alice", new, old).get("openai") == ka
    with hub.db.connect() as su:
        audit = su.execute(
            "SELECT owner, details::text FROM audit_log WHERE action = 'vault.rotate'"
        ).fetchall()
    assert audit == [("postgres", '{"rows": 2}')]

    # The command-line form takes its secrets from the environment only.
    newer = secrets.token_hex(32).encode()
    env = {
        **os.environ,
        "LLMBENCH_ADMIN_DB_URL": hub.db.admin_url,
        "LLMBENCH_VAULT_MASTER": newer.decode(),
        "LLMBENCH_VAULT_OLD_MASTERS": f"{old.decode()},{new.decode()}",
    }
    done = subprocess.run(
        [sys.executable, "-m", "llmbench_jupyter.store.vault", "rotate"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "re-encrypted 2 stored API key(s) under the new master key"
    assert newer.decode() not in done.stdout + done.stderr
    assert _hub_vault(hub, "bob", newer).get("openai") == kb
    bad = subprocess.run(
        [sys.executable, "-m", "llmbench_jupyter.store.vault", "rotate"],
        # The rows are under `newer`, which is neither the new master nor an old one.
        env={
            **env,
            "LLMBENCH_VAULT_MASTER": secrets.token_hex(32),
            "LLMBENCH_VAULT_OLD_MASTERS": old.decode(),
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 1 and "nothing changed" in bad.stderr
    with hub.db.connect() as su:
        su.execute("DELETE FROM api_keys")
