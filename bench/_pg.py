"""What every bench shares: the PostgreSQL server (``BENCH_PG``) and SQL run outside any database
(CREATE / DROP DATABASE), autocommit, on its ``postgres`` database."""

from __future__ import annotations

import os

PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")


def admin_sql(sql: str) -> None:
    import psycopg2

    conn = psycopg2.connect(f"{PG}/postgres")
    conn.autocommit = True
    try:
        with conn.cursor() as cursor:
            cursor.execute(sql)
    finally:
        conn.close()
