"""Which syncs a `c360 run` may do: the email tools are live systems and only ever get today's state.

A run built as of a date before the latest export (a look at the past, or a backfill) publishes that
past; sending it to Klaviyo or Mailchimp would take members off lists and put back people who left
since. So such a run syncs only the file outbox unless asked explicitly (`--sync-past`), and
`--no-sync` publishes without syncing anything. The decision travels as run tags to the sync assets.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

SYNC_SCOPE_TAG = "c360/sync_scope"  # all | file_only | none
SYNC_SKIP_REASON_TAG = "c360/sync_skip_reason"
LIVE_DESTINATIONS = ("klaviyo", "mailchimp")


def sync_tags(*, as_of: date | None, latest_export: date | None, no_sync: bool = False,
              sync_past: bool = False) -> dict[str, str]:
    """Run tags saying which syncs the run does and why the others are skipped (empty: every sync)."""
    if no_sync:
        return {SYNC_SCOPE_TAG: "none", SYNC_SKIP_REASON_TAG: "--no-sync: published, nothing synced"}
    if as_of is not None and latest_export is not None and as_of < latest_export and not sync_past:
        return {SYNC_SCOPE_TAG: "file_only",
                SYNC_SKIP_REASON_TAG: f"the run is as of {as_of}, before the latest export date {latest_export}: "
                                      "the email tools are not sent a past state (--sync-past sends it)"}
    return {}


def skip_reason(tags: Mapping[str, str], destination: str) -> str | None:
    """Why a run with these tags does not sync to `destination`, or None when it does."""
    scope = tags.get(SYNC_SCOPE_TAG, "all")
    if scope == "none" or (scope == "file_only" and destination in LIVE_DESTINATIONS):
        return tags.get(SYNC_SKIP_REASON_TAG) or f"sync scope {scope}"
    return None
