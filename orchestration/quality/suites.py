"""The checked-in expectation suites (`expectations/**/*.json`, GX 1.x suite format) as plain data.

Each expectation carries its severity in `meta.severity` (critical = blocks publishing, warning =
reported) and may carry `meta.name` (the check name recorded in audit.check_results) and
`meta.optional_column` (skipped while the column does not exist yet). Row conditions use GX 1.x
condition objects serialised as JSON (`{"column": {"name": "type"}, "operator": "==", "parameter": "earn",
"type": "comparison"}`), not the deprecated pandas query strings. Suite-level `meta.c360` holds the
key columns reported for failing rows and derived columns computed in DuckDB when the batch is read.
Nothing here imports Great Expectations: loading and inspecting suites stays cheap.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from orchestration.quality.config import EXPECTATIONS_DIR, SEVERITIES

# Expectations about the set of columns: evaluated on a zero-row frame holding every column of the table.
SCHEMA_TYPES = frozenset({
    "expect_table_columns_to_match_set", "expect_table_columns_to_match_ordered_list", "expect_column_to_exist",
    "expect_table_column_count_to_equal", "expect_table_column_count_to_be_between",
})
ROW_COUNT_TYPES = frozenset({"expect_table_row_count_to_be_between", "expect_table_row_count_to_equal"})
UNIQUE_TYPES = frozenset({
    "expect_column_values_to_be_unique", "expect_compound_columns_to_be_unique",
    "expect_select_column_values_to_be_unique_within_record", "expect_multicolumn_values_to_be_unique",
})
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def parameters_of(value: Any) -> set[str]:
    """Names of the suite parameters (`{"$PARAMETER": name}`) used anywhere in a kwargs value."""
    if isinstance(value, dict):
        if set(value) == {"$PARAMETER"}:
            return {value["$PARAMETER"]}
        return set().union(*(parameters_of(v) for v in value.values())) if value else set()
    if isinstance(value, list | tuple):
        return set().union(*(parameters_of(v) for v in value)) if value else set()
    return set()


@dataclass(frozen=True)
class ExpectationSpec:
    """One expectation of a suite: its GX config and what the audit needs to know about it."""

    index: int
    type: str
    kwargs: dict[str, Any]
    meta: dict[str, Any]
    name: str
    uid: str  # a stable GX expectation id: results are matched back by it (GX reorders them)

    @property
    def severity(self) -> str:
        """critical (a failure blocks) or warning (a failure is reported)."""
        return self.meta["severity"]

    @property
    def is_schema(self) -> bool:
        """An expectation about the table's columns, not its rows."""
        return self.type in SCHEMA_TYPES

    @property
    def is_unique(self) -> bool:
        """A uniqueness expectation (decides how a large table may be split into batches)."""
        return self.type in UNIQUE_TYPES

    @property
    def columns(self) -> list[str]:
        """Columns the expectation reads (row-condition columns are resolved by `condition_columns`)."""
        cols = [self.kwargs.get(k) for k in ("column", "column_A", "column_B")]
        cols += list(self.kwargs.get("column_list") or [])
        return [c for c in cols if isinstance(c, str)]

    def condition_columns(self, available: set[str]) -> list[str]:
        """Columns named in the row condition (GX 1.x condition objects, or a legacy condition string)."""
        condition = self.kwargs.get("row_condition")
        if isinstance(condition, str):
            text = re.sub(r"(['\"]).*?\1", " ", condition)  # quoted literals are values, not columns
            names = _IDENTIFIER.findall(text)
        else:
            names = list(_condition_columns(condition))
        return [t for t in dict.fromkeys(names) if t in available]

    @property
    def parameters(self) -> set[str]:
        """Suite parameters the expectation needs at validation time."""
        return parameters_of(self.kwargs)

    def gx_config(self) -> dict[str, Any]:
        """The expectation as GX loads it (severity copied to GX's own field so Data Docs agree)."""
        return {"type": self.type, "kwargs": dict(self.kwargs), "meta": dict(self.meta), "severity": self.severity,
                "id": self.uid}


