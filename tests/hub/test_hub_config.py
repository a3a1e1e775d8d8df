"""The hub's configuration pieces on their own: limits, secret files, authenticator
settings, the PostgreSQL safety check, and the Helm values (which cannot run here)."""

from __future__ import annotations

import os
import stat
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml
from pg_admin import PG_ADMIN_URL
from traitlets.config import Config

from llmbench_jupyter.hub.auth import (
    ADD_USER_CMD,
    HubAuthConfigError,
    LocalNativeAuthenticator,
    authenticator_class,
    configure_auth,
)
from llmbench_jupyter.hub.deploy import HubSetupError, ensure_databases, require_passwords
from llmbench_jupyter.hub.secret_files import (
    SecretFileError,
    read_lines,
    read_or_create,
    read_secret,
    secret_dir,
)
from llmbench_jupyter.hub.spawn import (
    HubConfigError,
    SpawnGlue,
    SpawnSettings,
    load_limits,
    resolve_limits,
)

REPO = Path(__file__).resolve().parents[2]

LIMITS = {
    "default": {"max_jobs": 2, "max_requests_per_hour": 100},
    "groups": {"staff": {"max_jobs": 4}, "power": {"max_jobs": 8, "max_requests_per_hour": 900}},
    "users": {"carol": {"max_requests_per_hour": 5}},
}


# ------------------------------------------------------------------ limits
@pytest.mark.parametrize(
    ("user", "groups", "expected"),
    [
        ("dave", [], {"max_jobs": 2, "max_requests_per_hour": 100}),  # default
        ("dave", ["staff"], {"max_jobs": 4, "max_requests_per_hour": 100}),  # group + default
        # the most generous group
        ("dave", ["staff", "power"], {"max_jobs": 8, "max_requests_per_hour": 900}),
        ("carol", ["power"], {"max_jobs": 8, "max_requests_per_hour": 5}),  # own entry wins
        ("dave", ["unknown-group"], {"max_jobs": 2, "max_requests_per_hour": 100}),
    ],
)
def test_limits_resolve_user_then_groups_then_default(user, groups, expected) -> None:
    assert resolve_limits(LIMITS, user, groups) == expected


def test_limits_fall_back_to_builtin_values() -> None:
    assert resolve_limits({}, "x") == {"max_jobs": 2, "max_requests_per_hour": 1000}
    assert resolve_limits({"default": {"max_jobs": 7}}, "x") == {
        "max_jobs": 7,
        "max_requests_per_hour": 1000,
    }


@pytest.mark.parametrize(
    ("limits", "message"),
    [
        ({"defaults": {}}, "unknown section(s) defaults"),
        ({"default": {"max_job": 1}}, "hub limits: default: unknown limit 'max_job'"),
        ({"users": {"bob": {"max_jobs": 0}}}, "hub limits: users.bob.max_jobs: found 0"),
        ({"groups": {"g": {"max_jobs": True}}}, "groups.g.max_jobs: found True"),
        ({"groups": {"g": {"max_requests_per_hour": "9"}}}, "found '9', expected an integer"),
        ({"users": ["bob"]}, "users must map names to limits"),
    ],
)
def test_bad_limits_are_refused_with_where_and_what(limits, message) -> None:
    with pytest.raises(HubConfigError) as info:
        resolve_limits(limits, "bob")
    assert message in str(info.value)


def test_limits_file_errors_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "limits.yaml"
    with pytest.raises(HubConfigError, match=r"limits.yaml: No such file"):
        load_limits(path)
    path.write_text("default: {max_jobs: [\n")
    with pytest.raises(HubConfigError, match="not valid YAML"):
        load_limits(path)
    path.write_text("- max_jobs: 1\n")
    with pytest.raises(HubConfigError, match="expected a mapping at the top"):
        load_limits(path)
    path.write_text("users: {eve: {max_jobs: 4}}\n")
    assert resolve_limits(load_limits(path), "eve")["max_jobs"] == 4


def test_spawn_glue_checks_limits_when_built(tmp_path: Path) -> None:
    with pytest.raises(HubConfigError, match="unknown limit 'jobs'"):
        SpawnGlue(SpawnSettings("postgresql://x", tmp_path, {"default": {"jobs": 1}}))


