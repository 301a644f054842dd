"""Read endpoints: each is one call to the cached query services, answered with the cached JSON
bytes as they are (no re-encoding per request). Someone else's account or position is a 404.

`at` (on the status, guards and risk reads, and required by the `/as-of` ones) answers as of a
past moment from stored history (`services.queries.as_of`); a moment later than now is a 422
naming `at`."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from dashboard.api.deps import Reader, RiskReader
from dashboard.api.schemas import ErrorOut, GuardStatus
from dashboard.domain.enums import (
    DivergenceKind,
    GuardType,
    Level,
    Resolution,
    Severity,
    Side,
    SyncEventType,
    SyncStatus,
)
from dashboard.schemas.accounts import AccountList
from dashboard.schemas.as_of import PositionListAsOf
from dashboard.schemas.common import UtcTimestamp
from dashboard.schemas.guards import AccountGuardList, EquityCurve, GuardEventList, MarketGuardList
from dashboard.schemas.positions import ClosedPositionPage, PositionList, PositionView
from dashboard.schemas.reconciliation import (
    DivergenceCounts,
    DivergenceTimeline,
    IncidentPage,
    OpenIncidents,
    ReconciliationStatus,
    SyncEventPage,
)
from dashboard.services.queries.cursor import MAX_CURSOR_LENGTH
from dashboard.services.queries.reconciliation import MAX_PAGE

router = APIRouter()

AUTH_ERRORS: dict[int | str, dict[str, object]] = {
    401: {"model": ErrorOut, "description": "missing, invalid, expired or revoked token"},
    403: {"model": ErrorOut, "description": "the role may not use this endpoint"},
    422: {"model": ErrorOut, "description": "a parameter is invalid; `field` names it"},
}
NOT_FOUND: dict[int | str, dict[str, object]] = {
    **AUTH_ERRORS,
    404: {"model": ErrorOut, "description": "does not exist or is not yours"},
}

Id = Annotated[int, Path(gt=0, lt=2**63)]
OptionalId = Annotated[int | None, Query(gt=0, lt=2**63)]
Symbol = Annotated[str | None, Query(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9._#\-]+$")]
PageCursor = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=MAX_CURSOR_LENGTH,
        pattern=r"^[A-Za-z0-9_\-]+$",
        description="the previous page's `next_cursor`; omit for the newest page",
    ),
]
PageLimit = Annotated[int, Query(ge=1, le=MAX_PAGE)]
DEFAULT_WINDOW = timedelta(hours=24)
AT_HELP = (
    "a past moment (ISO 8601 with an offset, e.g. 2026-11-02T10:30:00Z; kept to the second): the "
    "answer as it was then, rebuilt from stored history; not later than now"
)
At = Annotated[UtcTimestamp | None, Query(description=f"{AT_HELP}; omit for now")]
RequiredAt = Annotated[UtcTimestamp, Query(description=AT_HELP)]


def _json(payload: bytes) -> Response:
    return Response(content=payload, media_type="application/json")


@router.get(
    "/reconciliation/status",
    response_model=ReconciliationStatus,
    responses=AUTH_ERRORS,
    tags=["reconciliation"],
)
async def reconciliation_status(caller: Reader, at: At = None) -> Response:
    """Sync counters, divergences and open incidents of the visible accounts, the last five sync
    events and a health state (healthy, degraded, critical, stale, unknown). With `at`: as they
    were then (beyond the sync logs' retention, counts of whole hours and no events)."""
    queries = caller.runtime.queries
    if at is not None:
        return _json((await queries.reconciliation_status_at(caller.viewer, at)).payload)
    return _json((await queries.reconciliation_status(caller.viewer)).payload)


@router.get(
    "/reconciliation/timeline",
    response_model=DivergenceTimeline,
    responses=NOT_FOUND,
    tags=["reconciliation"],
)
async def reconciliation_timeline(
    caller: Reader,
    since: Annotated[UtcTimestamp | None, Query(description="inclusive; default: until - 24 h")] = None,
    until: Annotated[UtcTimestamp | None, Query(description="exclusive; default: now")] = None,
    account_id: OptionalId = None,
    limit: Annotated[int, Query(ge=1, le=50_000)] = 5000,
) -> Response:
    """Divergence incidents seen in the window, oldest first (`truncated` when over `limit`)."""
    cached = await caller.runtime.queries.divergence_timeline(
        caller.viewer, window=DEFAULT_WINDOW, since=since, until=until, account_id=account_id, limit=limit
    )
    return _json(cached.payload)


@router.get(
    "/reconciliation/timeline/counts",
    response_model=DivergenceCounts,
    responses=NOT_FOUND,
    tags=["reconciliation"],
)
async def reconciliation_timeline_counts(
    caller: Reader,
    since: Annotated[UtcTimestamp | None, Query(description="inclusive; default: until - 24 h")] = None,
    until: Annotated[UtcTimestamp | None, Query(description="exclusive; default: now")] = None,
    account_id: OptionalId = None,
) -> Response:
    """The same incidents as `/reconciliation/timeline`, counted by time bucket (at most 120,
    aligned to the epoch; `bucket_s` says how long), kind and severity: a week of the whole fleet
    in a few kilobytes."""
    cached = await caller.runtime.queries.divergence_counts(
        caller.viewer, window=DEFAULT_WINDOW, since=since, until=until, account_id=account_id
    )
    return _json(cached.payload)


@router.get(
    "/reconciliation/incidents", response_model=IncidentPage, responses=NOT_FOUND, tags=["reconciliation"]
)
async def reconciliation_incidents(
    caller: Reader,
    account_id: OptionalId = None,
    resolution: Resolution | None = None,
    kind: DivergenceKind | None = None,
    severity: Severity | None = None,
    limit: PageLimit = 50,
    cursor: PageCursor = None,
) -> Response:
    """Every divergence incident, open or resolved, newest first, a page at a time: pass
    `next_cursor` back as `cursor` for the next page (absent on the last)."""
    cached = await caller.runtime.queries.incident_history(
        caller.viewer,
        account_id=account_id,
        resolution=resolution,
        kind=kind,
        severity=severity,
        limit=limit,
        cursor=cursor,
    )
    return _json(cached.payload)


@router.get(
    "/reconciliation/incidents/as-of",
    response_model=OpenIncidents,
    responses=NOT_FOUND,
    tags=["reconciliation"],
)
async def reconciliation_incidents_as_of(
    caller: Reader, at: RequiredAt, account_id: OptionalId = None
) -> Response:
    """The incidents open at `at` (first seen by then, not resolved by then), newest first, as they
    were then; severity and values are the latest stored."""
    cached = await caller.runtime.queries.open_incidents_at(caller.viewer, at, account_id=account_id)
    return _json(cached.payload)


@router.get(
    "/reconciliation/events", response_model=SyncEventPage, responses=NOT_FOUND, tags=["reconciliation"]
)
async def reconciliation_events(
    caller: Reader,
    account_id: OptionalId = None,
    status: SyncStatus | None = None,
    event_type: SyncEventType | None = None,
    limit: PageLimit = 50,
    cursor: PageCursor = None,
) -> Response:
    """Sync events newest first, a page at a time (`next_cursor`). Raw events are kept for the
    sync-log retention (30 days by default); older hours remain as counts in the status."""
    cached = await caller.runtime.queries.sync_events(
        caller.viewer, account_id=account_id, status=status, event_type=event_type, limit=limit, cursor=cursor
    )
    return _json(cached.payload)


@router.get("/positions", response_model=PositionList, responses=NOT_FOUND, tags=["positions"])
async def open_positions(
    caller: Reader,
    symbol: Symbol = None,
    account_id: OptionalId = None,
    side: Side | None = None,
    sort: Annotated[str, Query(max_length=32)] = "opened_at",
    descending: bool = True,
) -> Response:
    """Open positions of the visible accounts, filtered and sorted."""
    cached = await caller.runtime.queries.open_positions(
        caller.viewer, symbol=symbol, account_id=account_id, side=side, sort=sort, descending=descending
    )
    return _json(cached.payload)


@router.get("/positions/closed", response_model=ClosedPositionPage, responses=NOT_FOUND, tags=["positions"])
async def closed_positions(
    caller: Reader, account_id: OptionalId = None, limit: PageLimit = 50, cursor: PageCursor = None
) -> Response:
    """Closed positions, most recently closed first, a page at a time (`next_cursor`)."""
    cached = await caller.runtime.queries.closed_positions(
        caller.viewer, account_id=account_id, limit=limit, cursor=cursor
    )
    return _json(cached.payload)


@router.get("/positions/as-of", response_model=PositionListAsOf, responses=NOT_FOUND, tags=["positions"])
async def positions_as_of(
    caller: Reader, at: RequiredAt, symbol: Symbol = None, account_id: OptionalId = None
) -> Response:
    """The positions open at `at`, newest opened first. Their P&L, swap and current price at that
    moment were never stored: null, never today's values."""
    cached = await caller.runtime.queries.open_positions_at(
        caller.viewer, at, account_id=account_id, symbol=symbol
    )
    return _json(cached.payload)


@router.get("/positions/{position_id}", response_model=PositionView, responses=NOT_FOUND, tags=["positions"])
async def position(caller: Reader, position_id: Id) -> Response:
    return _json((await caller.runtime.queries.position_by_id(caller.viewer, position_id)).payload)


@router.get("/guards/status", response_model=GuardStatus, responses=AUTH_ERRORS, tags=["guards"])
async def guards_status(caller: Reader, at: At = None) -> Response:
    """Per visible account: equity, HWM, drawdown %, level, thresholds and daily loss; and the
    market guards per symbol. With `at`: the accounts' guards as they were then, and no market
    guards (quotes are not kept over time; their events are in `/guards/events`)."""
    queries = caller.runtime.queries
    if at is not None:
        guards = await queries.account_guards_at(caller.viewer, at)
        moment = guards.model.as_of
        market_then = MarketGuardList(symbols=[], as_of=moment).model_dump_json().encode()
        return _json(b'{"guards":' + guards.payload + b',"market":' + market_then + b"}")
    guards = await queries.account_guards(caller.viewer)
    market = await queries.market_guards(caller.viewer)
    return _json(b'{"guards":' + guards.payload + b',"market":' + market.payload + b"}")


@router.get("/guards/events", response_model=GuardEventList, responses=NOT_FOUND, tags=["guards"])
async def guard_events(
    caller: Reader,
    account_id: OptionalId = None,
    guard_type: GuardType | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    since: UtcTimestamp | None = None,
    cursor: PageCursor = None,
) -> Response:
    """Guard events newest first: your accounts' drawdown and daily-loss events and the market
    events, a page at a time (`next_cursor`)."""
    cached = await caller.runtime.queries.guard_events(
        caller.viewer, account_id=account_id, guard_type=guard_type, limit=limit, since=since, cursor=cursor
    )
    return _json(cached.payload)


@router.get("/accounts", response_model=AccountList, responses=AUTH_ERRORS, tags=["accounts"])
async def accounts(caller: Reader) -> Response:
    return _json((await caller.runtime.queries.list_accounts(caller.viewer)).payload)


@router.get(
    "/accounts/{account_id}/equity", response_model=EquityCurve, responses=NOT_FOUND, tags=["accounts"]
)
async def equity(
    caller: Reader,
    account_id: Id,
    since: Annotated[UtcTimestamp | None, Query(description="default: until - 24 h")] = None,
    until: Annotated[UtcTimestamp | None, Query(description="default: now")] = None,
    max_points: Annotated[int, Query(ge=2, le=100_000)] = 2000,
) -> Response:
    """The equity curve with the high-water mark and drawdown at every point (downsampled to
    `max_points`, keeping the deepest drawdowns)."""
    cached = await caller.runtime.queries.equity_curve(
        caller.viewer, account_id, window=DEFAULT_WINDOW, since=since, until=until, max_points=max_points
    )
    return _json(cached.payload)


@router.get("/risk/accounts", response_model=AccountGuardList, responses=AUTH_ERRORS, tags=["risk"])
async def risk_accounts(caller: RiskReader, level: Level | None = None, at: At = None) -> Response:
    """Every account's gauges, worst drawdown first (risk and admin only). With `at`: every account
    that existed then, as it was (beyond the minute snapshots' retention, hourly values)."""
    queries = caller.runtime.queries
    if at is not None:
        return _json((await queries.risk_wall_at(caller.viewer, at, level=level)).payload)
    return _json((await queries.risk_wall(caller.viewer, level=level)).payload)
