"""Progress of a Dagster run on the terminal, while `c360 run` / `c360 sync` wait for the run (whose own output
goes to a log file): a line per finished step, dbt's node progress during the dbt steps, and a "still running"
line whenever nothing else was printed for a while, so a long step is never silent.

Read from the instance's event log, so what is printed is exactly what the UI shows. The log is read with a
cursor: each poll fetches only the events stored since the previous one (RunEvents).
"""

from __future__ import annotations

import re
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TextIO

from dagster import DagsterEventType, DagsterInstance, EventLogRecord, RunsFilter

PROGRESS_TAG = "c360/invocation"
STEP_EVENTS = {DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE, DagsterEventType.STEP_SKIPPED}
# Seconds without a printed line after which the state of the run is printed again: with the poll interval on
# top, a user never waits longer than the 30 s without a sign of life.
HEARTBEAT_SECONDS = 20.0
# At most one dbt progress line per step this often (a dbt build runs hundreds of nodes, most in milliseconds).
DBT_LINE_SECONDS = 10.0
# Records fetched per query of the event log.
BATCH = 1000

_DBT_PROGRESS = re.compile(r"^dbt (?P<done>\d+)/(?P<total>\d+) done(?:, running (?P<running>.+)|: (?P<problems>.+))?$")


@dataclass(frozen=True)
class DbtProgress:
    """Where a dbt command is: nodes finished of the nodes it selected, and the node running now (or, once it is
    over, the problems). A dbt step logs it as a message (`message`) that the terminal reads back (`parse`)."""

    done: int
    total: int
    running: str | None = None
    problems: str | None = None

    @property
    def message(self) -> str:
        """The log message: `dbt 12/340 done, running table model marts.customer_360`."""
        text = f"dbt {self.done}/{self.total} done"
        if self.running:
            return f"{text}, running {self.running}"
        return f"{text}: {self.problems}" if self.problems else text

    @classmethod
    def parse(cls, message: str | None) -> DbtProgress | None:
        """The progress a message says, or None for any other message."""
        match = _DBT_PROGRESS.match(message or "")
        if match is None:
            return None
        return cls(int(match["done"]), int(match["total"]), match["running"], match["problems"])


def describe_step(step_key: str, event_type: DagsterEventType) -> str:
    """`raw__web__events` -> `raw/web__events done`; dbt steps keep their op name."""
    what = {DagsterEventType.STEP_SUCCESS: "done", DagsterEventType.STEP_FAILURE: "FAILED",
            DagsterEventType.STEP_SKIPPED: "skipped"}[event_type]
    return f"{step_name(step_key)} {what}"


def step_name(step_key: str) -> str:
    """How a step is named on the terminal: the asset key for a raw asset's step, else the op name."""
    return step_key.replace("__", "/", 1) if step_key.count("__") >= 1 else step_key


def duration(seconds: float) -> str:
    """`52 s`, `3 min 05 s`, `1 h 02 min`."""
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


class RunEvents:
    """The event log of one run, read with a cursor: every call of `new_records` returns the records stored
    since the previous call, each record once."""

    def __init__(self, instance: DagsterInstance, run_id: str, batch: int = BATCH):
        self.instance = instance
        self.run_id = run_id
        self.batch = batch
        self.cursor: str | None = None

    def new_records(self) -> list[EventLogRecord]:
        """The records stored since the last call (all of them at the first)."""
        records: list[EventLogRecord] = []
        while True:
            page = self.instance.get_records_for_run(self.run_id, cursor=self.cursor, limit=self.batch)
            records.extend(page.records)
            self.cursor = page.cursor
            if not page.has_more:
                return records