# ------------------------------------------------------------------ secret files
def test_secrets_are_created_once_private_and_distinct(tmp_path: Path) -> None:
    directory = secret_dir(tmp_path / "state")
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    first = read_or_create(directory, "hmac_secret")
    assert read_or_create(directory, "hmac_secret") == first  # stable across restarts
    assert len(first) == 64 and int(first, 16) >= 0  # 32 random bytes, hex
    assert read_or_create(directory, "other") != first
    assert stat.S_IMODE((directory / "hmac_secret").stat().st_mode) == 0o600


def test_master_keys_file_lists_newest_first(tmp_path: Path) -> None:
    directory = secret_dir(tmp_path / "state")
    (directory / "keys").write_text("new\n\nold\n")
    (directory / "keys").chmod(0o600)
    assert read_lines(directory, "keys") == [b"new", b"old"]


def test_readable_secret_dir_or_file_is_refused(tmp_path: Path) -> None:
    open_dir = tmp_path / "open"
    open_dir.mkdir(mode=0o755)
    open_dir.chmod(0o755)
    with pytest.raises(SecretFileError, match="mode 0755, expected 0700"):
        secret_dir(open_dir)
    directory = secret_dir(tmp_path / "state")
    leaked = directory / "hmac_secret"
    leaked.write_text("abc\n")
    leaked.chmod(0o644)
    with pytest.raises(SecretFileError, match="mode 0644, expected 0600") as info:
        read_or_create(directory, "hmac_secret")
    assert "abc" not in str(info.value)
    with pytest.raises(SecretFileError, match="missing"):
        read_secret(directory / "nothing")


# ------------------------------------------------------------------ authentication
def test_native_is_the_default_and_others_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LLMBENCH_HUB_AUTH", raising=False)
    assert authenticator_class() == "llmbench_jupyter.hub.auth.LocalNativeAuthenticator"
    assert authenticator_class("GitHub") == "oauthenticator.github.LocalGitHubOAuthenticator"
    assert authenticator_class("generic") == "oauthenticator.generic.LocalGenericOAuthenticator"
    with pytest.raises(HubAuthConfigError, match="expected one of native, github, generic"):
        authenticator_class("ldap")


def test_native_config_approval_accounts_and_private_homes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("LLMBENCH_HUB_AUTH", raising=False)
    c = Config()
    assert configure_auth(c, admin="alice") == "native"
    assert c.JupyterHub.authenticator_class == "llmbench_jupyter.hub.auth.LocalNativeAuthenticator"
    assert c.Authenticator.admin_users == {"alice"}
    assert (c.NativeAuthenticator.enable_signup, c.NativeAuthenticator.open_signup) == (True, False)
    assert c.LocalAuthenticator.create_system_users is True
    assert c.LocalAuthenticator.add_user_cmd == ADD_USER_CMD
    assert "HOME_MODE=0700" in ADD_USER_CMD
    # LocalAuthenticator's add_user (creates the account) runs before NativeAuthenticator's.
    mro = [k.__name__ for k in LocalNativeAuthenticator.__mro__]
    assert mro.index("LocalAuthenticator") < mro.index("NativeAuthenticator")


