"""Find the landing files of each entity and report everything that does not follow the layout.

Layout (LANDING_ZONE.md): `<root>/<source>/<entity>/<YYYY-MM-DD>[-<part>].<ext>[.gz]`.
Names beginning with `_` or `.` are ignored by convention (markers such as `_SUCCESS`, hidden files).
Nothing is guessed: a file whose name or place does not fit is reported with the reason.
Only regular files and real folders are read: every entry is examined with `lstat`, so a symbolic link,
named pipe (FIFO), socket or device is reported as a problem without being opened or followed.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from orchestration.ingestion.entities import ENTITIES, ENTITIES_BY_PATH, Entity

FILE_NAME = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})(?:-(?P<part>.+?))?\.(?P<ext>jsonl|csv)(?P<gz>\.gz)?$"
)


@dataclass(frozen=True)
class LandingFile:
    """One landing file that follows the layout."""

    entity: Entity
    path: Path
    rel_path: str
    file_date: date
    size: int
    mtime_ns: int | None = None  # modification time when scanned (os.stat), the quick change check

    def sha256(self) -> str:
        """Content hash: what makes a re-delivery identical or a conflict.

        Opened without following a symbolic link and without blocking, and read only when it is still a
        regular file: a path swapped for a link or a FIFO after the scan raises instead of hanging.
        """
        fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as fh:
            reason = not_regular_reason(os.fstat(fd).st_mode)
            if reason:
                raise OSError(f"{self.rel_path}: {reason}")
            digest = hashlib.sha256()
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        return digest.hexdigest()


@dataclass(frozen=True)
class LandingProblem:
    """A path in the landing zone that is not loaded, and why."""

    rel_path: str
    reason: str


@dataclass
class LandingScan:
    """What a scan of the landing zone found."""

    files: dict[str, list[LandingFile]] = field(default_factory=dict)
    problems: list[LandingProblem] = field(default_factory=list)

    @property
    def dates(self) -> list[date]:
        """Every file date present, sorted."""
        return sorted({f.file_date for fs in self.files.values() for f in fs})

    def absent_sources(self) -> list[str]:
        """Sources of the contract with no file at all (optional ones are allowed to be absent)."""
        present = {name.split("__")[0] for name, fs in self.files.items() if fs}
        return sorted({e.source for e in ENTITIES} - present)


def _ignored(name: str) -> bool:
    return name.startswith(("_", "."))


def not_regular_reason(mode: int) -> str | None:
    """Why an entry of this `lstat` mode is not read (None for a regular file or a folder)."""
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return None
    kind = (
        "symbolic link" if stat.S_ISLNK(mode) else "named pipe (FIFO)" if stat.S_ISFIFO(mode)
        else "socket" if stat.S_ISSOCK(mode) else "device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
        else "special file"
    )
    return f"{kind}: not opened or followed, only regular files are read"


def _lstat(path: Path) -> os.stat_result | None:
    try:
        return path.lstat()
    except FileNotFoundError:  # removed since the listing
        return None


def _real_folder(root: Path, path: Path, problems: list[LandingProblem]) -> bool:
    """True when `path` is a folder itself (not a link to one); a link or special file there is reported."""
    st = _lstat(path)
    if st is None:
        return False
    reason = not_regular_reason(st.st_mode)
    if reason:
        problems.append(LandingProblem(path.relative_to(root).as_posix(), reason))
        return False
    return stat.S_ISDIR(st.st_mode)


def scan_entity(root: Path, entity: Entity) -> tuple[list[LandingFile], list[LandingProblem]]:
    """List the files of one entity folder, sorted by date then name, and the misfits in it."""
    folder = root / entity.source / entity.entity
    files: list[LandingFile] = []
    problems: list[LandingProblem] = []
    if not root.is_dir() or not _real_folder(root, root / entity.source, problems) \
            or not _real_folder(root, folder, problems):
        return files, problems
    for path in sorted(folder.iterdir()):
        rel = path.relative_to(root).as_posix()
        if _ignored(path.name):
            continue
        st = _lstat(path)
        if st is None:
            continue
        reason = not_regular_reason(st.st_mode)
        if reason:
            problems.append(LandingProblem(rel, reason))
            continue
        if stat.S_ISDIR(st.st_mode):
            problems.append(LandingProblem(rel, "unexpected folder inside an entity folder"))
            continue
        match = FILE_NAME.match(path.name)
        if not match:
            problems.append(
                LandingProblem(rel, "file name does not follow <YYYY-MM-DD>[-<part>].<jsonl|csv>[.gz]")
            )
            continue
        if match["ext"] != entity.format:
            problems.append(
                LandingProblem(rel, f"{entity.source}/{entity.entity} is delivered as .{entity.format}, "
                                    f"not .{match['ext']}")
            )
            continue
        try:
            file_date = date.fromisoformat(match["date"])
        except ValueError:
            problems.append(LandingProblem(rel, f"not a calendar date: {match['date']}"))
            continue
        files.append(LandingFile(entity, path, rel, file_date, st.st_size, st.st_mtime_ns))
    files.sort(key=lambda f: (f.file_date, f.rel_path))
    return files, problems


def scan_landing(root: Path) -> LandingScan:
    """Scan the whole landing zone: every entity's files plus unknown folders and stray files."""
    scan = LandingScan()
    for entity in ENTITIES:
        files, problems = scan_entity(root, entity)
        scan.files[entity.name] = files
        scan.problems.extend(problems)
    if not root.is_dir():
        scan.problems.append(LandingProblem(str(root), "landing root does not exist"))
        return scan
    for source_dir in sorted(root.iterdir()):
        if _ignored(source_dir.name):
            continue
        st = _lstat(source_dir)
        if st is None:
            continue
        reason = not_regular_reason(st.st_mode)
        if reason:
            scan.problems.append(LandingProblem(source_dir.name, reason))
            continue
        if not stat.S_ISDIR(st.st_mode):
            scan.problems.append(LandingProblem(source_dir.name, "file at the top of the landing zone"))
            continue
        for entity_dir in sorted(source_dir.iterdir()):
            if _ignored(entity_dir.name):
                continue
            if (source_dir.name, entity_dir.name) not in ENTITIES_BY_PATH:
                rel = entity_dir.relative_to(root).as_posix()
                scan.problems.append(LandingProblem(rel, "not a source/entity of the landing-zone contract"))
    # A linked source folder is reported by the scan of each of its entities and by the loop above: once.
    scan.problems = list(dict.fromkeys(scan.problems))
    return scan
