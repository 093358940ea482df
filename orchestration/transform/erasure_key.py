"""dbt-duckdb plugin: the erasure key's HMAC pads on every DuckDB connection dbt opens.

profiles.yml lists this module under `plugins:`. dbt's models hash identity-graph nodes with
`getvariable('c360_erasure_ipad')` / `'c360_erasure_opad'` (macro erasure_hash), so the key is in no compiled
SQL, manifest or log; this plugin sets those variables. DuckDB variables belong to one connection, and
dbt-duckdb runs every query on a cursor (a connection of its own) of its parent connection: both are set.

It runs inside dbt's process, which inherits the environment of whoever started dbt (Dagster's step, a test,
a person): the key is `C360_ERASURE_SALT` there, default `c360` as everywhere else.
"""

from __future__ import annotations

import os
from typing import Any

from dbt.adapters.duckdb.plugins import BasePlugin

from orchestration.privacy.keys import DEFAULT_ERASURE_KEY, ERASURE_KEY_ENV, set_erasure_key


class Plugin(BasePlugin):
    """Sets the erasure key's pads on dbt-duckdb's connection and on each of its cursors."""

    def initialize(self, plugin_config: dict[str, Any]) -> None:
        """Read the key once, from dbt's environment (never from the profile: profiles can be printed)."""
        self._key = os.environ.get(ERASURE_KEY_ENV, DEFAULT_ERASURE_KEY)

    def configure_connection(self, conn) -> None:
        """The parent connection."""
        set_erasure_key(conn, self._key)

    def configure_cursor(self, cursor) -> None:
        """Each cursor: variables are not shared with the parent connection."""
        set_erasure_key(cursor, self._key)
