"""One run at a time per C360_HOME: an exclusive `flock` on `$C360_HOME/c360.lock`.

`c360 run`, `c360 sync` and every run the schedule or the sensor launches hold it for their whole run (the
runs through the job's executor, see `locked_in_process_executor`, so whoever launches a run is covered).
The kernel releases a `flock` when its holder dies, even by SIGKILL, so a crash never leaves a stale lock.
The holder writes who it is (pid, command, start time) into the file, so a second comer can say who it waits for.
The lock is re-entrant within a process: `c360 run` takes it before its run starts, and the run's executor,
which runs in the same process, finds it already held.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

LOCK_FILE = "c360.lock"

# Per process: lock path -> (open descriptor, depth). A flock belongs to an open file description, so a
# second open of the same file in this process would wait for the first: re-entry must reuse it.
_HELD: dict[str, tuple[int, int]] = {}
_GUARD = threading.Lock()


class HomeBusy(RuntimeError):
    """Another process holds the C360_HOME lock (and the caller chose not to wait, or waited long enough)."""

    def __init__(self, message: str, holder: LockHolder | None):
        super().__init__(message)
        self.holder = holder


@dataclass(frozen=True)
class LockHolder:
    """Who holds the lock, as it wrote itself into the lock file."""

    pid: int
    command: str
    started: str
    host: str = ""

    def describe(self) -> str:
        """`pid 123 (c360 run) since 2026-12-07T18:00:00+00:00`."""
        where = f" on {self.host}" if self.host and self.host != socket.gethostname() else ""
        return f"pid {self.pid}{where} ({self.command}) since {self.started}"


def lock_path(home: Path) -> Path:
    """The lock file of a C360_HOME."""
    return Path(home) / LOCK_FILE


def read_holder(home: Path) -> LockHolder | None:
    """The holder recorded in the lock file (None when nobody wrote one yet, or the file is not there)."""
    try:
        data = json.loads(lock_path(home).read_text() or "null")
    except (FileNotFoundError, ValueError):
        return None
    if not isinstance(data, dict) or "pid" not in data:
        return None
    return LockHolder(pid=int(data["pid"]), command=str(data.get("command", "?")),
                      started=str(data.get("started", "?")), host=str(data.get("host", "")))


def busy_message(home: Path, holder: LockHolder | None) -> str:
    """The sentence a second comer prints: who holds the home."""
    who = holder.describe() if holder else "another process (it has not written its name yet)"
    return f"{home} is in use by {who}: one c360 run or sync at a time per C360_HOME"


def _try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _default_command() -> str:
    return " ".join(["c360", *sys.argv[1:]]) if sys.argv and sys.argv[0].endswith("c360") else " ".join(sys.argv)


@contextmanager
def home_lock(home: Path, *, command: str | None = None, timeout: float | None = None,
              on_wait: Callable[[str], None] | None = None, poll: float = 0.5) -> Iterator[LockHolder]:
    """Hold the lock of `home` for the duration of the block; yields the holder record written.

    Free: taken at once. Held by another process: `on_wait` is called once with who holds it, then the lock
    is polled until it frees, for at most `timeout` seconds (None: no limit; 0: not at all), after which
    `HomeBusy` is raised. Already held by this process: re-entered without waiting.
    """
    path = lock_path(home)
    key = str(path.resolve())
    with _GUARD:
        if key in _HELD:
            fd, depth = _HELD[key]
            _HELD[key] = (fd, depth + 1)
            reentered = True
        else:
            reentered = False
    if reentered:
        try:
            yield read_holder(home) or LockHolder(os.getpid(), command or _default_command(), "?")
        finally:
            with _GUARD:
                fd, depth = _HELD[key]
                _HELD[key] = (fd, depth - 1)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        if not _try_lock(fd):
            holder = read_holder(home)
            if timeout == 0:
                raise HomeBusy(busy_message(home, holder), holder)
            if on_wait:
                on_wait(busy_message(home, holder) + (
                    f"; waiting for it (up to {timeout:,.0f} s)" if timeout else "; waiting for it to finish"))
            deadline = None if timeout is None else time.monotonic() + timeout
            while not _try_lock(fd):
                if deadline is not None and time.monotonic() >= deadline:
                    holder = read_holder(home)
                    raise HomeBusy(busy_message(home, holder) + f" (waited {timeout:,.0f} s)", holder)
                time.sleep(poll)
        me = LockHolder(pid=os.getpid(), command=command or _default_command(),
                        started=datetime.now(UTC).isoformat(timespec="seconds"), host=socket.gethostname())
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(me.__dict__).encode(), 0)
        with _GUARD:
            _HELD[key] = (fd, 1)
        try:
            yield me
        finally:
            with _GUARD:
                del _HELD[key]
            # Emptied before release, so a reader never names a finished process as the holder.
            os.ftruncate(fd, 0)
    finally:
        os.close(fd)  # releases the flock


def holds_lock(home: Path) -> bool:
    """Whether this process holds the lock of `home`."""
    with _GUARD:
        return str(lock_path(home).resolve()) in _HELD
