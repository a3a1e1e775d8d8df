#!/usr/bin/env bash
# Installs what the hub needs outside the project tree (run as root; `make hub-deps`):
#   $HUB_HOME/node_modules  configurable-http-proxy from the npm registry (local, not global)
#   $HUB_HOME/venv          the users' Python: /usr/bin/python3 + this package (a wheel, not
#                           editable), JupyterLab, ipykernel and jupyterhub-singleuser, bytecode
#                           compiled, world-readable and root-owned (users cannot change it).
# Nothing here may live under /root: it is mode 0700, so users could not run it.
set -euo pipefail
HUB_HOME="${1:?usage: install.sh HUB_HOME UV_BIN HUB_PYTHON}"
UV="${2:?uv binary}"
HUB_PY="${3:-/usr/bin/python3}"
SRC="$(cd "$(dirname "$0")/.." && pwd)"
CHP_SPEC="configurable-http-proxy@^5"
umask 022

install -d -m 0755 "$HUB_HOME"
if [ ! -x "$HUB_HOME/node_modules/.bin/configurable-http-proxy" ]; then
  command -v npm >/dev/null || { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y nodejs npm; }
  npm install --prefix "$HUB_HOME" --no-audit --no-fund --omit=dev --loglevel=error "$CHP_SPEC"
fi

# The users' server must speak the hub's protocol version: same jupyterhub release.
HUB_VERSION="$("$SRC/.venv/bin/python" -c 'import jupyterhub; print(jupyterhub.__version__)')"
"$UV" venv --quiet --allow-existing --python "$HUB_PY" "$HUB_HOME/venv"
DIST="$(mktemp -d)"
trap 'rm -rf "$DIST"' EXIT
"$UV" build --quiet --wheel --out-dir "$DIST" "$SRC"
"$UV" pip install --quiet --python "$HUB_HOME/venv/bin/python" --compile-bytecode \
  --link-mode=copy --reinstall-package llmbench-jupyter \
  "$DIST"/llmbench_jupyter-*.whl "jupyterhub==$HUB_VERSION" jupyterlab ipykernel
if [ "${LLMBENCH_HUB_DASK_GATEWAY:-0}" = "1" ]; then  # users' clusters run this venv
  "$UV" pip install --quiet --python "$HUB_HOME/venv/bin/python" --compile-bytecode \
    --link-mode=copy "dask[distributed]>=2024.1" "dask-gateway>=2024.1"
fi
chown -R root:root "$HUB_HOME/venv"
chmod -R a+rX,go-w "$HUB_HOME/venv"
touch "$HUB_HOME/venv/.installed"
echo "hub parts ready in $HUB_HOME (proxy: node_modules/.bin/configurable-http-proxy, users' venv: venv)"
