"""No live sync of the past: which syncs a `c360 run` does, from its as-of date and flags."""

from __future__ import annotations

from datetime import date

import pytest
from act_helpers import SPEC, members

from orchestration.activation.scope import SYNC_SCOPE_TAG, skip_reason, sync_tags
from orchestration.cli import build_parser

LATEST = date(2026, 10, 31)


def test_a_run_as_of_the_past_syncs_only_the_outbox_unless_asked():
    past = sync_tags(as_of=date(2026, 9, 30), latest_export=LATEST)
    assert past[SYNC_SCOPE_TAG] == "file_only"
    assert skip_reason(past, "file") is None
    for dest in ("klaviyo", "mailchimp"):
        reason = skip_reason(past, dest)
        assert "as of 2026-09-30, before the latest export date 2026-10-31" in reason and "--sync-past" in reason
    assert sync_tags(as_of=date(2026, 9, 30), latest_export=LATEST, sync_past=True) == {}
    assert sync_tags(as_of=LATEST, latest_export=LATEST) == {}  # today's state: every sync
    assert skip_reason({}, "klaviyo") is None  # schedules and sensors set no tag: every sync


def test_no_sync_publishes_and_syncs_nothing():
    tags = sync_tags(as_of=LATEST, latest_export=LATEST, no_sync=True)
    assert all("--no-sync" in skip_reason(tags, d) for d in ("file", "klaviyo", "mailchimp"))


def test_run_cli_flags():
    args = build_parser().parse_args(["run", "--as-of", "2026-09-30", "--sync-past"])
    assert (args.as_of, args.sync_past, args.no_sync) == (date(2026, 9, 30), True, False)
    assert build_parser().parse_args(["run", "--no-sync"]).no_sync is True


@pytest.mark.parametrize("scope", ["file_only", "none"])
def test_the_sync_asset_skips_without_a_request_and_says_why(wh, klaviyo, tmp_path, monkeypatch, scope):
    from dagster import materialize

    from orchestration.activation.assets import build_sync_asset
    from orchestration.settings import Settings

    wh.publish(members(3))
    monkeypatch.setenv("KLAVIYO_API_KEY", klaviyo.api_key)
    monkeypatch.setenv("KLAVIYO_BASE_URL", klaviyo.url)
    settings = Settings.from_env({"C360_HOME": str(tmp_path), "SERVING_DATABASE": str(wh.serving),
                                  "DUCKDB_DATABASE": str(wh.warehouse)})
    asset = build_sync_asset(SPEC, "klaviyo", settings)
    tags = sync_tags(as_of=date(2026, 9, 30), latest_export=LATEST, no_sync=scope == "none")
    result = materialize([asset], tags=tags)
    assert result.success and klaviyo.calls == []
    (event,) = result.get_asset_materialization_events()
    meta = event.step_materialization_data.materialization.metadata
    assert meta["status"].value == "skipped"
    assert ("2026-09-30" if scope == "file_only" else "--no-sync") in meta["message"].value
    # the same asset in a run of today's state sends the segment
    assert materialize([asset]).success and klaviyo.members("C360 test") == {m["email"] for m in members(3)}
