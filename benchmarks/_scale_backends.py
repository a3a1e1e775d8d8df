"""The two backends of ``store_scale.py``: a scratch store each, plus the plain table its
ingest is measured against (the same columns and key, no other index) and its sizes."""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import tempfile
from pathlib import Path
from typing import Any

import psycopg

from llmbench_jupyter.store.records_io import ROW_COLUMNS

PG_HOST = "host=127.0.0.1 port=5432 user=postgres"
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/{}"
DBSTAT = (
    "SELECT coalesce(m.tbl_name, d.name), sum(d.pgsize) FROM dbstat d "
    "LEFT JOIN sqlite_master m ON m.name = d.name GROUP BY 1"
)


class SQLite:
    name = "sqlite"

    def __init__(self, tag: str) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix=f"llmbench_scale_{tag}_"))
        self.path, self.url = self.dir / "store.db", f"sqlite:///{self.dir / 'store.db'}"
        self.plain: sqlite3.Connection | None = None

    def connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, isolation_level=None)

    def open_plain(self, conn: Any) -> None:  # the same DDL as requests, another file
        ddl = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'requests'").fetchone()[0]
        self.plain = sqlite3.connect(self.dir / "plain.db", isolation_level=None)
        self.plain.execute("PRAGMA journal_mode = WAL")
        self.plain.execute("PRAGMA synchronous = NORMAL")
        self.plain.execute(ddl.replace("requests", "plain_requests", 1))  # FKs are off here
        marks = ", ".join("?" * len(ROW_COLUMNS))
        self.sql = f"INSERT INTO plain_requests ({', '.join(ROW_COLUMNS)}) VALUES ({marks})"

    def insert_plain(self, rows: list[tuple[Any, ...]]) -> None:
        assert self.plain is not None
        self.plain.execute("BEGIN")
        self.plain.executemany(self.sql, rows)
        self.plain.execute("COMMIT")

    def sizes(self, conn: Any) -> dict[str, int]:
        """``file``: the pages in use (free pages, e.g. left by a migration that rebuilt a
        table, are reused by later writes, so they are not counted as the store's)."""
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        pages, free, size = (conn.execute(f"PRAGMA {p}").fetchone()[0]
                             for p in ("page_count", "freelist_count", "page_size"))  # fmt: skip
        out = {"file": (pages - free) * size, "file on disk": self.path.stat().st_size}
        if self.plain is not None:
            self.plain.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            out["plain"] = (self.dir / "plain.db").stat().st_size
        with contextlib.suppress(sqlite3.OperationalError):  # per table, indexes included
            out |= dict(conn.execute(DBSTAT).fetchall())
        return out

    def drop(self) -> None:
        if self.plain is not None:
            self.plain.close()
        shutil.rmtree(self.dir, ignore_errors=True)


class Postgres:
    name = "postgresql"

    def __init__(self, tag: str) -> None:
        self.db = f"llmbench_scale_{os.getpid()}_{tag}"
        with psycopg.connect(f"{PG_HOST} dbname=postgres", autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{self.db}"')
        self.url, self.plain = PG_URL.format(self.db), None

    def connect(self) -> Any:
        return psycopg.connect(f"{PG_HOST} dbname={self.db}", autocommit=True)

    def open_plain(self, conn: Any) -> None:  # requests' columns and key, no other index
        conn.execute(
            "CREATE TABLE plain_requests (LIKE requests INCLUDING IDENTITY, PRIMARY KEY (seq))"
        )
        self.plain = self.connect()
        self.sql = f"COPY plain_requests ({', '.join(ROW_COLUMNS)}) FROM STDIN"

    def insert_plain(self, rows: list[tuple[Any, ...]]) -> None:
        assert self.plain is not None
        with self.plain.transaction(), self.plain.cursor() as cur, cur.copy(self.sql) as copy:
            for row in rows:
                copy.write_row(row)

    def sizes(self, conn: Any) -> dict[str, int]:
        names = ("requests", "request_labels", "run_summaries", "runs", "plain_requests")
        sql = "SELECT " + ", ".join(f"pg_total_relation_size('{n}')" for n in names)
        out = dict(zip(names, conn.execute(sql).fetchone(), strict=True))
        return out | {"plain": out.pop("plain_requests")}

    def drop(self) -> None:
        if self.plain is not None:
            self.plain.close()
        with psycopg.connect(f"{PG_HOST} dbname=postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{self.db}" WITH (FORCE)')
