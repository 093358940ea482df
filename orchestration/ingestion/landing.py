"""Find the landing files of each entity and report everything that does not follow the layout.

Layout (LANDING_ZONE.md): `<root>/<source>/<entity>/<YYYY-MM-DD>[-<part>].<ext>[.gz]`.
Names beginning with `_` or `.` are ignored by convention (markers such as `_SUCCESS`, hidden files).
Nothing is guessed: a file whose name or place does not fit is reported with the reason.
"""

from __future__ import annotations

import hashlib
import re
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
        """Content hash: what makes a re-delivery identical or a conflict."""
        digest = hashlib.sha256()
        with self.path.open("rb") as fh:
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


def scan_entity(root: Path, entity: Entity) -> tuple[list[LandingFile], list[LandingProblem]]:
    """List the files of one entity folder, sorted by date then name, and the misfits in it."""
    folder = root / entity.source / entity.entity
    files: list[LandingFile] = []
    problems: list[LandingProblem] = []
    if not folder.is_dir():
        return files, problems
    for path in sorted(folder.iterdir()):
        rel = path.relative_to(root).as_posix()
        if _ignored(path.name):
            continue
        if path.is_dir():
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
        stat = path.stat()
        files.append(LandingFile(entity, path, rel, file_date, stat.st_size, stat.st_mtime_ns))
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
        if not source_dir.is_dir():
            scan.problems.append(LandingProblem(source_dir.name, "file at the top of the landing zone"))
            continue
        for entity_dir in sorted(source_dir.iterdir()):
            if _ignored(entity_dir.name):
                continue
            if (source_dir.name, entity_dir.name) not in ENTITIES_BY_PATH:
                rel = entity_dir.relative_to(root).as_posix()
                scan.problems.append(LandingProblem(rel, "not a source/entity of the landing-zone contract"))
    return scan
