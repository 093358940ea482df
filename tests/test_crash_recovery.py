"""Crash recovery and one run at a time per C360_HOME.

The first tests exercise the pieces (the lock across processes, recovery on a Dagster instance, leftover files,
a stale WAL at publish). The real-kill tests start `c360 run` as a subprocess in its own process group, SIGKILL
the group at a chosen point, then check that a plain `c360 run` recovers by itself and publishes the same
tables as an uninterrupted run.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections import Counter
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


# -- real kills ------------------------------------------------------------------------------------------------
# One landing zone (3 days of the tiny tier), one uninterrupted reference run (started together with a second
# `c360 run`, which must exit naming the first), and one victim home. The victim's runs are killed one after
# the other, each at a later point: mid-ingestion, mid-dbt, mid-audit; every one of them must first recover
# the run killed before it. A plain `c360 run` then finishes by itself and publishes the reference's tables.
# On that published state a sync is killed after Klaviyo acknowledged a batch, and a run is killed mid-publish;
# the plain run after them publishes the reference's tables again and sends every operation exactly as often
# as the reference did. Chained, the kills cost about two runs' worth of prefixes instead of a full run each.

sys.path.insert(0, str(Path(__file__).parent / "activation"))
from fake_klaviyo import API_KEY, FakeKlaviyo  # noqa: E402

RUN_TIMEOUT = 1800  # seconds: "finishes without help" on a loaded CI machine; a hang is what this catches
COMPARED_SCHEMAS = ("marts", "segments", "predictions")
# Per-run bookkeeping columns: when or by which run a row was written, not what it says.
RUN_COLUMNS = {"run_id", "checked_at", "fitted_at", "recorded_at"}


def _environment(home: Path, landing: Path, **extra) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("C360_", "DAGSTER_", "DUCKDB_", "KLAVIYO_"))}
    return {**env, "C360_HOME": str(home), "LANDING_ROOT": str(landing), **extra}


class Started:
    """A `c360` subprocess in its own process group, its stderr lines collected as they come."""

    def __init__(self, args: list[str], env: dict[str, str]):
        self.proc = subprocess.Popen([sys.executable, "-m", "orchestration.cli", *args], env=env, text=True,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=lambda: self.lines.extend(iter(self.proc.stderr.readline, "")),
                                        daemon=True)
        self._reader.start()

    def kill_when(self, moment, what: str, timeout: float = RUN_TIMEOUT) -> None:
        """SIGKILL the whole process group as soon as `moment()` is true; fails if the process ended first."""
        deadline = time.monotonic() + timeout
        while not moment():
            assert self.proc.poll() is None, f"c360 ended before {what}: {''.join(self.lines)[-3000:]}"
            assert time.monotonic() < deadline, f"{what} never came"
            time.sleep(0.005)
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(30)
        self.proc.stdout.close()

    def finish(self, timeout: float = RUN_TIMEOUT) -> tuple[int, str, str]:
        """Wait for the end: (exit code, stdout, stderr)."""
        out = self.proc.stdout.read() if self.proc.stdout else ""
        self.proc.wait(timeout)
        self._reader.join(10)
        return self.proc.returncode, out, "".join(self.lines)


def _plain_run(home: Path, landing: Path, **env) -> str:
    ran = subprocess.run([sys.executable, "-m", "orchestration.cli", "run"], env=_environment(home, landing, **env),
                         capture_output=True, text=True, timeout=RUN_TIMEOUT)
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    return ran.stderr


def _published(serving: Path) -> dict[str, set]:
    """Every compared table's rows (without run bookkeeping columns), as sets, plus its row count. Floating-point
    values are rounded to 9 decimals: a parallel sum adds in another order from one run to the next."""
    con = duckdb.connect(str(serving), read_only=True)
    try:
        tables = con.execute("select table_schema, table_name, list(column_name order by ordinal_position), "
                             "list(data_type order by ordinal_position) from information_schema.columns "
                             "where list_contains(?, table_schema) group by 1, 2", [list(COMPARED_SCHEMAS)]).fetchall()
        out = {}
        for schema, table, columns, types in tables:
            kept = ", ".join(f'round("{c}", 9)' if t in ("DOUBLE", "FLOAT") else f'"{c}"'
                             for c, t in zip(columns, types, strict=True) if c not in RUN_COLUMNS)
            rows = con.execute(f'select {kept} from "{schema}"."{table}"').fetchall()
            out[f"{schema}.{table}"] = (len(rows), set(map(repr, rows)))
        return out
    finally:
        con.close()


def _assert_same_as_reference(home: Path, reference: dict) -> None:
    published = _published(home / "serving.duckdb")
    assert sorted(published) == sorted(reference)
    different = [t for t in reference if published[t] != reference[t]]
    assert different == [], {t: (published[t][0], reference[t][0]) for t in different}
    from dagster import DagsterInstance as Instance

    with Instance.from_config(str(home / "dagster")) as instance:
        unfinished = [r.run_id for r in instance.get_runs() if not r.is_finished]
    assert unfinished == []


class BlockingKlaviyo(FakeKlaviyo):
    """The fake Klaviyo, which blocks the first poll of an import job it accepted (the batch is acknowledged
    and journaled by the client, its state not yet committed) and tells the test, which kills the sync."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.reached = threading.Event()
        self.release = threading.Event()

    def before(self, op, request):
        """Block the first job poll until released."""
        if op.operation_id == "get_bulk_import_profiles_job" and not self.reached.is_set():
            self.reached.set()
            self.release.wait(120)
        return super().before(op, request)


