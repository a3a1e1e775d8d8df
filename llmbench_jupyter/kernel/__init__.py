"""The Jupyter glue: widgets, magics and display hooks. Only this package imports Jupyter.

Nothing here is imported by ``import llmbench_jupyter``; each surface loads its module
on demand (``bench()`` in a kernel imports :mod:`.widget`, ``%load_ext`` the magics).
"""
