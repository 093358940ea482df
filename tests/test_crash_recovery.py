"""Crash recovery and one run at a time per C360_HOME.

The first tests exercise the pieces (the lock across processes, recovery on a Dagster instance, leftover files,
a stale WAL at publish). The real-kill tests start `c360 run` as a subprocess in its own process group, SIGKILL
the group at a chosen point, then check that a plain `c360 run` recovers by itself and publishes the same
tables as an uninterrupted run.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from pathlib import Path

import duckdb
import pytest
from dagster import DagsterInstance, DagsterRunStatus, execute_job, job, op, reconstructable
from dagster._core.storage.dagster_run import DagsterRun

from orchestration.home_lock import HomeBusy, holds_lock, home_lock, read_holder
from orchestration.locked_executor import locked_in_process_executor
from orchestration.publish.serving import publish_serving
from orchestration.recovery import PID_TAG, process_gone, process_identity, recover_runs, remove_crash_leftovers

HOLD = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from orchestration.home_lock import home_lock
    with home_lock(Path(sys.argv[1]), command="holder under test"):
        print("held", flush=True)
        time.sleep(600)
""")


def _hold_lock(home: Path) -> subprocess.Popen:
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(home)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    return holder


def test_the_lock_names_its_holder_and_dies_with_it(tmp_path):
    holder = _hold_lock(tmp_path)
    try:
        with pytest.raises(HomeBusy) as busy, home_lock(tmp_path, timeout=0):
            pass
        assert f"pid {holder.pid}" in str(busy.value) and "holder under test" in str(busy.value)
        assert busy.value.holder.pid == holder.pid
        started = time.monotonic()
        with pytest.raises(HomeBusy, match="waited"), home_lock(tmp_path, timeout=0.6, poll=0.1):
            pass
        assert time.monotonic() - started >= 0.6
    finally:
        holder.kill()
        holder.wait()
    # SIGKILLed: the kernel dropped its flock; the file still names it, but nobody holds it.
    with home_lock(tmp_path, command="after", timeout=0) as me:
        assert me.pid == os.getpid() and read_holder(tmp_path).command == "after"
        with home_lock(tmp_path, timeout=0):  # re-entered by the same process (the run's executor)
            assert holds_lock(tmp_path)
        assert holds_lock(tmp_path)
    assert not holds_lock(tmp_path) and read_holder(tmp_path) is None


def test_a_waiter_is_told_who_holds_the_lock_and_gets_it_when_freed(tmp_path):
    holder = _hold_lock(tmp_path)
    told: list[str] = []
    try:
        threading.Timer(0.5, holder.kill).start()
        with home_lock(tmp_path, on_wait=told.append, poll=0.1, timeout=30):
            pass
    finally:
        holder.kill()
        holder.wait()
    assert len(told) == 1 and f"pid {holder.pid}" in told[0] and "waiting" in told[0]


def _dead_identity() -> str:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    identity = process_identity(child.pid)
    child.kill()
    child.wait()
    return identity


def test_recovery_fails_runs_whose_process_is_gone_and_frees_their_slots(tmp_path):
    dead = _dead_identity()
    assert process_gone(dead) is True and process_gone(process_identity()) is False
    assert process_gone("another-host:1:1.0") is None
    with DagsterInstance.local_temp(str(tmp_path)) as instance:
        storage = instance.event_log_storage
        storage.set_concurrency_slots("duckdb_writer", 1)

        def add(status, tags) -> str:
            run_id = str(uuid.uuid4())
            instance.add_run(DagsterRun(job_name="c360_main", run_id=run_id, status=status, tags=tags))
            return run_id

        killed = add(DagsterRunStatus.STARTED, {PID_TAG: dead})
        alive = add(DagsterRunStatus.STARTED, {PID_TAG: process_identity()})
        unknown = add(DagsterRunStatus.STARTING, {})  # launched by a daemon, no worker yet: not ours to judge
        ended = add(DagsterRunStatus.FAILURE, {PID_TAG: dead})
        assert storage.claim_concurrency_slot("duckdb_writer", killed, "raw__shop__orders").is_claimed
        storage.claim_concurrency_slot("duckdb_writer", ended, "dbt")  # pending behind the killed run's slot
        report = recover_runs(instance)
        assert report.failed_runs == [killed]
        statuses = {r: instance.get_run_by_id(r).status for r in (killed, alive, unknown, ended)}
        assert statuses == {killed: DagsterRunStatus.FAILURE, alive: DagsterRunStatus.STARTED,
                            unknown: DagsterRunStatus.STARTING, ended: DagsterRunStatus.FAILURE}
        failure = instance.get_records_for_run(killed).records[-1].event_log_entry
        assert "crash recovery" in failure.dagster_event.message and dead in failure.dagster_event.message
        assert set(report.freed_runs) == {killed, ended}
        assert storage.get_concurrency_info("duckdb_writer").active_slot_count == 0
        assert storage.get_concurrency_run_ids() == set()
        fresh = add(DagsterRunStatus.STARTED, {PID_TAG: process_identity()})
        assert storage.claim_concurrency_slot("duckdb_writer", fresh, "raw__shop__orders").is_claimed
        assert recover_runs(instance).lines() == []  # nothing more to do


