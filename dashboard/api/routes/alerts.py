"""`/alerts`: the alerts (cached, with their deliveries), acknowledging one, and the channels and
routing rules that decide where they are sent.

Who manages what is the services' rule: risk and admin see and manage every channel and rule (a
new one is the team's), a trader only their own (someone else's is a 404, an account that is not
theirs a 422). A channel's URL holds its credentials: it comes in, is stored encrypted, and never
goes out again (responses carry it masked).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response
from fastapi.responses import JSONResponse

from dashboard.api.deps import ClientAddr, Reader
from dashboard.api.errors import error_body
from dashboard.api.routes.reads import AUTH_ERRORS, NOT_FOUND, Id, OptionalId
from dashboard.api.schemas import (
    AlertAckOut,
    ChannelIn,
    ChannelList,
    ChannelOut,
    ChannelTestOut,
    ErrorOut,
    RuleIn,
    RuleList,
    RuleOut,
)
from dashboard.domain.enums import AlertKind, Level
from dashboard.schemas.alerts import AlertList
from dashboard.services.alerts.acknowledge import acknowledge_alert
from dashboard.services.alerts.channels import add_channel, list_channels, remove_channel, send_test_message
from dashboard.services.alerts.rules import RuleSpec, add_rule, list_rules, remove_rule
from dashboard.services.alerts.sender import apprise_send

router = APIRouter(prefix="/alerts", tags=["alerts"])

Name = Annotated[str, Path(min_length=1, max_length=64)]
CONFLICT: dict[int | str, dict[str, object]] = {
    409: {"model": ErrorOut, "description": "a channel or rule of that name exists"}
}
NO_KEY: dict[int | str, dict[str, object]] = {
    503: {
        "model": ErrorOut,
        "description": "the server has no (or another) DASHBOARD_ALERTS_KEY to store or read channel URLs",
    }
}


@router.get("", response_model=AlertList, responses=NOT_FOUND)
async def alerts(
    caller: Reader,
    open_only: Annotated[bool, Query(alias="open", description="only raises not yet recovered")] = False,
    kind: AlertKind | None = None,
    level: Level | None = None,
    account_id: OptionalId = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 200,
) -> Response:
    """The last 7 days' alerts, newest first, each with its deliveries per channel and their
    attempts. A trader sees own accounts' alerts and the market guards'; risk and admin all
    (someone else's `account_id` is a 404)."""
    cached = await caller.runtime.queries.alerts(
        caller.viewer, open_only=open_only, kind=kind, level=level, account_id=account_id, limit=limit
    )
    return Response(content=cached.payload, media_type="application/json")


@router.post(
    "/{alert_id}/ack",
    response_model=AlertAckOut,
    responses={
        **NOT_FOUND,
        422: {"model": ErrorOut, "description": "a recovery (only a raise can be acknowledged)"},
    },
)
async def acknowledge(caller: Reader, alert_id: Id, addr: ClientAddr) -> AlertAckOut:
    """Acknowledge a raised alert: its escalation stops and its guard event is acknowledged too
    (audited). Idempotent: a second acknowledgement keeps the first (`changed` false)."""
    done = await caller.runtime.write(acknowledge_alert, caller.viewer, alert_id, via="api", client_addr=addr)
    return AlertAckOut(
        alert_id=done.alert_id,
        acknowledged_at=done.acknowledged_at,
        acknowledged_by=done.acknowledged_by,
        changed=done.changed,
    )


# ---- channels


@router.get("/channels", response_model=ChannelList, responses=AUTH_ERRORS)
async def channels(caller: Reader) -> ChannelList:
    """A trader's own channels; for risk and admin every channel (removed ones included, with
    `enabled` false). URLs are masked."""
    found = await list_channels(caller.runtime.database, caller.viewer)
    return ChannelList(channels=[ChannelOut.model_validate(c) for c in found])


@router.post(
    "/channels", status_code=201, response_model=ChannelOut, responses={**AUTH_ERRORS, **CONFLICT, **NO_KEY}
)
async def new_channel(caller: Reader, body: ChannelIn) -> ChannelOut:
    """Add a channel (a trader's own; risk and admin add team channels) and, unless `with_rule` is
    false, its catch-all rule of the same name. The URL is never shown again."""
    added = await add_channel(
        caller.runtime.database,
        caller.runtime.alert_secrets,
        body.name,
        body.url.get_secret_value(),
        min_level=body.min_level,
        actor=caller.viewer,
        with_rule=body.with_rule,
        renotify_s=body.renotify_s,
    )
    return ChannelOut.model_validate(added)


@router.delete("/channels/{name}", status_code=204, responses=NOT_FOUND)
async def delete_channel(caller: Reader, name: Name) -> Response:
    """Stop sending to a channel, and remove its rules. Its delivery history stays."""
    await remove_channel(caller.runtime.database, name, actor=caller.viewer)
    return Response(status_code=204)


@router.post(
    "/channels/{name}/test",
    response_model=ChannelTestOut,
    responses={
        **NOT_FOUND,
        **NO_KEY,
        502: {"model": ErrorOut, "description": "the channel did not take the message; `detail` says why"},
    },
)
async def test_channel(caller: Reader, name: Name) -> ChannelTestOut | JSONResponse:
    """Send a test message through a channel now."""
    runtime = caller.runtime
    error = await send_test_message(
        runtime.database, runtime.alert_secrets, name, apprise_send, actor=caller.viewer
    )
    if error is not None:
        return JSONResponse(status_code=502, content=error_body(error))
    return ChannelTestOut()


# ---- rules


@router.get("/rules", response_model=RuleList, responses=AUTH_ERRORS)
async def rules(caller: Reader) -> RuleList:
    """A trader's own routing rules; for risk and admin every rule."""
    found = await list_rules(caller.runtime.database, caller.viewer)
    return RuleList(rules=[RuleOut.model_validate(r) for r in found])


@router.post(
    "/rules",
    status_code=201,
    response_model=RuleOut,
    responses={
        **AUTH_ERRORS,
        **CONFLICT,
        422: {
            "model": ErrorOut,
            "description": "invalid; also a channel or an account that is not yours (`field` names it), "
            "or `system` alerts for a trader",
        },
    },
)
async def new_rule(caller: Reader, body: RuleIn) -> RuleOut:
    """Route alerts (of `kinds`, on `account_ids`, at `min_level` or above) to a channel, with flap
    control and an optional escalation of unacknowledged criticals."""
    spec = RuleSpec(
        name=body.name,
        channel=body.channel,
        kinds=[kind.value for kind in body.kinds],
        account_ids=body.account_ids,
        min_level=body.min_level.value,
        renotify_s=body.renotify_s,
        escalate_after_s=body.escalate_after_s,
        escalation_channel=body.escalation_channel,
    )
    return RuleOut.model_validate(await add_rule(caller.runtime.database, spec, actor=caller.viewer))


@router.delete("/rules/{name}", status_code=204, responses=NOT_FOUND)
async def delete_rule(caller: Reader, name: Name) -> Response:
    await remove_rule(caller.runtime.database, name, actor=caller.viewer)
    return Response(status_code=204)
