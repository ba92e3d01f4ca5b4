"""Helpers shared by the benchmark scripts."""

from __future__ import annotations


def scratch_database(url: str) -> None:
    """Create the scratch database named in `url` if it does not exist."""
    import psycopg

    name = url.rsplit("/", 1)[1]
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
