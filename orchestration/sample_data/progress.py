"""Progress of `generate()` for the terminal: where it is (the stage, the entity being written, its export day,
bytes written) and a line printer that shows it with a bar at regular intervals, and again whenever nothing was
printed for a while (the simulation stages are single SQL statements that report nothing while they run).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TextIO

# A progress line at most this often while files are written, and at least this often in any case.
LINE_SECONDS = 10.0
HEARTBEAT_SECONDS = 20.0
BAR_WIDTH = 24


@dataclass(frozen=True)
class GenerationProgress:
    """Where the generator is. `day` is the position of the export day last written (1..days; 0 before the first)
    of entity number `entity_number` of `entities`; `bytes_written` counts every file written so far."""

    stage: str
    entity: str | None = None
    entity_number: int = 0
    entities: int = 0
    day: int = 0
    days: int = 0
    bytes_written: int = 0


ProgressCallback = Callable[[GenerationProgress], None]


def _size(n: float) -> str:
    return f"{n / 1e9:,.1f} GB" if n >= 1e9 else f"{n / 1e6:,.1f} MB"


def share(progress: GenerationProgress) -> float:
    """The part of the work done, counted in export days written over all entities (each entity writes every
    day; the big event streams take longer per day, so the bar moves slower through them)."""
    if progress.stage != "writing" or not progress.entities or not progress.days:
        return 0.0
    return ((progress.entity_number - 1) * progress.days + progress.day) / (progress.entities * progress.days)


def render(progress: GenerationProgress) -> str:
    """One line: a bar of the export days written over all entities, the entity and its day, and the bytes."""
    if progress.stage != "writing":
        return progress.stage
    done = share(progress)
    filled = round(done * BAR_WIDTH)
    name = (progress.entity or "?").replace("__", "/", 1)
    where = f"day {progress.day}/{progress.days}" if progress.day else "rendering its first days"
    return (f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {done:4.0%} writing {name} "
            f"({progress.entity_number}/{progress.entities}): {where}, {_size(progress.bytes_written)} written")


class ProgressLines:
    """A ProgressCallback that prints the generator's progress to `stream`: at a new stage, at most every `every`
    seconds while writing, and (through `tick`, called by `ticking`'s thread) after `heartbeat` seconds of
    silence. `clock` is injectable so the lines can be tested without waiting."""

    def __init__(self, stream: TextIO, *, every: float = LINE_SECONDS, heartbeat: float = HEARTBEAT_SECONDS,
                 clock: Callable[[], float] = time.monotonic):
        self.stream = stream
        self.every = every
        self.heartbeat = heartbeat
        self.clock = clock
        self.started = self.last_line = clock()
        self.latest: GenerationProgress | None = None
        self.lock = threading.Lock()

    def _emit(self, now: float, still: bool = False) -> None:
        text = render(self.latest) if self.latest else "starting"
        print(f"  [{now - self.started:7.1f} s] {text}{' (still working)' if still else ''}", file=self.stream,
              flush=True)
        self.last_line = now

    def __call__(self, progress: GenerationProgress) -> None:
        """Take the generator's latest position."""
        with self.lock:
            now = self.clock()
            new_stage = self.latest is None or self.latest.stage != progress.stage
            self.latest = progress
            if new_stage or now - self.last_line >= self.every:
                self._emit(now)

    def tick(self) -> None:
        """Print the latest position again if nothing was printed for `heartbeat` seconds."""
        with self.lock:
            now = self.clock()
            if now - self.last_line >= self.heartbeat:
                self._emit(now, still=True)

    @contextmanager
    def ticking(self, interval: float = 1.0) -> Iterator[ProgressLines]:
        """Call `tick` every `interval` seconds from a thread while the block runs."""
        stop = threading.Event()

        def loop() -> None:
            while not stop.wait(interval):
                self.tick()

        thread = threading.Thread(target=loop, name="c360-generate-progress", daemon=True)
        thread.start()
        try:
            yield self
        finally:
            stop.set()
            thread.join(timeout=interval * 5)