def test_oauth_needs_to_know_who_may_log_in(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LLMBENCH_HUB_ALLOWED_USERS", raising=False)
    monkeypatch.delenv("LLMBENCH_HUB_GITHUB_ORGS", raising=False)
    with pytest.raises(HubAuthConfigError, match="set LLMBENCH_HUB_ALLOWED_USERS"):
        configure_auth(Config(), admin="alice", choice="github")
    monkeypatch.setenv("LLMBENCH_HUB_GITHUB_ORGS", "my-org")
    c = Config()
    configure_auth(c, admin="alice", choice="github")
    assert c.GitHubOAuthenticator.allowed_organizations == {"my-org"}
    assert c.JupyterHub.authenticator_class == "oauthenticator.github.LocalGitHubOAuthenticator"
    monkeypatch.setenv("LLMBENCH_HUB_ALLOWED_USERS", "bob, carol")
    c = Config()
    configure_auth(c, admin=None, choice="generic")
    assert c.Authenticator.allowed_users == {"bob", "carol"}


def test_admin_name_must_be_a_safe_account_name() -> None:
    with pytest.raises(HubAuthConfigError, match="LLMBENCH_HUB_ADMIN='Root; rm'"):
        configure_auth(Config(), admin="Root; rm")


# ------------------------------------------------------------------ PostgreSQL safety
@pytest.mark.postgres
def test_a_server_that_trusts_everyone_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LLMBENCH_HUB_ALLOW_TRUST", raising=False)
    url = sa.engine.make_url(PG_ADMIN_URL).set(password="not-checked")
    with_password = url.render_as_string(hide_password=False)
    with pytest.raises(HubSetupError, match="has no password"):
        require_passwords(PG_ADMIN_URL)
    bare = sa.create_engine(PG_ADMIN_URL)
    try:
        with bare.connect():
            trusting = True  # these machines' own server: every local login is trusted
    except sa.exc.OperationalError:
        trusting = False
    finally:
        bare.dispose()
    if not trusting:  # a server that asks for passwords passes the check
        require_passwords(with_password)
        return
    with pytest.raises(HubSetupError, match="WITHOUT a password") as info:
        require_passwords(with_password)
    assert "not-checked" not in str(info.value)
    monkeypatch.setenv("LLMBENCH_HUB_ALLOW_TRUST", "1")
    require_passwords(with_password)  # allowed, with a warning


@pytest.mark.postgres
def test_hub_database_is_closed_to_other_roles() -> None:
    tag = uuid.uuid4().hex[:10]
    hub_db, store_db, probe = f"lb_hub_{tag}", f"lb_store_{tag}", f"lb_probe_{tag}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        ensure_databases(PG_ADMIN_URL, [hub_db, store_db], private=(hub_db,))
        ensure_databases(PG_ADMIN_URL, [hub_db, store_db], private=(hub_db,))  # idempotent
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE ROLE "{probe}" NOLOGIN'))
            can = conn.execute(
                sa.text(
                    "SELECT has_database_privilege(:r, :h, 'CONNECT'), "
                    "has_database_privilege(:r, :s, 'CONNECT')"
                ),
                {"r": probe, "h": hub_db, "s": store_db},
            ).one()
        assert tuple(can) == (False, True)
    finally:
        with admin.connect() as conn:
            for db in (hub_db, store_db):
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))
            conn.execute(sa.text(f'DROP ROLE IF EXISTS "{probe}"'))
        admin.dispose()


# ------------------------------------------------------------------ deployment files
def test_helm_values_parse_and_wire_the_same_hook() -> None:
    values = yaml.safe_load((REPO / "hub_config" / "helm" / "values.yaml").read_text())
    hub = values["hub"]
    assert hub["db"]["type"] == "postgres"
    assert hub["db"]["url"].startswith("postgresql+psycopg://")
    assert hub["db"]["url"].endswith("/jupyterhub")
    code = hub["extraConfig"]["llmbench"]
    compile(code, "hub.extraConfig.llmbench", "exec")  # valid Python
    assert "c.Spawner.pre_spawn_hook = glue.pre_spawn_hook" in code
    assert "glue.start()" in code
    assert values["singleuser"]["cmd"] == "jupyterhub-singleuser"
    assert values["singleuser"]["image"]["name"]
    assert values["hub"]["config"]["JupyterHub"]["authenticator_class"] == "native"


def test_single_machine_config_compiles_and_binds_loopback() -> None:
    source = (REPO / "hub_config" / "jupyterhub_config.py").read_text()
    compile(source, "jupyterhub_config.py", "exec")
    assert 'env("LLMBENCH_HUB_IP", "127.0.0.1")' in source
    limits = yaml.safe_load((REPO / "hub_config" / "limits.yaml").read_text())
    assert resolve_limits(limits, "anyone") == {"max_jobs": 2, "max_requests_per_hour": 1000}
    assert os.access(REPO / "hub_config" / "install.sh", os.R_OK)
