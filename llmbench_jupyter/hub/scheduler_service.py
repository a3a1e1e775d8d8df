"""The hub's scheduler: fires each user's schedules while their server is stopped.

A JupyterHub-managed service (it runs beside the hub, as the hub's account). Every
``LLMBENCH_SCHEDULER_INTERVAL`` seconds it asks the store (as its owner role, which reads
every row) which users have a due schedule, and for each runs ``llmbench scheduler
--once`` as that user: their Unix account, from the users' Python environment, with the
environment their own server gets (``SpawnGlue.user_environment``: their database role,
their vault keys, their limits) and nothing more. So what fires is stored under their
role, with their keys and within their limits, exactly as if they had run it.

At most one firing process per user runs at a time; beyond that, a firing claims its
schedule in the database (``Store.claim_schedule``), so even two hubs never overlap.
Nothing secret is printed: the children's output is kept only as a scrubbed tail when
they fail.
"""

from __future__ import annotations

import json
import os
import pwd
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from llmbench_jupyter.core.errors import scrub
from llmbench_jupyter.core.redact import redact_url

DUE = (
    "SELECT DISTINCT owner FROM schedules WHERE enabled AND next_due_at <= now() "
    "AND (running_since IS NULL OR running_since < now() - interval '6 hours')"
)


def _log(message: str) -> None:
    print(f"[llmbench-scheduler] {message}", flush=True)


def due_owners(admin_url: str) -> set[str]:
    """Owners (database roles) with a schedule due now and not running."""
    import psycopg

    from llmbench_jupyter.store.db import parse_url

    dsn = parse_url(admin_url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn, connect_timeout=10) as conn:
        return {row[0] for row in conn.execute(DUE).fetchall()}


def hub_users(api_url: str, token: str) -> list[dict[str, Any]]:
    request = urllib.request.Request(
        f"{api_url.rstrip('/')}/users", headers={"Authorization": f"token {token}"}
    )
    with urllib.request.urlopen(request, timeout=30) as resp:
        return list(json.load(resp))


class Scheduler:
    def __init__(self, glue: Any, users_bin: Path, admin_url: str, api_url: str,
                 token: str) -> None:  # fmt: skip
        self.glue, self.users_bin, self.admin_url = glue, users_bin, admin_url
        self.api_url, self.token = api_url, token
        self.running: dict[str, tuple[subprocess.Popen[bytes], tuple[str, ...]]] = {}

    def reap(self) -> None:
        for name, (proc, secrets) in list(self.running.items()):
            if proc.poll() is None:
                continue
            del self.running[name]
            if proc.returncode:
                tail = (proc.stderr.read() if proc.stderr else b"")[-2000:]
                text = scrub(tail.decode("utf-8", "replace"), secrets)
                _log(f"firing for {name} ended with exit code {proc.returncode}: {text}")

    def tick(self) -> None:
        from llmbench_jupyter.hub._role_names import role_name

        self.reap()
        owners = due_owners(self.admin_url)
        if not owners:
            return
        for user in hub_users(self.api_url, self.token):
            name = user["name"]
            if role_name(name) not in owners or name in self.running:
                continue
            try:
                self.running[name] = self.fire(name, user.get("groups") or [],
                                               bool(user.get("admin")))  # fmt: skip
            except KeyError:  # no Unix account (yet): nothing can run as them
                _log(f"{name} has due schedules but no account on this machine")
                continue
            _log(f"firing due schedules of {name}")

    def fire(self, name: str, groups: list[str],
             admin: bool) -> tuple[subprocess.Popen[bytes], tuple[str, ...]]:  # fmt: skip
        account = pwd.getpwnam(name)
        env = self.glue.user_environment(name, groups, admin)
        env.update(HOME=account.pw_dir, USER=name, LOGNAME=name)
        secrets = tuple(v for k, v in env.items() if k.startswith("LLMBENCH_") and len(v) > 7)
        proc = subprocess.Popen(
            [str(self.users_bin / "llmbench"), "scheduler", "--once"],
            env=env, cwd=account.pw_dir, user=account.pw_uid, group=account.pw_gid,
            extra_groups=[], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, start_new_session=True,
        )  # fmt: skip
        return proc, secrets


def main() -> int:
    from llmbench_jupyter.hub.spawn import SpawnGlue, SpawnSettings, load_limits

    env = os.environ
    try:
        admin_url = env["LLMBENCH_HUB_STORE_ADMIN_URL"]
        glue = SpawnGlue(SpawnSettings(
            store_admin_url=admin_url, secrets=Path(env["LLMBENCH_HUB_STATE"]),
            limits=load_limits(env["LLMBENCH_HUB_LIMITS"]),
            users_bin=Path(env["LLMBENCH_HUB_USERS_BIN"]),
        ))  # fmt: skip
        scheduler = Scheduler(glue, Path(env["LLMBENCH_HUB_USERS_BIN"]), admin_url,
                              env["JUPYTERHUB_API_URL"], env["JUPYTERHUB_API_TOKEN"])  # fmt: skip
        interval = float(env.get("LLMBENCH_SCHEDULER_INTERVAL", "30"))
    except (KeyError, ValueError) as exc:
        _log(f"cannot start: {type(exc).__name__} {exc}")
        return 2
    stop: list[bool] = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(True))
    _log(f"checking every {interval:g} s ({redact_url(admin_url).split('@')[-1]})")
    while not stop:
        try:
            scheduler.tick()
        except Exception as exc:  # a bad tick must not end the service: say why, go on
            _log(f"tick failed: {scrub(f'{type(exc).__name__}: {exc}', (admin_url,))}")
        time.sleep(interval)
    return 0


if __name__ == "__main__":
    sys.exit(main())
