"""Ingestion endpoints for the bridge (role `service`): validated by the same pydantic models as
the services, written in one transaction each through the runtime's one write path (which then
drops exactly the cached reads they touched, in every process)."""

from __future__ import annotations

from fastapi import APIRouter

from dashboard.api.deps import Service
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
    413: {"model": ErrorOut, "description": "the body is larger than this route accepts"},
    422: {"model": ErrorOut, "description": "the payload is invalid; `field` names the first bad field"},
    503: {"model": ErrorOut, "description": "database unavailable: nothing was written, retry later"},
}


@router.post("/syncs", response_model=IngestAccepted, responses=ERRORS)
async def ingest_sync(body: SyncSnapshotIn, bridge: Service) -> IngestAccepted:
    """A broker snapshot of one account. Idempotent on `sync_id`: a repeat is `duplicate`."""
    result = await bridge.runtime.write(record_sync, body)
    return IngestAccepted(
        status="accepted" if result.created else "duplicate",
        detail={
            "log_id": result.log_id,
            "status": result.status.value,
            "divergences": result.divergences,
            "new_incidents": result.new_incidents,
            "resolved_incidents": result.resolved_incidents,
            "reopened_incidents": result.reopened_incidents,
        },
    )


@router.post("/equity", response_model=IngestAccepted, responses=ERRORS)
async def ingest_equity(body: EquitySnapshotIn, bridge: Service) -> IngestAccepted:
    """An equity snapshot; updates HWM, drawdown, daily loss and raises guard events."""
    result = await bridge.runtime.write(record_equity, body)
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
async def ingest_quotes(body: QuoteBatchIn, bridge: Service) -> IngestAccepted:
    """A batch of quotes (1 to 1 000); drives the market guards."""
    result = await bridge.runtime.write(record_quotes, body)
    return IngestAccepted(
        status="accepted", detail={"accepted": result.accepted, "transitions": len(result.transitions)}
    )


@router.post("/positions", response_model=IngestAccepted, responses=ERRORS)
async def ingest_position_opened(body: PositionOpenedIn, bridge: Service) -> IngestAccepted:
    """A fill the platform made (the local side of a position). Idempotent on the identifier."""
    result = await bridge.runtime.write(record_position_opened, body)
    return IngestAccepted(
        status="accepted" if result.created else "duplicate", detail={"position_id": result.position_id}
    )
