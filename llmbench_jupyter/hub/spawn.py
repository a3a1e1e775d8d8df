"""What the hub does around each user's server: provision, environment, limits, privacy.

At hub start, :meth:`SpawnGlue.start` migrates the store and sets up its roles and
row-level security once (``provision.setup_database``). Before each spawn,
:meth:`SpawnGlue.pre_spawn_hook` makes sure the user has a database role of their own,
and gives the server only what belongs to that user: their store URL (their role, their
password), their derived vault key, their limits. Kernels never migrate the schema.

Secrets come from the hub's secret directory (see ``secret_files``) and go only into the
spawned process's environment, which other users cannot read (``/proc/PID/environ`` is
private to the process owner). The spawner runs each server with umask 077, so files a
user creates outside their 0700 home (``/tmp``) are private too.
"""

from __future__ import annotations

import asyncio
import os
import pwd
import stat
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jupyterhub.spawner import LocalProcessSpawner, set_user_setuid

from llmbench_jupyter.core.errors import LLMBenchError
from llmbench_jupyter.hub.secret_files import (
    HMAC_SECRET,
    VAULT_MASTER_KEYS,
    read_lines,
    read_or_create,
    secret_dir,
)

#: Limit name in the hub config -> environment variable the user's server reads.
LIMIT_ENV = {
    "max_jobs": "LLMBENCH_MAX_JOBS",
    "max_requests_per_hour": "LLMBENCH_MAX_REQUESTS_PER_HOUR",
}
#: Used for any limit the mapping's ``default`` section leaves out.
BUILTIN_LIMITS = {"max_jobs": 2, "max_requests_per_hour": 1000}


class HubConfigError(LLMBenchError):
    """The hub's llmbench settings (limits, secrets, home directories) are invalid."""


