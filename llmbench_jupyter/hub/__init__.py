"""JupyterHub glue: spawn hook, authenticators, provisioning and the hub's own PostgreSQL.

Only this subpackage (and ``kernel/``) may import Jupyter packages; the hub process
imports it from ``hub_config/jupyterhub_config.py``.
"""
