"""Read model (d): recent alerts with their deliveries and attempts, for the alerts page and API.

A trader sees alerts of own accounts and the market guards'; risk and admin every alert,
the dashboard's own (system) ones included.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import aliased

from dashboard.db.models import Alert, AlertAttempt, AlertChannel, AlertDelivery
from dashboard.db.session import Database
from dashboard.domain.alerts import alert_status
from dashboard.domain.enums import AlertKind, AlertState, DeliveryStatus, Level
from dashboard.schemas.alerts import AlertDeliveryView, AlertList, AlertView, DeliveryAttemptView
from dashboard.services.queries import check_limit, ensure_account_visible, parse_enum, resolve_now
from dashboard.services.viewer import Viewer

MAX_ALERTS = 500
#: Attempts shown per delivery (the newest); a dead one has at most the configured tries.
MAX_ATTEMPTS_SHOWN = 20


async def recent_alerts(
    db: Database,
    viewer: Viewer,
    *,
    window: timedelta = timedelta(days=7),
    open_only: bool = False,
    kind: AlertKind | str | None = None,
    level: Level | str | None = None,
    account_id: int | None = None,
    limit: int = 200,
    now: datetime | None = None,
) -> AlertList:
    """Newest first, within `window`; `open_only`: raises no recovery has followed yet."""
    moment = resolve_now(now)
    check_limit(limit, "limit", MAX_ALERTS)
    wanted_kind = parse_enum(AlertKind, kind, "kind")
    wanted_level = parse_enum(Level, level, "level")
    later = aliased(Alert)
    resolved_since = exists().where(
        and_(later.key == Alert.key, later.id > Alert.id, later.state == AlertState.RESOLVED)
    )
    stmt = (
        select(Alert, resolved_since.label("resolved_since"))
        .where(Alert.created_at >= moment - window)
        .order_by(Alert.id.desc())
        .limit(limit)
    )
    if not viewer.sees_all:
        stmt = stmt.where(
            or_(
                Alert.user_id == viewer.user_id,
                and_(Alert.account_id.is_(None), Alert.kind == AlertKind.GUARD),
            )
        )
    if open_only:
        stmt = stmt.where(Alert.state == AlertState.RAISED, ~resolved_since)
    if wanted_kind is not None:
        stmt = stmt.where(Alert.kind == wanted_kind)
    if wanted_level is not None:
        stmt = stmt.where(Alert.level == wanted_level)
    if account_id is not None:
        stmt = stmt.where(Alert.account_id == account_id)
    async with db.read_session() as session:
        if account_id is not None:
            await ensure_account_visible(session, viewer, account_id)
        rows = list((await session.execute(stmt)).all())
        ids = [alert.id for alert, _ in rows]
        deliveries = (
            list(
                (
                    await session.execute(
                        select(AlertDelivery, AlertChannel.name)
                        .join(AlertChannel, AlertChannel.id == AlertDelivery.channel_id)
                        .where(AlertDelivery.alert_id.in_(ids))
                        .order_by(AlertDelivery.id)
                    )
                ).all()
            )
            if ids
            else []
        )
        delivery_ids = [d.id for d, _ in deliveries]
        attempts = (
            list(
                (
                    await session.execute(
                        select(AlertAttempt)
                        .where(AlertAttempt.delivery_id.in_(delivery_ids))
                        .order_by(AlertAttempt.id)
                    )
                ).scalars()
            )
            if delivery_ids
            else []
        )
    history: dict[int, list[DeliveryAttemptView]] = defaultdict(list)
    for attempt in attempts:
        history[attempt.delivery_id].append(
            DeliveryAttemptView(at=attempt.at, ok=attempt.ok, error=attempt.error)
        )
    per_alert: dict[int, list[AlertDeliveryView]] = defaultdict(list)
    statuses: dict[int, list[DeliveryStatus]] = defaultdict(list)
    for delivery, channel in deliveries:
        statuses[delivery.alert_id].append(delivery.status)
        per_alert[delivery.alert_id].append(
            AlertDeliveryView(
                channel=channel,
                status=delivery.status,
                escalation=delivery.escalation,
                deferred=delivery.deferred,
                attempts=delivery.attempts,
                next_attempt_at=delivery.next_attempt_at,
                sent_at=delivery.sent_at,
                last_error=delivery.last_error,
                history=history[delivery.id][-MAX_ATTEMPTS_SHOWN:],
            )
        )
    views = []
    for alert, resolved in rows:
        views.append(
            AlertView(
                id=alert.id,
                key=alert.key,
                kind=alert.kind,
                state=alert.state,
                level=alert.level,
                account_id=alert.account_id,
                user_id=alert.user_id,
                title=alert.title,
                created_at=alert.created_at,
                acknowledged_at=alert.acknowledged_at,
                acknowledged_by=alert.acknowledged_by,
                status=alert_status(
                    alert.state,
                    acknowledged=alert.acknowledged_at is not None,
                    resolved_since=bool(resolved),
                    dispatched=alert.dispatched_at is not None,
                    deliveries=statuses[alert.id],
                ),
                open=alert.state is AlertState.RAISED and not resolved,
                deliveries=per_alert[alert.id],
            )
        )
    return AlertList(alerts=views, as_of=moment)
