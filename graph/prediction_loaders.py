"""Batch functions of the prediction loaders (attributes of ``graph.dataloaders.Loaders``).

* ``human_clicks_by_application``: one statement for all the applications of a request.
* ``calibration_by_account``: the viewer's calibration, one statement per request; the key
  carries the settings it depends on (the account is the viewer's, as for every loader).
* ``webhook_deliveries_by_follow_up``: the delivery attempts of each follow-up.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from db import follow_ups as follow_ups_db
from db import predictions as predictions_db
from db.engine import Db
from db.follow_ups import DeliveryRow
from domain.engagement_facts import calibration_from_history
from domain.metrics import ClickEvent
from domain.predictions import Calibration


@dataclass(frozen=True, slots=True)
class CalibrationKey:
    outcome_age_days: int
    prior_strength: float


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


async def human_clicks(
    s: Db, account: uuid.UUID, ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[ClickEvent]]:
    return await predictions_db.human_clicks_by_application(s, account_id=account, ids=ids)


async def calibrations(
    s: Db, account: uuid.UUID, keys: list[CalibrationKey]
) -> dict[CalibrationKey, Calibration]:
    """Past applications older than the outcome age, scored on their clicks of that window
    (``db.predictions.past_applications`` says why not the stored score)."""
    now = datetime.now(UTC)
    out: dict[CalibrationKey, Calibration] = {}
    for key in keys:  # one key per request in practice: the settings do not change
        past = await predictions_db.past_applications(
            s,
            account_id=account,
            created_before=now - timedelta(days=key.outcome_age_days),
            horizon_days=key.outcome_age_days,
        )
        out[key] = calibration_from_history(
            past.applications,
            horizon=timedelta(days=key.outcome_age_days),
            tz=zone(past.timezone),
            prior_strength=key.prior_strength,
        )
    return out


async def webhook_deliveries(
    s: Db, account: uuid.UUID, ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[DeliveryRow]]:
    return await follow_ups_db.deliveries_by_follow_up(s, account_id=account, ids=ids)
