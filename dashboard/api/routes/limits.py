"""`/accounts/{account_id}/limits` and `/accounts/{account_id}/hwm-reset(s)`: an account's limits
with the room left under each, changing them, and resetting its high-water mark.

Reading is for everybody who may see the account (a trader their own: someone else's is a 404).
Changing limits and resetting an HWM is for risk and admin (a trader gets a 403 whatever the
account), with a reason, audited, and effective at once on every page and process.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from dashboard.api.deps import ClientAddr, Reader, RiskReader
from dashboard.api.routes.reads import NOT_FOUND, Id
from dashboard.api.schemas import ErrorOut
from dashboard.schemas.common import UtcTimestamp
from dashboard.schemas.limits import AccountLimitsIn, HwmResetIn, HwmResetList, HwmResetView, LimitsView
from dashboard.services.queries.limits import MAX_RESETS
from dashboard.services.risk_limits import change_limits, reset_hwm

router = APIRouter(prefix="/accounts", tags=["limits"])

NO_EQUITY: dict[int | str, dict[str, object]] = {
    409: {"model": ErrorOut, "description": "the account has no equity yet: nothing to reset the HWM to"}
}


def _json(payload: bytes) -> Response:
    return Response(content=payload, media_type="application/json")


@router.get("/{account_id}/limits", response_model=LimitsView, responses=NOT_FOUND)
async def limits(caller: Reader, account_id: Id) -> Response:
    """The account's limits (drawdown warning and critical, daily loss limit and its basis, max
    loss and its mode, the daily reset, the silence timeout, the prop-challenge objectives) and the
    room left under each at the latest equity snapshot: the money equity may still lose before the
    level's boundary, and that in % of the HWM (drawdown), of the day's reference (daily loss) or
    of the initial balance (max loss)."""
    return _json((await caller.runtime.queries.account_limits(caller.viewer, account_id)).payload)


@router.put("/{account_id}/limits", response_model=LimitsView, responses=NOT_FOUND)
async def change(caller: RiskReader, account_id: Id, body: AccountLimitsIn, addr: ClientAddr) -> Response:
    """Replace every limit of the account (risk and admin), with a reason. Every field must be
    given; `null` turns an optional rule off. The warning must be below the critical threshold,
    percentages lie in (0, 100] with at most 4 decimals, the reset hour in 0–23, the zone is an
    IANA zone, the silence timeout 30 s – 7 days, and a prop rule is complete (a profit target, a
    daily and a max loss limit). Audited with the changed values before and after; the gauges are
    judged again at once (a level the change crosses raises its guard event). Answers the limits
    and room as they now are."""
    await caller.runtime.write(change_limits, caller.viewer, account_id, body, addr)
    return _json((await caller.runtime.queries.account_limits(caller.viewer, account_id)).payload)


@router.post(
    "/{account_id}/hwm-reset",
    status_code=201,
    response_model=HwmResetView,
    responses={**NOT_FOUND, **NO_EQUITY},
)
async def hwm_reset(caller: RiskReader, account_id: Id, body: HwmResetIn, addr: ClientAddr) -> HwmResetView:
    """Set the account's high-water mark to its current equity (risk and admin), with a reason (a
    prop challenge moving to its next phase): drawdown and max drawdown start again from 0 and the
    next snapshots continue from the new mark. Audited; shown as a marker on the equity chart."""
    done = await caller.runtime.write(reset_hwm, caller.viewer, account_id, body.reason, addr)
    listed = await caller.runtime.queries.hwm_resets(caller.viewer, account_id, since=done.created_at)
    found = next((r for r in listed.model.resets if r.id == done.reset_id), None)
    return found or HwmResetView(
        id=done.reset_id,
        account_id=account_id,
        created_at=done.created_at,
        previous_hwm=done.previous_hwm,
        new_hwm=done.new_hwm,
        reason=done.reason,
        actor_user_id=done.actor_user_id,
        actor_name=None,
    )


@router.get("/{account_id}/hwm-resets", response_model=HwmResetList, responses=NOT_FOUND)
async def hwm_resets(
    caller: Reader,
    account_id: Id,
    since: Annotated[UtcTimestamp | None, Query(description="inclusive; default: the first")] = None,
    until: Annotated[UtcTimestamp | None, Query(description="inclusive; default: now")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_RESETS)] = 200,
) -> Response:
    """The account's HWM resets, oldest first (the newest `limit` when there are more): when, from
    and to which HWM, why and by whom."""
    cached = await caller.runtime.queries.hwm_resets(
        caller.viewer, account_id, since=since, until=until, limit=limit
    )
    return _json(cached.payload)
