"""Read-only access to the published serving file, and the 'this input is missing' signal the sections raise."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pandas as pd


class MissingInput(Exception):  # noqa: N818 - a signal, not an error: the section says what is missing
    """A table or column a section needs is not in the serving file (a first run, an older file)."""


class Serving:
    """A read-only connection to serving.duckdb plus what tables and columns it has."""

    def __init__(self, con: duckdb.DuckDBPyConnection, path: Path):
        """Wrap an open connection; the catalogue is read once."""
        self.con = con
        self.path = path
        self._columns: dict[str, list[str]] = {}
        for schema, table, column in con.execute(
            "select table_schema, table_name, column_name from information_schema.columns "
            "where table_catalog = current_database() order by table_schema, table_name, ordinal_position"
        ).fetchall():
            self._columns.setdefault(f"{schema}.{table}", []).append(column)

    def has(self, table: str, *columns: str) -> bool:
        """True when `schema.table` exists with every one of `columns`."""
        return table in self._columns and all(c in self._columns[table] for c in columns)

    def columns(self, table: str) -> list[str]:
        """The columns of `schema.table`, empty when it does not exist."""
        return list(self._columns.get(table, []))

    def require(self, table: str, *columns: str) -> None:
        """Raise MissingInput naming the table, or the columns, that the serving file lacks."""
        if table not in self._columns:
            raise MissingInput(f"table {table} is not in the serving file")
        absent = [c for c in columns if c not in self._columns[table]]
        if absent:
            raise MissingInput(f"{table} has no column {', '.join(absent)} (a serving file from an older version?)")

    def df(self, sql: str, params: list | None = None) -> pd.DataFrame:
        """Run a query and return a DataFrame."""
        return self.con.execute(sql, params or []).df()

    def scalar(self, sql: str, params: list | None = None):
        """The first column of the first row, or None."""
        row = self.con.execute(sql, params or []).fetchone()
        return None if row is None else row[0]


@contextmanager
def open_serving(path: Path) -> Iterator[Serving]:
    """Open `path` read-only (the report never writes to the published file); MissingInput if it is absent."""
    path = Path(path)
    if not path.is_file():
        raise MissingInput(f"the serving file {path} does not exist (no run has published yet)")
    con = duckdb.connect(str(path), read_only=True)
    try:
        yield Serving(con, path)
    finally:
        con.close()