def _condition_columns(condition: Any) -> Iterator[str]:
    """Column names of a serialised GX condition (`{"column": {"name": ...}, ...}`, and/or groups)."""
    if isinstance(condition, dict):
        column = condition.get("column")
        if isinstance(column, dict) and isinstance(column.get("name"), str):
            yield column["name"]
        for value in condition.values():
            if isinstance(value, list | dict):
                yield from _condition_columns(value)
    elif isinstance(condition, list):
        for item in condition:
            yield from _condition_columns(item)


def _default_name(type_: str, kwargs: dict[str, Any]) -> str:
    cols = [kwargs.get(k) for k in ("column", "column_A", "column_B")] + list(kwargs.get("column_list") or [])
    cols = [c for c in cols if isinstance(c, str)]
    return f"{type_}({', '.join(cols)})" if cols else type_


@dataclass(frozen=True)
class Suite:
    """A checked-in suite: its JSON and the parsed expectations."""

    name: str
    path: Path
    data: dict[str, Any]

    @cached_property
    def expectations(self) -> list[ExpectationSpec]:
        """The expectations in file order, each with a unique check name."""
        specs: list[ExpectationSpec] = []
        seen: set[str] = set()
        for i, raw in enumerate(self.data.get("expectations", [])):
            meta = dict(raw.get("meta") or {})
            where = f"{self.path.name} expectation {i} ({raw.get('type')})"
            if meta.get("severity") not in SEVERITIES:
                raise ValueError(f"{where}: meta.severity must be one of {SEVERITIES}")
            name = meta.get("name") or _default_name(raw["type"], raw.get("kwargs", {}))
            if name in seen:
                raise ValueError(f"{where}: check name {name!r} is used twice; set meta.name")
            seen.add(name)
            uid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"c360/expectations/{self.name}/{name}"))
            specs.append(ExpectationSpec(i, raw["type"], dict(raw.get("kwargs") or {}), meta, name, uid))
        return specs

    @property
    def c360_meta(self) -> dict[str, Any]:
        """The suite's `meta.c360` block (key columns, derived columns)."""
        return dict((self.data.get("meta") or {}).get("c360") or {})

    @property
    def key_columns(self) -> list[str]:
        """Columns that identify a failing row in audit.check_results (`unexpected_keys`)."""
        return list(self.c360_meta.get("key_columns") or [])

    @property
    def derived_columns(self) -> dict[str, str]:
        """Columns computed in DuckDB when a batch is read: name -> SQL expression."""
        return dict(self.c360_meta.get("derived_columns") or {})

    @property
    def has_critical(self) -> bool:
        """Whether any expectation is critical (its Dagster check then blocks)."""
        return any(e.severity == "critical" for e in self.expectations)

    @property
    def parameters(self) -> set[str]:
        """Every suite parameter used."""
        return set().union(*(e.parameters for e in self.expectations)) if self.expectations else set()

    def columns_needed(self, available: list[str]) -> list[str]:
        """Columns to read for the row-level expectations: only those, plus the keys (memory stays bounded)."""
        have = set(available)
        wanted = [*self.key_columns]
        for e in self.expectations:
            if not e.is_schema:
                wanted += e.columns + e.condition_columns(have)
        return [c for c in dict.fromkeys(wanted) if c in have]


def load_suite(path: Path) -> Suite:
    """Read one suite file."""
    data = json.loads(Path(path).read_text())
    suite = Suite(data["name"], Path(path), data)
    _ = suite.expectations  # fail on a malformed suite when it is loaded, not in the middle of a run
    return suite


def suite_path(kind: str, name: str, expectations_dir: Path | None = None) -> Path:
    """Path of a checked-in suite: `expectations/<kind>/<name>.json`."""
    return Path(expectations_dir or EXPECTATIONS_DIR) / kind / f"{name}.json"


def all_suite_paths(expectations_dir: Path | None = None) -> list[Path]:
    """Every suite file of the expectations folder."""
    root = Path(expectations_dir or EXPECTATIONS_DIR)
    return sorted(p for p in root.glob("*/*.json"))
