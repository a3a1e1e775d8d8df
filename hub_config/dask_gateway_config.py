# dask-gateway-server for the one-machine hub: started by jupyterhub_config.py as the
# managed service "dask-gateway" when LLMBENCH_HUB_DASK_GATEWAY=1 (see README.md).
#
# Users start Dask clusters from a notebook and fan llmbench runs out to them:
#
#     from dask_gateway import Gateway
#     cluster = Gateway().new_cluster(); cluster.scale(2)
#     lj.bench(..., cluster=cluster.get_client())
#
# Who: JupyterHub checks each user's own API token (their server's environment has it).
# Where: each cluster's scheduler and workers run as local processes of the user who asked
# (LocalBackend: the gateway runs as root, like the hub, and switches to that account), in
# the users' venv, so they reach the llmbench store only as that user's own role.
import os

env = os.environ.get
c = get_config()  # noqa: F821  (injected by dask-gateway-server)

host = "127.0.0.1"
api_port = int(env("LLMBENCH_DASK_GATEWAY_PORT", "8002"))
scheduler_port = int(env("LLMBENCH_DASK_GATEWAY_SCHEDULER_PORT", "8786"))
private_port = int(env("LLMBENCH_DASK_GATEWAY_PRIVATE_PORT", str(api_port + 1)))
users_bin = env("LLMBENCH_HUB_USERS_BIN", "/opt/llmbench-hub/venv/bin")
state = env("LLMBENCH_HUB_STATE", "/opt/llmbench-hub/state")

# the gateway's proxy: HTTP API (the address users' clients use) and schedulers' TLS traffic
c.Proxy.address = f"{host}:{api_port}"
c.Proxy.tcp_address = f"{host}:{scheduler_port}"
c.DaskGateway.address = f"{host}:{private_port}"  # the private API behind the proxy

# Tests run the gateway without a hub: LLMBENCH_DASK_GATEWAY_AUTH=simple, backend "unsafe"
# (every cluster as the gateway's own user). A deployment leaves both unset.
if env("LLMBENCH_DASK_GATEWAY_AUTH", "jupyterhub") == "simple":
    c.DaskGateway.authenticator_class = "dask_gateway_server.auth.SimpleAuthenticator"
else:
    c.DaskGateway.authenticator_class = "dask_gateway_server.auth.JupyterHubAuthenticator"
    # JUPYTERHUB_API_TOKEN and JUPYTERHUB_API_URL come from the hub (a managed service)
if env("LLMBENCH_DASK_GATEWAY_BACKEND", "local") == "unsafe":
    c.DaskGateway.backend_class = "dask_gateway_server.backends.local.UnsafeLocalBackend"
else:
    c.DaskGateway.backend_class = "dask_gateway_server.backends.local.LocalBackend"
c.LocalBackend.clusters_directory = env(
    "LLMBENCH_DASK_GATEWAY_CLUSTERS", os.path.join(state, "dask-clusters")
)
c.DaskGateway.db_url = "sqlite:///" + env(
    "LLMBENCH_DASK_GATEWAY_DB", os.path.join(state, "dask-gateway.sqlite")
)

# clusters run the users' Python (llmbench-jupyter[scale] and dask-gateway installed there)
c.ClusterConfig.scheduler_cmd = [os.path.join(users_bin, "dask"), "scheduler"]
c.ClusterConfig.worker_cmd = [os.path.join(users_bin, "dask"), "worker"]
# one user cannot take the machine: workers per cluster, cores and memory per worker
c.ClusterConfig.cluster_max_workers = int(env("LLMBENCH_DASK_GATEWAY_MAX_WORKERS", "4"))
c.ClusterConfig.worker_cores = 1
c.ClusterConfig.worker_threads = 1  # one engine per process: its own loop and pool
c.ClusterConfig.worker_memory = env("LLMBENCH_DASK_GATEWAY_WORKER_MEMORY", "2 G")
c.ClusterConfig.idle_timeout = float(env("LLMBENCH_DASK_GATEWAY_IDLE_S", "1800"))
