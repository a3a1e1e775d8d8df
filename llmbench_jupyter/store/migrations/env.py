"""Alembic environment for the results store.

The store runs migrations itself and hands over its connection in
``config.attributes["connection"]``. For writing new revisions by hand, a config
with ``sqlalchemy.url`` set (see ``llmbench_jupyter.store.db.alembic_config``) works too.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from llmbench_jupyter.store.models import Base

config = context.config
target_metadata = Base.metadata


def _run(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=target_metadata,
        compare_type=True,
        render_as_batch=True,  # SQLite can only ALTER via table copies
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()
elif (conn := config.attributes.get("connection")) is not None:
    _run(conn)
else:
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no connection or sqlalchemy.url: use llmbench_jupyter.store.open_store")
    with create_engine(url).connect() as connection:
        _run(connection)
        connection.commit()