def load_limits(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and check a limits YAML file (see ``hub_config/limits.yaml``)."""
    import yaml

    try:
        data = yaml.safe_load(Path(path).read_text()) or {}
    except OSError as exc:
        raise HubConfigError(f"hub limits file {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise HubConfigError(f"hub limits file {path}: not valid YAML ({exc})") from None
    if not isinstance(data, Mapping):
        raise HubConfigError(f"hub limits file {path}: expected a mapping at the top")
    return check_limits(data)


def check_limits(limits: Mapping[str, Any] | None) -> dict[str, Any]:
    """Validate a limits mapping: ``{default: {...}, groups: {g: {...}}, users: {u: {...}}}``.

    Each inner mapping may set any of :data:`LIMIT_ENV`'s names to an integer >= 1.
    """
    limits = dict(limits or {})
    unknown = sorted(set(limits) - {"default", "groups", "users"})
    if unknown:
        raise HubConfigError(
            f"hub limits: unknown section(s) {', '.join(unknown)}; expected default, groups, users"
        )
    _check_section(limits.get("default") or {}, "hub limits: default")
    for kind in ("groups", "users"):
        section = limits.get(kind) or {}
        if not isinstance(section, Mapping):
            raise HubConfigError(f"hub limits: {kind} must map names to limits, found {section!r}")
        for name, values in section.items():
            _check_section(values or {}, f"hub limits: {kind}.{name}")
    return limits


def _check_section(values: Any, where: str) -> None:
    if not isinstance(values, Mapping):
        raise HubConfigError(f"{where}: expected a mapping of limits, found {values!r}")
    for key, value in values.items():
        if key not in LIMIT_ENV:
            raise HubConfigError(f"{where}: unknown limit {key!r}; expected {', '.join(LIMIT_ENV)}")
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise HubConfigError(f"{where}.{key}: found {value!r}, expected an integer >= 1")


def resolve_limits(
    limits: Mapping[str, Any] | None, username: str, groups: Iterable[str] = ()
) -> dict[str, int]:
    """The limits for one user: their own entry, else the most generous of their groups,
    else the default, else :data:`BUILTIN_LIMITS`."""
    limits = check_limits(limits)
    resolved = {**BUILTIN_LIMITS, **(limits.get("default") or {})}
    group_limits = limits.get("groups") or {}
    for key in LIMIT_ENV:
        from_groups = [
            (group_limits.get(g) or {})[key] for g in groups if key in (group_limits.get(g) or {})
        ]
        if from_groups:
            resolved[key] = max(from_groups)
    resolved.update((limits.get("users") or {}).get(username) or {})
    return resolved


def private_home(username: str) -> Path:
    """The user's home directory, made 0700 (and checked to belong to them)."""
    try:
        entry = pwd.getpwnam(username)
    except KeyError:
        raise HubConfigError(
            f"user {username!r} has no Unix account: the hub creates it at first login "
            "(LocalAuthenticator.create_system_users)"
        ) from None
    home = Path(entry.pw_dir)
    try:
        info = home.lstat()
    except FileNotFoundError:
        raise HubConfigError(f"home directory {home} of {username!r} is missing") from None
    if stat.S_ISLNK(info.st_mode) or info.st_uid != entry.pw_uid:
        raise HubConfigError(
            f"home directory {home} of {username!r} is not a directory owned by that user"
        )
    if stat.S_IMODE(info.st_mode) != 0o700:
        os.chmod(home, 0o700)
    return home


@dataclass
class SpawnSettings:
    """Everything the glue needs from the hub config.

    ``store_admin_url``: an administrative URL of the llmbench store database (creates
    roles, runs migrations; never given to a user). ``secrets``: the hub's 0700 secret
    directory. ``users_bin``: the ``bin`` directory of the users' Python environment.
    """

    store_admin_url: str
    secrets: Path
    limits: Mapping[str, Any] = field(default_factory=dict)
    users_bin: Path | None = None
    extra_env: Mapping[str, str] = field(default_factory=dict)


class SpawnGlue:
    """The hub-start step and the ``pre_spawn_hook``, sharing one set of settings."""

    def __init__(self, settings: SpawnSettings) -> None:
        check_limits(settings.limits)
        self.settings = settings
        self._started = False
        self._lock = threading.Lock()

    def __deepcopy__(self, memo: dict[int, Any]) -> SpawnGlue:
        # traitlets deep-copies config values for every spawner: share one glue (and its
        # once-per-hub start) instead of copying its lock.
        return self

    def start(self) -> None:
        """Migrate the store and set up its roles and policies; runs once per hub process."""
        from llmbench_jupyter.hub.provision import setup_database

        with self._lock:
            if not self._started:
                secret_dir(self.settings.secrets)
                setup_database(self.settings.store_admin_url)
                self._started = True

    def user_environment(self, username: str, groups: Iterable[str], admin: bool) -> dict[str, str]:
        """Provision ``username``'s role and return the variables their server gets."""
        from llmbench_jupyter.hub.provision import provision_user
        from llmbench_jupyter.store.vault import derive_user_key

        self.start()
        secrets = secret_dir(self.settings.secrets)
        hmac_secret = read_or_create(secrets, HMAC_SECRET)
        masters = read_lines(secrets, VAULT_MASTER_KEYS)
        db_url = provision_user(self.settings.store_admin_url, username, hmac_secret, admin=admin)
        keys = [_as_text(derive_user_key(master, username)) for master in masters]
        env = {
            "LLMBENCH_DB_URL": db_url,
            "LLMBENCH_DB_MIGRATE": "0",
            "LLMBENCH_USER": username,
            "LLMBENCH_VAULT_KEYS": ",".join(keys),
        }
        limits = resolve_limits(self.settings.limits, username, groups)
        env.update({LIMIT_ENV[key]: str(value) for key, value in limits.items()})
        if self.settings.users_bin is not None:
            env["PATH"] = f"{self.settings.users_bin}:/usr/local/bin:/usr/bin:/bin"
            env["VIRTUAL_ENV"] = str(self.settings.users_bin.parent)
        env.update(self.settings.extra_env)
        return env

    async def pre_spawn_hook(self, spawner: Any) -> None:
        """JupyterHub's ``Spawner.pre_spawn_hook``: private home, role, environment."""
        user = spawner.user
        groups = [g.name for g in getattr(user, "groups", [])]
        if isinstance(spawner, LocalProcessSpawner):
            await asyncio.to_thread(private_home, user.name)
        env = await asyncio.to_thread(self.user_environment, user.name, groups, bool(user.admin))
        spawner.environment.update(env)


def _as_text(key: bytes | str) -> str:
    return key.decode("ascii") if isinstance(key, bytes) else key


class PrivateLocalProcessSpawner(LocalProcessSpawner):
    """LocalProcessSpawner whose servers start with umask 077 (new files private to their owner)."""

    def make_preexec_fn(self, name: str) -> Any:
        become_user = set_user_setuid(name)

        def preexec() -> None:
            os.umask(0o077)
            become_user()

        return preexec
