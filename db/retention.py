"""Data retention (seed 002): IP addresses are anonymised after the retention period."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession


async def anonymise_old_ips(
    session: AsyncSession, *, older_than_days: int, batch: int = 50_000
) -> int:
    """Zero the host part of IPs older than the cutoff (IPv4 /24, IPv6 /48); returns rows changed.

    Works in bounded batches so a large backlog does not hold one long transaction's locks.
    Already-anonymised addresses are skipped, so the job is idempotent.
    """
    result = await session.execute(
        text(
            """
            WITH old AS (
              SELECT click_id FROM link_clicks
              WHERE clicked_at < now() - make_interval(days => :days)
                AND ip_address IS NOT NULL
                AND ip_address <> set_masklen(network(set_masklen(ip_address,
                      CASE WHEN family(ip_address) = 4 THEN 24 ELSE 48 END)),
                      CASE WHEN family(ip_address) = 4 THEN 32 ELSE 128 END)
              LIMIT :batch
            )
            UPDATE link_clicks c
            SET ip_address = set_masklen(network(set_masklen(c.ip_address,
                  CASE WHEN family(c.ip_address) = 4 THEN 24 ELSE 48 END)),
                  CASE WHEN family(c.ip_address) = 4 THEN 32 ELSE 128 END)
            FROM old WHERE c.click_id = old.click_id
            """
        ),
        {"days": older_than_days, "batch": batch},
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