class ProgressPrinter:
    """Turns a run's event records into terminal lines: each finished step, dbt's node progress (at most one line
    per step every `dbt_every` seconds), and what is running when nothing was printed for `heartbeat` seconds.

    `clock` is injectable so the lines can be tested without waiting."""

    def __init__(self, stream: TextIO, *, clock: Callable[[], float] = time.monotonic,
                 heartbeat: float = HEARTBEAT_SECONDS, dbt_every: float = DBT_LINE_SECONDS):
        self.stream = stream
        self.clock = clock
        self.heartbeat = heartbeat
        self.dbt_every = dbt_every
        self.started = self.last_line = clock()
        self.running: dict[str, float] = {}  # step key -> when it started
        self.dbt: dict[str, tuple[DbtProgress, float]] = {}  # step key -> latest progress, since when it runs
        self.dbt_printed: dict[str, float] = {}  # step key -> when its progress was last printed
        self.unprinted: set[str] = set()  # steps whose latest dbt progress is not on the terminal yet
        self.steps_seen = False

    def emit(self, line: str) -> None:
        """Print one line with the time since the start."""
        now = self.clock()
        print(f"  [{now - self.started:7.1f} s] {line}", file=self.stream, flush=True)
        self.last_line = now

    def feed(self, records: Iterable[EventLogRecord]) -> None:
        """Take new records of the run (in storage order) and print what they say."""
        now = self.clock()
        for record in records:
            entry = record.event_log_entry
            step = entry.step_key
            kind = entry.dagster_event_type
            if step is None:
                continue
            if kind == DagsterEventType.STEP_START:
                self.running[step] = now
                self.steps_seen = True
            elif kind in STEP_EVENTS:
                self.running.pop(step, None)
                line = describe_step(step, kind)
                progress, _ = self.dbt.pop(step, (None, 0.0))
                self.unprinted.discard(step)
                if progress is not None:
                    problems = f", {progress.problems}" if progress.problems else ""
                    line += f" (dbt: {progress.done}/{progress.total} nodes{problems})"
                self.emit(line)
            elif kind is None:
                progress = DbtProgress.parse(entry.user_message)
                if progress is not None:
                    previous = self.dbt.get(step)
                    same_node = previous is not None and previous[0].running == progress.running
                    self.dbt[step] = (progress, previous[1] if same_node else now)
                    self.unprinted.add(step)
        for step in sorted(self.unprinted):
            printed = self.dbt_printed.get(step)
            if printed is None or now - printed >= self.dbt_every:
                self.emit(f"{step_name(step)}: {self.dbt[step][0].message}")
                self.dbt_printed[step] = now
                self.unprinted.discard(step)

    def tick(self) -> None:
        """Print what is running if nothing was printed for `heartbeat` seconds."""
        now = self.clock()
        if now - self.last_line >= self.heartbeat:
            self.emit(self.status(now))

    def status(self, now: float) -> str:
        """`still running: <step> for 2 min 10 s; dbt 45/312 done, running <node> for 52 s`."""
        if not self.running:
            return "still running (between steps)" if self.steps_seen else "still starting the run"
        parts = []
        for step, since in sorted(self.running.items(), key=lambda item: item[1]):
            text = f"{step_name(step)} for {duration(now - since)}"
            if step in self.dbt:
                progress, node_since = self.dbt[step]
                text += f"; {progress.message}" + (f" for {duration(now - node_since)}" if progress.running else "")
                self.unprinted.discard(step)
                self.dbt_printed[step] = now
            parts.append(text)
        return "still running: " + " | ".join(parts)


@contextmanager
def step_progress(instance: DagsterInstance, stream: TextIO | None = None, every: float = 2.0) -> Iterator[dict]:
    """Yield run tags to add to the run; meanwhile print the progress of that run to `stream` (stderr by
    default): finished steps, dbt's node progress, and what is running when nothing happened for a while."""
    printer = ProgressPrinter(stream or sys.stderr)
    token = uuid.uuid4().hex
    stop = threading.Event()

    def watch() -> None:
        events: RunEvents | None = None
        while True:
            finished = stop.wait(every)
            try:
                if events is None:
                    runs = instance.get_runs(filters=RunsFilter(tags={PROGRESS_TAG: token}), limit=1)
                    events = RunEvents(instance, runs[0].run_id) if runs else None
                if events is not None:
                    printer.feed(events.new_records())
                if not finished:
                    printer.tick()
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
