"""Ingestion endpoints for the bridge (role `service`): validated by the same pydantic models as
the services, written in one transaction each, then the cache drops exactly what they touched."""

from __future__ import annotations

from fastapi import APIRouter

from dashboard.api.deps import RuntimeDep, ServiceDep
from dashboard.api.schemas import ErrorOut, IngestAccepted
from dashboard.services.ingestion.equity import record_equity
from dashboard.services.ingestion.inputs import (
    EquitySnapshotIn,
    PositionOpenedIn,
    QuoteBatchIn,
    SyncSnapshotIn,
)
from dashboard.services.ingestion.positions import record_position_opened
from dashboard.services.ingestion.quotes import record_quotes
from dashboard.services.ingestion.sync import record_sync

router = APIRouter(prefix="/ingest", tags=["ingest"])

ERRORS: dict[int | str, dict[str, object]] = {
    401: {"model": ErrorOut},
    403: {"model": ErrorOut, "description": "only service accounts ingest"},
    422: {"model": ErrorOut, "description": "the payload is invalid; `field` names the first bad field"},
}


@router.post("/syncs", response_model=IngestAccepted, responses=ERRORS)
async def ingest_sync(body: SyncSnapshotIn, runtime: RuntimeDep, _: ServiceDep) -> IngestAccepted:
    """A broker snapshot of one account. Idempotent on `sync_id`: a repeat is `duplicate`."""
    result = await record_sync(runtime.database, body)
    await runtime.cache.invalidate(result.touched)
    return IngestAccepted(
        status="accepted" if result.created else "duplicate",
        detail={
            "log_id": result.log_id,
            "status": result.status.value,
            "divergences": result.divergences,
            "new_incidents": result.new_incidents,
            "resolved_incidents": result.resolved_incidents,
        },
    )


@router.post("/equity", response_model=IngestAccepted, responses=ERRORS)
async def ingest_equity(body: EquitySnapshotIn, runtime: RuntimeDep, _: ServiceDep) -> IngestAccepted:
    """An equity snapshot; updates HWM, drawdown, daily loss and raises guard events."""
    result = await record_equity(runtime.database, body)
    await runtime.cache.invalidate(result.touched)
    return IngestAccepted(
        status="accepted" if result.created else "duplicate",
        detail={
            "snapshot_id": result.snapshot_id,
            "drawdown_pct": str(result.drawdown_pct),
            "level": result.dd_level.value,
            "alerts": len(result.alerts),
        },
    )


@router.post("/quotes", response_model=IngestAccepted, responses=ERRORS)
async def ingest_quotes(body: QuoteBatchIn, runtime: RuntimeDep, _: ServiceDep) -> IngestAccepted:
    """A batch of quotes (1 to 1 000); drives the market guards."""
    result = await record_quotes(runtime.database, body)
    await runtime.cache.invalidate(result.touched)
    return IngestAccepted(
        status="accepted", detail={"accepted": result.accepted, "transitions": len(result.transitions)}
    )


@router.post("/positions", response_model=IngestAccepted, responses=ERRORS)
async def ingest_position_opened(
    body: PositionOpenedIn, runtime: RuntimeDep, _: ServiceDep
) -> IngestAccepted:
    """A fill the platform made (the local side of a position). Idempotent on the identifier."""
    result = await record_position_opened(runtime.database, body)
    await runtime.cache.invalidate(result.touched)
    return IngestAccepted(
        status="accepted" if result.created else "duplicate", detail={"position_id": result.position_id}
    )