def test_leftovers_of_a_killed_publish_or_outbox_write_are_removed(tmp_path):
    serving = tmp_path / "serving.duckdb"
    keep = [serving, tmp_path / "serving.duckdb.wal", tmp_path / "outbox" / "seg_a" / "file" / "x.jsonl"]
    gone = [tmp_path / f".serving.duckdb.{uuid.uuid4().hex}.tmp",
            tmp_path / f".serving.duckdb.{uuid.uuid4().hex}.tmp.wal",
            tmp_path / "outbox" / "seg_a" / "file" / "x.jsonl.tmp"]
    for path in keep + gone:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x")
    report = remove_crash_leftovers(serving, tmp_path / "outbox")
    assert sorted(report.removed_files) == sorted(gone)
    assert all(p.exists() for p in keep) and not any(p.exists() for p in gone)
    assert "3 temporary file(s)" in report.lines()[0]


CRASHING_WRITER = textwrap.dedent("""
    import sys, time, duckdb
    con = duckdb.connect(sys.argv[1])
    con.execute("set checkpoint_threshold = '1TB'")
    con.execute("insert into marts.customer_360 select 'written by a client that crashed'")
    print("written", flush=True)
    time.sleep(600)
""")


def test_a_stale_wal_beside_serving_does_not_make_the_new_file_unopenable(tmp_path):
    warehouse = duckdb.connect(str(tmp_path / "w.duckdb"))
    warehouse.execute("create schema marts; create table marts.customer_360 as select 'c1' as customer_key")
    serving = tmp_path / "serving.duckdb"
    publish_serving(warehouse, serving)
    # A read-write client of serving.duckdb is killed with its changes only in the WAL.
    writer = subprocess.Popen([sys.executable, "-c", CRASHING_WRITER, str(serving)], stdout=subprocess.PIPE, text=True)
    assert writer.stdout.readline().strip() == "written"
    writer.kill()
    writer.wait()
    assert Path(f"{serving}.wal").exists()
    warehouse.execute("insert into marts.customer_360 values ('c2')")
    publish_serving(warehouse, serving)
    published = duckdb.connect(str(serving), read_only=True)
    assert published.execute("select customer_key from marts.customer_360 order by 1").fetchall() == [
        ("c1",), ("c2",)]


# -- a run launched by anyone waits in its executor ------------------------------------------------------------

# The home of the job below: set by the test before the job is reconstructed (in this process).
_TARGET_HOME: list[Path] = []


@op
def _one() -> int:
    return 1


def _locked_job_target():
    @job(executor_def=locked_in_process_executor(_TARGET_HOME[-1]), name="locked_job")
    def locked_job():
        _one()

    return locked_job


def test_a_launched_run_waits_for_the_home_in_its_executor_and_says_for_whom(tmp_path):
    _TARGET_HOME.append(tmp_path)
    holder = _hold_lock(tmp_path)
    results = []
    try:
        with DagsterInstance.local_temp(str(tmp_path)) as instance:
            worker = threading.Thread(target=lambda: results.append(
                execute_job(reconstructable(_locked_job_target), instance=instance, raise_on_error=False)))
            worker.start()
            deadline = time.monotonic() + 60
            waiting = []
            while not waiting and time.monotonic() < deadline:
                runs = instance.get_runs()
                waiting = [r for run in runs for r in instance.all_logs(run.run_id)
                           if "in use by" in (r.user_message or "")]
                time.sleep(0.1)
            assert waiting, "the run never said it was waiting"
            assert f"pid {holder.pid}" in waiting[0].user_message
            assert "holder under test" in waiting[0].user_message
            assert not results and instance.get_runs()[0].tags[PID_TAG] == process_identity()
            holder.kill()
            worker.join(60)
            assert results and results[0].success
    finally:
        holder.kill()
        holder.wait()
