"""What every SQL builder needs: the connection, the dates, the tier and the dirt rates."""

from __future__ import annotations

import datetime as dt
import logging
import re
import time
from dataclasses import dataclass, field

import duckdb

from .config import DirtRates, Tier

log = logging.getLogger(__name__)
HISTORY_DAYS = 365  # state entities (customers, orders, loyalty...) are simulated this long before day 1


@dataclass
class Ctx:
    """Generation context. `q()` expands `$NAME` placeholders into SQL literals."""

    con: duckdb.DuckDBPyConnection
    seed: int
    tier: Tier
    dirt: DirtRates
    start: dt.date  # first export date (D0)
    end: dt.date  # last export date (E)
    subs: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.sim_start = self.start - dt.timedelta(days=HISTORY_DAYS)
        self.subs = {
            "S": f"DATE '{self.sim_start}'",  # simulation start
            "D0": f"DATE '{self.start}'",  # first export date
            "E": f"DATE '{self.end}'",  # last export date
            "END": f"TIMESTAMP '{self.end + dt.timedelta(days=1)} 00:00:00'",  # exclusive cut-off
            "BEGIN": f"TIMESTAMP '{self.start} 00:00:00'",  # first moment of the export window
            "T": str((self.end - self.sim_start).days + 1),  # simulated days
            "W": str((self.end - self.start).days + 1),  # exported days
            "N": str(self.generic_customers),
            **self.subs,
        }
        self._pattern = re.compile(r"\$(" + "|".join(sorted(self.subs, key=len, reverse=True)) + r")\b")

    @property
    def generic_customers(self) -> int:
        """Customers beyond the fixed personas."""
        from .personas import PERSONA_CUSTOMER_IDS

        return max(self.tier.customers - len(PERSONA_CUSTOMER_IDS), 0)

    def q(self, sql: str) -> str:
        """Substitute `$S`, `$D0`, `$E`, `$END`, `$BEGIN`, `$T`, `$W`, `$N` in `sql`."""
        return self._pattern.sub(lambda m: self.subs[m.group(1)], sql)

    def run(self, sql: str) -> None:
        """Execute one (placeholder-expanded) statement (timed at DEBUG level)."""
        t0 = time.perf_counter()
        self.con.execute(self.q(sql))
        if log.isEnabledFor(logging.DEBUG):
            head = " ".join(sql.split())[:90]
            log.debug("%.2fs %s", time.perf_counter() - t0, head)

    def one(self, sql: str):
        """First column of the first row."""
        return self.con.execute(self.q(sql)).fetchone()[0]
