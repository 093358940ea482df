"""Quality stage (ARCHITECTURE.md decision 3, write-audit-publish): Great Expectations suites from
`expectations/` and set-based SQL checks audit the working warehouse before anything is published.

- `build_quality_checks(settings, segment_names)`: the Dagster asset checks (one per guarded asset);
- `Auditor` / `audit_targets`: the same audit without Dagster (tests, benchmarks, scripts);
- `failed_blocking_checks(con, run_id)`: what the publish step asks before publishing.
"""

from orchestration.quality.audit import Auditor, AuditRun, AuditTarget, audit_targets, duckdb_connector
from orchestration.quality.checks import AUDIT_CHECK, build_quality_checks
from orchestration.quality.config import AuditConfig
from orchestration.quality.manifest import segment_model_names
from orchestration.quality.results import failed_blocking_checks

__all__ = [
    "AUDIT_CHECK", "AuditConfig", "AuditRun", "AuditTarget", "Auditor", "audit_targets", "build_quality_checks",
    "duckdb_connector", "failed_blocking_checks", "segment_model_names",
]
