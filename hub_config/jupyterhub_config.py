# JupyterHub for llmbench-jupyter on one machine: see README.md beside this file.
#
# Everything is set from the environment, so a deployment changes settings without
# editing this file; LLMBENCH_HUB_EXTRA_CONFIG names a further config file loaded last.
import os
import sys
from pathlib import Path

from llmbench_jupyter.core.errors import LLMBenchError
from llmbench_jupyter.hub.auth import configure_auth
from llmbench_jupyter.hub.deploy import (
    HubPaths,
    database_url,
    ensure_databases,
    require_passwords,
)
from llmbench_jupyter.hub.pgcluster import PgCluster
from llmbench_jupyter.hub.secret_files import PROXY_AUTH_TOKEN, read_or_create, secret_dir
from llmbench_jupyter.hub.spawn import (
    PrivateLocalProcessSpawner,
    SpawnGlue,
    SpawnSettings,
    load_limits,
)

c = get_config()  # noqa: F821  (injected by JupyterHub)
env = os.environ.get
here = Path(__file__).resolve().parent


def configure() -> None:
    paths = HubPaths.from_env()
    paths.check_installed()
    state = secret_dir(paths.state)

    # --- network: everything on loopback unless told otherwise -----------------------
    ip = env("LLMBENCH_HUB_IP", "127.0.0.1")
    c.JupyterHub.bind_url = f"http://{ip}:{env('LLMBENCH_HUB_PORT', '8000')}"
    c.JupyterHub.hub_ip = "127.0.0.1"
    c.JupyterHub.hub_port = int(env("LLMBENCH_HUB_API_PORT", "8081"))
    proxy_api_port = env("LLMBENCH_HUB_PROXY_API_PORT", "8001")
    c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{proxy_api_port}"
    c.ConfigurableHTTPProxy.command = [str(paths.proxy_command)]
    c.ConfigurableHTTPProxy.auth_token = read_or_create(state, PROXY_AUTH_TOKEN).decode()
    c.ConfigurableHTTPProxy.pid_file = str(state / "proxy.pid")
    c.JupyterHub.pid_file = str(state / "jupyterhub.pid")
    c.JupyterHub.cookie_secret_file = str(state / "jupyterhub_cookie_secret")

    # --- PostgreSQL: the hub's database and the llmbench store, side by side ---------
    pg_server = env("LLMBENCH_HUB_PG_ADMIN_URL")
    if not pg_server:
        pg_port = int(env("LLMBENCH_HUB_PG_PORT", "5433"))
        pg_server = PgCluster(paths.pgdata, pg_port, state).ensure()
    require_passwords(pg_server)
    hub_db = env("LLMBENCH_HUB_DB", "jupyterhub")
    store_db = env("LLMBENCH_HUB_STORE_DB", "llmbench")
    ensure_databases(pg_server, [hub_db, store_db], private=(hub_db,))
    c.JupyterHub.db_url = database_url(pg_server, hub_db)

    # --- who logs in: NativeAuthenticator (default) or OAuth; both create accounts ----
    configure_auth(c, admin=env("LLMBENCH_HUB_ADMIN") or None)

    # --- each user's server: their own account, their own role, their own key --------
    limits_file = Path(env("LLMBENCH_HUB_LIMITS") or here / "limits.yaml")
    glue = SpawnGlue(
        SpawnSettings(
            store_admin_url=database_url(pg_server, store_db),
            secrets=state,
            limits=load_limits(limits_file),
            users_bin=paths.users_venv / "bin",
        )
    )
    glue.start()  # migrations, roles and row-level security, once per hub start
    c.JupyterHub.spawner_class = PrivateLocalProcessSpawner
    c.Spawner.cmd = [str(paths.users_venv / "bin" / "jupyterhub-singleuser")]
    c.Spawner.default_url = "/lab"
    c.Spawner.env_keep = ["LANG", "LC_ALL"]
    c.Spawner.pre_spawn_hook = glue.pre_spawn_hook
    c.Spawner.start_timeout = 120
    c.Spawner.http_timeout = 120
    c.JupyterHub.cleanup_servers = True

    # --- schedules fire while their users' servers are stopped: as those users ------
    c.JupyterHub.services = [
        {
            "name": "llmbench-scheduler",
            "command": [sys.executable, "-m", "llmbench_jupyter.hub.scheduler_service"],
            "environment": {
                "LLMBENCH_HUB_STORE_ADMIN_URL": database_url(pg_server, store_db),
                "LLMBENCH_HUB_STATE": str(state),
                "LLMBENCH_HUB_LIMITS": str(limits_file),
                "LLMBENCH_HUB_USERS_BIN": str(paths.users_venv / "bin"),
                "LLMBENCH_SCHEDULER_INTERVAL": env("LLMBENCH_SCHEDULER_INTERVAL", "30"),
            },
        }
    ]
    c.JupyterHub.load_roles = [
        {
            "name": "llmbench-scheduler",
            "scopes": ["list:users", "read:users"],
            "services": ["llmbench-scheduler"],
        }
    ]
    if env("LLMBENCH_HUB_DASK_GATEWAY") == "1":
        dask_gateway(paths, state)


def dask_gateway(paths: HubPaths, state: Path) -> None:
    """Dask clusters from a notebook (``lj.bench(..., cluster=...)``): dask-gateway-server
    as a managed service; every user's server is told where it is and to log in with
    its own JupyterHub token. Clusters run as their user (dask_gateway_config.py)."""
    port = env("LLMBENCH_DASK_GATEWAY_PORT", "8002")
    scheduler_port = env("LLMBENCH_DASK_GATEWAY_SCHEDULER_PORT", "8786")
    server = Path(sys.executable).parent / "dask-gateway-server"
    c.JupyterHub.services.append(
        {
            "name": "dask-gateway",
            "url": f"http://127.0.0.1:{port}",  # also proxied at /services/dask-gateway/
            "command": [str(server), "-f", str(here / "dask_gateway_config.py")],
            "environment": {
                "LLMBENCH_DASK_GATEWAY_PORT": port,
                "LLMBENCH_DASK_GATEWAY_SCHEDULER_PORT": scheduler_port,
                "LLMBENCH_HUB_USERS_BIN": str(paths.users_venv / "bin"),
                "LLMBENCH_HUB_STATE": str(state),
                "LLMBENCH_DASK_GATEWAY_MAX_WORKERS": env("LLMBENCH_DASK_GATEWAY_MAX_WORKERS", "4"),
            },
        }
    )
    c.Spawner.environment.update(
        {
            "DASK_GATEWAY__ADDRESS": f"http://127.0.0.1:{port}",
            "DASK_GATEWAY__PROXY_ADDRESS": f"gateway://127.0.0.1:{scheduler_port}",
            "DASK_GATEWAY__PUBLIC_ADDRESS": "/services/dask-gateway/",
            "DASK_GATEWAY__AUTH__TYPE": "jupyterhub",
        }
    )


try:
    configure()
except LLMBenchError as exc:  # a clear line, not a traceback from inside traitlets
    raise SystemExit(f"llmbench hub: {exc}") from None

extra = env("LLMBENCH_HUB_EXTRA_CONFIG")
if extra:
    load_subconfig(extra)  # noqa: F821  (injected by JupyterHub)
