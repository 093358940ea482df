"""Great Expectations 1.x on pandas batches read from DuckDB, and the Data Docs site.

GX 1.x has no DuckDB dialect, so each suite is validated on pandas DataFrames holding only the columns it
needs. A large table is read in several batches; a batch never splits what an expectation must see
together (rows sharing a uniqueness key stay in one batch), and the per-batch results of an expectation are
merged (counts summed, `mostly` re-evaluated). Expectations about the column set run on a zero-row frame of
every column, so schema drift is seen although the data batches hold a few columns only.

Validation results are kept as JSON under `<home>/quality/validations/` (the last `docs_keep_runs` runs per
suite) and rendered to `<home>/docs/gx/` (GX Data Docs, `index.html`; the run report's data-quality page renders
the same results offline, orchestration/report/site.py).

Great Expectations is imported only here, and only when a suite is validated: its import costs seconds.
"""

from __future__ import annotations

import contextlib
import re
import shutil
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pandas as pd

from orchestration.quality.results import CheckRecord, to_jsonable
from orchestration.quality.suites import ROW_COUNT_TYPES, ExpectationSpec, Suite

DOCS_SITE = "c360"
# GX's Data Docs site, a folder of `$C360_HOME/docs/` (whose entry page links it).
GX_DOCS_FOLDER = "gx"


@cache
def _map_expectation(type_: str) -> bool:
    """Whether an expectation judges rows one by one (its results over batches add up)."""
    from great_expectations.expectations.expectation import (
        ColumnMapExpectation,
        ColumnPairMapExpectation,
        MulticolumnMapExpectation,
    )
    from great_expectations.expectations.registry import get_expectation_impl

    return issubclass(get_expectation_impl(type_), ColumnMapExpectation | ColumnPairMapExpectation
                      | MulticolumnMapExpectation)


def mergeable(spec: ExpectationSpec) -> bool:
    """Whether the expectation's results over several batches can be combined exactly."""
    return spec.type in ROW_COUNT_TYPES or _map_expectation(spec.type)


def split_key(suite: Suite, specs: Iterable[ExpectationSpec], key: list[str]) -> bool:
    """True when the data expectations may run on batches split by `key`: all merge exactly, and every
    uniqueness expectation covers the key (rows that could collide land in the same batch)."""
    for spec in specs:
        if not mergeable(spec):
            return False
        if spec.is_unique and not set(key) <= set(spec.columns):
            return False
    return True


def uniqueness_key(suite: Suite) -> list[str]:
    """The columns a table is split on: those of its narrowest uniqueness expectation, else its keys."""
    uniques = sorted((e.columns for e in suite.expectations if e.is_unique and not e.is_schema), key=len)
    return list(uniques[0]) if uniques else suite.key_columns[:1]


@contextlib.contextmanager
def _no_fingerprint() -> Iterator[None]:
    """Skip the content hash GX computes of every pandas batch (a `batch_markers` entry nothing here reads).

    Hashing every value of a million-row frame cost more than validating it. GX has no option for it, only
    the size threshold below which it hashes: set to zero while our batch is loaded, then restored.
    """
    from great_expectations.execution_engine import pandas_execution_engine

    threshold = pandas_execution_engine.HASH_THRESHOLD
    pandas_execution_engine.HASH_THRESHOLD = 0
    try:
        yield
    finally:
        pandas_execution_engine.HASH_THRESHOLD = threshold


