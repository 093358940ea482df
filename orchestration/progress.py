"""Progress of a Dagster run on the terminal: one line per finished step, while `c360 run` / `c360 sync`
wait for the run (whose own output goes to a log file). Read from the instance's event log, so what is
printed is exactly what the UI shows."""

from __future__ import annotations

import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

from dagster import DagsterEventType, DagsterInstance, RunsFilter

PROGRESS_TAG = "c360/invocation"
STEP_EVENTS = {DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE, DagsterEventType.STEP_SKIPPED}


def describe_step(step_key: str, event_type: DagsterEventType) -> str:
    """`raw__web__events` -> `raw/web__events done`; dbt steps keep their op name."""
    what = {DagsterEventType.STEP_SUCCESS: "done", DagsterEventType.STEP_FAILURE: "FAILED",
            DagsterEventType.STEP_SKIPPED: "skipped"}[event_type]
    name = step_key.replace("__", "/", 1) if step_key.count("__") >= 1 else step_key
    return f"{name} {what}"


@contextmanager
def step_progress(instance: DagsterInstance, stream: TextIO | None = None, every: float = 2.0) -> Iterator[dict]:
    """Yield run tags to add to the run; meanwhile print each finished step of that run to `stream`
    (stderr by default) with the time since the start."""
    stream = stream or sys.stderr
    token = uuid.uuid4().hex
    stop = threading.Event()
    started = time.monotonic()

    def watch() -> None:
        run_id, printed = None, 0
        while True:
            finished = stop.wait(every)
            try:
                if run_id is None:
                    runs = instance.get_runs(filters=RunsFilter(tags={PROGRESS_TAG: token}), limit=1)
                    run_id = runs[0].run_id if runs else None
                if run_id is not None:
                    records = [r for r in instance.all_logs(run_id) if r.dagster_event_type in STEP_EVENTS]
                    for record in records[printed:]:
                        line = describe_step(record.step_key or "?", record.dagster_event_type)
                        print(f"  [{time.monotonic() - started:7.1f} s] {line}", file=stream, flush=True)
                    printed = len(records)
            except Exception:  # progress is a courtesy: never let it break the run
                pass
            if finished:
                return

    thread = threading.Thread(target=watch, name="c360-progress", daemon=True)
    thread.start()
    try:
        yield {PROGRESS_TAG: token}
    finally:
        stop.set()
        thread.join(timeout=every * 5)