@pytest.fixture(scope="module")
def crash_world(tmp_path_factory):
    """The shared landing zone, the reference home and its published tables, the reference's Klaviyo."""
    from orchestration.sample_data import generate

    root = tmp_path_factory.mktemp("crash")
    landing = root / "landing"
    generate(landing, tier="tiny", days=3)
    klaviyo = FakeKlaviyo(time_scale=1000, job_polls=1, enforce_limits=False)
    reference = root / "reference"
    env = _environment(reference, landing, KLAVIYO_API_KEY=API_KEY, KLAVIYO_BASE_URL=klaviyo.url)
    first = Started(["run"], env)
    holder = reference / "c360.lock"
    deadline = time.monotonic() + 300
    while f'"pid": {first.proc.pid}' not in (holder.read_text() if holder.exists() else ""):
        assert first.proc.poll() is None and time.monotonic() < deadline, "".join(first.lines)
        time.sleep(0.05)
    second = subprocess.run([sys.executable, "-m", "orchestration.cli", "run", "--lock-timeout", "0"], env=env,
                            capture_output=True, text=True, timeout=300)
    code, out, err = first.finish()
    assert code == 0, out[-3000:] + err[-3000:]
    world = {"root": root, "landing": landing, "reference": _published(reference / "serving.duckdb"),
             "reference_ops": list(klaviyo.ops), "second": second, "first_pid": first.proc.pid,
             "victim": root / "victim"}
    klaviyo.close()
    yield world


def test_two_runs_at_once_the_second_exits_naming_the_first(crash_world):
    second = crash_world["second"]
    assert second.returncode == 3, second.stdout + second.stderr
    assert f"pid {crash_world['first_pid']} (c360 run)" in second.stderr
    assert "one c360 run or sync at a time" in second.stderr
    assert "run " not in second.stdout  # it started no run: nothing of it was loaded, built or published
    assert crash_world["reference"]["marts.customer_360"][0] > 0


def _lake_partition_being_written(home: Path) -> bool:
    return any(p.is_dir() for p in (home / "lake" / "raw").glob("*/.tmp-*"))


def _new_log_has(text: str):
    """A moment: a run log written by this run (not an earlier one) contains `text`. Each log is read from where
    the previous look stopped: the moment is polled every few milliseconds while dbt writes megabytes."""
    earlier: dict[str, set] = {}
    offsets: dict[Path, int] = {}
    tails: dict[Path, str] = {}

    def moment(home: Path, _) -> bool:
        logs = set((home / "logs").glob("run-*.log"))
        before = earlier.setdefault("logs", logs)
        for log in logs - before:
            with log.open("rb") as fh:
                fh.seek(offsets.get(log, 0))
                new = fh.read().decode(errors="replace")
                offsets[log] = fh.tell()
            # Keep the end of what was read, so a match split across two reads is still found.
            seen = tails.get(log, "") + new
            if text in seen:
                return True
            tails[log] = seen[-len(text):]
        return False

    return moment


def _killed_run(world, moment, what: str, *, recovers: bool, **env) -> None:
    """Start a plain `c360 run` on the victim home and SIGKILL it at `moment`; when `recovers`, it must first
    have recovered the run killed before it."""
    home = world["victim"]
    moment(home, None)  # a moment may look at the home before the run starts
    victim = Started(["run"], _environment(home, world["landing"], **env))
    victim.kill_when(lambda: moment(home, victim), what)
    said = "".join(victim.lines)
    if recovers:
        assert "recovered 1 run(s) whose process is gone" in said, said[-3000:]


def _recovered(world, **env) -> str:
    """A plain `c360 run` after a kill: it finishes by itself and publishes the reference's tables."""
    home = world["victim"]
    recovered = _plain_run(home, world["landing"], **env)
    assert "recovered 1 run(s) whose process is gone" in recovered, recovered[-3000:]
    _assert_same_as_reference(home, world["reference"])
    return recovered


def test_killed_mid_ingestion_then_mid_dbt_then_mid_audit(crash_world):
    _killed_run(crash_world, lambda home, _: _lake_partition_being_written(home),
                "a lake partition being written", recovers=False)
    _killed_run(crash_world, _new_log_has("OK created sql incremental model"),
                "an incremental dbt model built", recovers=True)
    _killed_run(crash_world, lambda _, run: run is not None and any(
        "marts/customer_360_quality_audit done" in line for line in run.lines),
                "the segment audits (after customer_360's)", recovers=True)
    _recovered(crash_world)


def test_killed_mid_sync_after_an_acknowledged_batch_then_mid_publish(crash_world):
    home, landing = crash_world["victim"], crash_world["landing"]
    klaviyo = BlockingKlaviyo(time_scale=1000, job_polls=1, enforce_limits=False)
    try:
        env = {"KLAVIYO_API_KEY": API_KEY, "KLAVIYO_BASE_URL": klaviyo.url}
        sync = Started(["sync", "--destination", "klaviyo"], _environment(home, landing, **env))
        sync.kill_when(klaviyo.reached.is_set, "the first import job acknowledged")
        klaviyo.release.set()
        acknowledged = list(klaviyo.ops)
        assert acknowledged, "the kill came before any batch was acknowledged"

        def publishing(home: Path, _) -> bool:
            return any(home.glob(".serving.duckdb.*.tmp"))

        _killed_run(crash_world, publishing, "serving.duckdb being written", recovers=True, **env)
        recovered = _recovered(crash_world, **env)
        assert "temporary file(s) of an interrupted publish" in recovered
        assert not any(home.glob(".serving.duckdb.*"))
        # Every operation exactly as often as in the uninterrupted reference: none sent twice, none missing.
        assert Counter(klaviyo.ops) == Counter(crash_world["reference_ops"])
        assert klaviyo.violations == []
    finally:
        klaviyo.release.set()
        klaviyo.close()