def vectorisable(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with dtypes GX's pandas metrics compare in vectorised form.

    GX compares only nanosecond datetimes and numpy int64/float64 columns with whole-column operations; the
    microsecond timestamps and nullable integers DuckDB hands over would be compared one Python call per
    value (most of the audit's time at a million rows).
    """
    for column, dtype in frame.dtypes.items():
        try:
            if isinstance(dtype, pd.DatetimeTZDtype):
                if dtype.unit != "ns":
                    frame[column] = frame[column].dt.as_unit("ns")
            elif pd.api.types.is_datetime64_dtype(dtype):
                if dtype != "datetime64[ns]":
                    frame[column] = frame[column].astype("datetime64[ns]")
            elif isinstance(dtype, pd.api.extensions.ExtensionDtype) and pd.api.types.is_integer_dtype(dtype):
                frame[column] = frame[column].astype("float64")
            elif pd.api.types.is_integer_dtype(dtype) and dtype != "int64" and not pd.api.types.is_bool_dtype(dtype):
                frame[column] = frame[column].astype("int64")
            elif pd.api.types.is_float_dtype(dtype) and dtype != "float64":
                frame[column] = frame[column].astype("float64")
        except (OverflowError, ValueError, pd.errors.OutOfBoundsDatetime):
            pass  # a value outside the nanosecond range: left as is, compared value by value
    return frame


# Above this many cells a batch is validated in narrow frames, one per set of columns the expectations read:
# GX filters the whole frame it is given for every expectation, so a wide frame costs columns x expectations.
NARROW_ABOVE_CELLS = 2_000_000


def _column_groups(suite: Suite, specs: list[ExpectationSpec], frame: pd.DataFrame
                   ) -> list[tuple[list[ExpectationSpec], list[str] | None]]:
    """The expectations to validate together, each group with the columns of its frame (None: all)."""
    if frame.size <= NARROW_ABOVE_CELLS:
        return [(specs, None)]
    available = set(frame.columns)
    keys = [k for k in suite.key_columns if k in available]
    groups: dict[tuple[str, ...], list[ExpectationSpec]] = {}
    for spec in specs:
        cols = [c for c in spec.columns + spec.condition_columns(available) if c in available]
        groups.setdefault(tuple(dict.fromkeys(cols or keys[:1])), []).append(spec)
    return [(group, list(dict.fromkeys([*cols, *keys]))) for cols, group in groups.items()]


@dataclass
class SuiteRun:
    """What validating one suite produced: audit records, the GX result for Data Docs, rows seen."""

    records: list[CheckRecord]
    gx_result: Any
    rows: int


def _applicable(spec: ExpectationSpec, params: dict[str, Any], columns: set[str]) -> str | None:
    """Why an expectation cannot apply (None when it can)."""
    missing = sorted(spec.parameters - set(params))
    if missing:
        return f"parameter not available in this run: {', '.join(missing)}"
    if spec.meta.get("optional_column") and not set(spec.columns) <= columns:
        return f"optional column not in the table yet: {', '.join(sorted(set(spec.columns) - columns))}"
    return None


def _keys_of(result: dict[str, Any], key_columns: list[str], limit: int) -> list[Any]:
    """A few identifying keys of the failing rows, without repeats."""
    keys: list[Any] = []
    rows = result.get("partial_unexpected_index_list") or []
    if rows and isinstance(rows[0], dict):
        for row in rows:
            key = {k: row.get(k) for k in key_columns if k in row} or row
            if key not in keys:
                keys.append(key)
    else:
        for value in result.get("partial_unexpected_list") or []:
            if value not in keys:
                keys.append(value)
    return to_jsonable(keys[:limit])


class GxRunner:
    """Validates suites with an ephemeral GX context whose results and docs live under C360_HOME."""

    def __init__(self, docs_dir: Path, results_dir: Path, keep_runs: int = 20, keys_limit: int = 10,
                 index_limit: int = 100):
        self.docs_dir = Path(docs_dir)
        self.results_dir = Path(results_dir)
        self.keep_runs = keep_runs
        self.keys_limit = keys_limit
        self.index_limit = index_limit
        self._context = None
        self._batch_definition = None

    @property
    def context(self):
        """The GX context: ephemeral (suites come from the repository), with filesystem results and docs."""
        if self._context is None:
            import great_expectations as gx
            from great_expectations.data_context.types.base import (
                DataContextConfig,
                InMemoryStoreBackendDefaults,
                ProgressBarsConfig,
            )

            defaults = InMemoryStoreBackendDefaults()
            stores = dict(defaults.stores)
            stores[defaults.validation_results_store_name] = {
                "class_name": "ValidationResultsStore",
                "store_backend": {"class_name": "TupleFilesystemStoreBackend",
                                  "root_directory": str(self.results_dir), "base_directory": "."},
            }
            config = DataContextConfig(
                store_backend_defaults=defaults,
                stores=stores,
                analytics_enabled=False,
                progress_bars=ProgressBarsConfig(globally=False),
                data_docs_sites={DOCS_SITE: {
                    "class_name": "SiteBuilder",
                    "show_how_to_buttons": False,
                    "store_backend": {"class_name": "TupleFilesystemStoreBackend",
                                      "root_directory": str(self.docs_dir), "base_directory": "."},
                    # The index lists the latest results only: it reads every result it lists, at every check.
                    "site_index_builder": {"class_name": "DefaultSiteIndexBuilder",
                                           "validation_results_limit": self.index_limit},
                }},
            )
            self.results_dir.mkdir(parents=True, exist_ok=True)
            self.docs_dir.mkdir(parents=True, exist_ok=True)
            self._context = gx.get_context(mode="ephemeral", project_config=config)
            asset = self._context.data_sources.add_pandas("c360").add_dataframe_asset("batch")
            self._batch_definition = asset.add_batch_definition_whole_dataframe("whole_dataframe")
        return self._context

    def gx_suite(self, suite: Suite, specs: list[ExpectationSpec] | None = None):
        """A GX ExpectationSuite of the suite (or of some of its expectations), not added to the context."""
        import great_expectations as gx

        chosen = suite.expectations if specs is None else specs
        return gx.ExpectationSuite(
            name=suite.name, expectations=[e.gx_config() for e in chosen], meta=dict(suite.data.get("meta") or {}),
            notes=suite.data.get("notes"),
        )

    def _validate(self, suite: Suite, specs: list[ExpectationSpec], frame: pd.DataFrame, params: dict[str, Any]):
        _ = self.context
        key_columns = [k for k in suite.key_columns if k in frame.columns]
        result_format = {"result_format": "SUMMARY", "partial_unexpected_count": self.keys_limit * 2}
        if key_columns:
            result_format["unexpected_index_column_names"] = key_columns
        with _no_fingerprint():  # the batch's data is loaded (and would be hashed) when it is validated
            batch = self._batch_definition.get_batch(batch_parameters={"dataframe": frame})
            return batch.validate(self.gx_suite(suite, specs), result_format=result_format,
                                  expectation_parameters=params)

    def validate(
        self,
        suite: Suite,
        *,
        asset: str,
        columns: list[str],
        schema_frames: list[tuple[str, pd.DataFrame]],
        data_batches: Iterable[pd.DataFrame],
        params: dict[str, Any],
        partitions: str | None = None,
        skip_all_reason: str | None = None,
    ) -> SuiteRun:
        """Validate every applicable expectation of a suite and return one audit record per expectation.

        `schema_frames` are zero-row frames of every column (one per distinct column set, labelled with
        where it was seen); `data_batches` yields frames of the needed columns (several for a large table).
        """
        available = set(columns)
        skipped: dict[int, str] = {}
        for spec in suite.expectations:
            reason = skip_all_reason if skip_all_reason and not spec.is_schema else _applicable(spec, params, available)
            if reason:
                skipped[spec.index] = reason
        schema_specs = [e for e in suite.expectations if e.is_schema and e.index not in skipped]
        data_specs = [e for e in suite.expectations if not e.is_schema and e.index not in skipped]

        per_spec: dict[int, list[Any]] = {e.index: [] for e in schema_specs + data_specs}
        schema_labels: dict[int, list[str]] = {e.index: [] for e in schema_specs}
        meta: dict[str, Any] = {}
        for label, frame in schema_frames if schema_specs else []:
            result = self._validate(suite, schema_specs, frame, params)
            meta = dict(result.meta)
            by_id = _by_id(result)
            for spec in schema_specs:
                r = by_id[spec.uid]
                per_spec[spec.index].append(r)
                if not r.success:
                    schema_labels[spec.index].append(label)
        rows = 0
        if data_specs and not skip_all_reason:
            # Copy-on-Write (pandas 3's default), for the batches only: a frame's column groups and GX's own
            # subsets then share the batch's arrays instead of copying (and re-consolidating) them for every
            # group. Same results; 10-40% less time at the large tier (README: sizing). The option is the
            # process's: fine while the jobs' steps run one at a time (in_process_executor).
            with pd.option_context("mode.copy_on_write", True):
                for frame in data_batches:
                    frame = vectorisable(frame)
                    rows += len(frame)
                    for specs, columns in _column_groups(suite, data_specs, frame):
                        result = self._validate(suite, specs, frame if columns is None else frame[columns], params)
                        meta = dict(result.meta)
                        by_id = _by_id(result)
                        for spec in specs:
                            per_spec[spec.index].append(by_id[spec.uid])
                    del frame

        records: list[CheckRecord] = []
        gx_results = []
        for spec in suite.expectations:
            if spec.index in skipped:
                records.append(CheckRecord(asset, suite.name, spec.name, "expectation", spec.severity, "skipped",
                                           details={"reason": skipped[spec.index]}, partitions=partitions))
                continue
            parts = per_spec[spec.index]
            if not parts:
                records.append(CheckRecord(asset, suite.name, spec.name, "expectation", spec.severity, "skipped",
                                           details={"reason": "no batch to validate"}, partitions=partitions))
                continue
            record, merged = self._merge(suite, spec, parts, asset, partitions, schema_labels.get(spec.index))
            records.append(record)
            gx_results.append(merged)
        return SuiteRun(records, self._suite_result(suite, gx_results, meta), rows)

    def _merge(self, suite: Suite, spec: ExpectationSpec, parts: list[Any], asset: str, partitions: str | None,
               failing_labels: list[str] | None):
        """One audit record (and one GX result for the docs) from an expectation's per-batch results."""
        from great_expectations.core.expectation_validation_result import ExpectationValidationResult

        config = parts[0].expectation_config
        kwargs = {k: v for k, v in config.kwargs.items() if k != "batch_id"}
        errors = [e for p in parts for e in _exceptions(p.exception_info)]
        details: dict[str, Any] = {"kwargs": to_jsonable(kwargs), "why": spec.meta.get("why")}
        result: dict[str, Any]
        if errors:
            record = CheckRecord(asset, suite.name, spec.name, "expectation", spec.severity, "error",
                                 details={**details, "error": errors[0]}, partitions=partitions)
            return record, parts[0]
        if spec.is_schema:
            success = all(p.success for p in parts)
            observed = parts[0].result.get("observed_value") if len(parts) == 1 else [
                p.result.get("observed_value") for p in parts]
            result = dict(parts[0].result) if len(parts) == 1 else {"observed_value": observed}
            mismatch = [p.result.get("details", {}).get("mismatched") for p in parts if not p.success]
            if mismatch:
                details["mismatched"] = mismatch[0] if len(mismatch) == 1 else mismatch
            record = CheckRecord(asset, suite.name, spec.name, "expectation", spec.severity,
                                 "passed" if success else "failed", observed_value=observed,
                                 unexpected_keys=(failing_labels or [])[: self.keys_limit], details=details,
                                 partitions=partitions)
        elif spec.type in ROW_COUNT_TYPES:
            observed = sum(int(p.result.get("observed_value") or 0) for p in parts)
            success = _row_count_ok(spec.type, kwargs, observed) if len(parts) > 1 else bool(parts[0].success)
            result = {"observed_value": observed}
            record = CheckRecord(asset, suite.name, spec.name, "expectation", spec.severity,
                                 "passed" if success else "failed", observed_value=observed, element_count=observed,
                                 details=details, partitions=partitions)
        else:
            result = _sum_map_results([p.result for p in parts])
            if len(parts) == 1:
                success = bool(parts[0].success)
            else:
                nonmissing = result["element_count"] - result["missing_count"]
                mostly = float(kwargs.get("mostly") or 1.0)
                success = nonmissing == 0 or (1 - result["unexpected_count"] / nonmissing) >= mostly
            observed = {"unexpected_percent": result.get("unexpected_percent"),
                        "unexpected_values": result.get("partial_unexpected_counts", [])[: self.keys_limit]}
            record = CheckRecord(asset, suite.name, spec.name, "expectation", spec.severity,
                                 "passed" if success else "failed", observed_value=observed,
                                 element_count=result.get("element_count"),
                                 unexpected_count=result.get("unexpected_count"),
                                 unexpected_keys=_keys_of(result, suite.key_columns, self.keys_limit) if not success
                                 else [], details=details, partitions=partitions)
        merged = ExpectationValidationResult(success=record.status == "passed", expectation_config=config,
                                             result=to_jsonable(result), meta=dict(parts[0].meta or {}),
                                             exception_info=parts[0].exception_info)
        return record, merged

    def _suite_result(self, suite: Suite, results: list[Any], meta: dict[str, Any]):
        from great_expectations.core.expectation_validation_result import ExpectationSuiteValidationResult

        ok = sum(bool(r.success) for r in results)
        statistics = {
            "evaluated_expectations": len(results), "successful_expectations": ok,
            "unsuccessful_expectations": len(results) - ok,
            "success_percent": 100.0 * ok / len(results) if results else None,
        }
        return ExpectationSuiteValidationResult(
            success=ok == len(results), results=results, suite_name=suite.name, statistics=statistics, meta=meta,
        )

    def publish(self, suite: Suite, suite_run: SuiteRun, run_id: str, batch_label: str) -> Path:
        """Store the run's result and update the Data Docs site; returns the page of this validation."""
        from great_expectations.core.run_identifier import RunIdentifier
        from great_expectations.data_context.types.resource_identifiers import (
            ExpectationSuiteIdentifier,
            ValidationResultIdentifier,
        )

        context = self.context
        suite_id = ExpectationSuiteIdentifier(name=suite.name)
        if not any(s.name == suite.name for s in context.suites.all()):
            context.suites.add(self.gx_suite(suite))
        run_time = datetime.now(UTC)
        result = suite_run.gx_result
        result.meta["run_id"] = RunIdentifier(run_name=run_id, run_time=run_time)
        result.meta["validation_time"] = run_time
        result.meta["active_batch_definition"] = {
            "datasource_name": "c360", "data_connector_name": "fluent", "data_asset_name": batch_label,
            "batch_identifiers": {},
        }
        identifier = ValidationResultIdentifier(
            expectation_suite_identifier=suite_id,
            run_id=RunIdentifier(run_name=_safe(run_id), run_time=run_time),
            batch_identifier=_safe(batch_label),
        )
        context.validation_results_store.store_validation_results(result, identifier, suite_id)
        self.prune(suite.name)
        # The suite's own page is rendered only when the suite file changed since: it costs as much as a result.
        suite_page = self.docs_dir.joinpath("expectations", *suite.name.split(".")).with_suffix(".html")
        stale = not suite_page.exists() or suite_page.stat().st_mtime < suite.path.stat().st_mtime
        context.build_data_docs(site_names=[DOCS_SITE], resource_identifiers=[identifier, *([suite_id] * stale)])
        urls = context.get_docs_sites_urls(resource_identifier=identifier, site_name=DOCS_SITE)
        page = urls[0]["site_url"] if urls else None
        return Path(unquote(page.removeprefix("file://"))) if page else self.docs_dir / "index.html"

    def prune(self, suite_name: str) -> None:
        """Keep the validation results (and their pages) of the last `keep_runs` runs of a suite."""
        parts = suite_name.split(".")
        stored = self.results_dir.joinpath(*parts)
        if not stored.is_dir():
            return
        runs = [d for d in stored.iterdir() if d.is_dir()]
        newest = {d: max((t.name for t in d.iterdir() if t.is_dir()), default="") for d in runs}
        for old in sorted(runs, key=lambda d: newest[d], reverse=True)[self.keep_runs:]:
            shutil.rmtree(old, ignore_errors=True)
            shutil.rmtree(self.docs_dir.joinpath("validations", *parts, old.name), ignore_errors=True)


def _exceptions(info: Any) -> list[str]:
    """Messages of the exceptions an expectation raised: GX reports them flat, or per metric it computed."""
    if not isinstance(info, dict):
        return []
    if "raised_exception" in info or "exception_message" in info:
        if info.get("raised_exception") or info.get("exception_message"):
            return [str(info.get("exception_message") or "exception")]
        return []
    return [m for v in info.values() for m in _exceptions(v)]


def _by_id(suite_result: Any) -> dict[str, Any]:
    """A suite result's expectation results by expectation id (GX does not keep the suite's order)."""
    return {r.expectation_config.id: r for r in suite_result.results}


def _safe(text: str) -> str:
    """A name usable as one path segment of the results store and the docs site."""
    return re.sub(r"[^A-Za-z0-9._=-]+", "_", text)


def _row_count_ok(type_: str, kwargs: dict[str, Any], observed: int) -> bool:
    if type_ == "expect_table_row_count_to_equal":
        return observed == kwargs.get("value")
    low, high = kwargs.get("min_value"), kwargs.get("max_value")
    if low is not None and (observed <= low if kwargs.get("strict_min") else observed < low):
        return False
    return not (high is not None and (observed >= high if kwargs.get("strict_max") else observed > high))


def _sum_map_results(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Add up the SUMMARY results of a map expectation over batches."""
    if len(results) == 1:
        return dict(results[0])
    total = {k: sum(int(r.get(k) or 0) for r in results) for k in ("element_count", "unexpected_count",
                                                                     "missing_count")}
    nonmissing = total["element_count"] - total["missing_count"]
    counts: dict[Any, int] = {}
    for r in results:
        for item in r.get("partial_unexpected_counts") or []:
            value = item.get("value")
            value = tuple(value) if isinstance(value, list) else value
            counts[value] = counts.get(value, 0) + int(item.get("count") or 0)
    return {
        **total,
        "unexpected_percent": 100.0 * total["unexpected_count"] / nonmissing if nonmissing else 0.0,
        "missing_percent": 100.0 * total["missing_count"] / total["element_count"] if total["element_count"] else 0.0,
        "partial_unexpected_list": [v for r in results for v in (r.get("partial_unexpected_list") or [])][:40],
        "partial_unexpected_index_list": [
            v for r in results for v in (r.get("partial_unexpected_index_list") or [])][:40],
        "partial_unexpected_counts": [
            {"value": v, "count": c} for v, c in sorted(counts.items(), key=lambda kv: -kv[1])][:40],
    }
