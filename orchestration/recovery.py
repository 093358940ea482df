"""Crash recovery at the start of `c360 run` and `c360 sync`, under the C360_HOME lock.

A run killed hard (SIGKILL, the OOM killer, a reboot) writes no end event: Dagster keeps it STARTED with its
`duckdb_writer` concurrency slot claimed, and every later run waits for that slot forever. Dagster's own run
monitoring does not cover this: it lives in the daemon, and `c360 run` executes its job in its own process
with no daemon. So the run itself records its process (`c360/pid`: host, pid and the process's start time,
which tells a reused pid from the original), and recovery marks failed every unfinished run whose process is
gone, frees the concurrency slots of every finished run still holding some, and removes the temporary files
that a killed publish or outbox write left. The lake's own hidden work folders are put right by the loader.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from pathlib import Path

import psutil

PID_TAG = "c360/pid"


def process_identity(pid: int | None = None) -> str:
    """`host:pid:start-time` of a process (this one by default): unique even when the OS reuses the pid."""
    pid = os.getpid() if pid is None else pid
    return f"{socket.gethostname()}:{pid}:{psutil.Process(pid).create_time():.2f}"


def process_gone(identity: str) -> bool | None:
    """Whether the process named by `identity` has ended: True/False, None when it cannot be told (another
    host). An identity without a start time (a bare pid) counts as alive while any process has that pid."""
    host, pid_text, started = ([*identity.split(":"), ""])[:3]
    if host and host != socket.gethostname():
        return None
    try:
        process = psutil.Process(int(pid_text))
        if started and abs(process.create_time() - float(started)) > 1.0:
            return True  # the pid now belongs to another process
        return process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True
    except ValueError:
        return None


@dataclass
class RecoveryReport:
    """What recovery did: runs marked failed, runs whose slots were freed, files removed."""

    failed_runs: list[str] = field(default_factory=list)
    freed_runs: list[str] = field(default_factory=list)
    removed_files: list[Path] = field(default_factory=list)

    def lines(self) -> list[str]:
        """One line per kind of thing done (nothing when nothing was done)."""
        lines = []
        if self.failed_runs:
            lines.append(f"recovered {len(self.failed_runs)} run(s) whose process is gone (marked failed): "
                         + ", ".join(self.failed_runs))
        if self.freed_runs:
            lines.append(f"freed the concurrency slots of {len(self.freed_runs)} ended run(s): "
                         + ", ".join(self.freed_runs))
        if self.removed_files:
            lines.append(f"removed {len(self.removed_files)} temporary file(s) of an interrupted publish or "
                         "outbox write: " + ", ".join(p.name for p in self.removed_files))
        return lines


def _engine_event_pid(instance, run_id: str) -> str | None:
    """The pid of the in-process executor's first engine event ("Executing steps in process"): runs started
    before the pid tag existed."""
    from dagster import DagsterEventType

    records = instance.get_records_for_run(run_id, of_type=DagsterEventType.ENGINE_EVENT, limit=50).records
    for record in records:
        data = record.event_log_entry.dagster_event.event_specific_data
        pid = getattr(data, "metadata", {}).get("pid") if data is not None else None
        if pid is not None:
            return f"{socket.gethostname()}:{pid.value}"
    return None


def recover_runs(instance, report: RecoveryReport | None = None) -> RecoveryReport:
    """Mark failed every unfinished run on `instance` whose process is gone, and free the concurrency slots
    of those and of every ended run that still holds slots. Call it holding the C360_HOME lock: then no live
    c360 process is between creating a run and recording its pid."""
    from dagster import DagsterRunStatus, RunsFilter
    from dagster._core.storage.dagster_run import FINISHED_STATUSES

    report = report or RecoveryReport()
    unfinished = instance.get_runs(filters=RunsFilter(statuses=[
        DagsterRunStatus.NOT_STARTED, DagsterRunStatus.STARTING, DagsterRunStatus.STARTED,
        DagsterRunStatus.CANCELING]))
    for run in unfinished:
        identity = run.tags.get(PID_TAG) or _engine_event_pid(instance, run.run_id)
        # No recorded process: a run the daemon launched whose worker has not reached its executor yet, or
        # one made elsewhere; the daemon's start timeout is the one to judge it.
        if identity is None or not process_gone(identity):
            continue
        instance.report_run_failed(run, message=(
            f"Marked failed by c360 crash recovery: its process ({identity}) is gone, killed without a chance "
            "to record the end of the run. A new run reloads, rebuilds and republishes what it left."))
        report.failed_runs.append(run.run_id)
    storage = instance.event_log_storage
    if storage.supports_global_concurrency_limits:
        holding = set(storage.get_concurrency_run_ids())
        if holding:
            runs = {r.run_id: r for r in instance.get_runs(filters=RunsFilter(run_ids=sorted(holding)))}
            for run_id in sorted(holding):
                run = runs.get(run_id)
                if run is None or run.status in FINISHED_STATUSES:
                    storage.free_concurrency_slots_for_run(run_id)
                    report.freed_runs.append(run_id)
    return report


def remove_crash_leftovers(serving_database: Path, outbox_dir: Path,
                           report: RecoveryReport | None = None) -> RecoveryReport:
    """Remove the temporary files of a publish or an outbox write that was killed before its rename. Call it
    holding the C360_HOME lock (no publish or sync is writing them then)."""
    report = report or RecoveryReport()
    serving_database = Path(serving_database)
    leftovers = [*serving_database.parent.glob(f".{serving_database.name}.*.tmp"),
                 *serving_database.parent.glob(f".{serving_database.name}.*.tmp.wal")]
    if Path(outbox_dir).is_dir():
        leftovers += [p for p in Path(outbox_dir).rglob("*.tmp") if p.is_file()]
    for path in sorted(leftovers):
        path.unlink(missing_ok=True)
        report.removed_files.append(path)
    return report


def recover(instance, serving_database: Path, outbox_dir: Path) -> RecoveryReport:
    """Everything above: crashed runs, stuck slots and temporary files."""
    report = recover_runs(instance)
    return remove_crash_leftovers(serving_database, outbox_dir, report)


def recover_home(settings) -> RecoveryReport:
    """Recovery of the persistent instance and the files of a C360_HOME (`settings`); DAGSTER_HOME set."""
    from dagster import DagsterInstance

    with DagsterInstance.get() as instance:
        return recover(instance, settings.serving_database, settings.home / "outbox")
