"""dbt's node progress, followed from the structured events a dbt command prints (dagster-dbt runs dbt with
`--log-format json`): how many of the nodes it selected are finished, and which one runs now.

dbt announces each node with `LogStartLine` (its position and the number of nodes selected) and closes it with a
result event (`LogModelResult`, `LogTestResult`, `LogSeedResult`, `SkippingDetails`, ...), which carries the same
position. Hooks (`LogHook*`) are not nodes of the selection and are left out, as dbt's own count does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from orchestration.progress import DbtProgress

START_EVENT = "LogStartLine"
# node_status values that mean the node did not do its job.
FAILED = frozenset({"error", "fail", "runtime error"})


def _total(data: Mapping[str, Any]) -> int | None:
    value = data.get("total", data.get("num_models"))
    return int(value) if value is not None else None


@dataclass
class NodeProgress:
    """Follows one dbt command's events: `observe` each raw event (a dict of dbt's JSON log); it returns the
    progress to report when a node starts, and `final` is the progress once the command is over."""

    total: int = 0
    done: int = 0
    running: dict[str, str] = field(default_factory=dict)  # unique_id -> what dbt calls the node
    statuses: dict[str, int] = field(default_factory=dict)  # node_status -> finished nodes

    def observe(self, raw_event: Mapping[str, Any]) -> DbtProgress | None:
        """Take one event; the progress when it started a node, else None."""
        name = str((raw_event.get("info") or {}).get("name", ""))
        data = raw_event.get("data") or {}
        node = data.get("node_info") or {}
        unique_id = node.get("unique_id")
        total = _total(data)
        if not unique_id or data.get("index") is None or total is None or name.startswith("LogHook"):
            return None
        self.total = max(self.total, total)
        if name == START_EVENT:
            self.running[unique_id] = str(data.get("description") or unique_id).removeprefix("sql ")
            return self.current()
        # Any other event with a node, a position and a total closes the node (a result, or a skip).
        self.running.pop(unique_id, None)
        self.done += 1
        status = str(node.get("node_status") or data.get("status") or "done").lower()
        self.statuses[status] = self.statuses.get(status, 0) + 1
        return None

    def current(self) -> DbtProgress:
        """Nodes done of the total, and the node started last among those running."""
        running = next(reversed(self.running.values()), None)
        return DbtProgress(self.done, self.total, running)

    def final(self) -> DbtProgress:
        """Nodes done of the total, with the failed, warned and skipped ones counted."""
        counts = {"failed": sum(n for s, n in self.statuses.items() if s in FAILED),
                  "warned": self.statuses.get("warn", 0), "skipped": self.statuses.get("skipped", 0)}
        problems = ", ".join(f"{n} {what}" for what, n in counts.items() if n)
        return DbtProgress(self.done, self.total, None, problems or None)
