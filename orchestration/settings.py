"""Where things live: every path comes from the environment variables of ARCHITECTURE.md."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

# The first day Dagster offers as a partition when C360_PARTITION_START is unset and neither the landing zone
# nor the lake has a dated file yet (otherwise the earliest export date found is the start: a brand's first
# run loads all of its history).
DEFAULT_PARTITION_START = "2024-01-01"

# `<YYYY-MM-DD>[-<part>].<ext>` landing file names and `dt=YYYY-MM-DD` lake folders (LANDING_ZONE.md).
_LANDING_DATE = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:-.+?)?\.(?:jsonl|csv)(?:\.gz)?$")
_LAKE_DATE = re.compile(r"^dt=(\d{4}-\d{2}-\d{2})$")


def _dates_in(folders, pattern: re.Pattern) -> set[date]:
    found: set[date] = set()
    for folder in folders:
        try:
            names = [entry.name for entry in os.scandir(folder)]
        except (FileNotFoundError, NotADirectoryError):
            continue
        for name in names:
            match = pattern.match(name)
            if match:
                try:
                    found.add(date.fromisoformat(match[1]))
                except ValueError:
                    continue  # not a calendar date: the landing scan reports the file
    return found


def earliest_export_date(landing_root: Path, raw_root: Path) -> date | None:
    """The earliest export date of a landing file (`<source>/<entity>/<date>...` of a known entity) or of a
    loaded raw partition (`<raw>/<source>__<entity>/dt=<date>`, kept when the landing zone drops old files);
    None when there is neither. A directory listing only: no file is opened."""
    from orchestration.ingestion.entities import ENTITIES

    landing = _dates_in((landing_root / e.source / e.entity for e in ENTITIES), _LANDING_DATE)
    lake = _dates_in((raw_root / e.name for e in ENTITIES), _LAKE_DATE)
    return min(landing | lake, default=None)


@dataclass(frozen=True)
class Settings:
    """Resolved locations of the landing zone, the lake and the two DuckDB files."""

    home: Path
    landing_root: Path
    duckdb_database: Path
    serving_database: Path
    partition_start: str = DEFAULT_PARTITION_START
    # Longest landing line loaded (bytes); longer ones are quarantined. None: the loader's default.
    max_line_bytes: int | None = None
    # Key of the HMAC-SHA256 hashes kept of erased people (C360_ERASURE_SALT; dbt's plugin reads the same
    # variable). Secret: not in repr, never in SQL text (orchestration/privacy/keys.py).
    erasure_salt: str = field(default="c360", repr=False)
    # Days a destination has to confirm an erased person's deletion before it is overdue.
    erasure_deadline_days: int = 7
    # Days the working warehouse may keep deleted rows of erased people in freed blocks before it is rewritten
    # whole (0: at every purge that deleted rows).
    erasure_rewrite_days: int = 7
    # Landing files older than this many days are deleted once loaded, audited and built (None: never).
    landing_retention_days: int | None = None
    # Share of everyone held out of every marketing segment (C360_GLOBAL_HOLDOUT_SHARE; 0 = off). dbt reads the
    # same variable (its var global_holdout_share); here it is checked before a run and quoted by the lift step.
    global_holdout_share: float = 0.0
    # Matured members each arm needs before campaign lift gets a verdict (C360_LIFT_MIN_MEMBERS).
    lift_min_members: int = 100

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
        """Read the settings from environment variables, with the documented defaults (the partition start:
        C360_PARTITION_START, else the earliest export date in the landing zone or the lake)."""
        env = dict(os.environ if env is None else env)
        home = Path(env.get("C360_HOME") or "./data").resolve()
        landing_root = Path(env.get("LANDING_ROOT") or home / "landing").resolve()
        start = env.get("C360_PARTITION_START")
        if not start:
            earliest = earliest_export_date(landing_root, home / "lake" / "raw")
            start = earliest.isoformat() if earliest else DEFAULT_PARTITION_START
        rewrite_days = _days(env, "C360_ERASURE_REWRITE_DAYS")
        return cls(
            home=home,
            landing_root=landing_root,
            duckdb_database=Path(env.get("DUCKDB_DATABASE") or home / "warehouse.duckdb").resolve(),
            serving_database=Path(env.get("SERVING_DATABASE") or home / "serving.duckdb").resolve(),
            partition_start=start,
            max_line_bytes=_positive_int(env, "C360_MAX_LINE_BYTES"),
            erasure_salt=env.get("C360_ERASURE_SALT", "c360"),
            erasure_deadline_days=int(env.get("C360_ERASURE_DEADLINE_DAYS") or 7),
            landing_retention_days=_days(env, "C360_LANDING_RETENTION_DAYS"),
            erasure_rewrite_days=7 if rewrite_days is None else rewrite_days,
            global_holdout_share=_share(env, "C360_GLOBAL_HOLDOUT_SHARE"),
            lift_min_members=_positive_int(env, "C360_LIFT_MIN_MEMBERS", "members") or 100,
        )


def _days(env: dict[str, str], name: str) -> int | None:
    """The variable as a number of days (0 or more), None when unset; anything else is an error that names it."""
    text = (env.get(name) or "").strip()
    if not text:
        return None
    if not text.isdigit():
        raise ValueError(f"{name} must be a whole number of days (0 or more), not {text!r}")
    return int(text)


def _positive_int(env: dict[str, str], name: str, unit: str = "bytes") -> int | None:
    """The variable as a positive integer, None when unset; anything else is an error that names it."""
    text = env.get(name)
    if not text:
        return None
    if not text.strip().isdigit() or int(text) <= 0:
        raise ValueError(f"{name} must be a positive number of {unit}, not {text!r}")
    return int(text)


def _share(env: dict[str, str], name: str) -> float:
    """The variable as a share with 0 <= share < 1 (0 when unset); anything else is an error that names it."""
    text = (env.get(name) or "").strip()
    if not text:
        return 0.0
    try:
        share = float(text)
    except ValueError:
        share = -1.0
    if not 0 <= share < 1 or not re.fullmatch(r"[0-9]+\.?[0-9]*|\.[0-9]+", text):
        raise ValueError(f"{name} must be a number with 0 <= share < 1 (0.05 holds 5% out), not {text!r}")
    return share
