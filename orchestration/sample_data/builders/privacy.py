"""privacy/deletion_requests: a rare right-to-erasure request (some by email only)."""

from __future__ import annotations

from ..context import Ctx


def deletion_requests(ctx: Ctx) -> None:
    """About 0.2% of customers ask to be erased during the export window."""
    ctx.run("""
        INSERT INTO rec_privacy__deletion_requests BY NAME
        SELECT 'del_' || cid AS id, email, CASE WHEN rnd(1101, cid) < 0.2 THEN NULL ELSE cid END AS customer_id,
               addsec(greatest(created_at, $BEGIN),
                      rnd(1102, cid) * (epoch($END) - epoch(greatest(created_at, $BEGIN)))) AS requested_at,
               cid AS _rid, false AS _persona
        FROM cust WHERE rnd(1100, cid) < 0.002 AND created_at < $END
    """)
