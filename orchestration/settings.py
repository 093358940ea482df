"""Where things live: every path comes from the environment variables of ARCHITECTURE.md."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

# The first day Dagster offers as a partition. Landing files dated earlier are reported, not loaded;
# set C360_PARTITION_START for a brand with a longer history.
DEFAULT_PARTITION_START = "2024-01-01"


@dataclass(frozen=True)
class Settings:
    """Resolved locations of the landing zone, the lake and the two DuckDB files."""

    home: Path
    landing_root: Path
    duckdb_database: Path
    serving_database: Path
    partition_start: str = DEFAULT_PARTITION_START
    # Salt of the hashes kept of erased people (C360_ERASURE_SALT; dbt reads the same variable). Not in repr.
    erasure_salt: str = field(default="c360", repr=False)
    # Days a destination has to confirm an erased person's deletion before it is overdue.
    erasure_deadline_days: int = 7

    @property
    def lake_root(self) -> Path:
        """Root of the Parquet raw layer (`$C360_HOME/lake`)."""
        return self.home / "lake"

    @property
    def raw_root(self) -> Path:
        """Root of the raw partitions: `<lake>/raw/<source>__<entity>/dt=YYYY-MM-DD/`."""
        return self.lake_root / "raw"

    @property
    def dagster_home(self) -> Path:
        """The persistent Dagster instance directory (DAGSTER_HOME, else under C360_HOME)."""
        return Path(os.environ.get("DAGSTER_HOME") or self.home / "dagster").resolve()

    @property
    def partition_start_date(self) -> date:
        """The first partition as a date."""
        return date.fromisoformat(self.partition_start)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        """Read the settings from environment variables, with the documented defaults."""
        env = dict(os.environ if env is None else env)
        home = Path(env.get("C360_HOME") or "./data").resolve()
        return cls(
            home=home,
            landing_root=Path(env.get("LANDING_ROOT") or home / "landing").resolve(),
            duckdb_database=Path(env.get("DUCKDB_DATABASE") or home / "warehouse.duckdb").resolve(),
            serving_database=Path(env.get("SERVING_DATABASE") or home / "serving.duckdb").resolve(),
            partition_start=env.get("C360_PARTITION_START") or DEFAULT_PARTITION_START,
            erasure_salt=env.get("C360_ERASURE_SALT", "c360"),
            erasure_deadline_days=int(env.get("C360_ERASURE_DEADLINE_DAYS") or 7),
        )
