"""Activation (reverse-ETL): keep email tools' lists equal to the audited segments, never breaking consent.

Public API: `load_segment_specs` (dbt manifest -> SegmentSpec), `run_sync` (one segment to one
destination), `run_erasures`, and the `SyncResult`, `SyncOptions`, `SyncBlocked`, `SyncFailed` types.
See ../shared/design/ACTIVATION.md for the behaviour and the consent rules.
"""

from .erasure import ErasureResult, run_erasures
from .plan import SegmentKeyError
from .spec import SegmentSpec, SegmentSpecError, load_segment_specs
from .sync import SyncBlocked, SyncFailed, SyncOptions, SyncResult, run_sync

__all__ = [
    "ErasureResult",
    "SegmentKeyError",
    "SegmentSpec",
    "SegmentSpecError",
    "SyncBlocked",
    "SyncFailed",
    "SyncOptions",
    "SyncResult",
    "load_segment_specs",
    "run_erasures",
    "run_sync",
]
