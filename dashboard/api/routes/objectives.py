"""Prop-challenge objectives of one account (`GET /accounts/{account_id}/objectives`), answered
with the cached JSON as it is.

An account the caller cannot see (another trader's, or no such id) is a 404, exactly like the
other account reads. A visible account that runs no challenge (its daily and max loss limits, its
profit target or its start are not all set) answers 200 with `"objectives": null`: the account
exists and the caller may see it, it simply has nothing to show, and a page can ask without first
finding out which accounts run one. A stored challenge that cannot be evaluated (e.g. a profit
target of 0) is a 409 naming the account.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from dashboard.api.deps import Reader
from dashboard.api.routes.reads import NOT_FOUND
from dashboard.api.schemas import ErrorOut
from dashboard.schemas.objectives import AccountObjectives

router = APIRouter(prefix="/accounts", tags=["objectives"])

Id = Annotated[int, Path(gt=0, lt=2**63, description="the trading account's id")]
RESPONSES: dict[int | str, dict[str, object]] = {
    **NOT_FOUND,
    409: {"model": ErrorOut, "description": "the account's stored challenge cannot be evaluated"},
}


@router.get("/{account_id}/objectives", response_model=AccountObjectives, responses=RESPONSES)
async def objectives(caller: Reader, account_id: Id) -> Response:
    """Where the account's prop challenge stands now: profit target progress (closed P&L: the
    balance; equity must be at the target too), the room left to the daily and the max loss
    floors in money and in % of their allowance (a floor is breached only below it, as the
    gauges), trading days done of the minimum (broker days of the account's reset zone with a
    position opened), days left, and `state` (`in_progress`, `passed`, `failed` with
    `fail_reason` `daily_loss`, `max_loss` or `time`). `objectives` is null for an account
    without a challenge. Money at 2 dp and percentages at 4 dp, as strings."""
    cached = await caller.runtime.queries.account_objectives(caller.viewer, account_id)
    return Response(content=cached.payload, media_type="application/json")
