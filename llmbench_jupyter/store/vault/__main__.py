"""``python -m llmbench_jupyter.store.vault rotate``: see :func:`._rotation.main`."""

from llmbench_jupyter.store.vault._rotation import main

if __name__ == "__main__":
    raise SystemExit(main())
